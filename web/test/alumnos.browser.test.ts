// The Alumnos pages in headless Chromium against the whole running system: every service as a child process, the
// SIAL, Graph, Moodle and SMTP fakes, real NATS and Postgres (one system start for the file).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { waitFor } from '@lucy/testkit';
import type { MikroORM } from '@mikro-orm/postgresql';
import { createWebOrm } from '../src/lib/server/db/orm.js';
import { CHROMIUM } from './global-setup.js';
import { loginAs } from './login.js';
import { startSystem, type System } from './system.js';

const SCREENSHOTS = fileURLToPath(new URL('../test-results/screenshots/', import.meta.url));
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-quic',
  '--no-first-run',
  '--disable-sync',
];

interface AlumnoJson {
  id: string;
  dni: string;
  nombre?: string;
  apellido?: string;
  emailPersonal?: string;
  carreras?: { idCarrera?: string; nombreCarrera?: string }[];
}
interface GraphUser {
  userPrincipalName: string;
  employeeId: string | null;
  assignedLicenses: { skuId: string }[];
  passwordProfile: { password: string };
}
interface SinkSummary {
  id: string;
  subject: string;
}

describe('Alumnos in headless Chromium against the whole system and the fakes', { timeout: 240_000 }, () => {
  let sys: System;
  let ctx: BrowserContext;
  let page: Page;
  let profile: string;
  /** The test database, to stage what SIAL and the old system leave behind. */
  let orm: MikroORM;
  const sql = (q: string, params: string[]) => orm.em.getKnex().raw(q, params);
  /** Five aspirantes with e-mail and one without. */
  let conEmail: AlumnoJson[];
  let sinEmail: AlumnoJson;
  /** An aspirante with an account of the old system (no safe prefix). */
  let legado: AlumnoJson;

  const url = (path: string) => `${sys.webUrl}${path}`;

  async function rpc<T>(base: string, method: string, body: unknown): Promise<T> {
    const res = await fetch(`${base}/${method}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${sys.rpcToken}` },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as T;
    if (!res.ok) throw new Error(`${method}: ${JSON.stringify(json)}`);
    return json;
  }
  const alumnos = (filter: Record<string, unknown>) =>
    rpc<{ alumnos?: AlumnoJson[] }>(`${sys.full!.ingestUrl}/lucy.alumno.v1.AlumnoService`, 'ListAlumnos', {
      filter,
      page: { pageSize: 200 },
    }).then((r) => r.alumnos ?? []);

  /** The Graph fake's users (its control endpoint; its certificate is self-signed). */
  function graphUsers(): Promise<GraphUser[]> {
    const ca = readFileSync(sys.full!.graphCertFile);
    return new Promise((resolve, reject) => {
      httpsGet(`${sys.full!.graphUrl}/__fake/users`, { ca }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => {
          try {
            resolve(JSON.parse(body) as GraphUser[]);
          } catch (err) {
            reject(err instanceof Error ? err : new Error(String(err)));
          }
        });
      }).on('error', reject);
    });
  }

  async function login(username: string, password: string) {
    await loginAs(ctx, page, url('/admin/login/'), username, password, { expectSuccess: true });
  } /** Opens an admin page and waits until its scripts run (the live feed is connected). */
  async function open(path: string) {
    await page.goto(url(path));
    try {
      await page.locator('[data-live="en-vivo"]').waitFor({ timeout: 60_000 });
    } catch (err) {
      const status = await page
        .locator('[data-live]')
        .getAttribute('data-live')
        .catch(() => null);
      throw new Error(
        `${path}: live feed ${status ?? 'absent'}; browser errors: ${browserErrors.join(' | ') || 'none'}`,
        { cause: err },
      );
    }
  }
  const browserErrors: string[] = [];

  /**
   * Waits for an element an action should show; when it does not come, the error says what the page shows
   * instead (its alerts and the start of its text), so a failure in CI can be read without a rerun.
   */
  async function shows(selector: string, timeout = 30_000) {
    try {
      await page.waitForSelector(selector, { timeout });
    } catch (err) {
      const alerts = await page
        .locator('[role="alert"]')
        .allTextContents()
        .catch(() => []);
      const text = (
        (await page
          .locator('main')
          .textContent()
          .catch(() => '')) ?? ''
      ).replace(/\s+/g, ' ');
      throw new Error(
        `${selector} not shown at ${page.url()}; alerts: ${alerts.join(' | ') || 'none'}; page: ${text.slice(0, 600)}; ` +
          `browser errors: ${browserErrors.join(' | ') || 'none'}`,
        { cause: err },
      );
    }
  }

  /** Screenshot under test-results/screenshots and an axe-core run: no serious or critical violation. */
  async function shot(name: string) {
    await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
    await page.evaluate(AXE);
    const violations = await page.evaluate(async () => {
      const r = await (
        window as unknown as {
          axe: {
            run(): Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }>;
          };
        }
      ).axe.run();
      return r.violations
        .filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
    });
    expect(violations, `axe on ${name}`).toEqual([]);
  }

  /** Posts a form by hand with the current session, as a script would. */
  async function postByHand(path: string, fields: [string, string][]) {
    const cookie = (await ctx.cookies()).find((c) => c.name === 'lucy_session')!;
    return fetch(url(path), {
      method: 'POST',
      headers: {
        origin: sys.webUrl,
        cookie: `lucy_session=${cookie.value}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams(fields).toString(),
      redirect: 'manual',
    });
  }

  beforeAll(async () => {
    if (!existsSync(CHROMIUM))
      throw new Error(`No Chromium at ${CHROMIUM}: install Debian's chromium or set CHROMIUM_PATH`);
    mkdirSync(SCREENSHOTS, { recursive: true });
    // Every account deletion is held for an admin (the mass-deletion guard at 0), so the held list has a row.
    sys = await startSystem({
      full: true,
      sialSize: 60,
      serviceEnv: { 'identity-teams': { IDENTITY_MASS_DELETE_MAX: '0' } },
    });
    await sys.addStaff('lectora', 'lector', 'secreto-de-lectura-1');
    await sys.addStaff('operador', 'operador', 'secreto-de-operacion-1');
    orm = await createWebOrm(sys.db.url, 1);
    // The aspirantes from the SIAL fake, by a manual ingestion, while the tipo's flags are off (nothing activated).
    const { taskId } = await rpc<{ taskId: string }>(
      `${sys.full!.ingestUrl}/lucy.ingest.v1.IngestService`,
      'StartIngesta',
      { tipo: 'TIPO_INGESTA_ASPIRANTES', requestedBy: 'prueba' },
    );
    await waitFor(
      async () =>
        (
          await rpc<{ tarea?: { estado?: string } }>(
            `${sys.trackerUrl}/lucy.task.v1.TaskService`,
            'GetTarea',
            {
              id: taskId,
            },
          )
        ).tarea?.estado === 'TAREA_ESTADO_COMPLETED',
      { what: 'the ingestion of aspirantes completed', timeoutMs: 120_000, intervalMs: 500 },
    );
    // Then Teams and the credentials e-mail for aspirantes, as staff configure them.
    await rpc(`${sys.full!.ingestUrl}/lucy.ingest.v1.IngestService`, 'UpdateConfiguracion', {
      configuracion: {
        ventanas: [{ tipo: 'TIPO_INGESTA_ASPIRANTES', activarTeams: true, enviarEmail: true }],
      },
      requestedBy: 'prueba',
    });
    const todos = await alumnos({ estados: ['ESTADO_ASPIRANTE'] });
    const con = todos.filter((a) => a.emailPersonal);
    conEmail = con.slice(0, 5);
    legado = con[5]!;
    sinEmail = todos.find((a) => !a.emailPersonal) ?? con[6]!;
    if (sinEmail.emailPersonal) {
      // The fake leaves ~3 % without e-mail; when this seed has none among the aspirantes, one loses it.
      await sql(`update ingest.alumno set email_personal = null where id = ?`, [sinEmail.id]);
    }
    // An account created by the old system, without the safe prefix.
    await sql(`update ingest.alumno set email_institucional = ? where id = ?`, [
      `a${legado.dni}@alumnos.example.edu.ar`,
      legado.id,
    ]);
    profile = mkdtempSync(join(tmpdir(), 'lucy-chromium-'));
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      viewport: { width: 1366, height: 900 },
      locale: 'es-AR',
      timezoneId: 'America/Argentina/Cordoba',
    });
    page = ctx.pages()[0] ?? (await ctx.newPage());
    page.on('pageerror', (e) => browserErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') browserErrors.push(m.text());
    });
  });

  afterAll(async () => {
    await ctx?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await orm?.close(true);
    await sys?.close();
  });

  it('lists, filters and searches alumnos, and exports the selection as CSV', async () => {
    await login('admin', 'clave-de-prueba-1234');
    await open('/admin/alumnos/alumno/?estado=aspirante&n=100');
    expect(await page.locator('h1').textContent()).toBe('Alumnos');
    expect(await page.locator('#alumnos tbody tr[data-id]').count()).toBeGreaterThanOrEqual(8);
    await shot('alumnos-lista');
    await open(`/admin/alumnos/alumno/?q=${conEmail[0]!.dni}`);
    expect(await page.locator('#alumnos tbody tr[data-id]').count()).toBe(1);
    expect(await page.locator(`#alumnos tr[data-dni="${conEmail[0]!.dni}"]`).count()).toBe(1);
    await open('/admin/alumnos/alumno/?estado=aspirante&email=sin&n=100');
    expect(await page.locator(`#alumnos tr[data-id="${sinEmail.id}"]`).count()).toBe(1);
    expect(await page.locator(`#alumnos tr[data-id="${conEmail[0]!.id}"]`).count()).toBe(0);

    const res = await postByHand('/admin/alumnos/alumno/exportar/', [
      ['ids', conEmail[0]!.id],
      ['ids', conEmail[1]!.id],
    ]);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/csv');
    const csv = await res.text();
    expect(csv).toContain(conEmail[0]!.dni);
    expect(csv).toContain(conEmail[1]!.dni);
    expect(csv).not.toContain(conEmail[2]!.dni);
  });

  it('pre-checks the selection, answers «📋 5 tareas programadas» and the Tareas reach Completada live', async () => {
    await login('admin', 'clave-de-prueba-1234');
    await open('/admin/alumnos/alumno/?estado=aspirante&n=100');
    for (const a of [...conEmail, sinEmail])
      await page.check(`#alumnos tr[data-id="${a.id}"] input[type=checkbox]`);
    expect(await page.locator('#seleccionados').textContent()).toBe('6 seleccionados');
    const labels = await page.locator('#accion option').allTextContents();
    expect(labels).toEqual([
      '🚀 Activar Teams + Enviar Email',
      '👤 Crear usuario en Teams (sin email)',
      '🔄 Generar contraseña y enviar correo',
    ]);
    await page.selectOption('#accion', { label: '🚀 Activar Teams + Enviar Email' });
    await page.click('#revisar');
    await shows('#revision');
    const rechazado = page.locator(`#revision tr[data-alumno="${sinEmail.id}"]`);
    expect(await rechazado.getAttribute('data-precheck')).toBe('rechazado');
    expect(await rechazado.textContent()).toContain('Sin e-mail');
    expect(await page.locator('#revision tr[data-precheck="programada"]').count()).toBe(5);
    await shot('alumnos-verificacion-previa');
    // Nothing is queued by the pre-check.
    expect(await graphUsers()).toEqual([]);

    await page.click('#confirmar-accion');
    await shows('#resultado');
    expect((await page.locator('#resultado-h').textContent())?.trim()).toBe('📋 5 tareas programadas');
    expect(
      await page.locator(`#resultado tr[data-alumno="${sinEmail.id}"]`).getAttribute('data-precheck'),
    ).toBe('rechazado');
    const links = await page.locator('#resultado a[href^="/admin/alumnos/tarea/"]').count();
    expect(links).toBe(5);
    // The five Tareas move to Completada on this page, without a reload.
    await page.waitForFunction(
      () => document.querySelectorAll('#resultado [data-estado="completed"]').length === 5,
      undefined,
      { timeout: 180_000, polling: 500 },
    );
    await shot('alumnos-tareas-programadas');

    // The five users exist in the Graph fake with a licence.
    const users = await graphUsers();
    for (const a of conEmail) {
      const u = users.find((x) => x.employeeId === a.dni);
      expect(u, `Graph user of ${a.dni}`).toBeDefined();
      expect(u!.userPrincipalName.startsWith(sys.full!.safeDeletePrefix)).toBe(true);
      expect(u!.assignedLicenses.length).toBeGreaterThan(0);
    }
    expect(users.find((x) => x.employeeId === sinEmail.dni)).toBeUndefined();

    // The five credential e-mails arrived in the SMTP sink, rendered.
    for (const a of conEmail) {
      const u = users.find((x) => x.employeeId === a.dni)!;
      const found = await waitFor(
        async () => {
          const r = (await (
            await fetch(`${sys.full!.smtpApiUrl}/api/messages?to=${encodeURIComponent(a.emailPersonal!)}`)
          ).json()) as { messages: SinkSummary[] };
          return r.messages.find((m) => m.subject === 'Credenciales de acceso - UNRC');
        },
        { what: `credentials e-mail to ${a.emailPersonal}`, timeoutMs: 60_000, intervalMs: 500 },
      );
      const full = (await (await fetch(`${sys.full!.smtpApiUrl}/api/messages/${found.id}`)).json()) as {
        html: string | null;
        text: string | null;
      };
      expect(full.html).toContain('Credenciales de acceso | V.ECO (FCE)');
      expect(full.html).toContain(u.userPrincipalName);
      expect(full.html).toContain(u.passwordProfile.password);
      expect(full.html).not.toMatch(/\{(upn|password|nombre)\}/);
    }
  });

  it('filters by account state (created, licence, e-mail sent, error) and by carrera from a select', async () => {
    await login('operador', 'secreto-de-operacion-1');
    const ids = async () =>
      page
        .locator('#alumnos tbody tr[data-id]')
        .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-id')));
    await open('/admin/alumnos/alumno/');
    expect(await page.locator('#cuenta option').allTextContents()).toEqual([
      'Todas',
      'Sin cuenta',
      'Con cuenta',
      'Creada (sin licencia)',
      'Licencia asignada',
      'E-mail enviado',
      'Con error',
    ]);
    // The five activated alumnos: licence assigned and the credentials e-mail accepted by the relay.
    await expect
      .poll(
        async () => {
          await open('/admin/alumnos/alumno/?cuenta=email&n=100');
          return ids();
        },
        { timeout: 60_000, interval: 1_000 },
      )
      .toEqual(expect.arrayContaining(conEmail.map((a) => a.id)));
    expect(await page.locator(`#alumnos tr[data-id="${sinEmail.id}"]`).count()).toBe(0);
    await shot('alumnos-filtro-cuenta');
    for (const estado of ['creada', 'licencia', 'error']) {
      await open(`/admin/alumnos/alumno/?cuenta=${estado}&n=100`);
      const shown = await ids();
      for (const a of conEmail) expect(shown, `${estado} shows ${a.dni}`).not.toContain(a.id);
    }
    await open('/admin/alumnos/alumno/?cuenta=sin&estado=aspirante&n=100');
    expect(await ids()).toContain(sinEmail.id);
    expect(await ids()).not.toContain(conEmail[0]!.id);

    // Carrera: a select of the carreras the alumnos have, named, not a text box.
    const todos = await alumnos({ estados: ['ESTADO_ASPIRANTE'] });
    const carrera = todos.find((a) => a.id === conEmail[0]!.id)!.carreras![0]!;
    await open('/admin/alumnos/alumno/?n=100');
    expect(await page.locator('#carrera').evaluate((el) => el.tagName)).toBe('SELECT');
    const option = page.locator(`#carrera option[value="${carrera.idCarrera}"]`);
    expect(await option.textContent()).toContain(carrera.nombreCarrera);
    await page.selectOption('#carrera', String(carrera.idCarrera));
    await Promise.all([page.waitForURL(/carrera=/), page.click('form[role=search] button[type=submit]')]);
    await page.locator('[data-live="en-vivo"]').waitFor({ timeout: 60_000 });
    const shown = await ids();
    expect(shown).toContain(conEmail[0]!.id);
    const conCarrera = new Set(
      todos.filter((a) => (a.carreras ?? []).some((c) => c.idCarrera === carrera.idCarrera)).map((a) => a.id),
    );
    for (const id of shown) expect(conCarrera.has(id!)).toBe(true);
    expect(await page.locator('#carrera').inputValue()).toBe(String(carrera.idCarrera));
    await shot('alumnos-filtro-carrera');
  });

  it('queues a password reset asked twice on purpose twice, and a confirmation posted twice once', async () => {
    await login('operador', 'secreto-de-operacion-1');
    const a = conEmail[2]!;
    const reset = async () => {
      await open(`/admin/alumnos/alumno/?q=${a.dni}`);
      await page.check(`#alumnos tr[data-id="${a.id}"] input[type=checkbox]`);
      await page.selectOption('#accion', { label: '🔄 Generar contraseña y enviar correo' });
      await page.click('#revisar');
      await shows('#revision');
      const clave = await page.locator('#revision input[name="clave"]').inputValue();
      await page.click('#confirmar-accion');
      await shows('#resultado');
      expect((await page.locator('#resultado-h').textContent())?.trim()).toBe('📋 1 tarea programada');
      const href = await page.locator('#resultado a[href^="/admin/alumnos/tarea/"]').getAttribute('href');
      return { clave, href: href! };
    };
    // Staff reset the password again on purpose (the first e-mail was lost): a new Tarea, not «ya programada».
    const first = await reset();
    const second = await reset();
    expect(second.clave).not.toBe(first.clave);
    expect(second.href).not.toBe(first.href);
    // The same confirmation sent again (a double click, a resent form): the Tarea of the first, nothing new.
    const again = await postByHand('/admin/alumnos/alumno/?/ejecutar', [
      ['accion', 'resetear'],
      ['clave', second.clave],
      ['ids', a.id],
    ]);
    expect(again.status).toBe(200);
    const body = await again.text();
    expect(body).toContain(second.href.split('/').at(-2)!);
    expect(body).not.toContain(first.href.split('/').at(-2)!);
  });

  it('warns above 50 alumnos and queues nothing beyond the configured limit', async () => {
    const total = (await alumnos({ estados: ['ESTADO_ASPIRANTE'] })).length;
    expect(total, 'aspirantes in the SIAL fake').toBeGreaterThan(55);
    await login('operador', 'secreto-de-operacion-1');
    await open('/admin/alumnos/alumno/?estado=aspirante&n=100');
    await page.check('#alumnos thead input[type=checkbox]');
    expect(await page.locator('#seleccionados').textContent()).toBe(`${total} seleccionados`);
    expect(await page.locator('.banner.warn').first().textContent()).toContain('Lotes pequeños');
    await page.selectOption('#accion', { label: '👤 Crear usuario en Teams (sin email)' });
    await page.click('#revisar');
    await shows('#aviso-lote');
    await shot('alumnos-aviso-lote');
    // Without the confirmation: refused with the best practice.
    await page.click('#confirmar-accion');
    await shows('#accion-error');
    expect(await page.locator('#accion-error').textContent()).toContain('máximo 50 alumnos');
    // Confirmed: identity-teams refuses above its IDENTITY_BATCH_LIMIT (50 here), naming it.
    await page.click('#revisar');
    await shows('#aviso-lote');
    await page.check('#aviso-lote input[name=confirmar_lote]');
    await page.click('#confirmar-accion');
    await page.waitForFunction(() =>
      /máximo por solicitud es 50/.test(document.querySelector('#accion-error')?.textContent ?? ''),
    );
    const tareas = await rpc<{ tareas?: { taskName: string }[] }>(
      `${sys.trackerUrl}/lucy.task.v1.TaskService`,
      'ListTareas',
      { filter: {}, page: { pageSize: 500 } },
    );
    expect((tareas.tareas ?? []).map((t) => t.taskName)).not.toContain(
      'alumnos.tasks.crear_usuario_teams_async',
    );
  });

  it('shows an alumno: SIAL data, carreras, its account with licence, Tareas and Logs; an admin reveals the password', async () => {
    await login('admin', 'clave-de-prueba-1234');
    const a = conEmail[0]!;
    await open(`/admin/alumnos/alumno/${a.id}/`);
    expect(await page.locator('h1').textContent()).toContain(a.dni);
    const user = (await graphUsers()).find((x) => x.employeeId === a.dni)!;
    expect(await page.locator('#upn').textContent()).toBe(user.userPrincipalName);
    expect(await page.locator('#licencia').textContent()).toContain('Asignada');
    expect(await page.locator('#cuenta-estado').textContent()).toBe('Activa');
    expect(await page.locator('#tareas-alumno tbody tr[data-id]').count()).toBeGreaterThanOrEqual(1);
    expect(await page.locator('#carreras tbody tr').count()).toBeGreaterThanOrEqual(1);
    await shot('alumno-detalle');

    await page.click('#revelar');
    await page.fill('#motivo', 'El alumno no recibió el correo');
    await page.click('#confirmar-revelar');
    await shows('#password-revelada');
    expect(await page.locator('#password-revelada').textContent()).toContain(user.passwordProfile.password);
    await shot('alumno-password-revelada');
  });

  it('refuses actions and passwords to a lector and passwords to an operador, also when posted by hand', async () => {
    const a = conEmail[1]!;
    await login('lectora', 'secreto-de-lectura-1');
    await open('/admin/alumnos/alumno/');
    expect(await page.locator('#revisar').count()).toBe(0);
    await open(`/admin/alumnos/alumno/${a.id}/`);
    expect(await page.locator('#revelar').count()).toBe(0);
    await shot('alumno-detalle-lector');
    const password = (await graphUsers()).find((x) => x.employeeId === a.dni)!.passwordProfile.password;
    for (const [path, fields] of [
      [
        '/admin/alumnos/alumno/?/ejecutar',
        [
          ['accion', 'resetear'],
          ['ids', a.id],
        ],
      ],
      [
        '/admin/alumnos/alumno/?/revisar',
        [
          ['accion', 'activar'],
          ['ids', a.id],
        ],
      ],
      [
        `/admin/alumnos/alumno/${a.id}/?/revelar`,
        [
          ['confirmar', 'si'],
          ['motivo', 'curiosidad'],
        ],
      ],
      [`/admin/alumnos/alumno/${a.id}/?/eliminar`, [['confirmar', 'si']]],
    ] as [string, [string, string][]][]) {
      const res = await postByHand(path, fields);
      expect(res.status, path).toBe(403);
      expect(await res.text()).not.toContain(password);
    }
    await login('operador', 'secreto-de-operacion-1');
    await open(`/admin/alumnos/alumno/${a.id}/`);
    expect(await page.locator('#revelar').count()).toBe(0);
    const res = await postByHand(`/admin/alumnos/alumno/${a.id}/?/revelar`, [
      ['confirmar', 'si'],
      ['motivo', 'curiosidad'],
    ]);
    expect(res.status).toBe(403);
    expect(await res.text()).not.toContain(password);
    // No Tarea was queued by the refused posts: no password reset for the alumno.
    const tareas = await rpc<{ tareas?: { taskName: string }[] }>(
      `${sys.trackerUrl}/lucy.task.v1.TaskService`,
      'ListTareas',
      { filter: { alumnoId: a.id } },
    );
    expect((tareas.tareas ?? []).map((t) => t.taskName)).not.toContain(
      'alumnos.tasks.resetear_password_y_enviar_email',
    );
  });

  it('refuses to delete an alumno whose UPN lacks the safe prefix with identity-teams’ reason; lists held deletions', async () => {
    await login('admin', 'clave-de-prueba-1234');
    await open(`/admin/alumnos/alumno/${legado.id}/`);
    // identity-teams' CheckDeletion: the button is disabled and its reason is beside it.
    expect(await page.isDisabled('#eliminar')).toBe(true);
    const motivo = (await page.locator('#motivo-no-eliminable').textContent()) ?? '';
    expect(motivo).toContain('SEGURIDAD');
    expect(motivo).toContain(`a${legado.dni}@alumnos.example.edu.ar`);
    expect(motivo).toContain(`«${sys.full!.safeDeletePrefix}»`);
    await shot('alumno-eliminar-rechazado');
    // Posted by hand anyway: the action asks identity-teams again and refuses with the same reason.
    const res = await postByHand(`/admin/alumnos/alumno/${legado.id}/?/eliminar`, [['confirmar', 'si']]);
    // The page again with the refusal (a deletion answers 303 to the list).
    expect(res.status).not.toBe(303);
    const body = await res.text();
    expect(body).toContain('No se eliminó el alumno.');
    expect(body).toContain(`a${legado.dni}@alumnos.example.edu.ar`);
    expect(body).toContain(`«${sys.full!.safeDeletePrefix}»`);
    expect((await alumnos({ ids: [legado.id] })).length).toBe(1);

    // An alumno with a deletable account: deleted, its account removal held, then confirmed by an admin.
    const b = conEmail[4]!;
    const upn = (await graphUsers()).find((x) => x.employeeId === b.dni)!.userPrincipalName;
    await open(`/admin/alumnos/alumno/${b.id}/`);
    expect(await page.isDisabled('#eliminar')).toBe(false);
    expect(await page.locator('#motivo-no-eliminable').count()).toBe(0);
    await page.click('#eliminar');
    const aviso = (await page.locator('#aviso-eliminar').textContent()) ?? '';
    expect(aviso).toContain('Teams');
    expect(aviso).toContain('Moodle');
    expect(aviso).toContain('irreversible');
    await shot('alumno-eliminar-confirmacion');
    await page.click('#confirmar-eliminar');
    await page
      .waitForSelector('#eliminado, #detalle-error', { timeout: 60_000 })
      .catch(async (err: unknown) => {
        await page.screenshot({ path: join(SCREENSHOTS, 'debug-eliminar.png'), fullPage: true });
        throw new Error(
          `${page.url()} ${(await page.locator('body').textContent())?.slice(0, 1500)} ${browserErrors.join(' | ')}`,
          { cause: err },
        );
      });
    expect(
      await page.locator('#detalle-error').count(),
      (await page.locator('main').textContent()) ?? '',
    ).toBe(0);
    expect(await page.locator('#eliminado').textContent()).toContain('Teams y Moodle');
    expect(await alumnos({ ids: [b.id] })).toEqual([]);
    await waitFor(
      async () => {
        await open('/admin/alumnos/alumno/retenidas/');
        return (await page.locator(`#retenidas tr[data-upn="${upn}"]`).count()) === 1;
      },
      { what: 'the held deletion listed', timeoutMs: 90_000, intervalMs: 1_000 },
    );
    expect(await page.locator('h1').textContent()).toBe('Eliminaciones retenidas');
    await shot('alumnos-eliminaciones-retenidas');
    await page.check(`#retenidas tr[data-upn="${upn}"] input[name=ids]`);
    await page.check('input[name=confirmar]');
    await page.click('#confirmar-retenidas');
    await page.waitForSelector('.banner.ok');
    expect(await page.locator('.banner.ok').textContent()).toContain('1 eliminaciones programadas');
    await waitFor(
      async () => {
        const u = (await graphUsers()).find((x) => x.userPrincipalName === upn);
        return !u || Boolean((u as GraphUser & { deletedDateTime?: string | null }).deletedDateTime);
      },
      { what: 'the Teams account removed after the confirmation', timeoutMs: 90_000, intervalMs: 1_000 },
    );
  });

  it('refuses a deletion while identity-teams cannot be asked, saying so, and allows it once it answers', async () => {
    await login('admin', 'clave-de-prueba-1234');
    const c = conEmail[3]!;
    await sys.stopService('identity-teams');
    try {
      await open(`/admin/alumnos/alumno/${c.id}/`);
      expect(await page.isDisabled('#eliminar')).toBe(true);
      expect(await page.locator('#motivo-no-eliminable').textContent()).toContain(
        'No se pudo comprobar con identity-teams',
      );
      await shot('alumno-eliminar-sin-identity');
      const res = await postByHand(`/admin/alumnos/alumno/${c.id}/?/eliminar`, [['confirmar', 'si']]);
      expect(res.status).not.toBe(303);
      expect(await res.text()).toContain('No se pudo comprobar con identity-teams');
      expect((await alumnos({ ids: [c.id] })).length).toBe(1);
    } finally {
      await sys.startService('identity-teams');
    }
    // Its account has the safe prefix: once identity-teams answers, the deletion is offered again.
    await open(`/admin/alumnos/alumno/${c.id}/`);
    expect(await page.isDisabled('#eliminar')).toBe(false);
    expect(await page.locator('#motivo-no-eliminable').count()).toBe(0);
  });

  it('records every action in the audit trail', async () => {
    await login('admin', 'clave-de-prueba-1234');
    await open('/admin/auditoria/');
    const text = (await page.locator('main').textContent()) ?? '';
    for (const action of [
      'eliminacion.confirmar',
      'alumno.accion.activar',
      'alumno.revelar_password',
      'alumno.eliminar',
      'alumno.exportar',
    ])
      expect(text, action).toContain(action);
    await shot('alumnos-auditoria');
  });
});
