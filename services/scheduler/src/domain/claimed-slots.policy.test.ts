import { describe, expect, it } from 'vitest';
import { resolveMissedRuns, settleClaimedSlots } from './missed-runs.policy.js';
import type { MissedRunPolicy, PeriodicTaskTiming } from './periodic-task.model.js';

// Every 2 s from 01:00:00 Córdoba (04:00:00Z).
function task(mode: MissedRunPolicy['mode'], cap = 10): PeriodicTaskTiming {
  return {
    id: '7',
    name: 'Cada 2 segundos',
    schedule: { kind: 'interval', every: 2, period: 'seconds' },
    enabled: true,
    oneOff: false,
    startTime: new Date('2026-02-04T04:00:00Z'),
    expires: null,
    totalRunCount: 3,
    createdAt: new Date('2026-02-04T03:00:00Z'),
    missedRunPolicy: { mode, cap },
  };
}

const at = (sec: number) => new Date(Date.UTC(2026, 1, 4, 4, 0, 0) + sec * 1000);

function settle(mode: MissedRunPolicy['mode'], claimed: number[], lastSec: number, nowSec: number, cap = 10) {
  const t = task(mode, cap);
  const lastFiredAt = at(lastSec);
  const now = at(nowSec);
  const resolution = resolveMissedRuns({ task: t, lastFiredAt, now });
  const settled = settleClaimedSlots({ task: t, claimed: claimed.map(at), resolution, lastFiredAt, now });
  return {
    fired: resolution.fire.map((s) => s.dueAt.getTime()),
    republish: settled.republish.map((s) => s.dueAt.getTime()),
    missed: settled.missed.map((m) => [m.dueAt.getTime(), m.decision]),
  };
}

describe('claimed slots a dead leader left unconfirmed', () => {
  it.each(['skip', 'run_once', 'run_all'] as const)(
    'are fired with the other on-time slots when within the grace (%s), nothing recorded missed',
    (mode) => {
      // Last resolved slot 10 s; claimed 12 s, leader died; takeover at 20.5 s.
      const r = settle(mode, [12], 10, 20.5);
      expect(r.fired).toContain(at(12).getTime());
      expect(r.republish).toEqual([]);
      expect(r.missed).toEqual([]);
    },
  );

  it('are recorded missed with the policy decision when older than the grace', () => {
    // Claimed at 12 s, takeover 5 minutes later.
    expect(settle('skip', [12], 10, 312.5).missed).toEqual([[at(12).getTime(), 'skipped']]);
    const once = settle('run_once', [12], 10, 312.5);
    expect(once.fired).not.toContain(at(12).getTime());
    expect(once.missed).toEqual([[at(12).getTime(), 'coalesced']]);
    // run_all with a cap of 3 fires the 3 most recent missed slots; the old claim is beyond the cap.
    const all = settle('run_all', [12], 10, 312.5, 3);
    expect(all.missed).toEqual([[at(12).getTime(), 'capped']]);
  });

  it('behind a later resolved slot are republished within the grace or under run_all, else recorded missed', () => {
    // Claim of 12 s unconfirmed although 14 s was confirmed (its confirmation failed, then the leader died).
    expect(settle('skip', [12], 14, 20.5).republish).toEqual([at(12).getTime()]);
    expect(settle('run_all', [12], 14, 312.5).republish).toEqual([at(12).getTime()]);
    expect(settle('skip', [12], 14, 312.5).missed).toEqual([[at(12).getTime(), 'skipped']]);
    expect(settle('run_once', [12], 14, 312.5).missed).toEqual([[at(12).getTime(), 'coalesced']]);
  });

  it('leaves a claimed future slot to the normal firing when it is still the next, else reschedules it', () => {
    expect(settle('skip', [22], 20, 20.5)).toMatchObject({ republish: [], missed: [] });
    // 21 s is no slot of an every-2-s schedule anchored at even seconds (the task was edited since).
    expect(settle('skip', [21], 20, 20.5).missed).toEqual([[at(21).getTime(), 'rescheduled']]);
    expect(settle('run_all', [13], 10, 312.5).missed).toEqual([[at(13).getTime(), 'rescheduled']]);
  });
});
