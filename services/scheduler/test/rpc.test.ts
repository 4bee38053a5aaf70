import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code, ConnectError } from '@connectrpc/connect';
import { timestampDate, timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { fromBinary } from '@bufbuild/protobuf';
import {
  BadRequestSchema,
  IntervalPeriod,
  LogEventSchema,
  type PeriodicTask,
  type PeriodicTaskSchema,
} from '@lucy/proto';
import { readStream, waitFor } from '@lucy/testkit';
import { createInfra, crontabSchedule, startReplica, type Infra, type Replica } from './helpers.js';

/** The InvalidArgument violations of a failed call, as `field` list. */
async function violations(
  call: Promise<unknown>,
): Promise<{ code: Code; fields: string[]; messages: string[] }> {
  try {
    await call;
  } catch (err) {
    const ce = ConnectError.from(err);
    const details = ce.findDetails(BadRequestSchema).flatMap((d) => d.violations);
    return {
      code: ce.code,
      fields: details.map((v) => v.field),
      messages: details.map((v) => v.description),
    };
  }
  throw new Error('expected the call to fail');
}

describe('SchedulerService', () => {
  let infra: Infra;
  let r: Replica;

  beforeAll(async () => {
    infra = await createInfra();
    r = await startReplica(infra);
  });

  afterAll(async () => {
    await r?.stop();
    await infra?.cleanup();
  });

  it('creates the default periodic tasks on first start, ingestions disabled', async () => {
    const { periodicTasks } = await r.client.listPeriodicTasks({});
    const byName = new Map(periodicTasks.map((t) => [t.name, t]));
    const byTask = new Map(periodicTasks.map((t) => [t.task, t]));
    for (const tipo of ['preinscriptos', 'aspirantes', 'ingresantes']) {
      const t = byName.get(`Ingesta automática de ${tipo}`);
      expect(t?.task).toBe(`alumnos.tasks.ingestar_${tipo}`);
      expect(t?.enabled).toBe(false);
      // The nightly reconciliation: the same task with {"reconciliar": true}, enabled (it acts only in the window).
      const night = byName.get(`Reconciliación nocturna de ${tipo}`);
      expect(night?.task).toBe(`alumnos.tasks.ingestar_${tipo}`);
      expect(night?.enabled).toBe(true);
    }
    // The spec's Ejemplos de Configuración 1–3.
    const schedules = await Promise.all(
      ['preinscriptos', 'aspirantes', 'ingresantes'].map(
        async (tipo) =>
          await r.client.getPeriodicTask({ id: byName.get(`Ingesta automática de ${tipo}`)!.id }),
      ),
    );
    expect(schedules[0]!.interval).toMatchObject({ every: 1n, period: IntervalPeriod.HOURS });
    expect([schedules[1]!.crontab?.minute, schedules[1]!.crontab?.hour]).toEqual(['0', '2']);
    expect([schedules[2]!.crontab?.minute, schedules[2]!.crontab?.dayOfWeek]).toEqual(['*/30', '1-5']);
    const night = await r.client.getPeriodicTask({
      id: byName.get('Reconciliación nocturna de aspirantes')!.id,
    });
    expect(night.periodicTask?.kwargs).toEqual({ reconciliar: true });
    expect([night.crontab?.minute, night.crontab?.hour, night.crontab?.timezone]).toEqual([
      '30',
      '3',
      'America/Argentina/Cordoba',
    ]);
    const purge = byTask.get('mantenimiento.tasks.purgar_tareas_antiguas');
    expect(purge?.enabled).toBe(true);
    const { crontab } = await r.client.getPeriodicTask({ id: purge!.id });
    expect([crontab?.minute, crontab?.hour, crontab?.timezone]).toEqual([
      '0',
      '4',
      'America/Argentina/Cordoba',
    ]);
  });

  it('does not create the defaults again on a restart', async () => {
    const second = await startReplica(infra);
    try {
      const { periodicTasks } = await second.client.listPeriodicTasks({ search: 'Ingesta automática' });
      expect(periodicTasks).toHaveLength(3);
    } finally {
      await second.stop();
    }
  });

  it('example 1: ingesta de preinscriptos cada 1 hora', async () => {
    const { schedule } = await r.client.saveSchedule({
      schedule: { kind: { case: 'interval', value: { every: 1n, period: IntervalPeriod.HOURS } } },
    });
    expect(schedule?.kind.value?.descripcion).toBe('Cada 1 hora');
    const { periodicTask } = await r.client.savePeriodicTask({
      periodicTask: {
        name: 'Ingesta horaria de preinscriptos',
        task: 'alumnos.tasks.ingestar_preinscriptos',
        enabled: true,
        intervalId: schedule!.kind.value!.id,
      },
      requestedBy: 'admin@fce',
    });
    expect(periodicTask?.scheduleDescripcion).toBe('Cada 1 hora');
    const created = timestampDate(periodicTask!.dateChanged!).getTime();
    expect(timestampDate(periodicTask!.nextRunAt!).getTime()).toBe(created + 3_600_000);
    const { runs } = await r.client.preview({ periodicTaskId: periodicTask!.id, count: 3 });
    expect(runs.map((x) => timestampDate(x.at!).getTime() - created)).toEqual([
      3_600_000, 7_200_000, 10_800_000,
    ]);
  });

  it('example 2: ingesta de aspirantes cada día a las 2:00 AM (Córdoba)', async () => {
    const { schedule } = await r.client.saveSchedule({
      schedule: crontabSchedule({ minute: '0', hour: '2' }),
    });
    const { periodicTask } = await r.client.savePeriodicTask({
      periodicTask: {
        name: 'Ingesta diaria de aspirantes (2 AM)',
        task: 'alumnos.tasks.ingestar_aspirantes',
        enabled: true,
        crontabId: schedule!.kind.value!.id,
      },
    });
    const after = timestampFromDate(new Date('2026-02-01T12:00:00Z'));
    const { runs, descripcion } = await r.client.preview({
      periodicTaskId: periodicTask!.id,
      count: 3,
      after,
    });
    expect(descripcion).toMatch(/02:00/);
    // Runs of a task start after its creation (today), so preview the bare schedule for February too.
    expect(runs.length).toBe(3);
    for (const run of runs) expect(run.localTime).toMatch(/ 02:00$/);
    const bare = await r.client.preview({ schedule: schedule!, count: 2, after });
    expect(bare.runs.map((x) => timestampDate(x.at!).toISOString())).toEqual([
      '2026-02-02T05:00:00.000Z',
      '2026-02-03T05:00:00.000Z',
    ]);
    expect(bare.runs[0]!.utcOffset).toBe('-03:00');
  });

  it('example 3: ingresantes cada 30 minutos de lunes a viernes', async () => {
    const { schedule } = await r.client.saveSchedule({
      schedule: crontabSchedule({ minute: '*/30', dayOfWeek: '1-5' }),
    });
    const saved = await r.client.savePeriodicTask({
      periodicTask: {
        name: 'Ingesta de ingresantes (L-V cada 30 min)',
        task: 'alumnos.tasks.ingestar_ingresantes',
        enabled: true,
        crontabId: schedule!.kind.value!.id,
      },
    });
    const { periodicTask } = saved;
    expect(periodicTask?.enabled).toBe(true);
    expect(saved.advertencias).toEqual([]);
    // After Friday 2026-03-06 23:00 in Córdoba: 23:30, then Monday 00:00.
    const after = timestampFromDate(new Date('2026-03-07T02:00:00Z'));
    const { runs } = await r.client.preview({ schedule: schedule!, count: 2, after });
    expect(runs.map((x) => x.localTime)).toEqual(['2026-03-06 23:30', '2026-03-09 00:00']);
  });

  it('saves an ingestion scheduled more often than every 30 minutes with a warning in the answer and a Log', async () => {
    const { schedule } = await r.client.saveSchedule({ schedule: crontabSchedule({ minute: '*/5' }) });
    const saved = await r.client.savePeriodicTask({
      periodicTask: {
        name: 'Ingesta de aspirantes cada 5 minutos',
        task: 'alumnos.tasks.ingestar_aspirantes',
        enabled: false,
        crontabId: schedule!.kind.value!.id,
      },
      requestedBy: 'admin@fce',
    });
    expect(saved.periodicTask?.id).toBeTruthy();
    expect(saved.advertencias).toEqual([
      '«Ingesta de aspirantes cada 5 minutos» ejecuta una ingesta cada 5 minutos, más de una vez cada 30 ' +
        'minutos: la buena práctica es no más de 1 vez cada 30 minutos para evitar sobrecarga de SIAL',
    ]);
    const log = await waitFor(async () =>
      (await readStream(infra.nats.handles, infra.nats.names.streams.evt))
        .filter((m) => m.subject.endsWith('.lucy.evt.log.warning'))
        .map((m) => fromBinary(LogEventSchema, m.data))
        .find((l) => l.message === saved.advertencias[0]),
    );
    expect(log).toMatchObject({ module: 'scheduler', usuario: 'admin@fce' });
    // Not an ingestion: no warning.
    const purge = await r.client.savePeriodicTask({
      periodicTask: {
        name: 'Limpieza cada 5 minutos',
        task: 'mantenimiento.tasks.purgar_tareas_antiguas',
        enabled: false,
        crontabId: schedule!.kind.value!.id,
      },
    });
    expect(purge.advertencias).toEqual([]);
  });

  it('warns when a schedule an ingestion uses is edited to fire more often than every 30 minutes', async () => {
    const { schedule } = await r.client.saveSchedule({ schedule: crontabSchedule({ minute: '0' }) });
    const id = schedule!.kind.value!.id;
    await r.client.savePeriodicTask({
      periodicTask: {
        name: 'Ingesta de ingresantes cada hora',
        task: 'alumnos.tasks.ingestar_ingresantes',
        enabled: false,
        crontabId: id,
      },
    });
    await r.client.savePeriodicTask({
      periodicTask: {
        name: 'Limpieza en la misma programación',
        task: 'mantenimiento.tasks.purgar_tareas_antiguas',
        enabled: false,
        crontabId: id,
      },
    });
    const hourly = await r.client.saveSchedule({ schedule: crontabSchedule({ id, minute: '0' }) });
    expect(hourly.advertencias).toEqual([]);
    const edited = await r.client.saveSchedule({
      schedule: crontabSchedule({ id, minute: '*/10' }),
      requestedBy: 'admin@fce',
    });
    expect(edited.advertencias).toEqual([
      '«Ingesta de ingresantes cada hora» ejecuta una ingesta cada 10 minutos, más de una vez cada 30 minutos: la ' +
        'buena práctica es no más de 1 vez cada 30 minutos para evitar sobrecarga de SIAL',
    ]);
    const log = await waitFor(async () =>
      (await readStream(infra.nats.handles, infra.nats.names.streams.evt))
        .filter((m) => m.subject.endsWith('.lucy.evt.log.warning'))
        .map((m) => fromBinary(LogEventSchema, m.data))
        .find((l) => l.message === edited.advertencias[0]),
    );
    expect(log).toMatchObject({ module: 'scheduler', usuario: 'admin@fce' });
  });

  it('marks DST transitions in a preview', async () => {
    const { runs } = await r.client.preview({
      schedule: crontabSchedule({ minute: '30', hour: '2', timezone: 'Europe/Madrid' }),
      count: 2,
      after: timestampFromDate(new Date('2026-03-28T12:00:00Z')),
    });
    expect(runs[0]).toMatchObject({ localTime: '2026-03-29 03:00', utcOffset: '+02:00', dst: 'gap_shifted' });
    expect(timestampDate(runs[0]!.at!).toISOString()).toBe('2026-03-29T01:00:00.000Z');
    expect(runs[1]?.dst).toBe('');
  });

  describe('bad input', () => {
    let intervalId: string;
    beforeAll(async () => {
      const { schedule } = await r.client.saveSchedule({
        schedule: { kind: { case: 'interval', value: { every: 10n, period: IntervalPeriod.MINUTES } } },
      });
      intervalId = schedule!.kind.value!.id;
    });

    const valid = (): MessageInitShape<typeof PeriodicTaskSchema> => ({
      name: `Tarea ${Math.random()}`,
      task: 'alumnos.tasks.ingestar_aspirantes',
      enabled: true,
      intervalId,
    });

    async function expectNothingSaved(before: PeriodicTask[]): Promise<void> {
      const { periodicTasks } = await r.client.listPeriodicTasks({});
      expect(periodicTasks.map((t) => t.id).sort()).toEqual(before.map((t) => t.id).sort());
    }

    it.each([
      ['an invalid cron field', { minute: '61' }, 'crontab.minute'],
      ['an unknown time zone', { timezone: 'America/Cordova' }, 'crontab.timezone'],
    ])('rejects %s naming the field', async (_what, fields, field) => {
      const before = (await r.client.listSchedules({})).schedules.length;
      const bad = await violations(
        r.client.saveSchedule({
          schedule: crontabSchedule({ minute: '0', hour: '2', timezone: 'UTC', ...fields }),
        }),
      );
      expect(bad.code).toBe(Code.InvalidArgument);
      expect(bad.fields).toContain(field);
      expect(bad.messages.join(' ')).toMatch(/[áéíóúñ]|inválid|desconocid/i);
      expect((await r.client.listSchedules({})).schedules.length).toBe(before);
    });

    it.each<[string, (p: MessageInitShape<typeof PeriodicTaskSchema>) => void, string]>([
      ['an unregistered task', (p) => (p.task = 'alumnos.tasks.no_existe'), 'task'],
      ['a task that is not schedulable', (p) => (p.task = 'alumnos.tasks.eliminar_cuenta_externa'), 'task'],
      ['an unknown kwarg', (p) => (p.kwargs = { ignorarVentanaa: true }), 'kwargs.ignorarVentanaa'],
      ['a kwarg of the wrong type', (p) => (p.kwargs = { ignorarVentana: 'sí' }), 'kwargs.ignorarVentana'],
      [
        'positional args',
        (p) => (p.args = { values: [{ kind: { case: 'numberValue', value: 1 } }] }),
        'args',
      ],
      ['two schedule kinds at once', (p) => (p.crontabId = intervalId), 'schedule'],
      ['no schedule', (p) => (p.intervalId = ''), 'schedule'],
      ['an unknown schedule', (p) => (p.intervalId = '0192f2a0-0000-7000-8000-000000000000'), 'interval_id'],
      [
        'expires before start',
        (p) => {
          p.startTime = timestampFromDate(new Date('2026-05-01T00:00:00Z'));
          p.expires = timestampFromDate(new Date('2026-04-01T00:00:00Z'));
        },
        'expires',
      ],
      ['an empty name', (p) => (p.name = ' '), 'name'],
    ])('rejects %s with InvalidArgument naming the field, saving nothing', async (_what, mutate, field) => {
      const before = (await r.client.listPeriodicTasks({})).periodicTasks;
      const p = valid();
      mutate(p);
      const bad = await violations(r.client.savePeriodicTask({ periodicTask: p }));
      expect(bad.code).toBe(Code.InvalidArgument);
      expect(bad.fields).toContain(field);
      await expectNothingSaved(before);
    });

    it('rejects a kwarg with an invalid enum value of a manual ingestion', async () => {
      const bad = await violations(
        r.client.savePeriodicTask({
          periodicTask: {
            ...valid(),
            task: 'alumnos.tasks.ingesta_manual',
            kwargs: { tipo: 'TIPO_INGESTA_NADA' },
          },
        }),
      );
      expect(bad.fields).toEqual(['kwargs.tipo']);
    });

    it('rejects a duplicate name', async () => {
      const bad = await violations(
        r.client.savePeriodicTask({ periodicTask: { ...valid(), name: 'Ingesta horaria de preinscriptos' } }),
      );
      expect(bad.fields).toEqual(['name']);
    });

    it('accepts valid kwargs', async () => {
      const { periodicTask } = await r.client.savePeriodicTask({
        periodicTask: { ...valid(), kwargs: { ignorarVentana: true } },
      });
      expect(periodicTask?.kwargs).toEqual({ ignorarVentana: true });
    });
  });

  it('lists registered tasks from the registry, only schedulable ones when asked', async () => {
    const all = await r.client.listRegisteredTasks({});
    const schedulable = await r.client.listRegisteredTasks({ onlySchedulable: true });
    expect(schedulable.tasks.map((t) => t.name)).toContain('alumnos.tasks.ingestar_aspirantes');
    expect(schedulable.tasks.every((t) => t.schedulable)).toBe(true);
    expect(all.tasks.length).toBeGreaterThanOrEqual(schedulable.tasks.length);
  });

  it('reports the leader and its lease in the status', async () => {
    const status = await r.client.getStatus({});
    expect(status.leader).toBe(status.instance);
    expect(status.leaseRevision).toBeGreaterThan(0n);
    expect(status.nextTask).not.toBe('');
  });

  it('refuses to delete a schedule in use, and deletes an unused one', async () => {
    const { periodicTask } = await r.client.getPeriodicTask({ id: 'Ingesta horaria de preinscriptos' });
    const used = await violations(r.client.deleteSchedule({ id: periodicTask!.intervalId })).catch(
      () => null,
    );
    expect(used?.code).toBe(Code.FailedPrecondition);
    const { schedule } = await r.client.saveSchedule({
      schedule: { kind: { case: 'interval', value: { every: 3n, period: IntervalPeriod.DAYS } } },
    });
    await r.client.deleteSchedule({ id: schedule!.kind.value!.id });
    await expect(r.client.deleteSchedule({ id: schedule!.kind.value!.id })).rejects.toMatchObject({
      code: Code.NotFound,
    });
  });
});
