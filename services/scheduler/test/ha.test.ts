import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IntervalPeriod, MissedRunPolicy } from '@lucy/proto';
import { createOrm, H } from '@lucy/platform';
import { readStream, testLogger, waitFor } from '@lucy/testkit';
import { schedulerOrm } from '../src/db/index.js';
import { createInfra, replicaEnv, startReplica, type Infra } from './helpers.js';

const SERVICE_DIR = fileURLToPath(new URL('..', import.meta.url));
const TSX = fileURLToPath(new URL('../../../node_modules/tsx/dist/cli.mjs', import.meta.url));
const SUBJECT = 'lucy.cmd.ingest.ingestar_preinscriptos';
const TTL_MS = 2000;

/** Signals a replica's whole process group (tsx's wrapper and the service process under it). */
function signal(child: ChildProcess, sig: NodeJS.Signals): void {
  try {
    if (child.pid) process.kill(-child.pid, sig);
  } catch {
    // Already gone.
  }
}

describe('several replicas (real processes)', () => {
  let infra: Infra;
  const children = new Map<string, ChildProcess>();

  beforeAll(async () => {
    infra = await createInfra();
  });

  afterAll(async () => {
    for (const child of children.values()) signal(child, 'SIGKILL');
    await infra?.cleanup();
  });

  const leaseHolder = async (): Promise<{ holder: string; expiresAt: number } | null> => {
    const e = await infra.nats.buckets.leases.get('scheduler.leader');
    return e && e.operation === 'PUT'
      ? (JSON.parse(e.string()) as { holder: string; expiresAt: number })
      : null;
  };

  it('fires each slot exactly once while the leader is killed and another takes over within the lease time', async () => {
    // Migrate and create a 1-second task through the RPC, then leave the firing to the processes.
    const setup = await startReplica(infra);
    const { schedule } = await setup.client.saveSchedule({
      schedule: { kind: { case: 'interval', value: { every: 1n, period: IntervalPeriod.SECONDS } } },
    });
    const { periodicTask } = await setup.client.savePeriodicTask({
      periodicTask: {
        name: 'Cada segundo (HA)',
        task: 'alumnos.tasks.ingestar_preinscriptos',
        enabled: true,
        intervalId: schedule!.kind.value!.id,
        missedRunPolicy: MissedRunPolicy.RUN_ALL,
        missedRunCap: 20,
      },
    });
    await setup.stop();
    const prefix = `${periodicTask!.id}@`;

    // Every publication, as JetStream receives it (before dedup), with its arrival time.
    const raw: Array<{ key: string; at: number }> = [];
    const sub = infra.nats.handles.nc.subscribe(infra.nats.names.full(SUBJECT), {
      callback: (_err, msg) => {
        const key = msg.headers?.get(H.msgId) ?? '';
        if (key.startsWith(prefix)) raw.push({ key, at: Date.now() });
      },
    });

    // Two replicas are enough to prove the takeover (each process pays tsx's start-up on a 2-core machine).
    for (const id of ['r1', 'r2']) {
      const child = spawn(process.execPath, [TSX, 'src/main.ts'], {
        cwd: SERVICE_DIR,
        env: {
          ...process.env,
          ...replicaEnv(infra, { INSTANCE_ID: id, SCHEDULER_LEASE_TTL_MS: String(TTL_MS) }),
        },
        stdio: ['ignore', 'ignore', 'inherit'],
        // Own process group: tsx runs the service in a child process, and kill -9 must reach it too.
        detached: true,
      });
      children.set(id, child);
    }

    await waitFor(() => raw.length >= 3, { timeoutMs: 30_000, what: 'first slots from the processes' });
    const leader = (await leaseHolder())!.holder;
    expect(['r1', 'r2']).toContain(leader);
    const killedAt = Date.now();
    signal(children.get(leader)!, 'SIGKILL');

    const next = await waitFor(
      async () => {
        const h = await leaseHolder();
        return h && h.holder !== leader ? h.holder : undefined;
      },
      { timeoutMs: 10_000, what: 'a new leader' },
    );
    await waitFor(() => raw.filter((r) => r.at > killedAt).length >= 3, {
      timeoutMs: 10_000,
      what: 'slots after takeover',
    });
    const firstAfter = raw.find((r) => r.at > killedAt + 50)!;

    const exited = [...children.values()].map((c) =>
      c.exitCode !== null || c.signalCode !== null
        ? Promise.resolve()
        : new Promise<void>((r) => c.once('exit', () => r())),
    );
    for (const [id, child] of children) if (id !== leader) signal(child, 'SIGTERM');
    await Promise.all(exited);
    await infra.nats.handles.nc.flush();
    sub.unsubscribe();

    expect(next).not.toBe(leader);
    // Takeover within the lease time (plus one renewal period and one slot).
    expect(firstAfter.at - killedAt).toBeLessThan(TTL_MS + TTL_MS / 3 + 1000);

    const stored = (
      await readStream(infra.nats.handles, infra.nats.names.streams.cmd, infra.nats.names.full(SUBJECT))
    )
      .map((m) => m.header(H.msgId) ?? '')
      .filter((k) => k.startsWith(prefix));
    const counts = new Map<string, number>();
    for (const k of stored) counts.set(k, (counts.get(k) ?? 0) + 1);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);

    // No slot published twice on the wire either, except possibly the one in flight when the leader died
    // (claimed but unconfirmed: the new leader republishes it with the same Nats-Msg-Id, which JetStream drops).
    const rawCounts = new Map<string, number>();
    for (const r of raw) rawCounts.set(r.key, (rawCounts.get(r.key) ?? 0) + 1);
    expect([...rawCounts.values()].filter((n) => n > 1).length).toBeLessThanOrEqual(1);

    // No gap: with run_all, every 1-second slot from the first to the last was fired.
    const dues = [...counts.keys()].map((k) => Date.parse(k.slice(prefix.length))).sort((a, b) => a - b);
    for (let i = 1; i < dues.length; i++) expect(dues[i]! - dues[i - 1]!).toBe(1000);
    // And on the wire no silence longer than the lease time.
    const times = raw.map((r) => r.at).sort((a, b) => a - b);
    const longest = Math.max(...times.slice(1).map((t, i) => t - times[i]!));
    expect(longest).toBeLessThan(TTL_MS + TTL_MS / 3 + 1000);
  }, 60_000);
  it('loses no slot within the grace under skip, run_once and run_all when the leader is SIGKILLed mid-claim, fires none twice and leaves none half-done', async () => {
    const EVERY_MS = 2000;
    const setup = await startReplica(infra);
    const { schedule } = await setup.client.saveSchedule({
      schedule: { kind: { case: 'interval', value: { every: 2n, period: IntervalPeriod.SECONDS } } },
    });
    const ids: Record<string, string> = {};
    for (const [name, policy] of [
      ['skip', MissedRunPolicy.SKIP],
      ['run_once', MissedRunPolicy.RUN_ONCE],
      ['run_all', MissedRunPolicy.RUN_ALL],
    ] as const) {
      // Disabled until both processes run: slots start only once the replicas are there.
      const { periodicTask } = await setup.client.savePeriodicTask({
        periodicTask: {
          name: `Failover ${name}`,
          task: 'alumnos.tasks.ingestar_aspirantes',
          enabled: false,
          intervalId: schedule!.kind.value!.id,
          missedRunPolicy: policy,
        },
      });
      ids[name] = periodicTask!.id;
    }
    await setup.stop();
    const orm = await createOrm({ ...schedulerOrm, url: infra.db.url, logger: testLogger('orm') });
    const db = orm.em.getKnex();
    const subject = infra.nats.names.full('lucy.cmd.ingest.ingestar_aspirantes');
    const prefixes = Object.values(ids).map((id) => `${id}@`);
    const mine = (key: string) => prefixes.some((p) => key.startsWith(p));

    const local = new Map<string, ChildProcess>();
    try {
      for (const id of ['f1', 'f2']) {
        const child = spawn(process.execPath, [TSX, 'src/main.ts'], {
          cwd: SERVICE_DIR,
          env: {
            ...process.env,
            ...replicaEnv(infra, { INSTANCE_ID: id, SCHEDULER_LEASE_TTL_MS: String(TTL_MS) }),
          },
          stdio: ['ignore', 'ignore', 'inherit'],
          detached: true,
        });
        local.set(id, child);
        children.set(id, child);
      }
      // Both replicas up: one holds the lease, the other answers its readiness (its RPC port is bound).
      await waitFor(
        async () => {
          const h = await leaseHolder();
          return h && ['f1', 'f2'].includes(h.holder) && h.expiresAt > Date.now() ? h : undefined;
        },
        { timeoutMs: 60_000, what: 'a leader among the processes' },
      );
      // Enable the three tasks from a slot ten seconds ahead (room for a slow reload under load), and tell the
      // replicas (as an edit through any replica does).
      const start = new Date(Math.ceil((Date.now() + 10_000) / EVERY_MS) * EVERY_MS);
      await db.raw(
        `update scheduler.periodic_task set enabled = true, start_time = ?, date_changed = now()
          where id = any(?::uuid[])`,
        [start, `{${Object.values(ids).join(',')}}`],
      );
      infra.nats.handles.nc.publish(infra.nats.names.full('lucy.scheduler.changed'), 'test');

      const stored = async () =>
        (await readStream(infra.nats.handles, infra.nats.names.streams.cmd, subject)).filter((m) =>
          mine(m.header(H.msgId) ?? ''),
        );
      await waitFor(async () => (await stored()).length >= 6, {
        timeoutMs: 60_000,
        what: 'first slots of the three tasks',
      });

      // Kill the leader while it holds a claim it has not confirmed (claimed a second ahead of its due time).
      const leader = (await leaseHolder())!.holder;
      const claim = await waitFor(
        async () => {
          const { rows } = await db.raw<{ rows: Array<{ periodic_task_id: string; due_ms: string }> }>(
            `select periodic_task_id, (extract(epoch from due_at) * 1000)::bigint::text as due_ms
               from scheduler.fired_slot
              where fired_at is null and missed_at is null and due_at > now()
                and periodic_task_id = any(?::uuid[])
              limit 1`,
            [`{${Object.values(ids).join(',')}}`],
          );
          return rows[0];
        },
        { timeoutMs: 30_000, intervalMs: 20, what: 'a claim ahead of its due time' },
      );
      signal(local.get(leader)!, 'SIGKILL');
      const killedAt = Date.now();
      const survivor = leader === 'f1' ? 'f2' : 'f1';
      await waitFor(
        async () => {
          const h = await leaseHolder();
          return h?.holder === survivor ? h : undefined;
        },
        { timeoutMs: 60_000, what: 'the other replica takes over' },
      );
      // Three more slots of each task after the takeover.
      await waitFor(
        async () => {
          const list = await stored();
          return Object.values(ids).every(
            (id) =>
              list.filter(
                (m) =>
                  m.header(H.msgId)!.startsWith(`${id}@`) &&
                  Date.parse(m.header(H.msgId)!.slice(id.length + 1)) > killedAt,
              ).length >= 3,
          );
        },
        { timeoutMs: 60_000, what: 'slots after the takeover' },
      );
      const exited = new Promise<void>((r) => {
        const c = local.get(survivor)!;
        if (c.exitCode !== null || c.signalCode !== null) r();
        else c.once('exit', () => r());
      });
      signal(local.get(survivor)!, 'SIGTERM');
      await exited;

      const list = await stored();
      const keys = list.map((m) => m.header(H.msgId)!);
      const taskIds = list.map((m) => m.header(H.taskId)!);
      // None fired twice: one stored command per slot, and one task id per command.
      expect(new Set(keys).size).toBe(keys.length);
      expect(new Set(taskIds).size).toBe(taskIds.length);
      // None lost: under every policy, every 2-second slot from the first to the last one fired.
      for (const [name, id] of Object.entries(ids)) {
        const dues = keys
          .filter((k) => k.startsWith(`${id}@`))
          .map((k) => Date.parse(k.slice(id.length + 1)))
          .sort((a, b) => a - b);
        // An interval's first slot is one period after its start (django-celery-beat's rule).
        expect(dues[0], name).toBe(start.getTime() + EVERY_MS);
        const gaps = dues.slice(1).map((d, i) => d - dues[i]!);
        expect(
          gaps.every((g) => g === EVERY_MS),
          `${name}: ${dues.map((d) => new Date(d).toISOString()).join(' ')}`,
        ).toBe(true);
      }
      // The claim the dead leader held was fired by the survivor (once, with the claim's task id).
      const claimKey = `${claim.periodic_task_id}@${new Date(Number(claim.due_ms)).toISOString()}`;
      expect(keys.filter((k) => k === claimKey)).toHaveLength(1);
      // None half-done: every slot row ends confirmed (tsx's wrapper may exit before the service process has
      // published the slot it claimed ahead, so wait for that), and none was recorded as missed.
      const counts = async () =>
        (
          await db.raw<{ rows: Array<{ n: string; missed: string }> }>(
            `select count(*) filter (where fired_at is null and missed_at is null) as n,
                    count(*) filter (where missed_at is not null) as missed
               from scheduler.fired_slot where periodic_task_id = any(?::uuid[])`,
            [`{${Object.values(ids).join(',')}}`],
          )
        ).rows[0]!;
      await waitFor(async () => Number((await counts()).n) === 0, {
        timeoutMs: 30_000,
        what: 'no half-done slot',
      });
      expect(Number((await counts()).missed)).toBe(0);
    } finally {
      for (const child of local.values()) signal(child, 'SIGKILL');
      await orm.close(true);
    }
  }, 240_000);
});
