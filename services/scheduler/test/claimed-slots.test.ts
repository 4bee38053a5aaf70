import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBinary } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { MikroORM } from '@mikro-orm/postgresql';
import { IntervalPeriod, LogEventSchema, MissedRunPolicy } from '@lucy/proto';
import { createOrm, H, uuidv7 } from '@lucy/platform';
import { readStream, testLogger, waitFor } from '@lucy/testkit';
import { schedulerOrm } from '../src/db/index.js';
import { createInfra, startReplica, type Infra } from './helpers.js';

const SUBJECT = 'lucy.cmd.ingest.ingestar_aspirantes';
const TASK = 'alumnos.tasks.ingestar_aspirantes';
const EVERY_MS = 2000;

/**
 * Slots a leader claimed in `fired_slot` and died before confirming (no `fired_at`), left for the next leader:
 * each is republished with its claim's task id, or recorded as missed with the policy's decision — none is left
 * half-done.
 */
describe('claimed slots of a dead leader', () => {
  let infra: Infra;
  let orm: MikroORM;

  beforeAll(async () => {
    infra = await createInfra();
  });
  afterAll(async () => {
    await orm?.close(true);
    await infra?.cleanup();
  });

  it('republishes those within the grace and records the older ones as missed per policy, or disabled', async () => {
    const now = Date.now();
    // Every 2 s, anchored 10 minutes ago on an even second (the old claim may fall on a whole minute: its Log still
    // tells seconds, as for every slot of a sub-minute schedule).
    const anchor = Math.floor((now - 10 * 60_000) / EVERY_MS) * EVERY_MS;
    const setup = await startReplica(infra);
    const { schedule } = await setup.client.saveSchedule({
      schedule: { kind: { case: 'interval', value: { every: 2n, period: IntervalPeriod.SECONDS } } },
    });
    const ids: Record<string, string> = {};
    for (const [name, policy] of [
      ['skip', MissedRunPolicy.SKIP],
      ['run_once', MissedRunPolicy.RUN_ONCE],
      ['run_all', MissedRunPolicy.RUN_ALL],
      ['disabled', MissedRunPolicy.SKIP],
    ] as const) {
      const { periodicTask } = await setup.client.savePeriodicTask({
        periodicTask: {
          name: `Reservada ${name}`,
          task: TASK,
          enabled: false,
          intervalId: schedule!.kind.value!.id,
          startTime: timestampFromDate(new Date(anchor)),
          missedRunPolicy: policy,
          missedRunCap: 3,
        },
      });
      ids[name] = periodicTask!.id;
    }
    await setup.stop();

    // What a leader that died 5 minutes ago and one that died 20 s ago left behind: a confirmed slot, then a
    // claim older than the grace and (for the enabled tasks) a claim within it, none confirmed.
    orm = await createOrm({ ...schedulerOrm, url: infra.db.url, logger: testLogger('orm') });
    const knex = orm.em.getKnex();
    const confirmed = anchor + 150 * EVERY_MS;
    const old = confirmed + EVERY_MS;
    // Just within the grace when the next leader starts, with room for a slow start under load.
    const recent = Math.floor((Date.now() - 6000) / EVERY_MS) * EVERY_MS;
    const recentTaskIds: Record<string, string> = {};
    for (const [name, id] of Object.entries(ids)) {
      const rows = [
        { due: confirmed, fired: true },
        { due: old, fired: false },
        ...(name === 'disabled' ? [] : [{ due: recent, fired: false }]),
      ];
      for (const row of rows) {
        const taskId = uuidv7();
        if (row.due === recent) recentTaskIds[name] = taskId;
        await knex.raw(
          `insert into scheduler.fired_slot (periodic_task_id, due_at, task_id, fencing_token, fired_at)
           values (?, ?, ?, 0, ?)`,
          [id, new Date(row.due), taskId, row.fired ? new Date(row.due) : null],
        );
      }
      if (name !== 'disabled')
        await knex.raw(`update scheduler.periodic_task set enabled = true where id = ?`, [id]);
    }

    const r = await startReplica(infra);
    try {
      const commands = async () =>
        (
          await readStream(infra.nats.handles, infra.nats.names.streams.cmd, infra.nats.names.full(SUBJECT))
        ).map((m) => ({ key: m.header(H.msgId)!, taskId: m.header(H.taskId)! }));
      const slotKey = (id: string, due: number) => `${id}@${new Date(due).toISOString()}`;
      // Within the grace: republished under every policy, with the task id of the claim.
      const list = await waitFor(
        async () => {
          const all = await commands();
          return ['skip', 'run_once', 'run_all'].every((n) =>
            all.some((c) => c.key === slotKey(ids[n]!, recent)),
          )
            ? all
            : undefined;
        },
        { timeoutMs: 30_000, what: 'the claims within the grace republished' },
      );
      for (const n of ['skip', 'run_once', 'run_all'])
        expect(list.find((c) => c.key === slotKey(ids[n]!, recent))!.taskId).toBe(recentTaskIds[n]);
      // Never published: the old claims and anything of the disabled task.
      for (const id of Object.values(ids)) expect(list.some((c) => c.key === slotKey(id, old))).toBe(false);
      expect(list.some((c) => c.key.startsWith(`${ids.disabled}@`))).toBe(false);

      // Recorded as missed, each with the decision that left it unpublished.
      const decisions = await waitFor(
        async () => {
          const rows = (
            await knex.raw<{ rows: Array<{ periodic_task_id: string; missed_decision: string | null }> }>(
              `select periodic_task_id, missed_decision from scheduler.fired_slot where due_at = ?`,
              [new Date(old)],
            )
          ).rows;
          return rows.every((row) => row.missed_decision !== null) ? rows : undefined;
        },
        { timeoutMs: 30_000, what: 'old claims recorded as missed' },
      );
      const byTask = Object.fromEntries(decisions.map((d) => [d.periodic_task_id, d.missed_decision]));
      expect(byTask).toEqual({
        [ids.skip!]: 'skipped',
        [ids.run_once!]: 'coalesced',
        [ids.run_all!]: 'capped',
        [ids.disabled!]: 'disabled',
      });

      // Nothing half-done among the slots already due.
      await waitFor(
        async () => {
          const { rows } = await knex.raw<{ rows: Array<{ n: string }> }>(
            `select count(*) as n from scheduler.fired_slot
              where fired_at is null and missed_at is null and due_at < now() - interval '5 seconds'`,
          );
          return Number(rows[0]!.n) === 0;
        },
        { timeoutMs: 30_000, what: 'no half-done slot' },
      );

      // One WARNING Log per task, its time with seconds.
      const logs = await waitFor(async () => {
        const all = await readStream(infra.nats.handles, infra.nats.names.streams.evt);
        const mine = all
          .filter((m) => m.subject.includes('.lucy.evt.log.'))
          .map((m) => fromBinary(LogEventSchema, m.data))
          .filter((l) => l.message.startsWith('No se republica'));
        return mine.length >= 4 ? mine : undefined;
      });
      const text = logs.map((l) => l.message).join('\n');
      expect(text).toMatch(
        /No se republica la ejecución de «Reservada skip» prevista para \d\d\/\d\d\/\d{4} \d\d:\d\d:\d\d, reservada por un líder que se detuvo sin confirmar su publicación: la política de ejecuciones perdidas es omitir/,
      );
      expect(text).toMatch(/«Reservada run_once».*otra ejecución la cubre/);
      expect(text).toMatch(/«Reservada run_all».*supera el tope de 3/);
      expect(text).toMatch(/«Reservada disabled».*la tarea está deshabilitada/);
    } finally {
      await r.stop();
    }
  }, 90_000);
  it('never replays the slots of a disabled period once the task is enabled, even after a takeover', async () => {
    const setup = await startReplica(infra);
    const { schedule } = await setup.client.saveSchedule({
      schedule: { kind: { case: 'interval', value: { every: 2n, period: IntervalPeriod.SECONDS } } },
    });
    const anchor = Math.floor((Date.now() - 10 * 60_000) / EVERY_MS) * EVERY_MS;
    const { periodicTask } = await setup.client.savePeriodicTask({
      periodicTask: {
        name: 'Deshabilitada un rato',
        task: TASK,
        enabled: false,
        intervalId: schedule!.kind.value!.id,
        startTime: timestampFromDate(new Date(anchor)),
        missedRunPolicy: MissedRunPolicy.RUN_ALL,
        missedRunCap: 10,
      },
    });
    const id = periodicTask!.id;
    // It last ran 8 minutes ago, then staff disabled it; now they enable it again.
    const lastRun = anchor + 60 * EVERY_MS;
    orm ??= await createOrm({ ...schedulerOrm, url: infra.db.url, logger: testLogger('orm') });
    await orm.em.getKnex().raw(
      `insert into scheduler.fired_slot (periodic_task_id, due_at, task_id, fencing_token, fired_at)
         values (?, ?, ?, 0, ?)`,
      [id, new Date(lastRun), uuidv7(), new Date(lastRun)],
    );
    const enabledAt = Date.now();
    await setup.client.setEnabled({ id, enabled: true });
    await setup.stop();

    // Another replica takes over and resolves missed runs: none of the disabled period's slots is fired.
    const r = await startReplica(infra);
    try {
      const dues = await waitFor(
        async () => {
          const list = (
            await readStream(infra.nats.handles, infra.nats.names.streams.cmd, infra.nats.names.full(SUBJECT))
          )
            .map((m) => m.header(H.msgId)!)
            .filter((k) => k.startsWith(`${id}@`))
            .map((k) => Date.parse(k.slice(id.length + 1)));
          return list.length >= 3 ? list : undefined;
        },
        { timeoutMs: 30_000, what: 'slots after enabling' },
      );
      expect(Math.min(...dues)).toBeGreaterThan(enabledAt);
    } finally {
      await r.stop();
    }
  }, 90_000);
});
