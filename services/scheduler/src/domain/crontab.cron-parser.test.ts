// Differential test: the scheduler's own crontab matcher (celery semantics, DST rules) against cron-parser, a
// widely used independent implementation, on random expressions where the two semantics agree — zones without
// DST (so the DST rules do not apply) and never both day fields restricted (celery ANDs them, Vixie cron ORs
// them). The celery-only cases (AND of the day fields, wrapping ranges, DST) have their own tests in
// crontab.schedule.test.ts.
import { CronExpressionParser } from 'cron-parser';
import { describe, expect, it } from 'vitest';
import { compileCrontab, crontabFireAtOrAfter, crontabFromExpression } from './crontab.schedule.js';

/** Deterministic PRNG (a 31-bit LCG), so a failure is reproducible from the printed expression. */
function prng(seed: number): () => number {
  let state = seed % 2_147_483_648;
  return () => (state = (state * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
}

const FIELDS = [
  { min: 0, max: 59 }, // minute
  { min: 0, max: 23 }, // hour
  { min: 1, max: 31 }, // day of month
  { min: 1, max: 12 }, // month
  { min: 0, max: 6 }, // day of week
] as const;

function randomField(random: () => number, { min, max }: { min: number; max: number }): string {
  const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  const part = (): string => {
    const kind = int(0, 4);
    const a = int(min, max);
    const b = int(a, max);
    const step = int(2, Math.max(2, Math.floor((max - min) / 2)));
    if (kind === 0) return `*/${step}`;
    if (kind === 1) return String(a);
    if (kind === 2) return `${a}-${b}`;
    if (kind === 3) return `${a}-${b}/${step}`;
    return `${a},${b}`;
  };
  const r = random();
  if (r < 0.35) return '*';
  if (r < 0.85) return part();
  return `${part()},${part()}`;
}

function randomExpression(random: () => number): string {
  for (;;) {
    const fields = FIELDS.map((f) => randomField(random, f));
    // Never both day fields restricted: there the semantics differ on purpose.
    if (fields[2] !== '*' && fields[4] !== '*') fields[random() < 0.5 ? 2 : 4] = '*';
    const expression = fields.join(' ');
    try {
      CronExpressionParser.parse(expression);
      return expression;
    } catch {
      // cron-parser refuses a list whose parts overlap (`*/2,4`), which celery accepts: draw another.
    }
  }
}

function oursAfter(expression: string, zone: string, after: number, n: number): string[] {
  const crontab = compileCrontab(crontabFromExpression(expression, zone));
  const out: string[] = [];
  let cursor = after + 1;
  while (out.length < n) {
    const fire = crontabFireAtOrAfter(crontab, cursor);
    if (fire === null) break;
    out.push(new Date(fire.at).toISOString());
    cursor = fire.at + 1;
  }
  return out;
}

function cronParserAfter(expression: string, zone: string, after: number, n: number): string[] {
  const interval = CronExpressionParser.parse(expression, { currentDate: new Date(after), tz: zone });
  const out: string[] = [];
  for (let i = 0; i < n && interval.hasNext(); i++) out.push(interval.next().toDate().toISOString());
  return out;
}

describe('crontab matcher agrees with cron-parser where celery and cron semantics coincide', () => {
  for (const zone of ['UTC', 'America/Argentina/Cordoba', 'Asia/Kolkata']) {
    it(`${zone}: 300 random expressions, their next 12 fires from a random instant`, () => {
      const random = prng(zone.length * 7919);
      const from = Date.parse('2026-01-01T00:00:00Z');
      for (let i = 0; i < 300; i++) {
        const expression = randomExpression(random);
        // A random instant within 2026–2029, not minute-aligned.
        const after = from + Math.floor(random() * 4 * 365 * 86_400_000);
        const ours = oursAfter(expression, zone, after, 12);
        const theirs = cronParserAfter(expression, zone, after, 12);
        expect(ours, `${expression} (${zone}) after ${new Date(after).toISOString()}`).toEqual(theirs);
      }
    });
  }
});
