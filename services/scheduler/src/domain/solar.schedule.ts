/**
 * Solar schedules (django-celery-beat `SolarSchedule`, celery's solar events), computed with suncalc.
 * Days on which the event does not happen (polar day or night) are skipped; the search is bounded.
 */
import SunCalc from 'suncalc';
import type { GetTimesResult } from 'suncalc';
import type { FieldError, Validated } from './validation.error.js';
import { DAY_MS, SECOND_MS } from './time-zone.util.js';

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
export type SolarEvent = (typeof SOLAR_EVENTS)[number];

/** A solar event at a place; latitude −90..90 and longitude −180..180, degrees, east and north positive. */
export interface SolarSchedule {
  event: SolarEvent;
  latitude: number;
  longitude: number;
}

/** A solar schedule as typed by staff (values are checked at runtime). */
export interface SolarScheduleInput {
  event?: string | null;
  latitude?: number | null;
  longitude?: number | null;
}

/** Celery's event names → suncalc's (sun altitudes −18°, −12°, −6°, −0.833°, transit, …). */
const SUNCALC_TIME: Readonly<Record<SolarEvent, keyof GetTimesResult>> = {
  dawn_astronomical: 'nightEnd',
  dawn_nautical: 'nauticalDawn',
  dawn_civil: 'dawn',
  sunrise: 'sunrise',
  solar_noon: 'solarNoon',
  sunset: 'sunset',
  dusk_civil: 'dusk',
  dusk_nautical: 'nauticalDusk',
  dusk_astronomical: 'night',
};

/** Days searched ahead for an event before giving up (polar regions skip events for months, not for a year). */
export const DEFAULT_SOLAR_SEARCH_DAYS = 400;

/**
 * Validates a solar schedule. Errors name `<prefix>.event`, `<prefix>.latitude`, `<prefix>.longitude`.
 * @param prefix field prefix for errors; default `solar`.
 */
export function validateSolar(input: SolarScheduleInput, prefix = 'solar'): Validated<SolarSchedule> {
  const errors: FieldError[] = [];
  const { event, latitude, longitude } = input;
  if (typeof event !== 'string' || !(SOLAR_EVENTS as readonly string[]).includes(event)) {
    errors.push({
      field: `${prefix}.event`,
      message: `Evento solar desconocido «${String(event ?? '')}»: use ${SOLAR_EVENTS.join(', ')}`,
    });
  }
  if (typeof latitude !== 'number' || !Number.isFinite(latitude) || latitude < -90 || latitude > 90) {
    errors.push({
      field: `${prefix}.latitude`,
      message: `Latitud inválida «${String(latitude ?? '')}»: debe estar entre -90 y 90`,
    });
  }
  if (typeof longitude !== 'number' || !Number.isFinite(longitude) || longitude < -180 || longitude > 180) {
    errors.push({
      field: `${prefix}.longitude`,
      message: `Longitud inválida «${String(longitude ?? '')}»: debe estar entre -180 y 180`,
    });
  }
  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    value: { event: event as SolarEvent, latitude: latitude as number, longitude: longitude as number },
  };
}

/**
 * The first occurrence of the event at or after `from` (epoch ms), rounded to the second; null when the event
 * does not happen within `maxDays` days.
 * @param maxDays default {@link DEFAULT_SOLAR_SEARCH_DAYS}.
 */
export function solarFireAtOrAfter(
  schedule: SolarSchedule,
  from: number,
  maxDays = DEFAULT_SOLAR_SEARCH_DAYS,
): number | null {
  if (!Number.isFinite(from)) return null;
  const key = SUNCALC_TIME[schedule.event];
  // suncalc picks the solar day whose transit is nearest the date it is given, so stepping the date a day at a
  // time walks consecutive solar days; starting a day early covers an event later on the current one.
  for (let day = -1; day <= maxDays; day++) {
    const time = SunCalc.getTimes(new Date(from + day * DAY_MS), schedule.latitude, schedule.longitude)[
      key
    ].getTime();
    if (Number.isNaN(time)) continue;
    const at = Math.round(time / SECOND_MS) * SECOND_MS;
    if (at >= from) return at - from <= maxDays * DAY_MS ? at : null;
  }
  return null;
}

const EVENT_ES: Readonly<Record<SolarEvent, string>> = {
  dawn_astronomical: 'Al comienzo del alba astronómica',
  dawn_nautical: 'Al comienzo del alba náutica',
  dawn_civil: 'Al comienzo del alba civil',
  sunrise: 'A la salida del sol',
  solar_noon: 'Al mediodía solar',
  sunset: 'A la puesta del sol',
  dusk_civil: 'Al final del crepúsculo civil',
  dusk_nautical: 'Al final del crepúsculo náutico',
  dusk_astronomical: 'Al final del crepúsculo astronómico',
};

/** `A la salida del sol (sunrise) en lat. -33.13, long. -64.35`. */
export function describeSolar(schedule: SolarSchedule): string {
  return `${EVENT_ES[schedule.event]} (${schedule.event}) en lat. ${schedule.latitude}, long. ${schedule.longitude}`;
}
