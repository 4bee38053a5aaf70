import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCommandPublisher, publishLog } from '@lucy/platform';
import { CrearUsuarioTeamsCommandSchema } from '@lucy/proto';
import { createCuttableProxy, waitFor, type CuttableProxy } from '@lucy/testkit';
import { reporterFor, rows, startHarness, type TrackerHarness } from './helpers.js';

// The case: the database unreachable for 30 s while events keep arriving (the shared Postgres keeps
// running for other tests; this tracker reaches it through a proxy that is cut). bench/tracker-outage.bench.ts
// runs the same at 1,000 events/s.
const OUTAGE_MS = 30_000;
const N = 200;

describe('projection while Postgres is unavailable', () => {
  let h: TrackerHarness;
  let proxy: CuttableProxy;

  beforeAll(async () => {
    proxy = await createCuttableProxy('127.0.0.1', 5432);
    h = await startHarness({
      databaseUrl: (url) => {
        const u = new URL(url);
        u.hostname = '127.0.0.1';
        u.port = String(proxy.port);
        return u.toString();
      },
    });
  });
  afterAll(async () => {
    proxy?.restore();
    await h?.close();
    await proxy?.close();
  });

  it('pauses during a 30 s database outage under load, loses no event and projects each exactly once after it', async () => {
    const pub = createCommandPublisher(h.nats.handles.js, h.nats.names);
    const publish = (i: number) =>
      pub.publish(
        'lucy.cmd.identity.crear_usuario_teams',
        CrearUsuarioTeamsCommandSchema,
        { alumnoId: `alu-${i}` },
        {
          taskType: 'alumnos.tasks.crear_usuario_teams_async',
          requestedBy: 'carga',
          trigger: 'admin',
        },
      );
    const before: string[] = [];
    for (let i = 0; i < N; i++) before.push((await publish(i)).taskId);
    await waitFor(
      async () =>
        Number((await rows<{ n: string }>(h, `select count(*) as n from tracker.tarea`))[0]!.n) === N,
      {
        what: 'first commands projected',
        timeoutMs: 15_000,
      },
    );

    proxy.cut();
    const failuresBefore =
      h.tracker.consumers.commands.stats.failures + h.tracker.consumers.events.stats.failures;
    const during: string[] = [];
    for (let i = N; i < 2 * N; i++) during.push((await publish(i)).taskId);
    for (const taskId of before) {
      const r = reporterFor(h, taskId, { requestedBy: 'carga' });
      await r.started();
    }
    for (let i = 0; i < 50; i++) {
      await publishLog(h.nats.handles.js, h.nats.names, {
        level: 'INFO',
        module: 'carga',
        message: `línea ${i}`,
        taskId: before[i]!,
      });
    }
    // Load during the whole outage: a log line every 50 ms.
    let extraLogs = 0;
    for (const end = Date.now() + OUTAGE_MS; Date.now() < end; extraLogs++) {
      await publishLog(h.nats.handles.js, h.nats.names, {
        level: 'INFO',
        module: 'carga',
        message: `línea durante el corte ${extraLogs}`,
      });
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(
      h.tracker.consumers.commands.stats.failures + h.tracker.consumers.events.stats.failures,
    ).toBeGreaterThan(failuresBefore);
    proxy.restore();

    await waitFor(
      async () => {
        const [c] = await rows<{ total: string; running: string; logs: string }>(
          h,
          `select (select count(*) from tracker.tarea) as total,
                  (select count(*) from tracker.tarea where estado = 'running') as running,
                  (select count(*) from tracker.log) as logs`,
        );
        return Number(c!.total) === 2 * N && Number(c!.running) === N && Number(c!.logs) === 50 + extraLogs;
      },
      { what: 'catch-up after the outage', timeoutMs: 60_000, intervalMs: 250 },
    );
    const [t] = await rows<{ started: string; published: string }>(
      h,
      `select count(*) filter (where kind = 'started') as started, count(*) filter (where kind = 'published') as published
       from tracker.tarea_event`,
    );
    expect(Number(t!.started)).toBe(N);
    expect(Number(t!.published)).toBe(2 * N);
    const counters = await rows<{ estado: string; n: string }>(
      h,
      `select estado, sum(count) as n from tracker.tarea_hourly_count group by estado order by estado`,
    );
    expect(counters.map((c) => [c.estado, Number(c.n)])).toEqual([
      ['pending', N],
      ['running', N],
    ]);
    const attempts = await rows<{ n: string }>(
      h,
      `select count(*) as n from tracker.tarea where attempts <> (case when estado = 'running' then 1 else 0 end)`,
    );
    expect(Number(attempts[0]!.n)).toBe(0);
  }, 180_000);
});
