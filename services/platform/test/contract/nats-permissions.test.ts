import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../../testkit/src/index.js';
import { ROOT } from './contract-files.js';
import { connectRawNats, type RawNats } from './raw-nats.js';
import { freePort, startContractSystem, type ContractSystem } from './system.js';

// deploy/nats/lucy-auth.conf on a nats-server 2.9 of the test's own: every service runs under its own user with
// only its permissions, and an outside system's user (sis) gets what it is granted and nothing else, refused by
// the server itself.

const NATS_SERVER = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';
const USERS = ['task-tracker', 'scheduler', 'ingest-sial', 'identity-teams', 'notifier', 'admin', 'sis'];
const envName = (user: string) => `LUCY_NATS_${user.toUpperCase().replace(/-/g, '_')}_PASSWORD`;

let dir: string;
let server: ChildProcess;
let natsUrl: string;
// nats-server reads an environment variable's value as a config token: a value starting with a digit is parsed as a
// number and the server refuses to start ("Expected a digit but got …"), so the passwords are a letter then hex.
const passwords = Object.fromEntries(USERS.map((u) => [u, `p${randomBytes(24).toString('hex')}`]));
let sys: ContractSystem;
// Everything nats-server wrote: its permission violations name the user.
let serverLog = '';
let admin: RawNats;
let sis: RawNats;

async function rpc<T>(base: string, method: string, body: unknown): Promise<T> {
  const res = await fetch(`${base}/${method}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${sys.rpcToken}` },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as T & { code?: string; message?: string };
  if (!res.ok) throw new Error(`${method}: ${res.status} ${json.code} ${json.message}`);
  return json;
}

async function estado(taskId: string): Promise<{ estado: string; mensajeError?: string }> {
  return waitFor(
    async () => {
      try {
        const { tarea } = await rpc<{ tarea: { estado: string; mensajeError?: string } }>(
          sys.urls.tracker,
          'lucy.task.v1.TaskService/GetTarea',
          { id: taskId },
        );
        return ['TAREA_ESTADO_COMPLETED', 'TAREA_ESTADO_FAILED', 'TAREA_ESTADO_SKIPPED'].includes(
          tarea.estado,
        )
          ? tarea
          : undefined;
      } catch {
        return undefined;
      }
    },
    { what: `Tarea ${taskId} finished`, timeoutMs: 90_000, intervalMs: 250 },
  );
}

/** The permission violations the server logged for a user. */
const violations = (user: string) =>
  serverLog.split('\n').filter((l) => /Violation/.test(l) && l.includes(`User "${user}"`));

const commandHeaders = (taskId: string) => ({
  'Content-Type': 'application/json',
  'Nats-Msg-Id': taskId,
  'Lucy-Task-Id': taskId,
  'Lucy-Requested-By': 'sis',
});

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lucy-nats-perms-'));
  // The server resolves includes next to the including file: the shipped file, as is, beside a test config.
  copyFileSync(`${ROOT}deploy/nats/lucy-auth.conf`, join(dir, 'lucy-auth.conf'));
  // A free port can be taken by a parallel test between its probe and the server's bind: the server then exits at
  // once, and the start is tried again on a fresh port (its stderr says why when every try fails).
  let stderr = '';
  let started: RawNats | undefined;
  for (let attempt = 1; !started && attempt <= 3; attempt++) {
    const port = await freePort();
    natsUrl = `nats://127.0.0.1:${port}`;
    writeFileSync(
      join(dir, 'server.conf'),
      `port: ${port}\nhost: 127.0.0.1\njetstream { store_dir: "${join(dir, 'js')}" }\ninclude ./lucy-auth.conf\n`,
    );
    const child = spawn(NATS_SERVER, ['-c', join(dir, 'server.conf')], {
      env: { ...process.env, ...Object.fromEntries(USERS.map((u) => [envName(u), passwords[u]!])) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    server = child;
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-2000);
      serverLog += d.toString();
    });
    const up = await waitFor(
      async () => {
        if (child.exitCode !== null) return { nc: undefined }; // exited: try another port
        try {
          return { nc: await connectRawNats(natsUrl, { user: 'admin', pass: passwords.admin }) };
        } catch {
          return undefined;
        }
      },
      { what: 'nats-server with lucy-auth.conf accepting the admin', timeoutMs: 60_000, intervalMs: 200 },
    );
    started = up.nc;
  }
  if (!started) throw new Error(`nats-server with lucy-auth.conf did not start: ${stderr}`);
  admin = started;
  const natsUsers = Object.fromEntries(
    ['task-tracker', 'scheduler', 'ingest-sial', 'identity-teams', 'notifier'].map((u) => [
      u,
      { user: u, password: passwords[u]! },
    ]),
  );
  sys = await startContractSystem({ natsUrl, natsUsers, scheduler: true });
  sis = await connectRawNats(natsUrl, { user: 'sis', pass: passwords.sis, inboxPrefix: '_INBOX_sis' });
}, 300_000);

afterAll(async () => {
  sis?.close();
  admin?.close();
  await sys?.close();
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('NATS users and permissions (deploy/nats/lucy-auth.conf)', () => {
  it('refuses a user without a password, or with a wrong one', async () => {
    await expect(connectRawNats(natsUrl)).rejects.toThrow(/Authorization Violation/);
    await expect(connectRawNats(natsUrl, { user: 'sis', pass: 'wrong' })).rejects.toThrow(
      /Authorization Violation/,
    );
  });

  it('lets the outside system start an ingestion, run by the services under their own users', async () => {
    const taskId = randomUUID();
    const ack = await sis.request(
      'lucy.cmd.ingest.ingesta_manual',
      '{"tipo":"aspirantes"}',
      commandHeaders(taskId),
    );
    expect(JSON.parse(ack.data.toString())).toMatchObject({ stream: 'LUCY_CMD' });
    const t = await estado(taskId);
    expect(t.estado, t.mensajeError).toBe('TAREA_ESTADO_COMPLETED');
  }, 120_000);

  it('refuses its identity and deletion commands at the server', async () => {
    const before = sis.errors.length;
    for (const subject of [
      'lucy.cmd.identity.eliminar_cuenta_externa',
      'lucy.cmd.identity.activar_servicios',
      'lucy.cmd.notify.enviar_email',
      'lucy.evt.alumno.deleted',
    ])
      sis.publish(
        subject,
        '{"alumnoId":"0194f3a2-6b1c-7d2e-8f3a-4b5c6d7e8f90"}',
        commandHeaders(randomUUID()),
      );
    await sis.flush();
    const refused = sis.errors.slice(before);
    expect(refused).toHaveLength(4);
    expect(refused[0]).toMatch(
      /Permissions Violation for Publish to "lucy\.cmd\.identity\.eliminar_cuenta_externa"/,
    );
    // Nothing reached the stream: LUCY_CMD holds only the ingestion above.
    const info = await admin.request('$JS.API.STREAM.INFO.LUCY_CMD', '');
    const state = (JSON.parse(info.data.toString()) as { state: { subjects?: Record<string, number> } })
      .state;
    const subjects = await admin.request(
      '$JS.API.STREAM.INFO.LUCY_CMD',
      JSON.stringify({ subjects_filter: 'lucy.cmd.identity.>' }),
    );
    expect(state).toBeDefined();
    expect(
      (JSON.parse(subjects.data.toString()) as { state: { subjects?: Record<string, number> } }).state
        .subjects ?? {},
    ).toEqual({});
  });

  it('refuses subscriptions and consumers beyond its grant, and serves its durable', async () => {
    const before = sis.errors.length;
    sis.subscribe('lucy.evt.task.>', () => undefined);
    sis.subscribe('_INBOX.>', () => undefined);
    sis.publish(
      '$JS.API.CONSUMER.DURABLE.CREATE.LUCY_EVT.sis_todo',
      JSON.stringify({
        stream_name: 'LUCY_EVT',
        config: { durable_name: 'sis_todo', ack_policy: 'explicit' },
      }),
    );
    await sis.flush();
    const refused = sis.errors.slice(before).join('\n');
    expect(refused).toMatch(/Permissions Violation for Subscription to "lucy\.evt\.task\.>"/);
    expect(refused).toMatch(/Permissions Violation for Subscription to "_INBOX\.>"/);
    expect(refused).toMatch(/Permissions Violation for Publish to "\$JS\.API\.CONSUMER\.DURABLE\.CREATE/);

    // The operator creates its durable with its filter; the system pulls and acks.
    const created = await admin.request(
      '$JS.API.CONSUMER.DURABLE.CREATE.LUCY_EVT.sis_alumnos',
      JSON.stringify({
        stream_name: 'LUCY_EVT',
        config: { durable_name: 'sis_alumnos', filter_subject: 'lucy.evt.alumno.>', ack_policy: 'explicit' },
      }),
    );
    expect(JSON.parse(created.data.toString())).not.toHaveProperty('error');
    const m = await sis.request(
      '$JS.API.CONSUMER.MSG.NEXT.LUCY_EVT.sis_alumnos',
      JSON.stringify({ batch: 1, expires: 5_000_000_000 }),
    );
    expect(m.subject).toMatch(/^lucy\.evt\.alumno\.(created|updated)$/);
    sis.publish(m.reply!, '+ACK');
    await sis.flush();
    expect(sis.errors.slice(before)).toHaveLength(3);
  });

  it('runs activation through identity-teams and notifier, and the scheduler leads, each under its own user', async () => {
    const { configuracion } = await rpc<{ configuracion: { ventanas: Record<string, unknown>[] } }>(
      sys.urls.ingest,
      'lucy.ingest.v1.IngestService/GetConfiguracion',
      {},
    );
    await rpc(sys.urls.ingest, 'lucy.ingest.v1.IngestService/UpdateConfiguracion', {
      configuracion: {
        ...configuracion,
        ventanas: configuracion.ventanas.map((v) =>
          v.tipo === 'TIPO_INGESTA_ASPIRANTES'
            ? { ...v, activarTeams: true, activarMoodle: true, enviarEmail: true }
            : v,
        ),
      },
      requestedBy: 'admin',
    });
    const { alumnos } = await rpc<{ alumnos: { id: string }[] }>(
      sys.urls.ingest,
      'lucy.alumno.v1.AlumnoService/ListAlumnos',
      { filter: { estados: ['ESTADO_ASPIRANTE'] }, page: { pageSize: 1 } },
    );
    const taskId = randomUUID();
    // Activation is an operator's (or a granted system's) command; the admin user publishes it here.
    const ack = await admin.request(
      'lucy.cmd.identity.activar_servicios',
      JSON.stringify({ alumnoId: alumnos[0]!.id }),
      commandHeaders(taskId),
    );
    expect(JSON.parse(ack.data.toString())).toMatchObject({ stream: 'LUCY_CMD' });
    const t = await estado(taskId);
    expect(t.estado, t.mensajeError).toBe('TAREA_ESTADO_COMPLETED');
    const status = await waitFor(
      async () => {
        const s = await rpc<{ leader?: string; instance?: string }>(
          sys.urls.scheduler,
          'lucy.scheduler.v1.SchedulerService/GetStatus',
          {},
        );
        return s.leader && s.leader === s.instance ? s : undefined;
      },
      { what: 'the scheduler holding its lease', timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(status.leader).toBeTruthy();
  }, 180_000);
  it('dead-letters a bad command and re-drives it, the task-tracker under its own user', async () => {
    const taskId = randomUUID();
    await sis.request('lucy.cmd.ingest.ingesta_manual', '{"tipo":"preinscripto"}', commandHeaders(taskId));
    const t = await estado(taskId);
    expect(t.estado).toBe('TAREA_ESTADO_FAILED');
    const { deadLetters } = await waitFor(
      async () => {
        const r = await rpc<{ deadLetters?: { sequence: string; headers: Record<string, string> }[] }>(
          sys.urls.tracker,
          'lucy.task.v1.TaskService/ListDeadLetters',
          { subjectPrefix: 'lucy.cmd.ingest' },
        );
        return r.deadLetters?.some((d) => d.headers['Lucy-Task-Id'] === taskId) ? r : undefined;
      },
      { what: 'the dead letter listed', timeoutMs: 30_000, intervalMs: 250 },
    );
    const dl = deadLetters!.find((d) => d.headers['Lucy-Task-Id'] === taskId)!;
    const { results } = await rpc<{ results: { ok?: boolean; error?: string }[] }>(
      sys.urls.tracker,
      'lucy.task.v1.TaskService/RedriveDeadLetters',
      { sequences: [dl.sequence], requestedBy: 'admin' },
    );
    expect(results[0], results[0]?.error).toMatchObject({ ok: true });
  }, 120_000);

  it('ran every service without a single permission violation of its own', () => {
    // Before the probes below, which are refused on purpose under the same users.
    for (const user of ['task-tracker', 'scheduler', 'ingest-sial', 'identity-teams', 'notifier'])
      expect(violations(user)).toEqual([]);
  });
  it('lets each service read only its own consumers, inbox and subjects', async () => {
    const others = ['task-tracker', 'scheduler', 'ingest-sial', 'notifier'];
    for (const user of others) {
      const nc = await connectRawNats(natsUrl, {
        user,
        pass: passwords[user]!,
        inboxPrefix: `_INBOX_${user}`,
      });
      try {
        // Its own inbox works (an API answer arrives there)...
        const info = await nc.request('$JS.API.STREAM.INFO.LUCY_CMD', '');
        expect(JSON.parse(info.data.toString())).toMatchObject({ config: { name: 'LUCY_CMD' } });
        // ...but identity commands, another's inbox, the shared inbox and another's consumer are refused.
        nc.subscribe('lucy.cmd.identity.>', () => undefined);
        nc.subscribe('lucy.cmd.>', () => undefined);
        nc.subscribe('_INBOX_identity-teams.>', () => undefined);
        nc.subscribe('_INBOX.>', () => undefined);
        for (const subject of [
          '$JS.API.CONSUMER.MSG.NEXT.LUCY_CMD.identity-teams_eliminar_cuenta_externa',
          '$JS.API.CONSUMER.INFO.LUCY_CMD.identity-teams_activar_servicios',
          '$JS.ACK.LUCY_CMD.identity-teams_activar_servicios.1.1.1.1.0',
          '$JS.API.CONSUMER.CREATE.LUCY_CMD.espia',
          '$JS.API.CONSUMER.CREATE.LUCY_CMD.espia.lucy.cmd.identity.>',
          '$JS.API.CONSUMER.DURABLE.CREATE.LUCY_CMD.espia',
          '$JS.API.CONSUMER.CREATE.LUCY_CMD',
          '$JS.API.CONSUMER.DELETE.LUCY_CMD.identity-teams_activar_servicios',
        ])
          nc.publish(subject, '{"batch":1}', undefined, `_INBOX_${user}.x`);
        await nc.flush();
        const refused = nc.errors.join('\n');
        expect(refused).toMatch(/Permissions Violation for Subscription to "lucy\.cmd\.identity\.>"/);
        expect(refused).toMatch(/Permissions Violation for Subscription to "lucy\.cmd\.>"/);
        expect(refused).toMatch(/Permissions Violation for Subscription to "_INBOX_identity-teams\.>"/);
        expect(refused).toMatch(/Permissions Violation for Subscription to "_INBOX\.>"/);
        expect(nc.errors.filter((e) => /Permissions Violation for Publish/.test(e))).toHaveLength(8);
      } finally {
        nc.close();
      }
    }
    // A service cannot widen its own durable's filter to another's commands: the filter is part of the subject.
    const notifier = await connectRawNats(natsUrl, {
      user: 'notifier',
      pass: passwords.notifier,
      inboxPrefix: '_INBOX_notifier',
    });
    try {
      notifier.publish(
        '$JS.API.CONSUMER.CREATE.LUCY_CMD.notifier_enviar_email.lucy.cmd.identity.>',
        JSON.stringify({
          stream_name: 'LUCY_CMD',
          config: {
            durable_name: 'notifier_enviar_email',
            filter_subject: 'lucy.cmd.identity.>',
            ack_policy: 'explicit',
          },
        }),
        undefined,
        '_INBOX_notifier.x',
      );
      notifier.publish(
        '$JS.API.CONSUMER.CREATE.LUCY_CMD.notifier_enviar_email',
        '{}',
        undefined,
        '_INBOX_notifier.x',
      );
      notifier.publish('$JS.API.STREAM.MSG.GET.LUCY_CMD', '{"seq":1}', undefined, '_INBOX_notifier.x');
      await notifier.flush();
      expect(notifier.errors).toHaveLength(3);
      // Its own durable, with its own filter, it may read.
      const own = await notifier.request('$JS.API.CONSUMER.INFO.LUCY_CMD.notifier_enviar_email', '');
      expect(JSON.parse(own.data.toString())).toMatchObject({
        config: { filter_subject: 'lucy.cmd.notify.enviar_email' },
      });
    } finally {
      notifier.close();
    }
  });
});
