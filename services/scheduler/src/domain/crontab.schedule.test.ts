import { describe, expect, it } from 'vitest';
import {
  compileCrontab,
  crontabFireAtOrAfter,
  crontabFromExpression,
  describeCrontab,
  validateCrontab,
} from './crontab.schedule.js';
import { DEFAULT_TIME_ZONE, zoneTransitions } from './time-zone.util.js';

const CORDOBA = DEFAULT_TIME_ZONE;

/** Every fire of `expression` in [from, until), as ISO strings. */
function firesBetween(expression: string, zone: string, from: string, until: string): string[] {
  const crontab = compileCrontab(crontabFromExpression(expression, zone));
  const end = Date.parse(until);
  const result: string[] = [];
  let cursor = Date.parse(from);
  for (;;) {
    const fire = crontabFireAtOrAfter(crontab, cursor);
    if (fire === null || fire.at >= end) return result;
    result.push(new Date(fire.at).toISOString());
    cursor = fire.at + 1;
  }
}

function nextAfter(expression: string, zone: string, after: string): string | null {
  const fire = crontabFireAtOrAfter(
    compileCrontab(crontabFromExpression(expression, zone)),
    Date.parse(after) + 1,
  );
  return fire === null ? null : new Date(fire.at).toISOString();
}

describe('crontab schedule: the staff manual examples', () => {
  it('fires "0 2 * * *" in Córdoba at 02:00 local, which is 05:00Z, every day', () => {
    expect(firesBetween('0 2 * * *', CORDOBA, '2026-02-01T00:00:00Z', '2026-02-04T00:00:00Z')).toEqual([
      '2026-02-01T05:00:00.000Z',
      '2026-02-02T05:00:00.000Z',
      '2026-02-03T05:00:00.000Z',
    ]);
  });

  it('fires "*/30 * * * 1-5" in Córdoba at :00 and :30, Monday to Friday only', () => {
    // 2026-03-06 is a Friday; local Friday ends at 2026-03-07T03:00Z.
    const fires = firesBetween('*/30 * * * 1-5', CORDOBA, '2026-03-06T02:00:00Z', '2026-03-10T03:30:00Z');
    expect(fires.slice(0, 3)).toEqual([
      '2026-03-06T02:00:00.000Z',
      '2026-03-06T02:30:00.000Z',
      '2026-03-06T03:00:00.000Z',
    ]);
    expect(fires).toContain('2026-03-07T02:30:00.000Z'); // Friday 23:30 local
    expect(fires).not.toContain('2026-03-07T03:00:00.000Z'); // Saturday 00:00 local
    expect(fires.filter((f) => f >= '2026-03-07T03:00:00.000Z' && f < '2026-03-09T03:00:00.000Z')).toEqual(
      [],
    );
    expect(fires).toContain('2026-03-09T03:00:00.000Z'); // Monday 00:00 local
    // The whole of Monday (48 slots) and Tuesday 00:00 local (03:00Z), the window ending at 00:30 excluded.
    expect(fires.filter((f) => f >= '2026-03-09T03:00:00.000Z')).toHaveLength(48 + 1);
  });
});

describe('crontab schedule: celery semantics', () => {
  it('requires both day of month and day of week to match, unlike Vixie cron', () => {
    // Friday the 13th: Feb, Mar and Nov in 2026. Vixie cron would also fire on every Friday and every 13th.
    expect(firesBetween('0 0 13 * fri', CORDOBA, '2026-01-01T00:00:00Z', '2027-01-01T00:00:00Z')).toEqual([
      '2026-02-13T03:00:00.000Z',
      '2026-03-13T03:00:00.000Z',
      '2026-11-13T03:00:00.000Z',
    ]);
  });

  it('returns null for a crontab that can never fire, without searching forever', () => {
    expect(nextAfter('0 0 31 2 *', CORDOBA, '2026-01-01T00:00:00Z')).toBeNull();
    expect(nextAfter('0 0 30 feb *', 'Europe/Madrid', '2026-01-01T00:00:00Z')).toBeNull();
  });

  it('finds a rare but possible date such as 29 February falling on a Monday', () => {
    expect(nextAfter('0 12 29 2 mon', 'UTC', '2026-01-01T00:00:00Z')).toBe('2044-02-29T12:00:00.000Z');
  });

  it('accepts day and month names, 7 as Sunday and wrapping ranges', () => {
    const crontab = compileCrontab({ dayOfWeek: 'fri-mon', monthOfYear: 'jan,Jul', hour: '7', minute: '0' });
    expect(crontab.values.day_of_week).toEqual([0, 1, 5, 6]);
    expect(crontab.values.month_of_year).toEqual([1, 7]);
    expect(compileCrontab({ dayOfWeek: '7' }).values.day_of_week).toEqual([0]);
    expect(compileCrontab({ dayOfWeek: '5-7' }).values.day_of_week).toEqual([0, 5, 6]);
    expect(compileCrontab({ dayOfWeek: 'sunday,Saturday' }).values.day_of_week).toEqual([0, 6]);
    expect(compileCrontab({ minute: '10-40/5' }).values.minute).toEqual([10, 15, 20, 25, 30, 35, 40]);
    expect(compileCrontab({ dayOfMonth: '*/10' }).values.day_of_month).toEqual([1, 11, 21, 31]);
    expect(compileCrontab({ minute: '1,15, 45' }).values.minute).toEqual([1, 15, 45]);
  });
});

describe('crontab schedule: validation', () => {
  it('names the field and explains the range in Spanish', () => {
    const result = validateCrontab({
      minute: '61',
      hour: '24',
      dayOfWeek: '8',
      dayOfMonth: '0',
      monthOfYear: '13',
    });
    expect(result).toEqual({
      ok: false,
      errors: [
        { field: 'crontab.minute', message: 'Minuto inválido «61»: debe estar entre 0 y 59' },
        { field: 'crontab.hour', message: 'Hora inválida «24»: debe estar entre 0 y 23' },
        { field: 'crontab.day_of_month', message: 'Día del mes inválido «0»: debe estar entre 1 y 31' },
        { field: 'crontab.month_of_year', message: 'Mes inválido «13»: debe estar entre 1 y 12 (o jan…dec)' },
        {
          field: 'crontab.day_of_week',
          message: 'Día de la semana inválido «8»: debe estar entre 0 y 6, con 0 o 7 = domingo (o sun…sat)',
        },
      ],
    });
  });

  it('rejects an unknown time zone', () => {
    expect(validateCrontab({ timezone: 'Mars/Olympus' })).toEqual({
      ok: false,
      errors: [{ field: 'crontab.timezone', message: 'Zona horaria desconocida «Mars/Olympus»' }],
    });
  });

  it('rejects syntax celery rejects', () => {
    const messages = (minute: string): string[] =>
      (validateCrontab({ minute }) as { errors: { message: string }[] }).errors.map((e) => e.message);
    expect(messages('5/15')[0]).toMatch(/^Minuto inválido «5\/15»: use \*, \*\/n/);
    expect(messages('*/0')).toEqual(['Minuto inválido «*/0»: el paso debe ser un entero positivo']);
    expect(messages('1,,2')[0]).toMatch(/^Minuto inválido «»/);
    expect(messages('mon')[0]).toMatch(/^Minuto inválido «mon»/);
    expect(messages('')).toEqual(['Minuto: debe indicar un valor (use * para todos)']);
  });

  it('reports a day of month that never exists in the chosen months', () => {
    const result = validateCrontab(crontabFromExpression('0 0 31 2 *'));
    expect(result.ok).toBe(false);
    expect(!result.ok && result.errors[0]?.field).toBe('crontab.day_of_month');
  });

  it('defaults missing fields to * and the zone to Córdoba', () => {
    expect(validateCrontab({ minute: '0' })).toEqual({
      ok: true,
      value: { minute: '0', hour: '*', dayOfWeek: '*', dayOfMonth: '*', monthOfYear: '*', timezone: CORDOBA },
    });
  });
});

describe('crontab schedule: daylight saving time', () => {
  it('finds the 2026 transitions of the zones under test with Intl', () => {
    const at = (zone: string): string[] =>
      zoneTransitions(zone, new Date('2026-01-01T00:00:00Z'), new Date('2027-01-01T00:00:00Z')).map((t) =>
        new Date(t.at).toISOString(),
      );
    expect(at('Europe/Madrid')).toEqual(['2026-03-29T01:00:00.000Z', '2026-10-25T01:00:00.000Z']);
    // Chile changes at local midnight: 00:00 → 23:00 on 5 April, 00:00 → 01:00 on 6 September.
    expect(at('America/Santiago')).toEqual(['2026-04-05T03:00:00.000Z', '2026-09-06T04:00:00.000Z']);
    expect(at(CORDOBA)).toEqual([]);
  });

  it('fires a daily 02:30 once on the Madrid spring-forward day, at the jump to 03:00 CEST', () => {
    expect(
      firesBetween('30 2 * * *', 'Europe/Madrid', '2026-03-28T00:00:00Z', '2026-03-31T00:00:00Z'),
    ).toEqual([
      '2026-03-28T01:30:00.000Z', // 02:30 CET
      '2026-03-29T01:00:00.000Z', // 02:30 does not exist: 03:00 CEST
      '2026-03-30T00:30:00.000Z', // 02:30 CEST
    ]);
  });

  it('fires a daily 02:30 once on the Madrid fall-back day, on its first occurrence', () => {
    expect(
      firesBetween('30 2 * * *', 'Europe/Madrid', '2026-10-24T00:00:00Z', '2026-10-27T00:00:00Z'),
    ).toEqual([
      '2026-10-24T00:30:00.000Z', // 02:30 CEST
      '2026-10-25T00:30:00.000Z', // first 02:30 (CEST); not again at 01:30Z (CET)
      '2026-10-26T01:30:00.000Z', // 02:30 CET
    ]);
  });

  it('does not fire the second occurrence even when asked from inside the repeated hour', () => {
    expect(nextAfter('30 2 * * *', 'Europe/Madrid', '2026-10-25T01:10:00Z')).toBe('2026-10-26T01:30:00.000Z');
  });

  it('still fires at the jump when asked from within the last minute before it', () => {
    // Regression: a search starting in (00:59Z, 01:00Z] began in the CEST segment and skipped the gap fire.
    for (const from of ['2026-03-29T00:59:00Z', '2026-03-29T00:59:58.500Z']) {
      expect(nextAfter('30 2 * * *', 'Europe/Madrid', from)).toBe('2026-03-29T01:00:00.000Z');
    }
    expect(nextAfter('30 2 * * *', 'Europe/Madrid', '2026-03-29T01:00:00Z')).toBe('2026-03-30T00:30:00.000Z');
  });

  it('collapses every match inside the gap into one fire at the jump', () => {
    expect(
      firesBetween('*/15 2 * * *', 'Europe/Madrid', '2026-03-28T23:00:00Z', '2026-03-29T12:00:00Z'),
    ).toEqual(['2026-03-29T01:00:00.000Z']);
  });

  it('fires an hourly crontab every real hour across the fall-back night, twice at wall 02:00', () => {
    expect(
      firesBetween('0 * * * *', 'Europe/Madrid', '2026-10-24T23:00:00Z', '2026-10-25T04:00:00Z'),
    ).toEqual([
      '2026-10-24T23:00:00.000Z', // 01:00 CEST
      '2026-10-25T00:00:00.000Z', // 02:00 CEST
      '2026-10-25T01:00:00.000Z', // 02:00 CET
      '2026-10-25T02:00:00.000Z', // 03:00 CET
      '2026-10-25T03:00:00.000Z', // 04:00 CET
    ]);
  });

  it('fires an hourly crontab every real hour across the spring-forward night', () => {
    expect(
      firesBetween('30 * * * *', 'Europe/Madrid', '2026-03-28T23:00:00Z', '2026-03-29T03:00:00Z'),
    ).toEqual([
      '2026-03-28T23:30:00.000Z', // 00:30 CET
      '2026-03-29T00:30:00.000Z', // 01:30 CET
      '2026-03-29T01:30:00.000Z', // 03:30 CEST (02:30 did not exist and is not made up)
      '2026-03-29T02:30:00.000Z', // 04:30 CEST
    ]);
  });

  it('fires a daily 00:30 in Santiago across both 2026 transitions', () => {
    expect(
      firesBetween('30 0 * * *', 'America/Santiago', '2026-04-03T00:00:00Z', '2026-04-07T00:00:00Z'),
    ).toEqual([
      '2026-04-03T03:30:00.000Z', // 00:30 -03
      '2026-04-04T03:30:00.000Z', // 00:30 -03 (the clock goes back at the end of this day)
      '2026-04-05T04:30:00.000Z', // 00:30 -04
      '2026-04-06T04:30:00.000Z',
    ]);
    expect(
      firesBetween('30 0 * * *', 'America/Santiago', '2026-09-04T00:00:00Z', '2026-09-08T00:00:00Z'),
    ).toEqual([
      '2026-09-04T04:30:00.000Z', // 00:30 -04
      '2026-09-05T04:30:00.000Z',
      '2026-09-06T04:00:00.000Z', // 00:30 does not exist: 01:00 -03
      '2026-09-07T03:30:00.000Z', // 00:30 -03
    ]);
  });

  it('fires a daily 23:30 in Santiago once on the night the hour before midnight repeats', () => {
    expect(
      firesBetween('30 23 * * *', 'America/Santiago', '2026-04-04T12:00:00Z', '2026-04-06T12:00:00Z'),
    ).toEqual([
      '2026-04-05T02:30:00.000Z', // first 23:30 (-03) of 4 April
      '2026-04-06T03:30:00.000Z', // 23:30 -04 of 5 April
    ]);
  });

  it('keeps a Córdoba schedule at a fixed offset (no DST since 2009)', () => {
    const fires = firesBetween('0 2 * * *', CORDOBA, '2026-01-01T00:00:00Z', '2027-01-01T00:00:00Z');
    expect(fires).toHaveLength(365);
    expect(fires.every((f) => f.endsWith('T05:00:00.000Z'))).toBe(true);
  });
});

describe('crontab schedule: description', () => {
  it('describes the manual examples in Spanish', () => {
    expect(describeCrontab(crontabFromExpression('0 2 * * *'))).toBe(
      'Todos los días a las 02:00 (America/Argentina/Cordoba)',
    );
    expect(describeCrontab(crontabFromExpression('*/30 * * * 1-5'))).toBe(
      'Cada 30 minutos, de lunes a viernes (America/Argentina/Cordoba)',
    );
  });

  it('describes other common shapes', () => {
    const d = (expression: string): string => describeCrontab(crontabFromExpression(expression, 'UTC'));
    expect(d('0 * * * *')).toBe('Cada hora en punto (UTC)');
    expect(d('* * * * *')).toBe('Cada minuto (UTC)');
    expect(d('0 8,20 * * *')).toBe('Todos los días a las 08:00 y 20:00 (UTC)');
    expect(d('30 7 * * mon,wed,fri')).toBe('Los lunes, miércoles y viernes a las 07:30 (UTC)');
    expect(d('0 0 1 * *')).toBe('El día 1 de cada mes a las 00:00 (UTC)');
    expect(d('0 6 1,15 1 *')).toBe('Los días 1 y 15 de enero a las 06:00 (UTC)');
    expect(d('*/15 8-17 * * 1-5')).toBe('Cada 15 minutos, de 08:00 a 17:45, de lunes a viernes (UTC)');
    expect(d('0 0 13 * 5')).toBe('El día 13 de cada mes a las 00:00, solo si es viernes (UTC)');
  });

  it('falls back to django-celery-beat’s text when no phrase fits', () => {
    expect(describeCrontab(crontabFromExpression('7,9,11,13 1,3,5,7 * * *', 'UTC'))).toBe(
      '7,9,11,13 1,3,5,7 * * * (m/h/dM/MY/d) UTC',
    );
  });
});

describe('crontab schedule: cost', () => {
  it('computes the next fire of 10,000 varied crontabs without pathological searches', () => {
    const zones = [CORDOBA, 'Europe/Madrid', 'America/Santiago', 'Australia/Lord_Howe', 'UTC'];
    let seed = 42;
    const random = (n: number): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed % n;
    };
    const after = Date.parse('2026-03-28T22:00:00Z');
    let found = 0;
    let early = 0;
    for (let i = 0; i < 10_000; i++) {
      const crontab = compileCrontab({
        minute: random(3) === 0 ? `*/${1 + random(30)}` : String(random(60)),
        hour: random(2) === 0 ? '*' : String(random(24)),
        dayOfMonth: random(4) === 0 ? String(1 + random(31)) : '*',
        monthOfYear: random(4) === 0 ? String(1 + random(12)) : '*',
        dayOfWeek: random(3) === 0 ? String(random(7)) : '*',
        timezone: zones[i % zones.length]!,
      });
      const fire = crontabFireAtOrAfter(crontab, after);
      if (fire !== null) found++;
      if (fire !== null && fire.at < after) early++;
    }
    expect(early).toBe(0);
    expect(found).toBeGreaterThan(9_000);
  });
});
