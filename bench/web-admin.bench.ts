// The admin over a large Tarea history, measured over HTTP with a logged-in session: server-side render time of
// the dashboard and of filtered Tareas lists (p50/p95/p99 in ms), then the live feed — the time from publishing a
// command to its Tarea's change arriving on an open /admin/api/eventos stream (the page's SSE feed) while
// `rate` commands per second flow.
//
// Needs the admin built (`npm run build --prefix web`; the browser tests build it too). Starts task-tracker and
// the admin as processes (web/test/system.ts) on a database of its own, fills it with bench/tracker-dataset.ts.
//
//   node node_modules/tsx/dist/cli.mjs bench/web-admin.bench.ts [tareas=5000000] [calls=200] [rate=1000] [seconds=20]
import { randomUUID } from 'node:crypto';
import { createCommandPublisher, createOrm } from '@lucy/platform';
import { EnviarEmailCommandSchema } from '@lucy/proto';
import { trackerOrm } from '@lucy/task-tracker';
import { round, summarize, writeResult } from './lib.js';
import { generateTareas } from './tracker-dataset.js';
import { startSystem } from '../web/test/system.js';

const n = Number(process.argv[2] ?? 5_000_000);
const calls = Number(process.argv[3] ?? 200);
const rate = Number(process.argv[4] ?? 1000);
const seconds = Number(process.argv[5] ?? 20);
const DAY = 86_400_000;

const sys = await startSystem();
try {
  const orm = await createOrm({ url: sys.db.url, ...trackerOrm });
  const now = new Date();
  process.stderr.write(`generating ${n} Tareas…\n`);
  const t0 = performance.now();
  const steps = await generateTareas(orm.em.getKnex(), n, now);
  const generationSeconds = round((performance.now() - t0) / 1000);
  process.stderr.write(`generated in ${generationSeconds} s ${JSON.stringify(steps)}\n`);
  await orm.close(true);

  // A session as a browser gets one: the login form, with the Origin SvelteKit's CSRF check wants.
  await sys.addStaff('bench', 'lector', 'clave-larga-de-medicion-2026');
  const login = await fetch(`${sys.webUrl}/admin/login/`, {
    method: 'POST',
    redirect: 'manual',
    headers: {
      origin: sys.webUrl,
      accept: 'text/html',
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ username: 'bench', password: 'clave-larga-de-medicion-2026' }),
  });
  const cookie = login.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  if (login.status !== 303 || !cookie) {
    const text = (await login.text()).replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ');
    throw new Error(`login failed: ${login.status} ${text.slice(0, 600)}`);
  }

  const get = async (path: string) => {
    const res = await fetch(`${sys.webUrl}${path}`, { headers: { cookie }, redirect: 'manual' });
    const body = await res.text();
    if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status}`);
    // Only task-tracker and the admin run: the dashboard's banners for scheduler and ingest-sial are expected
    // (those calls fail at once on a closed port); a banner naming task-tracker would spoil the measure.
    if (/data-service="task-tracker"/.test(body)) throw new Error(`${path}: task-tracker banner`);
    return body;
  };
  const measure = async (name: string, path: (i: number) => string) => {
    for (let i = 0; i < 10; i++) await get(path(i));
    const times: number[] = [];
    for (let i = 0; i < calls; i++) {
      const s = performance.now();
      await get(path(i));
      times.push(performance.now() - s);
    }
    process.stderr.write(`${name}: ${JSON.stringify(summarize(times))}\n`);
    return summarize(times);
  };
  const day = (d: Date) => d.toISOString().slice(0, 10);
  const results: Record<string, unknown> = {};
  results.dashboard = await measure('GET /admin/', () => '/admin/');
  results.listFailedCrearTeams = await measure(
    'GET /admin/alumnos/tarea/?estado=failed&tipo=crear_usuario_teams',
    () => '/admin/alumnos/tarea/?estado=failed&tipo=crear_usuario_teams',
  );
  results.listTwoEstadosTwoTipos = await measure(
    'GET /admin/alumnos/tarea/?estado=failed&estado=cancelled&tipo=enviar_email&tipo=resetear_password',
    () => '/admin/alumnos/tarea/?estado=failed&estado=cancelled&tipo=enviar_email&tipo=resetear_password',
  );
  results.listOneDay = await measure(
    'GET /admin/alumnos/tarea/?desde=D&hasta=D (one day, 30–50 days ago)',
    (i) => {
      const d = day(new Date(now.getTime() - (30 + (i % 20)) * DAY));
      return `/admin/alumnos/tarea/?desde=${d}&hasta=${d}`;
    },
  );
  results.listSearchUser = await measure('GET /admin/alumnos/tarea/?usuario=<staff>&estado=failed', (i) => {
    return `/admin/alumnos/tarea/?usuario=staff${i % 40}@fce.uncor.edu.ar&estado=failed`;
  });

  // Live feed: one open SSE stream (as an open page has); the time from publishing a command to the event of
  // its Tarea, while `rate` commands per second flow.
  const arrived = new Map<string, number>();
  const sse = new AbortController();
  const stream = await fetch(`${sys.webUrl}/admin/api/eventos`, { headers: { cookie }, signal: sse.signal });
  if (!stream.ok || !stream.body) throw new Error(`SSE: HTTP ${stream.status}`);
  let listo!: () => void;
  const ready = new Promise<void>((r) => (listo = r));
  const reader = (async () => {
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of stream.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        let end;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const ev = buf.slice(0, end);
          buf = buf.slice(end + 2);
          if (ev.startsWith('event: listo')) listo();
          const m = /^event: tarea\ndata: (.*)$/s.exec(ev);
          if (m) {
            const id = (JSON.parse(m[1]!) as { id: string }).id;
            if (!arrived.has(id)) arrived.set(id, performance.now());
          }
        }
      }
    } catch {
      /* aborted at the end */
    }
  })();
  await ready;
  const pub = createCommandPublisher(sys.nats.handles.js, sys.nats.names);
  const sent = new Map<string, number>();
  const publish = async () => {
    const s = performance.now();
    const { taskId } = await pub.publish(
      'lucy.cmd.notify.enviar_email',
      EnviarEmailCommandSchema,
      { alumnoId: randomUUID(), upn: 'bench@fce.unrc.edu.ar' },
      { taskType: 'alumnos.tasks.enviar_email_credenciales', requestedBy: 'bench', trigger: 'admin' },
    );
    sent.set(taskId, s);
  };
  // `rate` per second in ticks of 10 ms; the publisher's own latency counts in the measured time.
  const perTick = Math.max(1, Math.round(rate / 100));
  const startFlow = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let tick = 0; tick < seconds * 100; tick++) {
    const due = startFlow + tick * 10;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    for (let k = 0; k < perTick; k++) inFlight.push(publish());
  }
  await Promise.all(inFlight);
  const flowSeconds = (performance.now() - startFlow) / 1000;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && [...sent.keys()].some((id) => !arrived.has(id)))
    await new Promise((r) => setTimeout(r, 200));
  sse.abort();
  await reader;
  const latencies = [...sent].filter(([id]) => arrived.has(id)).map(([id, s]) => arrived.get(id)! - s);
  results.liveFeed = {
    published: sent.size,
    delivered: latencies.length,
    achievedRatePerSecond: round(sent.size / flowSeconds),
    latencyMs: summarize(latencies),
  };
  process.stderr.write(`live feed: ${JSON.stringify(results.liveFeed)}\n`);
  writeResult('web-admin', { tareas: n, calls, rate, seconds, generationSeconds, ...results });
} finally {
  await sys.close();
}
