import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { createFileRegistry, fromBinary, type DescMessage } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../../testkit/src/index.js';
import { GUIDE, guideExamples, ROOT, RULE_VIOLATIONS } from './contract-files.js';
import { connectRawNats, type RawNats } from './raw-nats.js';
import { startContractSystem, type ContractSystem } from './system.js';

// Another university system, as it would be written in another language from docs/integrating.md alone: NATS
// over a plain TCP socket (raw-nats.ts) and Connect over plain fetch. It publishes every command example of the
// guide to the running services and sees each Tarea complete; malformed variants end in the dead letters with
// reasons that name the field, the value and the accepted values.

let sys: ContractSystem;
let nats: RawNats;
const REQUESTED_BY = 'sistema-externo-de-prueba';

interface Tarea {
  id: string;
  estado?: string;
  mensajeError?: string;
  requestedBy?: string;
  taskName?: string;
}

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

/** Publishes a JSON command as the guide says (headers and all) and returns the Tarea id it chose. */
async function publish(subject: string, body: string): Promise<string> {
  const taskId = randomUUID();
  const ack = await nats.request(`${sys.subjectPrefix}.${subject}`, body, {
    'Content-Type': 'application/json',
    'Nats-Msg-Id': `contract-${taskId}`,
    'Lucy-Task-Id': taskId,
    'Lucy-Requested-By': REQUESTED_BY,
    traceparent: `00-${randomUUID().replace(/-/g, '')}-${randomUUID().replace(/-/g, '').slice(0, 16)}-01`,
  });
  const pubAck = JSON.parse(ack.data.toString()) as { stream?: string; seq?: number; error?: unknown };
  expect(pubAck.error, JSON.stringify(pubAck)).toBeUndefined();
  expect(pubAck.stream).toBe(`${sys.subjectPrefix}_LUCY_CMD`);
  return taskId;
}

async function finished(taskId: string, what: string): Promise<Tarea> {
  return waitFor(
    async () => {
      try {
        const { tarea } = await rpc<{ tarea: Tarea }>(sys.urls.tracker, 'lucy.task.v1.TaskService/GetTarea', {
          id: taskId,
        });
        const done = ['TAREA_ESTADO_COMPLETED', 'TAREA_ESTADO_FAILED', 'TAREA_ESTADO_SKIPPED'];
        return tarea.estado && done.includes(tarea.estado) ? tarea : undefined;
      } catch {
        return undefined; // not projected yet
      }
    },
    { what, timeoutMs: 90_000, intervalMs: 250 },
  );
}

const example = (subject: string): Record<string, unknown> => {
  const e = guideExamples().find((x) => x.subject === subject);
  if (!e) throw new Error(`no example for ${subject} in the guide`);
  return JSON.parse(e.json) as Record<string, unknown>;
};

beforeAll(async () => {
  sys = await startContractSystem();
  nats = await connectRawNats(process.env.NATS_URL ?? 'nats://127.0.0.1:4222');
}, 300_000);

afterAll(async () => {
  nats?.close();
  await sys?.close();
}, 60_000);

describe('an outside system following docs/integrating.md', () => {
  let alumnoId = '';

  it('runs the ingestion examples, the enum written by its short name, and is named as the requester', async () => {
    // Staff's part (the admin's Configuración): aspirantes get Teams, Moodle and the e-mail.
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
    const asWritten = await publish(
      'lucy.cmd.ingest.ingesta_manual',
      guideExamples().find((e) => e.subject === 'lucy.cmd.ingest.ingesta_manual')!.json,
    );
    const fullList = await publish('lucy.cmd.ingest.ingesta_manual', '{"tipo":"preinscriptos"}');
    const periodic = await publish(
      'lucy.cmd.ingest.ingestar_aspirantes',
      JSON.stringify(example('lucy.cmd.ingest.ingestar_aspirantes')),
    );
    for (const [id, what] of [
      [asWritten, 'the guide’s manual ingestion'],
      [fullList, 'a full-list ingestion of preinscriptos'],
      [periodic, 'the periodic ingestion ignoring its window'],
    ] as const) {
      const t = await finished(id, what);
      expect(t.estado, `${what}: ${t.mensajeError}`).toBe('TAREA_ESTADO_COMPLETED');
      expect(t.requestedBy).toBe(REQUESTED_BY);
    }
    const { alumnos } = await rpc<{ alumnos?: { id: string }[] }>(
      sys.urls.ingest,
      'lucy.alumno.v1.AlumnoService/ListAlumnos',
      { filter: { estados: ['ESTADO_ASPIRANTE'] }, page: { pageSize: 5 } },
    );
    expect(alumnos?.length).toBeGreaterThan(0);
    alumnoId = alumnos![0]!.id;
  }, 240_000);

  it('activates, resets the password, e-mails, deletes the accounts and purges, each Tarea completed', async () => {
    expect(alumnoId).not.toBe('');
    const activar = await publish(
      'lucy.cmd.identity.activar_servicios',
      JSON.stringify({ ...example('lucy.cmd.identity.activar_servicios'), alumnoId }),
    );
    const activada = await finished(activar, 'activation');
    expect(activada.estado, activada.mensajeError).toBe('TAREA_ESTADO_COMPLETED');

    const reset = await publish(
      'lucy.cmd.identity.resetear_password',
      JSON.stringify({ ...example('lucy.cmd.identity.resetear_password'), alumnoId }),
    );
    const email = await publish(
      'lucy.cmd.notify.enviar_email',
      JSON.stringify({ ...example('lucy.cmd.notify.enviar_email'), alumnoId }),
    );
    for (const [id, what] of [
      [reset, 'password reset'],
      [email, 'welcome e-mail'],
    ] as const) {
      const t = await finished(id, what);
      expect(t.estado, `${what}: ${t.mensajeError}`).toBe('TAREA_ESTADO_COMPLETED');
    }

    const { cuenta } = await rpc<{ cuenta: { upn: string } }>(
      sys.urls.identity,
      'lucy.identity.v1.IdentityService/GetCuenta',
      { alumnoId },
    );
    expect(cuenta.upn).toMatch(/^test-/);
    const eliminar = await publish(
      'lucy.cmd.identity.eliminar_cuenta_externa',
      JSON.stringify({ ...example('lucy.cmd.identity.eliminar_cuenta_externa'), alumnoId, upn: cuenta.upn }),
    );
    const eliminada = await finished(eliminar, 'deletion of the external accounts');
    expect(eliminada.estado, eliminada.mensajeError).toBe('TAREA_ESTADO_COMPLETED');

    const purge = await publish(
      'lucy.cmd.tracker.purgar_tareas',
      JSON.stringify(example('lucy.cmd.tracker.purgar_tareas')),
    );
    const purged = await finished(purge, 'purge');
    expect(purged.estado, purged.mensajeError).toBe('TAREA_ESTADO_COMPLETED');
  }, 300_000);

  it('consumes lucy.evt.alumno.* with a durable consumer of its own and decodes them with the descriptor set', async () => {
    const stream = `${sys.subjectPrefix}_LUCY_EVT`;
    const durable = 'guarani_alumnos';
    const created = await nats.request(
      `$JS.API.CONSUMER.DURABLE.CREATE.${stream}.${durable}`,
      JSON.stringify({
        stream_name: stream,
        config: {
          durable_name: durable,
          filter_subject: `${sys.subjectPrefix}.lucy.evt.alumno.>`,
          ack_policy: 'explicit',
          deliver_policy: 'all',
        },
      }),
    );
    expect(JSON.parse(created.data.toString())).not.toHaveProperty('error');
    const m = await nats.request(
      `$JS.API.CONSUMER.MSG.NEXT.${stream}.${durable}`,
      JSON.stringify({ batch: 1, expires: 5_000_000_000 }),
      undefined,
      10_000,
    );
    expect(m.subject).toMatch(/\.lucy\.evt\.alumno\.(created|updated)$/);
    expect(m.headers['Lucy-Task-Id']).toMatch(/^[0-9a-f-]{36}$/);
    // Decoded with nothing of ours: the published descriptor set and the protobuf runtime.
    const registry = createFileRegistry(
      fromBinary(FileDescriptorSetSchema, readFileSync(`${ROOT}docs/descriptor-set.binpb`)),
    );
    const type = m.subject.endsWith('created')
      ? 'lucy.alumno.v1.AlumnoCreated'
      : 'lucy.alumno.v1.AlumnoUpdated';
    const event = fromBinary(registry.getMessage(type) as DescMessage, m.data) as unknown as {
      alumno?: { id: string };
    };
    expect(event.alumno?.id).toMatch(/^[0-9a-f-]{36}$/);
    nats.publish(m.reply!, '+ACK');
    await nats.flush();
  }, 60_000);

  it('calls the RPCs as the guide shows them: its curl lines, and gRPC from the descriptor set', async () => {
    const ports: Record<string, string> = { '7101': sys.urls.tracker, '7103': sys.urls.ingest };
    const curls = [
      ...readFileSync(GUIDE, 'utf8').matchAll(
        /curl -sS -X POST http:\/\/127\.0\.0\.1:(\d+)\/(\S+) \\\n.*\\\n\s*-d '(.*)'/g,
      ),
    ];
    expect(curls.length).toBeGreaterThanOrEqual(4);
    for (const [, port, method, body] of curls) {
      const res = await fetch(`${ports[port!]}/${method}`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${sys.rpcToken}`, 'Content-Type': 'application/json' },
        body: body!,
      });
      // GetTarea of the guide's made-up id answers not_found; every other call answers 200.
      expect([200, 404], `${method} ${body}`).toContain(res.status);
      if (res.status === 404) expect(((await res.json()) as { code: string }).code).toBe('not_found');
    }
    const definition = protoLoader.loadFileDescriptorSetFromBuffer(
      readFileSync(`${ROOT}docs/descriptor-set.binpb`),
      { keepCase: true, longs: String, enums: String, defaults: false },
    );
    const loaded = grpc.loadPackageDefinition(definition) as unknown as {
      lucy: { task: { v1: { TaskService: grpc.ServiceClientConstructor } } };
    };
    const client = new loaded.lucy.task.v1.TaskService(
      sys.urls.tracker.replace('http://', ''),
      grpc.credentials.createInsecure(),
    );
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${sys.rpcToken}`);
    type ListTareas = (
      req: unknown,
      md: grpc.Metadata,
      cb: (err: Error | null, res: { tareas: { requested_by: string }[] }) => void,
    ) => void;
    const listTareas = (client as unknown as { ListTareas: ListTareas }).ListTareas.bind(client);
    const listed = await new Promise<{ tareas: { requested_by: string }[] }>((resolve, reject) => {
      listTareas({ filter: { requested_by: REQUESTED_BY }, page: { page_size: 5 } }, metadata, (err, res) =>
        err ? reject(err) : resolve(res),
      );
    });
    client.close();
    expect(listed.tareas.length).toBeGreaterThan(0);
    expect(listed.tareas.map((t) => t.requested_by)).toContain(REQUESTED_BY);
  }, 60_000);

  it('gets dead letters and failed Tareas naming the field, the value and the accepted values', async () => {
    const bad: [subject: string, body: string, expected: string[]][] = [
      [
        'lucy.cmd.ingest.ingesta_manual',
        '{"tipo":"preinscripto"}',
        ['field "tipo"', 'received "preinscripto"', '"TIPO_INGESTA_PREINSCRIPTOS" (or "preinscriptos")'],
      ],
      [
        'lucy.cmd.ingest.ingestar_preinscriptos',
        '{"ignorarVentana":"si"}',
        ['field "ignorarVentana"', 'received "si"', 'expected true or false'],
      ],
      [
        'lucy.cmd.identity.activar_servicios',
        '{"alumnoID":"x"}',
        ['field "alumnoID"', 'received an unknown field', 'accepted fields: "alumnoId", "forzar"'],
      ],
      [
        'lucy.cmd.identity.resetear_password',
        '{"alumnoId":42}',
        ['field "alumnoId"', 'received 42', 'JSON string'],
      ],
      [
        'lucy.cmd.notify.enviar_email',
        '{"alumnoId":"0194f3a2-6b1c-7d2e-8f3a-4b5c6d7e8f90","tipo":"welcome"}',
        ['field "tipo"', 'received "welcome"', '"TIPO_EMAIL_BIENVENIDA" (or "bienvenida")'],
      ],
      [
        'lucy.cmd.identity.eliminar_cuenta_externa',
        '{"alumnoId":"0194f3a2-6b1c-7d2e-8f3a-4b5c6d7e8f90","upn":["test-a1@x"]}',
        ['field "upn"', 'received ["test-a1@x"]', 'JSON string'],
      ],
      [
        'lucy.cmd.tracker.purgar_tareas',
        '{"retentionDays":"noventa"}',
        ['field "retentionDays"', 'received "noventa"', 'expected an integer'],
      ],
    ];
    const published = await Promise.all(bad.map(async ([subject, body]) => publish(subject, body)));
    for (const [i, [subject, , expected]] of bad.entries()) {
      const t = await finished(published[i]!, `the malformed ${subject}`);
      expect(t.estado).toBe('TAREA_ESTADO_FAILED');
      expect(t.mensajeError).toMatch(/^Comando indescifrable: invalid JSON for /);
      for (const piece of expected) expect(t.mensajeError, subject).toContain(piece);
    }
    const letters = await waitFor(
      async () => {
        const { deadLetters } = await rpc<{
          deadLetters?: { originalSubject: string; reason: string; taskId: string }[];
        }>(sys.urls.tracker, 'lucy.task.v1.TaskService/ListDeadLetters', { page: { pageSize: 100 } });
        const mine = (deadLetters ?? []).filter((d) => published.includes(d.taskId));
        return mine.length === bad.length ? mine : undefined;
      },
      { what: 'a dead letter per malformed command', timeoutMs: 60_000, intervalMs: 250 },
    );
    for (const [i, [subject, , expected]] of bad.entries()) {
      const letter = letters.find((d) => d.taskId === published[i]);
      expect(letter?.originalSubject).toBe(subject);
      expect(letter?.reason).toMatch(/^undecodable: invalid JSON for /);
      for (const piece of expected) expect(letter?.reason).toContain(piece);
    }
  }, 180_000);
  it('gets commands that break a field rule of the proto dead-lettered as invalid, naming field, value and rule', async () => {
    const published = await Promise.all(
      RULE_VIOLATIONS.map(async ({ subject, body }) => publish(subject, body)),
    );
    const inOrder = (text: string | undefined, pieces: readonly string[]) => {
      let from = 0;
      for (const piece of pieces) {
        const at = (text ?? '').indexOf(piece, from);
        expect(at, `"${piece}" in "${text}"`).toBeGreaterThanOrEqual(0);
        from = at + piece.length;
      }
    };
    for (const [i, { subject, reason }] of RULE_VIOLATIONS.entries()) {
      const t = await finished(published[i]!, `the rule-breaking ${subject}`);
      expect(t.estado).toBe('TAREA_ESTADO_FAILED');
      expect(t.mensajeError).toMatch(/^Comando inválido: /);
      inOrder(t.mensajeError, reason);
    }
    const letters = await waitFor(
      async () => {
        const { deadLetters } = await rpc<{
          deadLetters?: { originalSubject: string; reason: string; taskId: string }[];
        }>(sys.urls.tracker, 'lucy.task.v1.TaskService/ListDeadLetters', { page: { pageSize: 100 } });
        const mine = (deadLetters ?? []).filter((d) => published.includes(d.taskId));
        return mine.length === RULE_VIOLATIONS.length ? mine : undefined;
      },
      { what: 'a dead letter per rule-breaking command', timeoutMs: 60_000, intervalMs: 250 },
    );
    for (const [i, { subject, reason }] of RULE_VIOLATIONS.entries()) {
      const letter = letters.find((d) => d.taskId === published[i]);
      expect(letter?.originalSubject).toBe(subject);
      expect(letter?.reason).toMatch(/^invalid: /);
      inOrder(letter?.reason, reason);
    }
  }, 180_000);
});
