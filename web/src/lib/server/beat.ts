// Plain views of the scheduler's messages for the periodic-task pages, the parsing of their forms, and the
// preview of the next runs while a task is edited.
import { create, fromJson, toJson, type JsonValue, type MessageInitShape } from '@bufbuild/protobuf';
import { ListValueSchema, timestampDate, timestampFromDate, type Timestamp } from '@bufbuild/protobuf/wkt';
import type { PeriodicTaskSchema } from '@lucy/proto';
import {
  IntervalPeriod,
  MissedRunPolicy,
  ScheduleSchema,
  SolarEvent,
  type PeriodicTask,
  type Schedule,
  type TaskAnnouncement,
} from '@lucy/proto';
import { fromLocalInput, type ScheduleKind } from '../beat.js';
import { frequencyWarning } from '../frequency.js';
import type { FieldProblem } from './rpc-fields.js';
import type { Services } from './services.js';

const iso = (t: Timestamp | undefined): string | null => (t ? timestampDate(t).toISOString() : null);
const enumName = (e: Record<number, string>, v: number) =>
  (e[v] ?? '').toLowerCase().replace(/^unspecified$/, '');

export interface PeriodicTaskView {
  id: string;
  name: string;
  task: string;
  enabled: boolean;
  oneOff: boolean;
  startTime: string | null;
  expires: string | null;
  description: string;
  kind: ScheduleKind | '';
  scheduleId: string;
  schedule: string;
  missedRunPolicy: string;
  missedRunCap: number;
  args: string;
  kwargs: string;
  lastRunAt: string | null;
  nextRunAt: string | null;
  totalRunCount: number;
}

export function periodicTaskView(p: PeriodicTask): PeriodicTaskView {
  const kind: ScheduleKind | '' = p.intervalId
    ? 'interval'
    : p.crontabId
      ? 'crontab'
      : p.solarId
        ? 'solar'
        : p.clockedId
          ? 'clocked'
          : '';
  return {
    id: p.id,
    name: p.name,
    task: p.task,
    enabled: p.enabled,
    oneOff: p.oneOff,
    startTime: iso(p.startTime),
    expires: iso(p.expires),
    description: p.description,
    kind,
    scheduleId: p.intervalId || p.crontabId || p.solarId || p.clockedId,
    schedule: p.scheduleDescripcion,
    missedRunPolicy: enumName(MissedRunPolicy, p.missedRunPolicy) || 'run_once',
    missedRunCap: p.missedRunCap || 10,
    args: JSON.stringify(p.args ? toJson(ListValueSchema, p.args) : []),
    kwargs: JSON.stringify(p.kwargs ?? {}, null, 2),
    lastRunAt: iso(p.lastRunAt),
    nextRunAt: iso(p.nextRunAt),
    totalRunCount: Number(p.totalRunCount),
  };
}

/** One stored schedule of any kind, with its fields as text for the forms and tables. */
export interface ScheduleView {
  kind: ScheduleKind;
  id: string;
  descripcion: string;
  every?: number;
  period?: string;
  minute?: string;
  hour?: string;
  dayOfWeek?: string;
  dayOfMonth?: string;
  monthOfYear?: string;
  timezone?: string;
  event?: string;
  latitude?: number;
  longitude?: number;
  clockedTime?: string | null;
}

export function scheduleView(s: Schedule): ScheduleView | null {
  const k = s.kind;
  switch (k.case) {
    case 'interval':
      return {
        kind: 'interval',
        id: k.value.id,
        descripcion: k.value.descripcion,
        every: Number(k.value.every),
        period: enumName(IntervalPeriod, k.value.period),
      };
    case 'crontab':
      return {
        kind: 'crontab',
        id: k.value.id,
        descripcion: k.value.descripcion,
        minute: k.value.minute,
        hour: k.value.hour,
        dayOfWeek: k.value.dayOfWeek,
        dayOfMonth: k.value.dayOfMonth,
        monthOfYear: k.value.monthOfYear,
        timezone: k.value.timezone,
      };
    case 'solar':
      return {
        kind: 'solar',
        id: k.value.id,
        descripcion: k.value.descripcion,
        event: enumName(SolarEvent, k.value.event),
        latitude: k.value.latitude,
        longitude: k.value.longitude,
      };
    case 'clocked':
      return {
        kind: 'clocked',
        id: k.value.id,
        descripcion: k.value.descripcion,
        clockedTime: iso(k.value.clockedTime),
      };
    default:
      return null;
  }
}

/** django-celery-beat's crontab text "0 2 * * * (m/h/dM/MY/d)" with its zone, as its select shows it. */
export function crontabText(s: ScheduleView): string {
  return `${s.minute} ${s.hour} ${s.dayOfMonth} ${s.monthOfYear} ${s.dayOfWeek} (m/h/dM/MY/d) ${s.timezone}`;
}

const enumValue = (e: Record<string, string | number>, name: string): number => {
  const v = e[name.toUpperCase()];
  return typeof v === 'number' ? v : 0;
};

/** A posted schedule form as the Schedule message; `problems` names what could not even be read. */
export function scheduleFromForm(
  kind: ScheduleKind,
  form: FormData,
): { schedule: Schedule; problems: FieldProblem[] } {
  const text = (n: string) => {
    const v = form.get(n);
    return typeof v === 'string' ? v.trim().slice(0, 200) : '';
  };
  const problems: FieldProblem[] = [];
  const id = text('id');
  const num = (n: string, label: string) => {
    const v = Number(text(n).replace(',', '.'));
    if (text(n) === '' || !Number.isFinite(v)) {
      problems.push({ field: `${kind}.${n}`, message: `${label}: escriba un número.` });
      return 0;
    }
    return v;
  };
  switch (kind) {
    case 'interval': {
      const every = num('every', 'Cada');
      return {
        schedule: create(ScheduleSchema, {
          kind: {
            case: 'interval',
            value: {
              id,
              every: BigInt(Number.isInteger(every) ? every : 0),
              period: enumValue(IntervalPeriod, text('period')),
            },
          },
        }),
        problems,
      };
    }
    case 'crontab':
      return {
        schedule: create(ScheduleSchema, {
          kind: {
            case: 'crontab',
            value: {
              id,
              minute: text('minute'),
              hour: text('hour'),
              dayOfWeek: text('day_of_week'),
              dayOfMonth: text('day_of_month'),
              monthOfYear: text('month_of_year'),
              timezone: text('timezone'),
            },
          },
        }),
        problems,
      };
    case 'solar':
      return {
        schedule: create(ScheduleSchema, {
          kind: {
            case: 'solar',
            value: {
              id,
              event: enumValue(SolarEvent, text('event')),
              latitude: num('latitude', 'Latitud'),
              longitude: num('longitude', 'Longitud'),
            },
          },
        }),
        problems,
      };
    case 'clocked': {
      const at = fromLocalInput(text('clocked_time'));
      if (!at)
        problems.push({ field: 'clocked.clocked_time', message: 'Escriba la fecha y hora (Córdoba).' });
      return {
        schedule: create(ScheduleSchema, {
          kind: { case: 'clocked', value: { id, ...(at ? { clockedTime: timestampFromDate(at) } : {}) } },
        }),
        problems,
      };
    }
  }
}

/** Everything the periodic-task form posts, kept as typed so a refused form shows it again unchanged. */
export interface TaskFormValues {
  name: string;
  task: string;
  enabled: boolean;
  interval_id: string;
  crontab_id: string;
  solar_id: string;
  clocked_id: string;
  start_time: string;
  expires: string;
  one_off: boolean;
  args: string;
  kwargs: string;
  missed_run_policy: string;
  missed_run_cap: string;
  description: string;
}

export function taskFormValues(form: FormData): TaskFormValues {
  const text = (n: string, max = 200) => {
    const v = form.get(n);
    return typeof v === 'string' ? v.slice(0, max) : '';
  };
  return {
    name: text('name'),
    task: text('task'),
    enabled: form.get('enabled') === 'on',
    interval_id: text('interval_id'),
    crontab_id: text('crontab_id'),
    solar_id: text('solar_id'),
    clocked_id: text('clocked_id'),
    start_time: text('start_time'),
    expires: text('expires'),
    one_off: form.get('one_off') === 'on',
    args: text('args', 20_000),
    kwargs: text('kwargs', 20_000),
    missed_run_policy: text('missed_run_policy'),
    missed_run_cap: text('missed_run_cap'),
    description: text('description', 2_000),
  };
}

/**
 * The form as a PeriodicTask message (the scheduler validates the rest: exactly one schedule, registered task,
 * kwargs against the task's declared arguments); `problems` are what the admin cannot even read (JSON, dates).
 */
export function periodicTaskFromForm(
  id: string,
  v: TaskFormValues,
): { task: MessageInitShape<typeof PeriodicTaskSchema>; problems: FieldProblem[] } {
  const problems: FieldProblem[] = [];
  const json = (field: 'args' | 'kwargs', text: string, empty: JsonValue): JsonValue | undefined => {
    if (text.trim() === '') return empty;
    try {
      return JSON.parse(text) as JsonValue;
    } catch (err) {
      problems.push({ field, message: `No es JSON válido: ${(err as Error).message}` });
      return undefined;
    }
  };
  const args = json('args', v.args, []);
  const kwargs = json('kwargs', v.kwargs, {});
  if (args !== undefined && !Array.isArray(args))
    problems.push({ field: 'args', message: 'Debe ser una lista JSON, p. ej. [] o ["a", 1].' });
  if (kwargs !== undefined && (typeof kwargs !== 'object' || kwargs === null || Array.isArray(kwargs)))
    problems.push({ field: 'kwargs', message: 'Debe ser un objeto JSON, p. ej. {} o {"clave": "valor"}.' });
  const start = fromLocalInput(v.start_time);
  if (start === null) problems.push({ field: 'start_time', message: 'No es una fecha y hora válida.' });
  const expires = fromLocalInput(v.expires);
  if (expires === null) problems.push({ field: 'expires', message: 'No es una fecha y hora válida.' });
  const cap = v.missed_run_cap.trim() === '' ? 10 : Number(v.missed_run_cap);
  if (!Number.isInteger(cap) || cap < 1 || cap > 1000)
    problems.push({ field: 'missed_run_cap', message: 'Debe ser un número entero entre 1 y 1000.' });
  return {
    task: {
      id,
      name: v.name,
      task: v.task,
      enabled: v.enabled,
      oneOff: v.one_off,
      intervalId: v.interval_id,
      crontabId: v.crontab_id,
      solarId: v.solar_id,
      clockedId: v.clocked_id,
      ...(start ? { startTime: timestampFromDate(start) } : {}),
      ...(expires ? { expires: timestampFromDate(expires) } : {}),
      ...(Array.isArray(args) ? { args: fromJson(ListValueSchema, args) } : {}),
      ...(kwargs && typeof kwargs === 'object' && !Array.isArray(kwargs) ? { kwargs: kwargs } : {}),
      description: v.description,
      missedRunPolicy: enumValue(MissedRunPolicy, v.missed_run_policy || 'run_once'),
      missedRunCap: Number.isInteger(cap) ? cap : 10,
    },
    problems,
  };
}

/** A registered task for the select, with the arguments it declares. */
export interface RegisteredView {
  name: string;
  description: string;
  params: { name: string; type: string; required: boolean; description: string; enumValues: string[] }[];
}

export function registeredView(t: TaskAnnouncement): RegisteredView {
  return {
    name: t.name,
    description: t.description,
    params: t.params.map((p) => ({
      name: p.name,
      type: p.type,
      required: p.required,
      description: p.description,
      enumValues: [...p.enumValues],
    })),
  };
}

/** What the preview asks: a stored schedule and the task's timing as typed in the form. */
export interface PreviewInput {
  kind: ScheduleKind;
  scheduleId: string;
  task: string;
  startTime?: string;
  expires?: string;
  oneOff?: boolean;
}

export interface PreviewView {
  descripcion: string;
  runs: { at: string; localTime: string; utcOffset: string; dst: string }[];
  aviso: string;
}

/** How many runs the form shows. */
export const PREVIEW_RUNS = 5;

/**
 * The next runs of a stored schedule as the task being edited would fire them (not before its start, not after
 * it expires, once when one-off), and the seed's frequency warning when it is an ingestion fired more often than
 * every 30 minutes (checked over more runs than are shown).
 */
export async function previewRuns(
  services: Services,
  input: PreviewInput,
  now: Date = new Date(),
): Promise<{ ok: true; value: PreviewView } | { ok: false; message: string }> {
  const list = await services.call('scheduler', () => services.scheduler.listSchedules({}));
  if (!list.ok) return { ok: false, message: list.message };
  const schedule = list.value.schedules.find(
    (s) => s.kind.case === input.kind && s.kind.value?.id === input.scheduleId,
  );
  if (!schedule)
    return { ok: false, message: 'Elija una programación existente para ver las próximas ejecuciones.' };
  const start = input.startTime ? fromLocalInput(input.startTime) : undefined;
  const expires = input.expires ? fromLocalInput(input.expires) : undefined;
  // An interval is aligned on the task's start: asking from just before it gives start + k·every.
  const after = start && start.getTime() > now.getTime() ? new Date(start.getTime() - 1) : now;
  const res = await services.call('scheduler', () =>
    services.scheduler.preview({ schedule, count: 20, after: timestampFromDate(after) }),
  );
  if (!res.ok) return { ok: false, message: res.message };
  let runs = res.value.runs
    .map((r) => ({ at: iso(r.at) ?? '', localTime: r.localTime, utcOffset: r.utcOffset, dst: r.dst }))
    .filter((r) => r.at !== '' && (!expires || Date.parse(r.at) <= expires.getTime()));
  const aviso = frequencyWarning(
    input.task,
    runs.map((r) => r.at),
  );
  if (input.oneOff) runs = runs.slice(0, 1);
  return {
    ok: true,
    value: { descripcion: res.value.descripcion, runs: runs.slice(0, PREVIEW_RUNS), aviso },
  };
}
