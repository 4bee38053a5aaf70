import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { MikroORM } from '@mikro-orm/postgresql';
import { createTestDatabase, type TestDatabase } from '@lucy/testkit';
import { createAuth, hashToken, StaffError, type Auth } from './auth.js';
import { createWebOrm, migrateWeb } from './db/orm.js';

describe('staff accounts, login and sessions against the real Postgres', () => {
  let db: TestDatabase;
  let orm: MikroORM;
  let now: number;
  let auth: Auth;
  const clock = () => new Date(now);
  const knex = () => orm.em.getKnex();
  const sql = async <T>(query: string): Promise<T[]> => (await knex().raw<{ rows: T[] }>(query)).rows;

  beforeAll(async () => {
    db = await createTestDatabase('web_auth_test');
    orm = await createWebOrm(db.url, 4);
    await migrateWeb(orm);
  });
  afterAll(async () => {
    await orm?.close(true);
    await db?.drop();
  });
  beforeEach(async () => {
    await knex().raw(
      'truncate web.staff_session, web.login_attempt, web.audit_entry, web.staff_user cascade',
    );
    now = Date.parse('2026-12-07T12:00:00Z');
    auth = createAuth({ orm, clock, idleMinutes: 30, absoluteHours: 12 });
  });

  const login = (username: string, password: string, ip = '10.0.0.1') =>
    auth.login({ username, password, ip });

  it('stores an argon2id hash, never the password, and logs in with the right password only', async () => {
    await auth.createStaff({ username: 'Ana.Perez', role: 'operador', password: 'una-clave-larga-1' });
    const [row] = await sql<{ password_hash: string }>(`select password_hash from web.staff_user`);
    expect(row!.password_hash).toMatch(/^\$argon2id\$/);
    expect(row!.password_hash).not.toContain('una-clave-larga-1');
    expect(await login('ana.perez', 'otra-clave-larga')).toMatchObject({ ok: false, reason: 'invalid' });
    const ok = await login('ANA.PEREZ', 'una-clave-larga-1');
    expect(ok).toMatchObject({ ok: true, staff: { username: 'ana.perez', role: 'operador' } });
  });

  it('refuses short passwords, passwords containing the user name, bad roles and duplicate users', async () => {
    await expect(auth.createStaff({ username: 'ana', role: 'admin', password: 'corta' })).rejects.toThrow(
      /al menos 12/,
    );
    await expect(
      auth.createStaff({ username: 'ana', role: 'admin', password: 'ana-es-la-clave' }),
    ).rejects.toThrow(/nombre de usuario/);
    await expect(
      auth.createStaff({ username: 'ana', role: 'root' as never, password: 'una-clave-larga-1' }),
    ).rejects.toThrow(StaffError);
    await auth.createStaff({ username: 'ana', role: 'lector', password: 'una-clave-larga-1' });
    await expect(
      auth.createStaff({ username: 'ANA', role: 'lector', password: 'una-clave-larga-2' }),
    ).rejects.toThrow(/Ya existe/);
  });

  it('keeps only the SHA-256 of the session id, and logout ends the session on the server', async () => {
    await auth.createStaff({ username: 'beto', role: 'lector', password: 'una-clave-larga-1' });
    const r = await login('beto', 'una-clave-larga-1');
    if (!r.ok) throw new Error('login failed');
    const ids = (await sql<{ id_hash: string }>(`select id_hash from web.staff_session`)).map(
      (x) => x.id_hash,
    );
    expect(ids).toEqual([hashToken(r.token)]);
    expect(ids[0]).not.toBe(r.token);
    expect(await auth.validate(r.token)).toMatchObject({ username: 'beto' });
    await auth.logout(r.token);
    expect(await auth.validate(r.token)).toBeUndefined();
    expect(await auth.validate('inventado')).toBeUndefined();
  });

  it('ends a session idle for longer than the idle limit, and keeps one that is used', async () => {
    await auth.createStaff({ username: 'beto', role: 'lector', password: 'una-clave-larga-1' });
    const r = await login('beto', 'una-clave-larga-1');
    if (!r.ok) throw new Error('login failed');
    now += 25 * 60_000;
    expect(await auth.validate(r.token)).toBeDefined();
    now += 25 * 60_000; // 50 min after login, 25 after the last use
    expect(await auth.validate(r.token)).toBeDefined();
    now += 31 * 60_000;
    expect(await auth.validate(r.token)).toBeUndefined();
    expect(await sql(`select count(*)::int n from web.staff_session`)).toEqual([{ n: 0 }]);
  });

  it('ends a session after the absolute limit however active it is', async () => {
    await auth.createStaff({ username: 'beto', role: 'lector', password: 'una-clave-larga-1' });
    const r = await login('beto', 'una-clave-larga-1');
    if (!r.ok) throw new Error('login failed');
    // Used every 20 minutes: alive up to exactly 12 h, gone 20 minutes later.
    for (let i = 0; i < 37; i++) {
      now += 20 * 60_000;
      const s = await auth.validate(r.token);
      if (i < 36) expect(s, `after ${(i + 1) * 20} min`).toBeDefined();
      else expect(s).toBeUndefined();
    }
  });

  it('throttles an account after five failures, even with the right password, and frees it after the window', async () => {
    await auth.createStaff({ username: 'carla', role: 'lector', password: 'una-clave-larga-1' });
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await login('carla', `mala-${i}`, `10.0.1.${i}`));
    expect(results.slice(0, 4).map((r) => !r.ok && r.reason)).toEqual([
      'invalid',
      'invalid',
      'invalid',
      'invalid',
    ]);
    expect(results[4]).toMatchObject({ ok: false, reason: 'throttled' });
    expect(!results[4]!.ok && results[4]!.message).toMatch(/Demasiados intentos/);
    expect(await login('carla', 'una-clave-larga-1', '10.9.9.9')).toMatchObject({
      ok: false,
      reason: 'throttled',
    });
    now += 16 * 60_000;
    expect(await login('carla', 'una-clave-larga-1')).toMatchObject({ ok: true });
  });

  it('throttles a client address after twenty failures across accounts, without locking other addresses', async () => {
    await auth.createStaff({ username: 'dario', role: 'lector', password: 'una-clave-larga-1' });
    for (let i = 0; i < 20; i++) await login(`nadie${i}`, 'x', '10.0.0.66');
    expect(await login('dario', 'una-clave-larga-1', '10.0.0.66')).toMatchObject({ reason: 'throttled' });
    expect(await login('dario', 'una-clave-larga-1', '10.0.0.67')).toMatchObject({ ok: true });
  });

  it('a successful login starts the account count afresh', async () => {
    await auth.createStaff({ username: 'eva', role: 'lector', password: 'una-clave-larga-1' });
    for (let i = 0; i < 4; i++) await login('eva', 'mala');
    expect(await login('eva', 'una-clave-larga-1')).toMatchObject({ ok: true });
    for (let i = 0; i < 4; i++) expect(await login('eva', 'mala')).toMatchObject({ reason: 'invalid' });
  });

  it('never removes the last active admin, by role change or by disabling, even when two try at once', async () => {
    const a = await auth.createStaff({ username: 'admin1', role: 'admin', password: 'una-clave-larga-1' });
    const b = await auth.createStaff({ username: 'admin2', role: 'admin', password: 'una-clave-larga-1' });
    const outcomes = await Promise.allSettled([auth.setRole(a.id, 'lector'), auth.setDisabled(b.id, true)]);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    const rejected = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
    expect(String(rejected.reason)).toMatch(/último administrador/);
    expect(await auth.activeAdmins()).toBe(1);
  });

  it('ends the sessions of an account that is disabled or gets a new password', async () => {
    const s = await auth.createStaff({ username: 'fede', role: 'operador', password: 'una-clave-larga-1' });
    const r1 = await login('fede', 'una-clave-larga-1');
    if (!r1.ok) throw new Error('login failed');
    await auth.resetPassword(s.id, 'otra-clave-larga-2');
    expect(await auth.validate(r1.token)).toBeUndefined();
    expect(await login('fede', 'una-clave-larga-1')).toMatchObject({ ok: false });
    const r2 = await login('fede', 'otra-clave-larga-2');
    if (!r2.ok) throw new Error('login failed');
    await auth.setDisabled(s.id, true);
    expect(await auth.validate(r2.token)).toBeUndefined();
    expect(await login('fede', 'otra-clave-larga-2')).toMatchObject({ ok: false, reason: 'invalid' });
  });
});
