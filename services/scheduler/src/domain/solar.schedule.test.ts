import { describe, expect, it } from 'vitest';
import { solarFireAtOrAfter, validateSolar, type SolarSchedule } from './solar.schedule.js';

const RIO_CUARTO = { latitude: -33.13, longitude: -64.35 };
const LONGYEARBYEN = { latitude: 78.22, longitude: 15.65 };

const rad = (degrees: number): number => (degrees * Math.PI) / 180;
const deg = (radians: number): number => (radians * 180) / Math.PI;

/**
 * Sunrise (epoch ms) with the equations of NOAA's Solar Calculator spreadsheet (NOAA Global Monitoring
 * Laboratory, https://gml.noaa.gov/grad/solcalc/calcdetails.html, after Meeus' "Astronomical Algorithms"):
 * Julian century, geometric mean longitude and anomaly, equation of centre, apparent longitude, corrected
 * obliquity, equation of time, hour angle for zenith 90.833°. Written independently of suncalc (which uses
 * a shorter series) and iterated on the sunrise instant itself; NOAA gives it as accurate to about a minute.
 * For Río Cuarto it gives 2026-03-01 10:05:58Z, 2026-06-21 11:20:27Z, 2026-12-21 09:05:09Z.
 */
function noaaSunrise(dayUtc: number, latitude: number, longitude: number): number {
  let t = dayUtc + 12 * 3_600_000;
  for (let i = 0; i < 3; i++) {
    const T = (t / 86_400_000 + 2_440_587.5 - 2_451_545) / 36_525;
    const L0 = (((280.46646 + T * (36_000.76983 + T * 0.0003032)) % 360) + 360) % 360;
    const M = 357.52911 + T * (35_999.05029 - 0.0001537 * T);
    const e = 0.016708634 - T * (0.000042037 + 0.0000001267 * T);
    const C =
      Math.sin(rad(M)) * (1.914602 - T * (0.004817 + 0.000014 * T)) +
      Math.sin(rad(2 * M)) * (0.019993 - 0.000101 * T) +
      Math.sin(rad(3 * M)) * 0.000289;
    const omega = rad(125.04 - 1934.136 * T);
    const apparentLongitude = L0 + C - 0.00569 - 0.00478 * Math.sin(omega);
    const meanObliquity = 23 + (26 + (21.448 - T * (46.815 + T * (0.00059 - T * 0.001813))) / 60) / 60;
    const obliquity = meanObliquity + 0.00256 * Math.cos(omega);
    const declination = Math.asin(Math.sin(rad(obliquity)) * Math.sin(rad(apparentLongitude)));
    const y = Math.tan(rad(obliquity / 2)) ** 2;
    const equationOfTime =
      4 *
      deg(
        y * Math.sin(2 * rad(L0)) -
          2 * e * Math.sin(rad(M)) +
          4 * e * y * Math.sin(rad(M)) * Math.cos(2 * rad(L0)) -
          0.5 * y * y * Math.sin(4 * rad(L0)) -
          1.25 * e * e * Math.sin(2 * rad(M)),
      );
    const hourAngle = deg(
      Math.acos(
        Math.cos(rad(90.833)) / (Math.cos(rad(latitude)) * Math.cos(declination)) -
          Math.tan(rad(latitude)) * Math.tan(declination),
      ),
    );
    t = dayUtc + (720 - 4 * longitude - equationOfTime - 4 * hourAngle) * 60_000;
  }
  return t;
}

const sunrise = (place: { latitude: number; longitude: number }): SolarSchedule => ({
  event: 'sunrise',
  ...place,
});

describe('solar schedule', () => {
  it('puts sunrise at Río Cuarto within two minutes of the NOAA formula', () => {
    for (const [month, day] of [
      [3, 1],
      [6, 21],
      [12, 21],
    ] as const) {
      const from = Date.UTC(2026, month - 1, day, 3, 0); // local midnight (UTC−3)
      const at = solarFireAtOrAfter(sunrise(RIO_CUARTO), from)!;
      const reference = noaaSunrise(
        Date.UTC(2026, month - 1, day),
        RIO_CUARTO.latitude,
        RIO_CUARTO.longitude,
      );
      expect(Math.abs(at - reference)).toBeLessThan(2 * 60_000);
    }
  });

  it('puts the 2026 winter-solstice sunrise at Río Cuarto at about 08:20 local (11:20Z)', () => {
    const at = solarFireAtOrAfter(sunrise(RIO_CUARTO), Date.UTC(2026, 5, 21, 3))!;
    expect(Math.abs(at - Date.parse('2026-06-21T11:20:27Z'))).toBeLessThan(2 * 60_000);
  });

  it('orders the day’s events from astronomical dawn to astronomical dusk', () => {
    const from = Date.UTC(2026, 2, 1, 3);
    const events = [
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
    const times = events.map((event) => solarFireAtOrAfter({ event, ...RIO_CUARTO }, from)!);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    expect(times.at(-1)! - times[0]!).toBeLessThan(24 * 3_600_000);
  });

  it('returns the event strictly in order: after today’s sunrise comes tomorrow’s', () => {
    const today = solarFireAtOrAfter(sunrise(RIO_CUARTO), Date.UTC(2026, 2, 1, 3))!;
    const tomorrow = solarFireAtOrAfter(sunrise(RIO_CUARTO), today + 1)!;
    expect(tomorrow - today).toBeGreaterThan(23.9 * 3_600_000);
    expect(tomorrow - today).toBeLessThan(24.1 * 3_600_000);
  });

  it('skips the polar night and finds the first sunrise after it', () => {
    // Longyearbyen has no sunrise from late October to mid February.
    const at = solarFireAtOrAfter(sunrise(LONGYEARBYEN), Date.UTC(2026, 11, 1))!;
    expect(at).toBeGreaterThan(Date.UTC(2027, 1, 10));
    expect(at).toBeLessThan(Date.UTC(2027, 1, 22));
  });

  it('returns null when the event does not happen within the search bound', () => {
    expect(solarFireAtOrAfter(sunrise(LONGYEARBYEN), Date.UTC(2026, 11, 1), 30)).toBeNull();
    // suncalc has no rise or set at the pole itself.
    expect(
      solarFireAtOrAfter({ event: 'sunset', latitude: 90, longitude: 0 }, Date.UTC(2026, 0, 1)),
    ).toBeNull();
  });

  it('validates event, latitude and longitude with field names', () => {
    expect(validateSolar({ event: 'moonrise', latitude: -91, longitude: 200 })).toEqual({
      ok: false,
      errors: [
        {
          field: 'solar.event',
          message:
            'Evento solar desconocido «moonrise»: use dawn_astronomical, dawn_nautical, dawn_civil, sunrise, ' +
            'solar_noon, sunset, dusk_civil, dusk_nautical, dusk_astronomical',
        },
        { field: 'solar.latitude', message: 'Latitud inválida «-91»: debe estar entre -90 y 90' },
        { field: 'solar.longitude', message: 'Longitud inválida «200»: debe estar entre -180 y 180' },
      ],
    });
  });
});
