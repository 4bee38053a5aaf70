import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBinary } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { IntervalPeriod, LogEventSchema, MissedRunPolicy } from '@lucy/proto';
import { H } from '@lucy/platform';
import { readStream, waitFor } from '@lucy/testkit';
import {
  createInfra,
  crontabSchedule,
  offsetClock,
  startReplica,
  type Infra,
  type Replica,
} from './helpers.js';

const SUBJECT = 'lucy.cmd.ingest.ingestar_aspirantes';
const TASK = 'alumnos.tasks.ingestar_aspirantes';

describe('firing', () => {
  let infra: Infra;

  beforeAll(async () => {
    infra = await createInfra();
  });
  afterAll(async () => {
    await infra?.cleanup();
  });

  const commandsOf = async (periodicTaskId: string) =>
    (
      await readStream(infra.nats.handles, infra.nats.names.streams.cmd, infra.nats.names.full(SUBJECT))
    ).filter((m) => m.header(H.msgId)?.startsWith(`${periodicTaskId}@`));

  async function intervalTask(r: Replica, name: string, extra: Record<string, unknown> = {}) {
    const { schedule } = await r.client.saveSchedule({
      schedule: { kind: { case: 'interval', value: { every: 1n, period: IntervalPeriod.SECONDS } } },
    });
    const { periodicTask } = await r.client.savePeriodicTask({
      periodicTask: { name, task: TASK, enabled: true, intervalId: schedule!.kind.value!.id, ...extra },
    });
    return periodicTask!;
  }

  describe('on one replica', () => {
    let r: Replica;
    beforeAll(async () => {
      r = await startReplica(infra);
    });
    afterAll(async () => {
      await r?.stop();
    });

    it('publishes an interval slot on the task subject with the slot key as Nats-Msg-Id and trigger schedule', async () => {
      const task = await intervalTask(r, 'Cada segundo', { kwargs: { ignorarVentana: true } });
      const [first] = await waitFor(async () => {
        const list = await commandsOf(task.id);
        return list.length >= 2 ? list : undefined;
      });
      const msgId = first!.header(H.msgId)!;
      const due = new Date(msgId.slice(msgId.indexOf('@') + 1));
      expect(msgId).toBe(`${task.id}@${due.toISOString()}`);
      expect(
        (due.getTime() -
          new Date(task.dateChanged!.seconds ? Number(task.dateChanged!.seconds) * 1000 : 0).getTime()) %
          1000,
      ).toBeLessThan(1000);
      expect(first!.header(H.trigger)).toBe('schedule');
      expect(first!.header(H.requestedBy)).toBe('scheduler');
      expect(first!.header(H.periodicTask)).toBe('Cada segundo');
      expect(first!.header(H.taskType)).toBe(TASK);

      // An edit (disable) takes effect without a restart.
      await r.client.setEnabled({ id: task.id, enabled: false });
      const frozen = (await commandsOf(task.id)).length;
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect((await commandsOf(task.id)).length).toBe(frozen);
      const { periodicTask } = await r.client.getPeriodicTask({ id: task.id });
      expect(Number(periodicTask!.totalRunCount)).toBe(frozen);
    });

    it('reports leadership, fired slots and fire lag on /metrics', async () => {
      const task = await intervalTask(r, 'Métricas cada segundo', { kwargs: { ignorarVentana: true } });
      await waitFor(async () => ((await commandsOf(task.id)).length >= 2 ? true : undefined));
      const text = await (await fetch(`${r.scheduler.rpc.metricsUrl!}/metrics`)).text();
      const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
      expect(value('lucy_scheduler_leader')).toBe(1);
      expect(value('lucy_scheduler_slots_total\\{outcome="fired"\\}')).toBeGreaterThanOrEqual(2);
      expect(value('lucy_scheduler_fire_lag_seconds_count')).toBeGreaterThanOrEqual(2);
      expect(value('lucy_scheduler_enabled_tasks')).toBeGreaterThanOrEqual(1);
      await r.client.setEnabled({ id: task.id, enabled: false });
    });

    it('fires a clocked task once and disables it', async () => {
      const { schedule } = await r.client.saveSchedule({
        schedule: {
          kind: { case: 'clocked', value: { clockedTime: timestampFromDate(new Date(Date.now() + 1000)) } },
        },
      });
      const { periodicTask } = await r.client.savePeriodicTask({
        periodicTask: { name: 'Una vez', task: TASK, enabled: true, clockedId: schedule!.kind.value!.id },
      });
      await waitFor(async () => (await commandsOf(periodicTask!.id)).length === 1, {
        what: 'clocked command',
      });
      const stored = await waitFor(async () => {
        const { periodicTask: t } = await r.client.getPeriodicTask({ id: periodicTask!.id });
        return t && !t.enabled ? t : undefined;
      });
      expect(stored.totalRunCount).toBe(1n);
    });

    it('fires a one-off interval task once and disables it', async () => {
      const task = await intervalTask(r, 'Una sola vez', { oneOff: true });
      await waitFor(async () => (await commandsOf(task.id)).length === 1, { what: 'one-off command' });
      await waitFor(async () => !(await r.client.getPeriodicTask({ id: task.id })).periodicTask?.enabled);
      await new Promise((resolve) => setTimeout(resolve, 1200));
      expect(await commandsOf(task.id)).toHaveLength(1);
    });

    it('runs a task now with a fresh task id and trigger admin', async () => {
      const { periodicTasks } = await r.client.listPeriodicTasks({ search: 'Cada segundo' });
      const { taskId } = await r.client.runNow({ id: periodicTasks[0]!.id, requestedBy: 'admin@fce' });
      const cmds = await waitFor(async () => {
        const all = await readStream(
          infra.nats.handles,
          infra.nats.names.streams.cmd,
          infra.nats.names.full(SUBJECT),
        );
        return all.filter((m) => m.header(H.taskId) === taskId);
      });
      expect(cmds[0]!.header(H.trigger)).toBe('admin');
      expect(cmds[0]!.header(H.requestedBy)).toBe('admin@fce');
    });
  });

  it('applies each missed-run policy when a replica starts long after the last run, logging each decision', async () => {
    const fiveHoursTenMinutes = (5 * 60 + 10) * 60_000;
    // Tasks created "5 h 10 min ago": a replica whose clock is that far behind creates them, then stops.
    const past = await startReplica(infra, { clock: offsetClock(-fiveHoursTenMinutes) });
    const { schedule } = await past.client.saveSchedule({
      schedule: { kind: { case: 'interval', value: { every: 1n, period: IntervalPeriod.HOURS } } },
    });
    const ids: Record<string, string> = {};
    for (const [policy, value] of [
      ['skip', MissedRunPolicy.SKIP],
      ['run_once', MissedRunPolicy.RUN_ONCE],
      ['run_all', MissedRunPolicy.RUN_ALL],
    ] as const) {
      const { periodicTask } = await past.client.savePeriodicTask({
        periodicTask: {
          name: `Horaria ${policy}`,
          task: TASK,
          enabled: true,
          intervalId: schedule!.kind.value!.id,
          missedRunPolicy: value,
          missedRunCap: 3,
        },
      });
      ids[policy] = periodicTask!.id;
    }
    await past.stop();

    const now = await startReplica(infra);
    try {
      await waitFor(async () => (await commandsOf(ids.run_all!)).length === 3, { what: 'run_all slots' });
      await waitFor(async () => (await commandsOf(ids.run_once!)).length === 1, { what: 'run_once slot' });
      expect(await commandsOf(ids.skip!)).toHaveLength(0);
      const dueHours = (list: Awaited<ReturnType<typeof commandsOf>>) =>
        list.map((m) => m.header(H.msgId)!.split('@')[1]!);
      const allDue = dueHours(await commandsOf(ids.run_all!));
      const onceDue = dueHours(await commandsOf(ids.run_once!));
      // run_all: the three most recent (hours 3, 4, 5), oldest first; run_once: the latest (hour 5).
      expect(new Date(allDue[2]!).getTime() - new Date(allDue[0]!).getTime()).toBe(2 * 3_600_000);
      for (const latest of [allDue[2]!, onceDue[0]!]) {
        const age = Date.now() - new Date(latest).getTime();
        expect(age).toBeGreaterThan(60_000);
        expect(age).toBeLessThan(3_600_000);
      }

      const logs = await waitFor(async () => {
        const all = await readStream(infra.nats.handles, infra.nats.names.streams.evt);
        const mine = all
          .filter((m) => m.subject.includes('.lucy.evt.log.'))
          .map((m) => fromBinary(LogEventSchema, m.data))
          .filter((l) => l.module === 'scheduler' && /Horaria/.test(l.message));
        return mine.length >= 4 ? mine : undefined;
      });
      const text = logs.map((l) => l.message).join('\n');
      expect(text).toMatch(/Se omitieron 5 ejecuciones perdidas de «Horaria skip»/);
      expect(text).toMatch(/Se ejecuta una sola vez «Horaria run_once» en lugar de 5 ejecuciones perdidas/);
      expect(text).toMatch(/Se ejecutan ahora las 3 ejecuciones perdidas más recientes de «Horaria run_all»/);
      expect(text).toMatch(/Se omitieron 2 ejecuciones perdidas más antiguas de «Horaria run_all»/);
    } finally {
      await now.stop();
    }
  });

  it('fires a daily 02:30 Europe/Madrid crontab once on the spring-forward day, at the jump', async () => {
    // The replica's clock reads 2026-03-29T00:59:57Z (01:59:57 CET) when it starts.
    const r = await startReplica(infra, {
      clock: offsetClock(Date.parse('2026-03-29T00:59:57Z') - Date.now()),
    });
    try {
      const { schedule } = await r.client.saveSchedule({
        schedule: crontabSchedule({ minute: '30', hour: '2', timezone: 'Europe/Madrid' }),
      });
      const { periodicTask } = await r.client.savePeriodicTask({
        periodicTask: {
          name: 'Madrid 02:30',
          task: TASK,
          enabled: true,
          crontabId: schedule!.kind.value!.id,
        },
      });
      const [cmd] = await waitFor(async () => {
        const list = await commandsOf(periodicTask!.id);
        return list.length ? list : undefined;
      });
      expect(cmd!.header(H.msgId)).toBe(`${periodicTask!.id}@2026-03-29T01:00:00.000Z`);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(await commandsOf(periodicTask!.id)).toHaveLength(1);
      const status = await r.client.getStatus({});
      expect(status.nextTask).toBeDefined();
      const { periodicTask: after } = await r.client.getPeriodicTask({ id: periodicTask!.id });
      // Next: 2026-03-30 02:30 CEST.
      expect(new Date(Number(after!.nextRunAt!.seconds) * 1000).toISOString()).toBe(
        '2026-03-30T00:30:00.000Z',
      );
    } finally {
      await r.stop();
    }
  });
});
