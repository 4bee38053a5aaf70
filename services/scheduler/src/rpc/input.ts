import type { Message } from '@bufbuild/protobuf';
import type { ServiceImpl } from '@connectrpc/connect';
import { withInputBounds, type FieldError, type InputBounds } from '@lucy/platform';
import { IntervalPeriod, type SaveScheduleRequest, type PreviewRequest, SchedulerService } from '@lucy/proto';

/** Longest interval accepted, in any unit: 100 years (a longer one is a typo and overflows dates). */
const MAX_INTERVAL_SECONDS = 100 * 365 * 24 * 3600;
const PERIOD_SECONDS: Partial<Record<IntervalPeriod, number>> = {
  [IntervalPeriod.DAYS]: 86_400,
  [IntervalPeriod.HOURS]: 3600,
  [IntervalPeriod.MINUTES]: 60,
  [IntervalPeriod.SECONDS]: 1,
  [IntervalPeriod.MICROSECONDS]: 1e-6,
};

/**
 * Bounds of every SchedulerService request, the one place they are checked: lengths as the columns of the
 * scheduler schema (`crontab_schedule.minute varchar(240)`...), no NUL or invalid code points anywhere, the
 * interval within 100 years. Errors name the field in Spanish and never quote the value.
 */
export const SCHEDULER_INPUT_BOUNDS: InputBounds = {
  maxChars: {
    minute: 240,
    hour: 96,
    day_of_week: 64,
    day_of_month: 124,
    month_of_year: 64,
    timezone: 63,
    name: 200,
    task: 200,
    description: 10_000,
    search: 200,
    // An id or a task name.
    id: 200,
    periodic_task_id: 200,
    interval_id: 36,
    crontab_id: 36,
    solar_id: 36,
    clocked_id: 36,
    requested_by: 150,
  },
  defaultMaxChars: 1000,
  maxItems: 1000,
  labels: {
    minute: 'el minuto',
    hour: 'la hora',
    day_of_week: 'el día de la semana',
    day_of_month: 'el día del mes',
    month_of_year: 'el mes',
    timezone: 'la zona horaria',
    name: 'el nombre',
    task: 'la tarea',
    description: 'la descripción',
    search: 'la búsqueda',
    id: 'el id',
    periodic_task_id: 'la tarea periódica',
    interval_id: 'el id del intervalo',
    crontab_id: 'el id del crontab',
    solar_id: 'el id de la programación solar',
    clocked_id: 'el id de la fecha programada',
    requested_by: 'el usuario',
    args: 'los argumentos',
    kwargs: 'los parámetros',
  },
  check(method, req: Message) {
    const errors: FieldError[] = [];
    const schedule =
      method === 'saveSchedule'
        ? (req as SaveScheduleRequest).schedule
        : method === 'preview'
          ? (req as PreviewRequest).schedule
          : undefined;
    if (schedule?.kind.case === 'interval') {
      const { every, period } = schedule.kind.value;
      const seconds = Number(every) * (PERIOD_SECONDS[period] ?? 1);
      if (seconds > MAX_INTERVAL_SECONDS)
        errors.push({
          field: 'schedule.interval.every',
          message: 'El intervalo no puede superar los 100 años.',
        });
    }
    return errors;
  },
};

/** The SchedulerService implementation behind {@link SCHEDULER_INPUT_BOUNDS}. */
export function boundSchedulerRpc(
  impl: Partial<ServiceImpl<typeof SchedulerService>>,
): Partial<ServiceImpl<typeof SchedulerService>> {
  return withInputBounds(
    SchedulerService,
    impl as ServiceImpl<typeof SchedulerService>,
    SCHEDULER_INPUT_BOUNDS,
  );
}
