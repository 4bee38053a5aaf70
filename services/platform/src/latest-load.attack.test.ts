import { describe, expect, it } from 'vitest';
import { latestLoad } from './latest-load.js';

function prng(seed: number) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const tick = () => new Promise<void>((r) => setImmediate(r));

describe('latestLoad fuzz', () => {
  it('1500 seeded interleavings: final = latest succeeded, monotonic applies, no hang, each sees >= own', async () => {
    for (let seed = 1; seed <= 1500; seed++) {
      const rnd = prng(seed);
      const n = 2 + Math.floor(rnd() * 7);
      const applied: number[] = [];
      let seq = 0;
      const outcome = new Map<number, boolean>();
      const pending: { at: number; fire: () => void }[] = [];
      let clock = 0;
      const load = latestLoad(
        () => {
          const me = ++seq;
          const ok = rnd() > 0.3;
          outcome.set(me, ok);
          return new Promise<number>((res, rej) =>
            pending.push({
              at: clock + Math.floor(rnd() * 10),
              fire: () => (ok ? res(me) : rej(new Error(`f${me}`))),
            }),
          );
        },
        (r) => applied.push(r),
      );
      const results: Promise<{ me: number; ok: boolean; seen: number | undefined }>[] = [];
      let startedCount = 0;
      // interleave starts and read answers
      while (startedCount < n || pending.length) {
        if (startedCount < n && rnd() < 0.5) {
          const me = ++startedCount;
          results.push(
            load().then(
              () => ({ me, ok: true, seen: applied.at(-1) }),
              () => ({ me, ok: false, seen: applied.at(-1) }),
            ),
          );
        } else if (pending.length) {
          clock++;
          const due = pending.filter((p) => p.at <= clock);
          for (const p of due) {
            pending.splice(pending.indexOf(p), 1);
            p.fire();
          }
        }
        await tick();
      }
      const timeout = new Promise<'hang'>((r) => setTimeout(() => r('hang'), 200));
      const all = await Promise.race([Promise.all(results), timeout]);
      const ctx = `seed ${seed} applied=${JSON.stringify(applied)} outcome=${JSON.stringify([...outcome])}`;
      expect(all, ctx).not.toBe('hang');
      for (let i = 1; i < applied.length; i++) expect(applied[i]! > applied[i - 1]!, ctx).toBe(true);
      const succeeded = [...outcome].filter(([, ok]) => ok).map(([k]) => k);
      expect(applied.at(-1), ctx).toBe(succeeded.length ? Math.max(...succeeded) : undefined);
      for (const r of all as { me: number; ok: boolean; seen: number | undefined }[]) {
        expect(r.ok, ctx).toBe(outcome.get(r.me));
        if (r.ok) expect(r.seen! >= r.me, `${ctx} load ${r.me} saw ${r.seen}`).toBe(true);
      }
    }
  }, 120_000);

  it('keeps applying and resolving while a refresh starts every 10 ms and each read takes 25 ms', async () => {
    const applied: number[] = [];
    let seq = 0;
    const load = latestLoad(
      () => {
        const me = ++seq;
        return new Promise<number>((r) => setTimeout(() => r(me), 25));
      },
      (r) => applied.push(r),
    );
    let settled = 0;
    const timer = setInterval(() => void load().then(() => settled++), 10);
    await new Promise((r) => setTimeout(r, 500));
    clearInterval(timer);
    const seenDuring = applied.length;
    const settledDuring = settled;
    expect(
      seenDuring,
      `applies during 500ms of overlapping refreshes: ${seenDuring}, resolved: ${settledDuring}`,
    ).toBeGreaterThan(0);
    expect(settledDuring).toBeGreaterThan(0);
  });
});
