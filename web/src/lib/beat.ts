// Spanish labels of the periodic-task pages (django-celery-beat's fields) and the Córdoba datetime-local inputs,
// shared by server and browser.
import { TZ } from './format.js';

export const SCHEDULE_KINDS = ['interval', 'crontab', 'solar', 'clocked'] as const;
export type ScheduleKind = (typeof SCHEDULE_KINDS)[number];

/** The django-celery-beat address of each schedule kind. */
export const KIND_PATH: Record<ScheduleKind, string> = {
  interval: 'intervalschedule',
  crontab: 'crontabschedule',
  solar: 'solarschedule',
  clocked: 'clockedschedule',
};

export const KIND_LABEL: Record<ScheduleKind, string> = {
  interval: 'Intervalo',
  crontab: 'Crontab',
  solar: 'Solar',
  clocked: 'Clocked',
};

export const KIND_PLURAL: Record<ScheduleKind, string> = {
  interval: 'Intervalos',
  crontab: 'Crontabs',
  solar: 'Eventos solares',
  clocked: 'Fechas únicas (clocked)',
};

export const PERIODS = ['days', 'hours', 'minutes', 'seconds'] as const;
export const PERIOD_LABEL: Record<string, string> = {
  days: 'Días',
  hours: 'Horas',
  minutes: 'Minutos',
  seconds: 'Segundos',
  microseconds: 'Microsegundos',
};

export const SOLAR_EVENTS = [
  'dawn_astronomical',
  'dawn_nautical',
  'dawn_civil',
  'sunrise',
  'solar_noon',
  'sunset',
  'dusk_civil',
  'dusk_nautical',
  'dusk_astronomical',
] as const;
export const SOLAR_LABEL: Record<string, string> = {
  dawn_astronomical: 'Alba astronómica',
  dawn_nautical: 'Alba náutica',
  dawn_civil: 'Alba civil',
  sunrise: 'Amanecer',
  solar_noon: 'Mediodía solar',
  sunset: 'Atardecer',
  dusk_civil: 'Crepúsculo civil',
  dusk_nautical: 'Crepúsculo náutico',
  dusk_astronomical: 'Crepúsculo astronómico',
};

export const POLICIES = ['run_once', 'skip', 'run_all'] as const;
export const POLICY_LABEL: Record<string, string> = {
  run_once: 'Ejecutar una vez (la última perdida)',
  skip: 'Omitir las perdidas',
  run_all: 'Ejecutar todas las perdidas (hasta el máximo)',
};

/**
 * Spanish names of the fields the scheduler names in its refusals (proto / django-celery-beat names), so the form
 * says "Crontab: minuto" rather than `crontab.minute`.
 */
export const FIELD_LABEL: Record<string, string> = {
  name: 'Nombre',
  task: 'Tarea registrada',
  enabled: 'Habilitada',
  schedule: 'Programación',
  interval_id: 'Intervalo',
  crontab_id: 'Crontab',
  solar_id: 'Solar',
  clocked_id: 'Clocked',
  start_time: 'Fecha/hora de inicio',
  expires: 'Expira',
  one_off: 'Tarea de una sola vez',
  args: 'Argumentos posicionales (args)',
  kwargs: 'Argumentos con nombre (kwargs)',
  'missed_run_policy.mode': 'Ejecuciones perdidas',
  'missed_run_policy.cap': 'Máximo de ejecuciones perdidas',
  missed_run_policy: 'Ejecuciones perdidas',
  missed_run_cap: 'Máximo de ejecuciones perdidas',
  description: 'Descripción',
  every: 'Cada',
  period: 'Período',
  minute: 'Minuto',
  hour: 'Hora',
  day_of_week: 'Día de la semana',
  day_of_month: 'Día del mes',
  month_of_year: 'Mes del año',
  timezone: 'Zona horaria',
  event: 'Evento',
  latitude: 'Latitud',
  longitude: 'Longitud',
  clocked_time: 'Fecha y hora',
};

/**
 * The form input a refused field belongs to: `kwargs.desde` → `kwargs`, `crontab.minute` → `minute`,
 * `schedule.interval.every` → `every`, `missed_run_policy.cap` → `missed_run_cap`.
 */
export function inputOf(field: string): string {
  if (field.startsWith('kwargs.')) return 'kwargs';
  if (field.startsWith('args')) return 'args';
  if (field === 'missed_run_policy.cap') return 'missed_run_cap';
  if (field === 'missed_run_policy.mode') return 'missed_run_policy';
  const last = field.split('.').at(-1) ?? field;
  return last;
}

/** "Crontab: Minuto", "Argumentos con nombre (kwargs): desde", or the raw name when unknown. */
export function fieldLabel(field: string): string {
  if (FIELD_LABEL[field]) return FIELD_LABEL[field];
  if (field.startsWith('kwargs.')) return `${FIELD_LABEL.kwargs}: ${field.slice('kwargs.'.length)}`;
  const input = inputOf(field);
  return FIELD_LABEL[input] ?? field;
}

const wall = new Intl.DateTimeFormat('en-CA', {
  timeZone: TZ,
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
});

/** An instant as the value of a datetime-local input in Córdoba (`2026-01-15T23:59:59`), '' when absent. */
export function toLocalInput(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const p = Object.fromEntries(wall.formatToParts(d).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}:${p.second}`;
}

/**
 * A datetime-local value typed in Córdoba as an instant: undefined when empty, null when it is not a date.
 * Argentina keeps UTC−03:00 all year (no daylight saving time since 2009).
 */
export function fromLocalInput(value: string): Date | undefined | null {
  const v = value.trim();
  if (v === '') return undefined;
  const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})(:\d{2})?$/.exec(v);
  if (!m) return null;
  const d = new Date(`${m[1]}T${m[2]}${m[3] ?? ':00'}-03:00`);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** "lun 15/01/2026 02:00" for a preview run's Córdoba wall time. */
const previewFmt = new Intl.DateTimeFormat('es-AR', {
  timeZone: TZ,
  weekday: 'short',
  day: '2-digit',
  month: '2-digit',
  year: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  hour12: false,
});
export function fechaCorta(iso: string): string {
  return previewFmt.format(new Date(iso));
}
