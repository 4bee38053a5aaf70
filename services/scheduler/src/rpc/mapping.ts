import {
  create,
  fromJson,
  toJson,
  type DescMessage,
  type JsonObject,
  type JsonValue,
} from '@bufbuild/protobuf';
import { ListValueSchema, timestampDate, timestampFromDate, type Timestamp } from '@bufbuild/protobuf/wkt';
import {
  ClockedScheduleSchema,
  CrontabScheduleSchema,
  IntervalPeriod,
  IntervalScheduleSchema,
  MissedRunPolicy,
  PeriodicTaskSchema,
  ScheduleSchema,
  SolarEvent,
  SolarScheduleSchema,
  type PeriodicTask as PeriodicTaskMsg,
  type Schedule as ScheduleMsg,
} from '@lucy/proto';
import { errorMessage, paramKindOf, type FieldError, type ParamKind } from '@lucy/platform';
import {
  DEFAULT_TIME_ZONE,
  describeSchedule,
  nextDue,
  validateTaskArgs,
  type IntervalPeriod as DomainPeriod,
  type MissedRunMode,
  type RegisteredTaskSpec,
  type Schedule,
  type ScheduleInput,
  type SolarEvent as DomainSolarEvent,
  type TaskKwargType,
} from '../domain/index.js';
import type { PeriodicTaskRecord, StoredSchedule } from '../db/index.js';

const PERIODS: ReadonlyArray<[IntervalPeriod, DomainPeriod]> = [
  [IntervalPeriod.DAYS, 'days'],
  [IntervalPeriod.HOURS, 'hours'],
  [IntervalPeriod.MINUTES, 'minutes'],
  [IntervalPeriod.SECONDS, 'seconds'],
  [IntervalPeriod.MICROSECONDS, 'microseconds'],
];

const EVENTS: ReadonlyArray<[SolarEvent, DomainSolarEvent]> = [
  [SolarEvent.DAWN_ASTRONOMICAL, 'dawn_astronomical'],
  [SolarEvent.DAWN_NAUTICAL, 'dawn_nautical'],
  [SolarEvent.DAWN_CIVIL, 'dawn_civil'],
  [SolarEvent.SUNRISE, 'sunrise'],
  [SolarEvent.SOLAR_NOON, 'solar_noon'],
  [SolarEvent.SUNSET, 'sunset'],
  [SolarEvent.DUSK_CIVIL, 'dusk_civil'],
  [SolarEvent.DUSK_NAUTICAL, 'dusk_nautical'],
  [SolarEvent.DUSK_ASTRONOMICAL, 'dusk_astronomical'],
];

const POLICIES: ReadonlyArray<[MissedRunPolicy, MissedRunMode]> = [
  [MissedRunPolicy.SKIP, 'skip'],
  [MissedRunPolicy.RUN_ONCE, 'run_once'],
  [MissedRunPolicy.RUN_ALL, 'run_all'],
];

/** Proto period → domain period (undefined for UNSPECIFIED, which the domain reports as `interval.period`). */
export const periodFromProto = (p: IntervalPeriod) => PERIODS.find(([k]) => k === p)?.[1];
export const periodToProto = (p: DomainPeriod) =>
  PERIODS.find(([, v]) => v === p)?.[0] ?? IntervalPeriod.UNSPECIFIED;
export const policyFromProto = (p: MissedRunPolicy): MissedRunMode =>
  POLICIES.find(([k]) => k === p)?.[1] ?? 'run_once';
export const policyToProto = (m: MissedRunMode) =>
  POLICIES.find(([, v]) => v === m)?.[0] ?? MissedRunPolicy.RUN_ONCE;

/** A Timestamp or null. */
export const dateOf = (t: Timestamp | undefined): Date | null => (t ? timestampDate(t) : null);
const ts = (d: Date | null | undefined) => (d ? timestampFromDate(d) : undefined);

/** The schedule of a proto `Schedule` as the domain's form input (`{ crontab: {...} }`). */
export function scheduleInputFromProto(s: ScheduleMsg | undefined): ScheduleInput {
  switch (s?.kind.case) {
    case 'interval':
      return {
        interval: { every: Number(s.kind.value.every), period: periodFromProto(s.kind.value.period) ?? null },
      };
    case 'crontab': {
      const c = s.kind.value;
      const field = (v: string) => (v.trim() === '' ? '*' : v.trim());
      return {
        crontab: {
          minute: field(c.minute),
          hour: field(c.hour),
          dayOfWeek: field(c.dayOfWeek),
          dayOfMonth: field(c.dayOfMonth),
          monthOfYear: field(c.monthOfYear),
          timezone: c.timezone.trim() === '' ? DEFAULT_TIME_ZONE : c.timezone.trim(),
        },
      };
    }
    case 'solar': {
      const v = s.kind.value;
      return {
        solar: {
          event: EVENTS.find(([k]) => k === v.event)?.[1] ?? null,
          latitude: v.latitude,
          longitude: v.longitude,
        },
      };
    }
    case 'clocked':
      return { clocked: { clockedTime: dateOf(s.kind.value.clockedTime) } };
    default:
      return {};
  }
}

/** The id a proto `Schedule` carries ('' on create). */
export function scheduleIdOf(s: ScheduleMsg | undefined): string {
  return s?.kind.value?.id ?? '';
}

function safeDescribe(s: Schedule): string {
  try {
    return describeSchedule(s);
  } catch {
    return '';
  }
}

/** A stored schedule as a proto `Schedule`. */
export function scheduleToProto(s: StoredSchedule): ScheduleMsg {
  const descripcion = safeDescribe(s);
  switch (s.kind) {
    case 'interval':
      return create(ScheduleSchema, {
        kind: {
          case: 'interval',
          value: create(IntervalScheduleSchema, {
            id: s.id,
            every: BigInt(s.every),
            period: periodToProto(s.period),
            descripcion,
          }),
        },
      });
    case 'crontab':
      return create(ScheduleSchema, {
        kind: {
          case: 'crontab',
          value: create(CrontabScheduleSchema, {
            id: s.id,
            minute: s.minute,
            hour: s.hour,
            dayOfWeek: s.dayOfWeek,
            dayOfMonth: s.dayOfMonth,
            monthOfYear: s.monthOfYear,
            timezone: s.timezone,
            descripcion,
          }),
        },
      });
    case 'solar':
      return create(ScheduleSchema, {
        kind: {
          case: 'solar',
          value: create(SolarScheduleSchema, {
            id: s.id,
            event: EVENTS.find(([, v]) => v === s.event)?.[0] ?? SolarEvent.UNSPECIFIED,
            latitude: s.latitude,
            longitude: s.longitude,
            descripcion,
          }),
        },
      });
    case 'clocked':
      return create(ScheduleSchema, {
        kind: {
          case: 'clocked',
          value: create(ClockedScheduleSchema, { id: s.id, clockedTime: ts(s.clockedTime), descripcion }),
        },
      });
  }
}

/** A stored periodic task as the proto message, with its next run computed at `now`. */
export function taskToProto(t: PeriodicTaskRecord, now: Date): PeriodicTaskMsg {
  let next: Date | null = null;
  try {
    next = nextDue(t, now)?.dueAt ?? null;
  } catch {
    next = null;
  }
  return create(PeriodicTaskSchema, {
    id: t.id,
    name: t.name,
    task: t.task,
    args: fromJson(ListValueSchema, t.args as JsonValue),
    kwargs: t.kwargs as JsonObject,
    enabled: t.enabled,
    oneOff: t.oneOff,
    startTime: ts(t.startTime),
    expires: ts(t.expires),
    description: t.description,
    intervalId: t.schedule.kind === 'interval' ? t.scheduleId : '',
    crontabId: t.schedule.kind === 'crontab' ? t.scheduleId : '',
    solarId: t.schedule.kind === 'solar' ? t.scheduleId : '',
    clockedId: t.schedule.kind === 'clocked' ? t.scheduleId : '',
    missedRunPolicy: policyToProto(t.missedRunPolicy?.mode ?? 'run_once'),
    missedRunCap: t.missedRunPolicy?.cap ?? 10,
    lastRunAt: ts(t.lastRunAt),
    totalRunCount: BigInt(t.totalRunCount),
    dateChanged: ts(t.dateChanged),
    nextRunAt: ts(next),
    scheduleDescripcion: safeDescribe(t.schedule),
  });
}

/** Positional args of a proto task as a JSON array. */
export function argsOf(p: PeriodicTaskMsg): unknown[] {
  return p.args ? toJson(ListValueSchema, p.args) : [];
}

/**
 * The keyword parameters a command message accepts, for the domain's args validator: scalar, enum and
 * Timestamp fields by protobuf JSON name. Commands are protobuf messages, so positional args are not accepted.
 */
export function registeredSpecOf(name: string, schema: DescMessage): RegisteredTaskSpec {
  const kwargs: RegisteredTaskSpec['kwargs'] = {};
  for (const f of schema.fields) {
    const type = VALIDATOR_TYPE[paramKindOf(f)];
    // 64-bit integers may be JSON strings and nested messages have no validator type: fromJson checks them.
    if (type) kwargs[f.jsonName] = { type, description: f.jsonName };
  }
  return { name, kwargs, acceptsArgs: false };
}

/** The domain validator's type for each kind of command field (none: left to the protobuf JSON decoding). */
const VALIDATOR_TYPE: Record<ParamKind, TaskKwargType | undefined> = {
  boolean: 'boolean',
  string: 'string',
  number: 'number',
  int64: undefined,
  enum: 'string',
  datetime: 'datetime',
  object: undefined,
};

/**
 * Validates args and kwargs of a task against its command message: the domain's validator, then each kwarg
 * decoded with the protobuf JSON mapping (so enum names and nested messages are checked too). Errors name
 * `args`, `kwargs` or `kwargs.<field>`.
 */
export function validateKwargs(
  name: string,
  schema: DescMessage,
  args: unknown[],
  kwargs: unknown,
): FieldError[] {
  const spec = registeredSpecOf(name, schema);
  const known = new Set(schema.fields.map((f) => f.jsonName));
  const typedOnly =
    kwargs && typeof kwargs === 'object' && !Array.isArray(kwargs)
      ? Object.fromEntries(
          Object.entries(kwargs).filter(([k]) => !known.has(k) || Object.hasOwn(spec.kwargs, k)),
        )
      : kwargs;
  const errors: FieldError[] = [...validateTaskArgs(spec, args, typedOnly)];
  if (errors.some((e) => e.field === 'kwargs')) return errors;
  for (const [key, value] of Object.entries(kwargs as Record<string, unknown>)) {
    if (!known.has(key) || errors.some((e) => e.field === `kwargs.${key}`)) continue;
    try {
      fromJson(schema, { [key]: value } as JsonValue, { ignoreUnknownFields: false });
    } catch (err) {
      errors.push({ field: `kwargs.${key}`, message: `Valor inválido para «${key}»: ${errorMessage(err)}` });
    }
  }
  return errors;
}
