/**
 * `lucy adoptar pylucy` end to end: a pylucy database built from the fixture (schema.sql + generate.ts), the four
 * services it imports into (and the notifier) as child processes on real NATS and Postgres, the Graph fake, and the CLI as a child
 * process. Checked: a dry run writes nothing; killed midway (kill -9) and run again, the apply ends with exactly
 * what the dry run planned and no duplicate (the Configuración's windows, flags and checkpoints in ingest-sial, its
 * templates as notifier versions, a template with an unknown variable reported and left alone); a re-run changes
 * nothing, and keeps what staff changed in Lucy Tasks since; pylucy is byte for byte untouched; no
 * password or secret appears in any output, log or table; activating an adopted alumno creates no Graph user.
 */
import https from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { waitFor } from '@lucy/testkit';
import type { AdoptionReport } from '../src/commands/adoptar-report.js';
import { connect, runLucy, startAdoptionStack, type AdoptionStack } from './adoptar-stack.js';
import {
  CONFIG_SECRETS,
  createPylucySchema,
  fillPylucy,
  fillPylucyBulk,
  PLAINTEXT_PASSWORDS,
  type PylucyFixture,
} from './fixtures/pylucy/generate.js';

const PYLUCY_TABLES = [
  'alumnos_alumno',
  'alumnos_tarea',
  'alumnos_log',
  'alumnos_configuracion',
  'alumnos_tareapersonalizada',
  'django_celery_beat_periodictask',
  'django_celery_beat_crontabschedule',
  'django_celery_beat_intervalschedule',
  'django_celery_beat_solarschedule',
  'django_celery_beat_clockedschedule',
  'django_celery_beat_periodictasks',
];

/** Extra volume, so a run lasts long enough to be killed midway. */
const BULK = { alumnos: 2000, tareas: 20_000, logs: 20_000 };

describe('lucy adoptar pylucy', () => {
  let s: AdoptionStack;
  let py: pg.Client;
  let lucy: pg.Client;
  let fixture: PylucyFixture;
  let before: Record<string, string>;
  const outputs: string[] = [];

  const checksums = async () => {
    const out: Record<string, string> = {};
    for (const t of PYLUCY_TABLES) {
      const { rows } = await py.query<{ h: string }>(
        `select md5(coalesce(string_agg(x::text, '|' order by x::text), '')) as h from ${t} x`,
      );
      out[t] = rows[0]!.h;
    }
    return out;
  };
  const count = async (sql: string) => Number((await lucy.query<{ n: string }>(sql)).rows[0]!.n);
  const lucyCounts = async () => ({
    alumnos: await count('select count(*) as n from ingest.alumno'),
    cuentas: await count(`select count(*) as n from identity.cuenta where adoptada_de = 'pylucy'`),
    periodicas: await count(
      `select count(*) as n from scheduler.periodic_task where description like '%importada de pylucy%'`,
    ),
    tareas: await count(`select count(*) as n from tracker.tarea where parametros->>'origen' = 'pylucy'`),
    // The modules of pylucy's Logs (the services' own Logs use others).
    logs: await count(`select count(*) as n from tracker.log where module in ('tasks', 'teams_service')`),
  });
  /** The ingestion configuration row and the template versions: what the Configuración import writes. */
  const configState = async () => ({
    config: (await lucy.query('select * from ingest.configuracion')).rows[0] as Record<string, unknown>,
    versiones: (
      await lucy.query<{ tipo: string; version: number; origen: string; creada_por: string }>(
        'select tipo, version, origen, creada_por from notify.plantilla_version order by tipo, version',
      )
    ).rows,
  });
  const rpc = async (path: string, body: unknown) => {
    const res = await fetch(`${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${s.cliEnv.LUCY_TOKEN}` },
      body: JSON.stringify(body),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    return (await res.json()) as Record<string, unknown>;
  };
  const adoptar = async (extra: string[], onSpawn?: Parameters<typeof runLucy>[2]) => {
    const r = await runLucy(
      ['--json', 'adoptar', 'pylucy', ...extra],
      { ...s.cliEnv, PYLUCY_DATABASE_URL: s.pylucy.url },
      onSpawn,
    );
    outputs.push(r.stdout, r.stderr);
    return r;
  };
  const report = (stdout: string) => JSON.parse(stdout) as AdoptionReport;

  beforeAll(async () => {
    s = await startAdoptionStack();
    py = await connect(s.pylucy.url);
    lucy = await connect(s.db.url);
    await createPylucySchema(py);
    fixture = await fillPylucy(py);
    await fillPylucyBulk(py, BULK);
    before = await checksums();
  }, 300_000);

  afterAll(async () => {
    await py?.end();
    await lucy?.end();
    await s?.close();
  });

  let plan: AdoptionReport;

  let configBefore: Awaited<ReturnType<typeof configState>>;

  it('plans in a dry run and writes nothing', async () => {
    const baseline = await lucyCounts();
    configBefore = await configState();
    const r = await adoptar([]);
    expect(r.code, r.stderr).toBe(0);
    plan = report(r.stdout);
    expect(plan.modo).toBe('simulacion');
    expect(plan.alumnos.creados).toBe(fixture.alumnos + BULK.alumnos);
    expect(plan.cuentas.creados).toBe(fixture.withAccount.length + BULK.alumnos / 4);
    expect(plan.tareas.creados).toBe(fixture.tareasRecent + BULK.tareas);
    expect(plan.tareas.omitidos).toBe(fixture.tareasOld);
    expect(plan.logs.creados).toBe(fixture.logsRecent + BULK.logs);
    expect(plan.tareasInterrumpidas).toBe(fixture.tareasPendingOrRunning + BULK.tareas / 4);
    expect(Object.keys(plan.tiposNoDefinidos).sort()).toEqual(['ELIMINAR_MOODLE', 'ELIMINAR_TEAMS']);
    expect(plan.passwords.cantidad).toBe(fixture.withPassword.length + BULK.alumnos / 8);
    const poller = plan.tareasPeriodicasDetalle.find((t) => t.nombre === 'Procesador de Cola de Tareas');
    expect(poller).toMatchObject({ resultado: 'omitida' });
    expect(poller?.motivo).toMatch(/JetStream/);
    expect(plan.tareasPeriodicasDetalle.find((t) => t.nombre === 'celery.backend_cleanup')?.resultado).toBe(
      'omitida',
    );
    expect(plan.tareasPeriodicas.creados).toBe(6);
    expect(plan.configuracion.ignorado.map((i) => i.campo)).toContain('aspirantes_frecuencia_segundos');
    // Configuración: windows, flags and checkpoints planned for ingest-sial; templates for the notifier.
    const campo = (c: string) => plan.configuracion.ingesta.find((x) => x.campo === c);
    expect(campo('aspirantes_dia_inicio')?.resultado).toBe('actualizado');
    expect(campo('aspirantes_activar_teams')).toMatchObject({ resultado: 'actualizado', despues: 'sí' });
    expect(campo('ultima_ingesta_preinscriptos')?.resultado).toBe('actualizado');
    // «Forzar carga completa» pending in pylucy: no checkpoint, the first run starts from the window.
    expect(campo('ultima_ingesta_aspirantes')?.despues).toBe('');
    expect(plan.configuracionIngesta.actualizados).toBeGreaterThan(0);
    // Batch size and account prefix go to identity-teams' own settings (the stack starts with 50 and test-a).
    expect(plan.configuracion.identidad.find((c) => c.campo === 'batch_size')).toMatchObject({
      resultado: 'actualizado',
      antes: '50',
      despues: '20',
    });
    expect(plan.configuracion.identidad.find((c) => c.campo === 'account_prefix')?.resultado).toBe(
      'sin_cambios',
    );
    const plantilla = (t: string) => plan.configuracion.plantillas.find((p) => p.tipo === t);
    expect(plantilla('Bienvenida')?.resultado).toBe('creada');
    // A variable the notifier does not know: reported, not imported, not rewritten.
    expect(plantilla('Credenciales de acceso')).toMatchObject({
      resultado: 'omitida',
      variablesDesconocidas: ['curso_favorito'],
    });
    expect(plantilla('Credenciales de acceso')?.motivo).toMatch(/curso_favorito/);
    expect(plan.configuracion.ignorado.map((i) => i.campo)).toContain('rate_limit_uti');
    expect(plan.configuracion.despliegue.map((d) => d.campo)).toEqual(
      expect.arrayContaining(['rate_limit_teams', 'moodle_base_url', 'email_from']),
    );
    expect(plan.configuracion.secretos.find((x) => x.campo === 'teams_client_secret')?.estado).toBe(
      'configurado en pylucy',
    );
    expect(plan.configuracion.secretos.find((x) => x.campo === 'moodle_wstoken')?.estado).toMatch(/marcador/);
    expect(plan.configuracion.secretos.map((x) => x.campo)).toEqual(
      expect.arrayContaining(['teams_client_secret', 'sial_basic_pass', 'moodle_wstoken']),
    );
    expect(await lucyCounts()).toEqual(baseline);
    expect(await configState()).toEqual(configBefore);

    // The text report, in Spanish, ends with what staff must do.
    const text = await runLucy(['adoptar', 'pylucy', '--desde', s.pylucy.url], s.cliEnv);
    outputs.push(text.stdout, text.stderr);
    expect(text.stdout).toMatch(/SIMULACIÓN: no se escribió nada/);
    expect(text.stdout).toMatch(/Generar contraseña y enviar correo/);
    expect(text.stdout).toMatch(/Qué hacer ahora/);
    expect(text.stdout).toMatch(/Plantillas de correo → notifier/);
    expect(text.stdout).toMatch(/SIAL_PASSWORD de ingest-sial/);
  }, 300_000);

  it('killed midway and run again, imports exactly what the dry run planned, with no duplicate', async () => {
    // Stopped between an alumno batch and its accounts (identity-teams unreachable): those alumnos stay unmarked as
    // adopted, so a later run sends them and their accounts again instead of skipping them.
    const cut = await runLucy(['--json', 'adoptar', 'pylucy', '--aplicar'], {
      ...s.cliEnv,
      PYLUCY_DATABASE_URL: s.pylucy.url,
      LUCY_IDENTITY_URL: 'http://127.0.0.1:9',
    });
    outputs.push(cut.stdout, cut.stderr);
    expect(cut.code).not.toBe(0);
    const cutCounts = await lucyCounts();
    expect(cutCounts.alumnos).toBeGreaterThan(0);
    expect(cutCounts.cuentas).toBe(0);

    const killed = await adoptar(['--aplicar'], (c) => {
      void waitFor(async () => (await count(`select count(*) as n from tracker.tarea`)) > 0 || undefined, {
        what: 'some Tareas imported',
        timeoutMs: 240_000,
        intervalMs: 50,
      }).then(() => c.kill('SIGKILL'));
    });
    expect(killed.signal).toBe('SIGKILL');
    const partial = await lucyCounts();
    expect(partial.tareas).toBeLessThan(plan.tareas.creados);

    const r = await adoptar(['--aplicar']);
    expect(r.code, r.stderr).toBe(0);
    const applied = report(r.stdout);
    expect(applied.modo).toBe('aplicado');
    const after = await lucyCounts();
    expect(after.alumnos).toBe(plan.alumnos.creados);
    expect(after.cuentas).toBe(plan.cuentas.creados);
    expect(after.periodicas).toBe(plan.tareasPeriodicas.creados);
    expect(after.tareas).toBe(plan.tareas.creados);
    expect(after.logs).toBe(plan.logs.creados);
    // Imported schedules stay disabled without --habilitar.
    expect(
      await count(
        `select count(*) as n from scheduler.periodic_task where description like '%importada de pylucy%' and enabled`,
      ),
    ).toBe(0);
    expect(
      await count(
        `select count(*) as n from tracker.tarea where parametros->>'origen' = 'pylucy' and estado = 'failed' and mensaje_error like 'interrumpida por la migración desde pylucy%'`,
      ),
    ).toBeGreaterThanOrEqual(plan.tareasInterrumpidas);

    // The Configuración as the dry run said: pylucy's windows, flags and checkpoints in ingest-sial.
    const { rows: pc } = await py.query<Record<string, Date | boolean | null>>(
      'select * from alumnos_configuracion',
    );
    const { config, versiones } = await configState();
    const time = (v: unknown) => (v instanceof Date ? v.getTime() : null);
    for (const tipo of ['preinscriptos', 'aspirantes', 'ingresantes']) {
      expect(time(config[`${tipo}_dia_inicio`]), tipo).toBe(time(pc[0]![`${tipo}_dia_inicio`]));
      expect(time(config[`${tipo}_dia_fin`]), tipo).toBe(time(pc[0]![`${tipo}_dia_fin`]));
      expect(config[`${tipo}_enviar_email`], tipo).toBe(pc[0]![`${tipo}_enviar_email`]);
    }
    expect(config.aspirantes_activar_teams).toBe(true);
    expect(time(config.ultima_ingesta_preinscriptos)).toBe(time(pc[0]!.ultima_ingesta_preinscriptos));
    expect(config.ultima_ingesta_aspirantes).toBeNull();
    expect(config.actualizado_por).toMatch(/^adopción de pylucy/);
    const identidad = await rpc(
      `${s.cliEnv.LUCY_IDENTITY_URL}/lucy.identity.v1.IdentityService/GetConfiguracionIdentidad`,
      {},
    );
    expect(identidad.configuracion).toMatchObject({ loteMaximo: 20, prefijoUpn: 'test-a' });
    // The templates: one new version per planned one, attributed to the adoption; the credentials one untouched.
    const adopted = versiones.filter((v) => v.origen === 'adopción de pylucy');
    expect(adopted.length).toBe(plan.plantillas.creados);
    expect(adopted.every((v) => v.creada_por.startsWith('adopción de pylucy'))).toBe(true);
    expect(adopted.map((v) => v.tipo)).not.toContain('credenciales');
    expect(versiones.filter((v) => v.tipo === 'credenciales').map((v) => v.version)).toEqual(
      configBefore.versiones.filter((v) => v.tipo === 'credenciales').map((v) => v.version),
    );
  }, 600_000);

  it('changes nothing when run again', async () => {
    const snapshot = await lucyCounts();
    const r = await adoptar(['--aplicar']);
    expect(r.code, r.stderr).toBe(0);
    const again = report(r.stdout);
    for (const k of [again.alumnos, again.cuentas, again.tareasPeriodicas, again.tareas, again.logs]) {
      expect(k.creados).toBe(0);
      expect(k.actualizados).toBe(0);
    }
    expect(await lucyCounts()).toEqual(snapshot);
  }, 300_000);

  it('changes no configuration and no template when run again, and keeps what staff changed since', async () => {
    const state = await configState();
    const r = await adoptar(['--aplicar']);
    expect(r.code, r.stderr).toBe(0);
    const again = report(r.stdout);
    expect(again.configuracionIngesta.actualizados).toBe(0);
    expect(again.configuracion.identidad.every((c) => c.resultado === 'sin_cambios')).toBe(true);
    expect(again.plantillas.creados).toBe(0);
    expect(await configState()).toEqual(state);

    // Staff edit the welcome e-mail and an ingestion option in Lucy Tasks; a later adoption keeps both.
    await rpc(`${s.cliEnv.LUCY_NOTIFIER_URL}/lucy.notify.v1.NotifierService/UpdatePlantilla`, {
      plantilla: {
        tipo: 'TIPO_EMAIL_BIENVENIDA',
        asunto: 'Hola {nombre}',
        cuerpo: '<html><body>Hola {nombre} {apellido}, bienvenida.</body></html>',
      },
      requestedBy: 'ana',
    });
    await rpc(`${s.cliEnv.LUCY_INGEST_URL}/lucy.ingest.v1.IngestService/UpdateConfiguracion`, {
      configuracion: {
        ventanas: [
          {
            tipo: 'TIPO_INGESTA_INGRESANTES',
            diaInicio: new Date(Date.now() + 86_400_000).toISOString(),
            enviarEmail: true,
          },
        ],
      },
      requestedBy: 'ana',
    });
    const edited = await configState();
    const later = await adoptar(['--aplicar']);
    expect(later.code, later.stderr).toBe(0);
    const kept = report(later.stdout);
    expect(kept.plantillas.creados).toBe(0);
    expect(kept.configuracion.plantillas.find((p) => p.tipo === 'Bienvenida')?.motivo).toMatch(
      /ya importada/,
    );
    expect(kept.configuracionIngesta.actualizados).toBe(0);
    expect(kept.configuracion.ingesta.find((c) => c.campo === 'ingresantes_dia_inicio')).toMatchObject({
      resultado: 'omitido',
    });
    expect(await configState()).toEqual(edited);
  }, 300_000);

  it('leaves pylucy exactly as it was', async () => {
    expect(await checksums()).toEqual(before);
  });

  it('never lets a plaintext password or a secret into any output, log or table', async () => {
    const everything = outputs.join('\n') + s.output();
    for (const secret of [...PLAINTEXT_PASSWORDS, ...CONFIG_SECRETS, 'Tmp#8', 'Tmp#16']) {
      expect(everything.includes(secret), secret).toBe(false);
      for (const schema of ['ingest', 'identity', 'scheduler', 'tracker', 'notify']) {
        const { rows } = await lucy.query<{ table_name: string }>(
          `select table_name from information_schema.tables where table_schema = $1 and table_type = 'BASE TABLE'`,
          [schema],
        );
        for (const { table_name } of rows) {
          const n = await count(
            `select count(*) as n from ${schema}.${table_name} t where t::text like '%${secret.replace(/'/g, "''")}%'`,
          );
          expect(n, `${secret} in ${schema}.${table_name}`).toBe(0);
        }
      }
    }
  }, 120_000);

  it('activating an adopted alumno creates no Microsoft 365 user', async () => {
    const n = () =>
      new Promise<number>((resolve, reject) => {
        // The Graph fake's certificate is self-signed; this is its control endpoint, not a Graph call.
        https
          .get(`${s.graphUrl}/__fake/users`, { rejectUnauthorized: false }, (res) => {
            let body = '';
            res.on('data', (d: Buffer) => (body += d.toString()));
            res.on('end', () => {
              const u = JSON.parse(body) as unknown[] | { value?: unknown[]; users?: unknown[] };
              resolve(Array.isArray(u) ? u.length : (u.value ?? u.users ?? []).length);
            });
          })
          .once('error', reject);
      });
    const before = await n();
    const { rows } = await lucy.query<{ id: string }>(`select id from ingest.alumno where dni = '30111223'`);
    const enq = await fetch(`${s.cliEnv.LUCY_IDENTITY_URL}/lucy.identity.v1.IdentityService/Enqueue`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${s.cliEnv.LUCY_TOKEN}` },
      body: JSON.stringify({
        alumnoIds: [rows[0]!.id],
        taskName: 'alumnos.tasks.activar_servicios_alumno',
        requestedBy: 'ana',
      }),
    });
    const body = (await enq.json()) as { taskIds?: string[] };
    const taskId = body.taskIds?.[0];
    if (taskId) {
      await waitFor(
        async () => {
          const { rows: t } = await lucy.query<{ estado: string }>(
            `select estado from tracker.tarea where id = $1`,
            [taskId],
          );
          return t[0] && ['skipped', 'completed', 'failed'].includes(t[0].estado) ? t[0].estado : undefined;
        },
        { what: 'the activation Tarea finished', timeoutMs: 60_000 },
      ).then((estado) => expect(estado).toBe('skipped'));
    }
    expect(await n()).toBe(before);
  }, 120_000);
});
