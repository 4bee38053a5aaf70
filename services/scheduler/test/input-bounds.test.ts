import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code, ConnectError } from '@connectrpc/connect';
import { BadRequestSchema, IntervalPeriod } from '@lucy/proto';
import { createInfra, startReplica, type Infra, type Replica } from './helpers.js';

/** The error of a call that must fail, with its violations and the size of what the client received. */
async function refusal(call: Promise<unknown>) {
  try {
    await call;
  } catch (err) {
    const ce = ConnectError.from(err);
    const violations = ce.findDetails(BadRequestSchema).flatMap((d) => d.violations);
    return {
      code: ce.code,
      fields: violations.map((v) => v.field),
      text: `${ce.rawMessage} ${violations.map((v) => v.description).join(' ')}`,
    };
  }
  throw new Error('expected the call to fail');
}

describe('SchedulerService input bounds', () => {
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

  const crontab = (fields: Partial<Record<'minute' | 'hour' | 'timezone', string>>) =>
    r.client.saveSchedule({
      schedule: { kind: { case: 'crontab', value: { minute: '0', hour: '3', ...fields } } },
    });

  it('refuses a 5 MB crontab field in Spanish, naming it, without echoing it', async () => {
    const huge = '1,'.repeat(1_500_000) + '1';
    const e = await refusal(crontab({ minute: huge }));
    expect(e.code).toBe(Code.InvalidArgument);
    expect(e.fields).toEqual(['schedule.crontab.minute']);
    expect(e.text).toContain('El minuto admite como máximo 240 caracteres');
    expect(e.text.length).toBeLessThan(2000);
  });

  it('refuses a 399-character minute field (column varchar(240)) as InvalidArgument, not Internal', async () => {
    const e = await refusal(crontab({ minute: Array.from({ length: 200 }, () => '1').join(',') }));
    expect(e.code).toBe(Code.InvalidArgument);
    expect(e.fields).toEqual(['schedule.crontab.minute']);
    // Exactly the column's length still reaches the domain, which judges the expression itself.
    const ok = await r.client.saveSchedule({
      schedule: { kind: { case: 'crontab', value: { minute: '0', hour: '3' } } },
    });
    expect(ok.schedule?.kind.case).toBe('crontab');
  });

  it('refuses NUL bytes anywhere, kwargs included', async () => {
    const schedule = await r.client.saveSchedule({
      schedule: { kind: { case: 'interval', value: { every: 1n, period: IntervalPeriod.HOURS } } },
    });
    const intervalId = schedule.schedule!.kind.value!.id;
    const base = { name: 'Limites', task: 'mantenimiento.tasks.purgar_tareas_antiguas', intervalId };
    const nul = await refusal(
      r.client.savePeriodicTask({ periodicTask: { ...base, name: 'Lim\u0000ites' } }),
    );
    expect(nul.code).toBe(Code.InvalidArgument);
    expect(nul.fields).toEqual(['periodic_task.name']);
    expect(nul.text).toContain('El nombre contiene caracteres no válidos');
    const inKwargs = await refusal(
      r.client.savePeriodicTask({ periodicTask: { ...base, kwargs: { motivo: 'a\u0000b' } } }),
    );
    expect(inKwargs.fields).toEqual(['periodic_task.kwargs.motivo']);
    const tz = await refusal(crontab({ timezone: 'America/\u0000Cordoba' }));
    expect(tz.fields).toEqual(['schedule.crontab.timezone']);
    expect(tz.text).toContain('La zona horaria');
  });

  it('refuses a 10 MB-class search and an interval beyond 100 years before touching the database', async () => {
    const search = await refusal(r.client.listPeriodicTasks({ search: 'x'.repeat(1_000_000) }));
    expect(search.code).toBe(Code.InvalidArgument);
    expect(search.text).toContain('La búsqueda admite como máximo 200 caracteres');
    const far = await refusal(
      r.client.saveSchedule({
        schedule: { kind: { case: 'interval', value: { every: 100_000n, period: IntervalPeriod.DAYS } } },
      }),
    );
    expect(far.fields).toEqual(['schedule.interval.every']);
    const overflow = await refusal(
      r.client.preview({
        schedule: {
          kind: {
            case: 'interval',
            value: { every: 9_000_000_000_000_000_000n, period: IntervalPeriod.DAYS },
          },
        },
      }),
    );
    expect(overflow.code).toBe(Code.InvalidArgument);
  });

  it('answers a non-UUID schedule id as not found or invalid, never Internal', async () => {
    for (const call of [
      r.client.deleteSchedule({ id: 'no-es-un-uuid' }),
      r.client.getPeriodicTask({ id: "'; drop table x; --" }),
      r.client.savePeriodicTask({
        periodicTask: { name: 'x', task: 'mantenimiento.tasks.purgar_tareas_antiguas', crontabId: 'zz' },
      }),
    ]) {
      const e = await refusal(call);
      expect([Code.InvalidArgument, Code.NotFound]).toContain(e.code);
    }
  });
});
