import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { IntervalPeriod, SolarEvent, type ImportedPeriodicTaskSchema } from '@lucy/proto';
import { createInfra, startReplica, type Infra, type Replica } from './helpers.js';

type Imported = MessageInitShape<typeof ImportedPeriodicTaskSchema>;
const DAY = 86_400_000;

describe('ImportPeriodicTasks (adoption of pylucy)', () => {
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

  const now = Date.now();
  const tasks = (): Imported[] => [
    {
      originalId: 1n,
      name: 'Ingesta Automática de Aspirantes',
      task: 'alumnos.tasks.ingestar_aspirantes',
      enabled: true,
      crontab: {
        minute: '*/30',
        hour: '*',
        dayOfWeek: '1-5',
        dayOfMonth: '*',
        monthOfYear: '*',
        timezone: 'America/Argentina/Cordoba',
      },
      lastRunAt: timestampFromDate(new Date(now - 600_000)),
      totalRunCount: 1234n,
    },
    {
      originalId: 2n,
      name: 'Ingesta de ingresantes cada 6 horas',
      task: 'alumnos.tasks.ingestar_ingresantes',
      kwargs: { ignorarVentana: true },
      enabled: false,
      interval: { every: 6n, period: IntervalPeriod.HOURS },
    },
    {
      originalId: 3n,
      name: 'Ingesta al amanecer',
      task: 'alumnos.tasks.ingestar_preinscriptos',
      enabled: true,
      solar: { event: SolarEvent.SUNRISE, latitude: -33.123, longitude: -64.349 },
    },
    {
      originalId: 4n,
      name: 'Ingesta única vencida',
      task: 'alumnos.tasks.ingestar_aspirantes',
      enabled: true,
      oneOff: true,
      clocked: { clockedTime: timestampFromDate(new Date(now - 10 * DAY)) },
      expires: timestampFromDate(new Date(now - 5 * DAY)),
    },
    {
      originalId: 5n,
      name: 'celery.backend_cleanup',
      task: 'celery.backend_cleanup',
      enabled: true,
      crontab: { minute: '0', hour: '4', dayOfWeek: '*', dayOfMonth: '*', monthOfYear: '*', timezone: 'UTC' },
    },
    {
      originalId: 6n,
      name: 'Con argumentos de más',
      task: 'alumnos.tasks.ingestar_aspirantes',
      kwargs: { n: 5 },
      enabled: true,
      interval: { every: 1n, period: IntervalPeriod.DAYS },
    },
  ];

  it('plans without writing', async () => {
    const before = (await r.client.listPeriodicTasks({})).periodicTasks.length;
    const res = await r.client.importPeriodicTasks({ periodicTasks: tasks(), dryRun: true });
    expect(res.results.map((x) => x.resultado)).toEqual([
      'creada',
      'creada',
      'creada',
      'creada',
      'omitida',
      'omitida',
    ]);
    expect(res.results[4]!.motivo).toMatch(/no está registrada/);
    expect(res.results[5]!.motivo).toMatch(/Argumentos/);
    expect((await r.client.listPeriodicTasks({})).periodicTasks.length).toBe(before);
  });

  it('imports disabled with pylucy’s counters, and a re-run changes nothing', async () => {
    const res = await r.client.importPeriodicTasks({ periodicTasks: tasks(), requestedBy: 'adopción' });
    expect(res.results.map((x) => x.resultado)).toEqual([
      'creada',
      'creada',
      'creada',
      'creada',
      'omitida',
      'omitida',
    ]);
    expect(res.results.every((x) => !x.enabled)).toBe(true);
    const got = await r.client.getPeriodicTask({ id: 'Ingesta Automática de Aspirantes' });
    expect(got.periodicTask).toMatchObject({ enabled: false, totalRunCount: 1234n });
    expect(got.crontab).toMatchObject({
      minute: '*/30',
      dayOfWeek: '1-5',
      timezone: 'America/Argentina/Cordoba',
    });
    expect(got.periodicTask?.description).toContain('importada de pylucy');

    // Staff enable one; the re-run leaves it as it is and creates no schedule.
    await r.client.setEnabled({ id: got.periodicTask!.id, enabled: true });
    const schedules = (await r.client.listSchedules({})).schedules.length;
    const again = await r.client.importPeriodicTasks({ periodicTasks: tasks() });
    expect(again.results.slice(0, 4).map((x) => x.resultado)).toEqual([
      'sin_cambios',
      'sin_cambios',
      'sin_cambios',
      'sin_cambios',
    ]);
    expect((await r.client.listSchedules({})).schedules.length).toBe(schedules);
    expect((await r.client.getPeriodicTask({ id: got.periodicTask!.id })).periodicTask?.enabled).toBe(true);
  });

  it('keeps pylucy’s enabled flag with habilitar, but never for an expired one', async () => {
    const fresh = tasks().map((t) => ({ ...t, name: `${t.name} (2)`, originalId: t.originalId! + 100n }));
    const res = await r.client.importPeriodicTasks({ periodicTasks: fresh, habilitar: true });
    expect(res.results.slice(0, 4).map((x) => x.enabled)).toEqual([true, false, true, false]);
  });
});
