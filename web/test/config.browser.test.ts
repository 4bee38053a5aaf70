// The admin's configuration pages in headless Chromium against the whole running system (every service, NATS,
// Postgres, the SIAL / Graph / Moodle fakes and the SMTP sink): the seed's Ejemplos 1–3 typed through the
// django-celery-beat forms, Configuración, Ingesta manual and Plantillas de email.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { waitFor } from '@lucy/testkit';
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
const ADMIN_PASSWORD = 'clave-de-prueba-1234';
const INGESTAS = [
  'alumnos.tasks.ingestar_preinscriptos',
  'alumnos.tasks.ingestar_aspirantes',
  'alumnos.tasks.ingestar_ingresantes',
];

/** Córdoba wall time of an instant: weekday (0 = Sunday), "HH:MM:SS" and the day. */
function cordoba(iso: string) {
  const p = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', {
      timeZone: 'America/Argentina/Cordoba',
      weekday: 'short',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    })
      .formatToParts(new Date(iso))
      .map((x) => [x.type, x.value]),
  );
  const weekday = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(p.weekday ?? '');
  return { weekday, time: `${p.hour}:${p.minute}:${p.second}`, day: `${p.year}-${p.month}-${p.day}` };
}

/** A datetime-local value with its seconds (Chromium drops ":00"). */
const withSeconds = (v: string) => (/T\d{2}:\d{2}$/.test(v) ? `${v}:00` : v);

describe(
  'the configuration pages in headless Chromium against the whole running system',
  { timeout: 180_000 },
  () => {
    let sys: System;
    let ctx: BrowserContext;
    let page: Page;
    let profile: string;
    /** Script errors and failed asset loads in the page, reported with a failed step. */
    const browserErrors: string[] = [];

    const url = (path: string) => `${sys.webUrl}${path}`;

    async function login(username: string, password: string) {
      await loginAs(ctx, page, url('/admin/login/'), username, password, { expectSuccess: true });
    }

    /** Screenshot under test-results/screenshots and an axe-core run: no serious or critical violation. */
    async function check(name: string) {
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

    /** Submits a form by clicking `button` and waits for the page's answer (a SvelteKit enhanced form). */
    async function submit(button: string) {
      await Promise.all([
        page.waitForResponse((r) => r.request().method() === 'POST' && r.url().includes('?/')),
        page.click(button),
      ]);
    }

    /** The value of the option of `select` whose text contains `text`. */
    async function optionValue(select: string, text: string): Promise<string> {
      const option = page.locator(`${select} option`, { hasText: text }).first();
      await option.waitFor({ state: 'attached', timeout: 15_000 });
      return (await option.getAttribute('value')) ?? '';
    }

    /** The previewed runs (ISO instants) once the preview shows `count` of them. */
    async function previewedRuns(count = 5): Promise<string[]> {
      await expect
        .poll(() => page.locator('#vista-previa li[data-at]').count(), { timeout: 15_000 })
        .toBe(count);
      return page
        .locator('#vista-previa li[data-at]')
        .evaluateAll((items) => items.map((i) => i.getAttribute('data-at') ?? ''));
    }

    async function createInterval(every: string, period: string) {
      await page.goto(url('/admin/django_celery_beat/intervalschedule/'));
      await page.fill('#every', every);
      await page.selectOption('#period', period);
      await submit('#guardar');
      await page.locator('#resultado', { hasText: 'Programación guardada' }).waitFor();
    }

    async function createCrontab(c: { minute: string; hour: string; dow: string }) {
      await page.goto(url('/admin/django_celery_beat/crontabschedule/'));
      await page.fill('#minute', c.minute);
      await page.fill('#hour', c.hour);
      await page.fill('#day_of_week', c.dow);
      await page.fill('#day_of_month', '*');
      await page.fill('#month_of_year', '*');
      await page.fill('#timezone', 'America/Argentina/Cordoba');
      await submit('#guardar');
      await page.locator('#resultado', { hasText: 'Programación guardada' }).waitFor();
    }

    /** Fills the periodic-task form (Name, Task, Enabled, one schedule) without saving it. */
    async function fillTask(name: string, task: string, schedule: { kind: string; text: string }) {
      await page.goto(url('/admin/django_celery_beat/periodictask/add/'));
      await page.fill('#name', name);
      await page.selectOption('#task', await optionValue('#task', task));
      expect(await page.isChecked('#enabled')).toBe(true);
      await page.selectOption(
        `#${schedule.kind}_id`,
        await optionValue(`#${schedule.kind}_id`, schedule.text),
      );
    }

    async function saveTask(name: string) {
      await Promise.all([page.waitForURL(/\/periodictask\/\?guardada=/), page.click('#guardar')]);
      await page.locator(`#tareas-periodicas tr[data-name="${name}"]`).waitFor();
    }

    async function configureWindow(tipo: string, inicio: string, fin: string) {
      await page.goto(url('/admin/alumnos/configuracion/'));
      await page.fill(`#${tipo}_dia_inicio`, inicio);
      await page.fill(`#${tipo}_dia_fin`, fin);
      await submit('#guardar');
      await page.locator('#resultado', { hasText: 'Configuración guardada' }).waitFor();
      await page.reload();
      expect(withSeconds(await page.inputValue(`#${tipo}_dia_inicio`))).toBe(inicio);
      expect(withSeconds(await page.inputValue(`#${tipo}_dia_fin`))).toBe(fin);
    }

    const scheduleText = (name: string) =>
      page.locator(`#tareas-periodicas tr[data-name="${name}"] td.schedule`).textContent();
    /** The schedule in words alone (the time zone of a crontab is beside it). */
    const scheduleWordsOf = (name: string) =>
      page.locator(`#tareas-periodicas tr[data-name="${name}"] td.schedule .palabras`).textContent();

    beforeAll(async () => {
      if (!existsSync(CHROMIUM))
        throw new Error(
          `No Chromium at ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium; the global setup ` +
            'does it when run as root) or set CHROMIUM_PATH',
        );
      mkdirSync(SCREENSHOTS, { recursive: true });
      sys = await startSystem({ full: true });
      await sys.addStaff('lectora', 'lector', 'secreto-de-lectura-1');
      await sys.addStaff('operador', 'operador', 'secreto-de-operacion-1');
      // The scheduler offers only the tasks the services announced: wait until ingest-sial has.
      await waitFor(
        async () => {
          const res = await fetch(
            `${sys.full!.schedulerUrl}/lucy.scheduler.v1.SchedulerService/ListRegisteredTasks`,
            {
              method: 'POST',
              headers: { 'content-type': 'application/json', authorization: `Bearer ${sys.rpcToken}` },
              body: JSON.stringify({ onlySchedulable: true }),
            },
          ).catch(() => null);
          if (!res?.ok) return false;
          const names =
            ((await res.json()) as { tasks?: { name: string }[] }).tasks?.map((t) => t.name) ?? [];
          return INGESTAS.every((n) => names.includes(n));
        },
        { what: 'the ingestions are registered', timeoutMs: 90_000, intervalMs: 500 },
      );
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
      page.on('pageerror', (err) => browserErrors.push(`${err.message} ${err.stack ?? ''}`));
      page.on('requestfailed', (r) => {
        // Navigation aborts the live feed and pending data requests: only other failures are news.
        if (r.failure()?.errorText !== 'net::ERR_ABORTED')
          browserErrors.push(`${r.url()}: ${r.failure()?.errorText ?? ''}`);
      });
      page.on('response', (r) => {
        if (r.status() >= 400 && r.url().includes('/_app/'))
          browserErrors.push(`${r.url()}: HTTP ${r.status()}`);
      });
      await login('admin', ADMIN_PASSWORD);
    });

    // A failed step leaves the page it failed on, to see why.
    afterEach(async (t) => {
      if (t.task.result?.state === 'fail' && browserErrors.length)
        console.error(`[browser] ${browserErrors.splice(0).join('\n[browser] ')}`);
      if (t.task.result?.state === 'fail' && page)
        await page
          .screenshot({
            path: join(SCREENSHOTS, `fallo-${t.task.name.slice(0, 40).replace(/\W+/g, '-')}.png`),
          })
          .catch(() => undefined);
    });

    afterAll(async () => {
      await ctx?.close();
      if (profile) rmSync(profile, { recursive: true, force: true });
      await sys?.close();
    });

    it('configures Ejemplo 1: every 1 hour, previewed one hour apart, shown as "Cada 1 hora", window 1–15 January 2026', async () => {
      await createInterval('1', 'hours');
      expect(await page.locator('#programaciones td.descripcion').allTextContents()).toContain('Cada 1 hora');
      await check('intervalos');
      await fillTask('Ingesta horaria de preinscriptos', 'alumnos.tasks.ingestar_preinscriptos', {
        kind: 'interval',
        text: 'Cada 1 hora',
      });
      const runs = await previewedRuns();
      for (let i = 1; i < runs.length; i++)
        expect(Date.parse(runs[i]!) - Date.parse(runs[i - 1]!)).toBe(60 * 60_000);
      expect(Date.parse(runs[0]!)).toBeGreaterThan(Date.now());
      expect(await page.locator('#aviso-frecuencia').count()).toBe(0);
      await check('tarea-periodica-form');
      await saveTask('Ingesta horaria de preinscriptos');
      expect(await scheduleWordsOf('Ingesta horaria de preinscriptos')).toBe('cada 1 hora');
      await configureWindow('preinscriptos', '2026-01-01T00:00:00', '2026-01-15T23:59:59');
    });

    it('configures Ejemplo 2: crontab 0 2 * * * in Córdoba, previewed at 02:00 on five consecutive days', async () => {
      await createCrontab({ minute: '0', hour: '2', dow: '*' });
      await fillTask('Ingesta diaria de aspirantes (2 AM)', 'alumnos.tasks.ingestar_aspirantes', {
        kind: 'crontab',
        text: '0 2 * * * (m/h/dM/MY/d) America/Argentina/Cordoba',
      });
      const runs = await previewedRuns();
      const local = runs.map(cordoba);
      expect(local.map((l) => l.time)).toEqual(Array(5).fill('02:00:00'));
      for (let i = 1; i < runs.length; i++)
        expect(Date.parse(runs[i]!) - Date.parse(runs[i - 1]!)).toBe(24 * 60 * 60_000);
      await saveTask('Ingesta diaria de aspirantes (2 AM)');
      expect(await scheduleWordsOf('Ingesta diaria de aspirantes (2 AM)')).toBe('a las 02:00 todos los días');
      expect(await scheduleText('Ingesta diaria de aspirantes (2 AM)')).toContain(
        'America/Argentina/Cordoba',
      );
      await configureWindow('aspirantes', '2026-02-01T00:00:00', '2026-02-28T23:59:59');
    });

    it('configures Ejemplo 3: every 30 minutes Monday to Friday, no frequency warning; every 15 minutes warns', async () => {
      await createCrontab({ minute: '*/30', hour: '*', dow: '1-5' });
      await createCrontab({ minute: '*/15', hour: '*', dow: '*' });
      await check('crontabs');
      await fillTask('Ingesta de ingresantes (L-V cada 30 min)', 'alumnos.tasks.ingestar_ingresantes', {
        kind: 'crontab',
        text: '*/15 * * * * (m/h/dM/MY/d)',
      });
      await page.locator('#aviso-frecuencia').waitFor({ timeout: 15_000 });
      expect(await page.locator('#aviso-frecuencia').textContent()).toContain(
        'No más de 1 vez cada 30 minutos',
      );
      await check('tarea-periodica-aviso');
      await page.selectOption(
        '#crontab_id',
        await optionValue('#crontab_id', '*/30 * * * 1-5 (m/h/dM/MY/d)'),
      );
      await expect.poll(() => page.locator('#aviso-frecuencia').count(), { timeout: 15_000 }).toBe(0);
      const runs = await previewedRuns();
      for (const [i, r] of runs.entries()) {
        const l = cordoba(r);
        expect(l.weekday).toBeGreaterThanOrEqual(1);
        expect(l.weekday).toBeLessThanOrEqual(5);
        expect(['00:00', '30:00']).toContain(l.time.slice(3));
        if (i > 0) expect(Date.parse(r) - Date.parse(runs[i - 1]!)).toBeGreaterThanOrEqual(30 * 60_000);
      }
      await saveTask('Ingesta de ingresantes (L-V cada 30 min)');
      expect(await scheduleWordsOf('Ingesta de ingresantes (L-V cada 30 min)')).toBe(
        'cada 30 minutos de lunes a viernes',
      );
      await configureWindow('ingresantes', '2026-03-01T00:00:00', '2026-03-31T23:59:59');
      await check('configuracion');
      await page.goto(url('/admin/django_celery_beat/periodictask/'));
      await check('tareas-periodicas');
    });

    it('names invalid fields in Spanish and keeps everything typed', async () => {
      await page.goto(url('/admin/django_celery_beat/periodictask/add/'));
      await page.fill('#name', 'Ingesta con errores');
      await page.selectOption('#task', await optionValue('#task', 'alumnos.tasks.ingestar_aspirantes'));
      await page.fill('#kwargs', '{"desconocido": 1}');
      await page.fill('#start_time', '2026-05-01T10:00:00');
      await submit('#guardar');
      const errores = page.locator('#errores');
      await errores.waitFor();
      const text = (await errores.textContent()) ?? '';
      expect(text).toContain('Programación');
      expect(text).toContain('Argumentos con nombre (kwargs): desconocido');
      expect(await page.inputValue('#name')).toBe('Ingesta con errores');
      expect(await page.inputValue('#kwargs')).toBe('{"desconocido": 1}');
      expect(withSeconds(await page.inputValue('#start_time'))).toBe('2026-05-01T10:00:00');
      expect(await page.inputValue('#task')).toBe('alumnos.tasks.ingestar_aspirantes');
      await check('tarea-periodica-errores');
    });

    it('runs a scheduled ingestion now: its Tarea is created and, outside its window, ends Omitida', async () => {
      await page.goto(url('/admin/django_celery_beat/periodictask/'));
      const row = page.locator('#tareas-periodicas tr[data-name="Ingesta horaria de preinscriptos"]');
      await submit(
        `#tareas-periodicas tr[data-name="Ingesta horaria de preinscriptos"] button:has-text("Ejecutar ahora")`,
      );
      const link = page.locator('#resultado a', { hasText: 'Ver la Tarea' });
      await link.waitFor();
      const href = (await link.getAttribute('href')) ?? '';
      expect(href).toMatch(/^\/admin\/alumnos\/tarea\/[0-9a-f-]{36}\/$/);
      expect(await row.count()).toBe(1);
      await page.goto(url(href));
      // Now (the test's real date) is outside 1–15 January 2026: the run is recorded and does nothing.
      await page.locator('h1 [data-estado="skipped"]').waitFor({ timeout: 60_000 });
      expect(await page.locator('main').textContent()).toContain('alumnos.tasks.ingestar_preinscriptos');
    });

    it('disables and enables a periodic task from the list', async () => {
      await page.goto(url('/admin/django_celery_beat/periodictask/'));
      const sel = '#tareas-periodicas tr[data-name="Ingesta diaria de aspirantes (2 AM)"]';
      await submit(`${sel} button:has-text("Deshabilitar")`);
      await expect.poll(() => page.locator(`${sel} td.enabled`).textContent()).toContain('No');
      await submit(`${sel} button:has-text("Habilitar")`);
      await expect.poll(() => page.locator(`${sel} td.enabled`).textContent()).toContain('Sí');
    });

    it('saves an ingestion every 15 minutes with the scheduler’s warning, then deletes it after a confirmation', async () => {
      await fillTask('Ingesta frecuente de prueba', 'alumnos.tasks.ingestar_aspirantes', {
        kind: 'crontab',
        text: '*/15 * * * * (m/h/dM/MY/d)',
      });
      await saveTask('Ingesta frecuente de prueba');
      expect(await page.locator('#avisos').textContent()).toContain('más de una vez cada 30 minutos');
      const sel = '#tareas-periodicas tr[data-name="Ingesta frecuente de prueba"]';
      await page.click(`${sel} button:has-text("Eliminar")`);
      expect(await page.locator(`${sel} .confirm`).textContent()).toContain(
        '¿Eliminar «Ingesta frecuente de prueba»?',
      );
      await submit(`${sel} button:has-text("Sí, eliminar")`);
      await expect.poll(() => page.locator(sel).count()).toBe(0);
    });

    it('simulates a manual ingestion with its counts, then runs it and shows its Tarea reaching Completada live', async () => {
      await page.goto(url('/admin/alumnos/ingesta/'));
      await page.selectOption('#tipo', 'aspirantes');
      await submit('#simular');
      await page.locator('#plan').waitFor({ timeout: 60_000 });
      const n = async (k: string) =>
        Number((await page.locator(`#plan [data-k="${k}"] .n`).textContent())?.replace(/\./g, ''));
      expect(await n('recibidos')).toBeGreaterThan(0);
      expect(await n('creados')).toBeGreaterThan(0);
      expect(await n('actualizados')).toBe(0);
      expect(await n('sin_cambios')).toBe(0);
      expect(await n('rechazados')).toBeGreaterThanOrEqual(0);
      const creados = await n('creados');
      await check('ingesta-simulacion');
      await Promise.all([page.waitForURL(/\/admin\/alumnos\/ingesta\/\?tarea=/), page.click('#ejecutar')]);
      await page.evaluate(() => ((window as unknown as { sinRecargar: boolean }).sinRecargar = true));
      await page.locator('#tarea-ingesta [data-estado="completed"]').waitFor({ timeout: 90_000 });
      expect(await page.evaluate(() => (window as unknown as { sinRecargar?: boolean }).sinRecargar)).toBe(
        true,
      );
      await check('ingesta-ejecutada');
      // The same simulation now finds them all in place.
      await submit('#simular');
      await expect.poll(() => n('sin_cambios'), { timeout: 60_000 }).toBe(creados);
      expect(await n('creados')).toBe(0);
    });

    it('refuses a plantilla with an unknown variable naming it, previews it, and sends a test e-mail to the SMTP sink', async () => {
      await page.goto(url('/admin/plantillas/'));
      await check('plantillas');
      await Promise.all([
        page.waitForURL(/\/admin\/plantillas\/credenciales\/$/),
        page.click('a[href="/admin/plantillas/credenciales/"]'),
      ]);
      expect(await page.locator('#variables').textContent()).toContain('{upn}');
      const original = await page.inputValue('#cuerpo');
      await page.fill('#cuerpo', `${original}\n<p>{variable_inexistente}</p>`);
      await submit('#guardar');
      await page.locator('#errores').waitFor();
      expect(await page.locator('#errores').textContent()).toContain('variable_inexistente');
      expect(await page.inputValue('#cuerpo')).toContain('{variable_inexistente}');
      await check('plantilla-error');
      await page.fill('#cuerpo', original);
      await submit('#previsualizar');
      await page.locator('#vista-previa').waitFor();
      expect((await page.locator('#prev-asunto').textContent())?.trim()).not.toBe('');
      // The rendered HTML with the sample data, in its sandboxed frame.
      await expect
        .poll(() => page.frameLocator('iframe.mail').locator('body').textContent(), { timeout: 15_000 })
        .toContain('Universidad Nacional de Río Cuarto');
      await check('plantilla');
      await page.fill('#destinatario', 'prueba-plantilla@example.com');
      await submit('#probar');
      await page.locator('#resultado', { hasText: 'Correo de prueba enviado' }).waitFor({ timeout: 60_000 });
      await waitFor(
        async () => {
          const res = await fetch(`${sys.full!.smtpApiUrl}/api/messages?to=prueba-plantilla@example.com`);
          return ((await res.json()) as { count: number }).count >= 1;
        },
        { what: 'the test e-mail in the SMTP sink', timeoutMs: 30_000 },
      );
    });

    it('sets the retention of Tareas and Logs, carried by the purge task it configures', async () => {
      await page.goto(url('/admin/alumnos/configuracion/'));
      await page.fill('#retencion_dias', '120');
      await submit('#guardar-retencion');
      await page.locator('#resultado', { hasText: '120 días' }).waitFor();
      const res = await fetch(
        `${sys.full!.schedulerUrl}/lucy.scheduler.v1.SchedulerService/ListPeriodicTasks`,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${sys.rpcToken}` },
          body: JSON.stringify({ task: 'mantenimiento.tasks.purgar_tareas_antiguas' }),
        },
      );
      const tasks = ((await res.json()) as { periodicTasks: { kwargs?: { retentionDays?: number } }[] })
        .periodicTasks;
      expect(tasks.length).toBeGreaterThan(0);
      for (const t of tasks) expect(t.kwargs?.retentionDays).toBe(120);
      // The browser's own check stops a retention below 1 day before it is posted.
      expect(await page.getAttribute('#retencion_dias', 'min')).toBe('1');
    });

    /** identity-teams' settings as its RPC answers them. */
    const identity = async () => {
      const res = await fetch(
        `${sys.full!.identityUrl}/lucy.identity.v1.IdentityService/GetConfiguracionIdentidad`,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${sys.rpcToken}` },
          body: '{}',
        },
      );
      return ((await res.json()) as { configuracion: Record<string, unknown> }).configuracion;
    };

    it('edits the batch limit and the UPN prefix identity-teams uses', async () => {
      await page.goto(url('/admin/alumnos/configuracion/'));
      const before = await identity();
      expect(await page.inputValue('#lote_maximo')).toBe(String(before.loteMaximo));
      expect(await page.inputValue('#prefijo_upn')).toBe(before.prefijoUpn);
      // An invalid prefix: named in Spanish, what was typed kept, nothing stored.
      await page.fill('#lote_maximo', '30');
      await page.fill('#prefijo_upn', 'alu mno');
      await submit('#guardar-cuentas');
      await page.locator('#errores li[data-field="prefijo_upn"]').waitFor();
      expect(await page.locator('#errores').textContent()).toContain('caracteres no permitidos');
      expect(await page.inputValue('#prefijo_upn')).toBe('alu mno');
      expect(await page.inputValue('#lote_maximo')).toBe('30');
      expect((await identity()).prefijoUpn).toBe(before.prefijoUpn);
      await check('configuracion-cuentas-error');
      // Valid: stored by identity-teams.
      await page.fill('#prefijo_upn', 'test-b');
      await submit('#guardar-cuentas');
      await page.locator('#resultado', { hasText: 'Configuración de cuentas guardada' }).waitFor();
      expect(await identity()).toMatchObject({
        loteMaximo: 30,
        prefijoUpn: 'test-b',
        actualizadoPor: 'admin',
      });
      await page.reload();
      expect(await page.inputValue('#lote_maximo')).toBe('30');
      await check('configuracion-cuentas');
      // Back to the deployment's values for the other tests.
      await page.fill('#lote_maximo', String(before.loteMaximo));
      await page.fill('#prefijo_upn', String(before.prefijoUpn));
      await submit('#guardar-cuentas');
      await page.locator('#resultado', { hasText: 'Configuración de cuentas guardada' }).waitFor();
    });

    it('replaces each secret write-only in «Credenciales»: «configurado», never shown, audited as «reemplazado»', async () => {
      const full = sys.full!;
      const estado = (id: string) => page.locator(`#estado-${id}`).getAttribute('data-estado');
      await page.goto(url('/admin/alumnos/configuracion/'));
      // From the deployment's variables at first; the test system sets no SMTP user.
      expect(await estado('graph_client_secret')).toBe('configurado (despliegue)');
      expect(await estado('moodle_token')).toBe('configurado (despliegue)');
      expect(await estado('sial_password')).toBe('configurado (despliegue)');
      expect(await page.locator('#sial-usuario-en-uso').textContent()).toBe(full.sialUser);
      expect(await estado('smtp_password')).toBe('sin configurar');
      for (const id of ['graph_client_secret', 'moodle_token', 'sial_password', 'smtp_password']) {
        expect(await page.getAttribute(`#${id}`, 'type'), id).toBe('password');
        expect(await page.getAttribute(`#${id}`, 'autocomplete'), id).toBe('new-password');
        expect(await page.inputValue(`#${id}`), id).toBe('');
      }
      expect(await page.inputValue('#sial_usuario')).toBe(full.sialUser);
      await check('configuracion-credenciales-inicial');

      // SIAL's password is rotated (the fake takes only the new pair from now on). identity-teams refuses a secret
      // with spaces: named beside its field, while ingest-sial saves SIAL's new pair.
      const sialUser = 'lucy-sial';
      const sialPassword = `sial-rotada-${Date.now()}`;
      const rotated = await fetch(`${full.sialUrl}/__fake/credentials`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user: sialUser, password: sialPassword }),
      });
      expect(rotated.status).toBe(200);
      const invalido = `secreto con espacios ${Date.now()}`;
      await page.fill('#graph_client_secret', invalido);
      await page.fill('#sial_usuario', sialUser);
      await page.fill('#sial_password', sialPassword);
      await submit('#guardar-credenciales');
      await page.locator('#errores li[data-field="graph_client_secret"]').waitFor();
      const graphErr = page.locator('li[data-credencial="graph_client_secret"] .field-error');
      expect(await graphErr.textContent()).toContain('secreto de cliente de Graph');
      const resultado = (await page.locator('#resultado').textContent()) ?? '';
      expect(resultado).toContain('Reemplazado: usuario y contraseña de SIAL');
      expect(resultado).toContain('No se guardó lo de identity-teams');
      await expect.poll(() => estado('sial_password')).toBe('configurado (guardado en Lucy)');
      expect(await page.locator('#sial-usuario-en-uso').textContent()).toBe(sialUser);
      expect(await estado('graph_client_secret')).toBe('configurado (despliegue)');
      expect(await page.inputValue('#graph_client_secret')).toBe('');
      expect(await page.inputValue('#sial_password')).toBe('');
      for (const secret of [invalido, sialPassword]) expect(await page.content()).not.toContain(secret);
      await check('configuracion-credenciales-error');

      // A password without its user is refused before any service is asked.
      await page.fill('#smtp_password', 'sin-usuario-1234');
      await submit('#guardar-credenciales');
      await page.locator('#errores li[data-field="smtp_usuario"]').waitFor();
      expect(await page.inputValue('#smtp_password')).toBe('');
      expect(await estado('smtp_password')).toBe('sin configurar');

      // The rest: each «configurado (guardado en Lucy)»; the values are the ones the fakes take, so the rest of
      // the system keeps working with them.
      const smtpUser = 'lucy-smtp';
      const smtpPassword = `smtp-${Date.now()}-clave`;
      await page.fill('#graph_client_secret', full.graphClientSecret);
      await page.fill('#moodle_token', full.moodleToken);
      await page.fill('#smtp_usuario', smtpUser);
      await page.fill('#smtp_password', smtpPassword);
      await submit('#guardar-credenciales');
      await page
        .locator('#resultado', {
          hasText: 'Reemplazado: secreto de cliente de Graph, token de Moodle, usuario y contraseña SMTP.',
        })
        .waitFor();
      expect(await page.locator('#errores').count()).toBe(0);
      for (const id of ['graph_client_secret', 'moodle_token', 'sial_password', 'smtp_password'])
        await expect.poll(() => estado(id), { message: id }).toBe('configurado (guardado en Lucy)');
      expect(await page.locator('#smtp-usuario-en-uso').textContent()).toBe(smtpUser);
      const secrets = [full.graphClientSecret, full.moodleToken, sialPassword, smtpPassword];
      for (const id of ['graph_client_secret', 'moodle_token', 'smtp_password'])
        expect(await page.inputValue(`#${id}`), id).toBe('');
      await page.reload();
      const html = await page.content();
      for (const secret of secrets) expect(html).not.toContain(secret);
      expect(JSON.stringify(await identity())).not.toContain(full.graphClientSecret);
      expect(await identity()).toMatchObject({
        graphClientSecretConfigurado: true,
        graphClientSecretOrigen: 'personal',
        moodleTokenOrigen: 'personal',
      });
      await check('configuracion-credenciales');

      // ingest-sial reads SIAL with the pair just saved (the deployment's one is refused by the fake now).
      await page.goto(url('/admin/alumnos/ingesta/'));
      await page.selectOption('#tipo', 'aspirantes');
      await submit('#simular');
      await page.locator('#plan, [role="alert"]:not(.service-down)').first().waitFor({ timeout: 60_000 });
      expect(await page.locator('#plan').count(), (await page.locator('main').textContent()) ?? '').toBe(1);
      expect(
        Number((await page.locator('#plan [data-k="recibidos"] .n').textContent())?.replace(/\./g, '')),
      ).toBeGreaterThan(0);

      // The notifier signs in to the relay with the user just saved.
      await page.goto(url('/admin/plantillas/credenciales/'));
      await page.fill('#destinatario', 'credenciales-smtp@example.com');
      await submit('#probar');
      await page.locator('#resultado', { hasText: 'Correo de prueba enviado' }).waitFor({ timeout: 60_000 });
      const sent = await waitFor(
        async () => {
          const res = await fetch(`${full.smtpApiUrl}/api/messages?to=credenciales-smtp@example.com`);
          return ((await res.json()) as { messages: { id: string }[] }).messages[0];
        },
        { what: 'the test e-mail in the SMTP sink', timeoutMs: 30_000 },
      );
      const message = (await (await fetch(`${full.smtpApiUrl}/api/messages/${sent.id}`)).json()) as {
        authUser: string | null;
      };
      expect(message.authUser).toBe(smtpUser);

      // The audit trail says which were replaced, never a value.
      await page.goto(url('/admin/auditoria/?accion=configuracion.credenciales'));
      const audit = (await page.locator('#auditoria').textContent()) ?? '';
      expect(audit).toContain('configuracion.credenciales');
      for (const name of ['graph_client_secret', 'moodle_token', 'sial_password', 'smtp_password'])
        expect(audit, name).toMatch(new RegExp(`"${name}":"reemplazado"`));
      for (const secret of [...secrets, invalido]) expect(await page.content()).not.toContain(secret);

      // «Volver al del despliegue»: the stored Graph secret and SMTP pair are forgotten, each service uses the
      // deployment's again (the Graph fake takes the deployment's secret; the test system sets no SMTP user).
      await page.goto(url('/admin/alumnos/configuracion/'));
      expect(await page.locator('#restablecer-moodle_token').count()).toBe(1);
      // Enter in a secret's field submits «Reemplazar credenciales», never a «Volver…» button (another form's).
      await page.fill('#moodle_token', full.moodleToken);
      await Promise.all([
        page.waitForResponse((r) => r.request().method() === 'POST' && r.url().includes('?/credenciales')),
        page.press('#moodle_token', 'Enter'),
      ]);
      await page.locator('#resultado', { hasText: 'Reemplazado: token de Moodle.' }).waitFor();
      expect(await estado('graph_client_secret')).toBe('configurado (guardado en Lucy)');
      await submit('#restablecer-graph_client_secret');
      await page
        .locator('#resultado', {
          hasText: 'Secreto de cliente de Graph: se vuelve a usar el del despliegue.',
        })
        .waitFor();
      await expect.poll(() => estado('graph_client_secret')).toBe('configurado (despliegue)');
      expect(await page.locator('#restablecer-graph_client_secret').count()).toBe(0);
      await submit('#restablecer-smtp');
      await page
        .locator('#resultado', {
          hasText: 'Usuario y contraseña SMTP olvidados: el despliegue no define unos',
        })
        .waitFor();
      await expect.poll(() => estado('smtp_password')).toBe('sin configurar');
      expect(await identity()).toMatchObject({
        graphClientSecretOrigen: 'despliegue',
        moodleTokenOrigen: 'personal',
      });
      await page.goto(url('/admin/auditoria/?accion=configuracion.credenciales'));
      const restablecidos = (await page.locator('#auditoria').textContent()) ?? '';
      expect(restablecidos).toContain('"graph_client_secret":"restablecido (despliegue)"');
      expect(restablecidos).toContain('"smtp":"restablecido (despliegue)"');
    });

    it('lets a lector read the pages but answers 403 to their actions, also when posted by hand', async () => {
      await login('lectora', 'secreto-de-lectura-1');
      await page.goto(url('/admin/django_celery_beat/periodictask/'));
      await page.locator('#tareas-periodicas tr[data-name="Ingesta horaria de preinscriptos"]').waitFor();
      expect(await page.getByRole('button', { name: /Ejecutar ahora/ }).count()).toBe(0);
      const post = async (path: string, body: string) =>
        fetch(url(path), {
          method: 'POST',
          headers: {
            origin: sys.webUrl,
            cookie: `lucy_session=${(await ctx.cookies()).find((c) => c.name === 'lucy_session')?.value ?? ''}`,
            'content-type': 'application/x-www-form-urlencoded',
          },
          body,
          redirect: 'manual',
        });
      expect((await post('/admin/django_celery_beat/periodictask/?/ejecutar', 'id=x')).status).toBe(403);
      expect((await post('/admin/alumnos/configuracion/?/guardar', '')).status).toBe(403);
      const otro = 'moodle-token-de-lectora-0123456789';
      expect((await post('/admin/alumnos/configuracion/?/credenciales', `moodle_token=${otro}`)).status).toBe(
        403,
      );
      expect(
        (await post('/admin/alumnos/configuracion/?/restablecer', 'credencial=graph_client_secret')).status,
      ).toBe(403);
      expect((await post('/admin/alumnos/ingesta/?/ejecutar', 'tipo=aspirantes')).status).toBe(403);
      expect((await post('/admin/plantillas/credenciales/?/guardar', 'asunto=x')).status).toBe(403);
      expect((await post('/admin/django_celery_beat/crontabschedule/?/guardar', 'minute=0')).status).toBe(
        403,
      );
      await page.goto(url('/admin/alumnos/configuracion/'));
      expect(await page.locator('#guardar').count()).toBe(0);
      // The states are read; no field to replace a secret, no button.
      expect(await page.locator('#estado-moodle_token').getAttribute('data-estado')).toBe(
        'configurado (guardado en Lucy)',
      );
      for (const id of [
        'graph_client_secret',
        'moodle_token',
        'sial_password',
        'smtp_password',
        'sial_usuario',
      ])
        expect(await page.locator(`#${id}`).count(), id).toBe(0);
      expect(await page.locator('#guardar-credenciales').count()).toBe(0);
      expect(await page.locator('button[form="restablecer-credencial"]').count()).toBe(0);
      await login('operador', 'secreto-de-operacion-1');
      expect((await post('/admin/alumnos/configuracion/?/guardar', '')).status).toBe(403);
      expect(
        (await post('/admin/alumnos/configuracion/?/restablecer', 'credencial=moodle_token')).status,
      ).toBe(403);
      expect((await post('/admin/alumnos/configuracion/?/credenciales', `moodle_token=${otro}`)).status).toBe(
        403,
      );
      expect(
        (
          await post(
            '/admin/alumnos/configuracion/?/credenciales',
            'smtp_usuario=x&smtp_password=otra-clave-1',
          )
        ).status,
      ).toBe(403);
      await page.goto(url('/admin/alumnos/configuracion/'));
      expect(await page.locator('#guardar-credenciales').count()).toBe(0);
      // Nothing was replaced by the refused posts: the last change is still the admin's.
      expect(await identity()).toMatchObject({ actualizadoPor: 'admin', moodleTokenOrigen: 'personal' });
    });

    it('records every change in the audit trail', async () => {
      await login('admin', ADMIN_PASSWORD);
      await page.goto(url('/admin/auditoria/'));
      const text = (await page.locator('main').textContent()) ?? '';
      for (const action of [
        'programacion.crear',
        'tarea_periodica.crear',
        'tarea_periodica.ejecutar',
        'tarea_periodica.deshabilitar',
        'tarea_periodica.eliminar',
        'configuracion.modificar',
        'configuracion.retencion',
        'configuracion.cuentas',
        'configuracion.credenciales',
        'ingesta.simular',
        'ingesta.ejecutar',
        'plantilla.email_prueba',
      ])
        expect(text, action).toContain(action);
      for (const kind of ['solarschedule', 'clockedschedule']) {
        await page.goto(url(`/admin/django_celery_beat/${kind}/`));
        await check(kind);
      }
    });
  },
);
