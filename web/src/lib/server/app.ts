import type { MikroORM } from '@mikro-orm/postgresql';
import { createAudit, type Audit } from './audit.js';
import { createAuth, type Auth } from './auth.js';
import { loadConfig, type WebConfig } from './config.js';
import { createWebOrm, migrateWeb } from './db/orm.js';
import { createServices, type Services } from './services.js';

/** Everything the server side of the admin uses, created once per process. */
export interface WebApp {
  config: WebConfig;
  orm: MikroORM;
  auth: Auth;
  audit: Audit;
  services: Services;
}

let app: Promise<WebApp> | undefined;

/** Opens the database, applies migrations (MIGRATE_ON_START, default on) and creates the bootstrap admin. */
export async function startApp(env: Record<string, string | undefined> = process.env): Promise<WebApp> {
  const config = loadConfig(env);
  const orm = await createWebOrm(config.databaseUrl);
  if (config.migrateOnStart) await migrateWeb(orm);
  const auth = createAuth({
    orm,
    idleMinutes: config.sessionIdleMinutes,
    absoluteHours: config.sessionAbsoluteHours,
  });
  const audit = createAudit(orm);
  if (config.bootstrap && (await auth.activeAdmins()) === 0) {
    const staff = await auth.createStaff({ ...config.bootstrap, role: 'admin', nombre: 'Administrador' });
    await audit.record({
      actor: 'sistema',
      ip: '',
      action: 'usuario.crear',
      target: staff.username,
      detalles: { rol: 'admin', origen: 'LUCY_ADMIN_BOOTSTRAP_USER' },
    });
  }
  const sweep = setInterval(() => void auth.sweep().catch(() => undefined), 10 * 60_000);
  sweep.unref();
  return { config, orm, auth, audit, services: createServices(config) };
}

/** The process-wide app, started on first use. */
export function getApp(): Promise<WebApp> {
  app ??= startApp().catch((err: unknown) => {
    app = undefined;
    throw err;
  });
  return app;
}
