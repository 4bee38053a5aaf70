/**
 * `lucy staff …` as a real process (bin/lucy.js) against a database of its own: the staff account lands in the
 * admin's `web` schema with an argon2id hash and an audit entry, exactly as the web's own script writes it.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '@lucy/testkit';

const CLI = fileURLToPath(new URL('..', import.meta.url));
const PASSWORD = 'una-clave-bien-larga-2026';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `lucy <args>` with DATABASE_URL set; `input` is written to its stdin (then closed). */
function lucy(db: TestDatabase, args: string[], opts: { env?: Record<string, string>; input?: string } = {}) {
  return new Promise<Run>((done, fail) => {
    const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: db.url, ...opts.env };
    if (!opts.env?.LUCY_ADMIN_PASSWORD) delete env.LUCY_ADMIN_PASSWORD;
    const child = spawn(process.execPath, ['bin/lucy.js', ...args], { cwd: CLI, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', fail);
    child.on('close', (code) => done({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}

describe('lucy staff', () => {
  let db: TestDatabase;
  let client: pg.Client;

  beforeAll(async () => {
    db = await createTestDatabase('lucy_cli_staff');
    client = new pg.Client({ connectionString: db.url });
    await client.connect();
  }, 60_000);

  afterAll(async () => {
    await client?.end();
    await db?.drop();
  });

  const user = async (username: string) =>
    (
      await client.query<{ role: string; password_hash: string; disabled: boolean }>(
        'select role, password_hash, disabled from web.staff_user where username = $1',
        [username],
      )
    ).rows[0];

  it('crear-admin creates an admin with an argon2id hash and an audit entry; the password is never printed', async () => {
    const r = await lucy(db, ['staff', 'crear-admin', 'Directora'], {
      env: { LUCY_ADMIN_PASSWORD: PASSWORD },
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usuario "directora" creado con rol admin.');
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
    const row = await user('directora');
    expect(row?.role).toBe('admin');
    expect(row?.disabled).toBe(false);
    expect(row?.password_hash).toMatch(/^\$argon2id\$/);
    expect(row?.password_hash).not.toContain(PASSWORD);
    const audit = await client.query<{ actor: string; action: string }>(
      "select actor, action from web.audit_entry where target = 'directora'",
    );
    expect(audit.rows).toEqual([{ actor: 'sistema', action: 'usuario.crear' }]);
  }, 120_000);

  it('--si-no-hay-admin leaves things alone when an active admin exists', async () => {
    const r = await lucy(db, ['staff', 'crear-admin', 'otra', '--si-no-hay-admin'], {
      env: { LUCY_ADMIN_PASSWORD: PASSWORD },
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Ya hay un administrador; no se crea otro.');
    expect(await user('otra')).toBeUndefined();
  }, 120_000);

  it('crear-usuario reads the password from stdin and sets the role', async () => {
    const r = await lucy(db, ['staff', 'crear-usuario', 'mesa.entradas', '--rol', 'lector'], {
      input: `${PASSWORD}\n`,
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usuario "mesa.entradas" creado con rol lector.');
    expect((await user('mesa.entradas'))?.role).toBe('lector');
  }, 120_000);

  it('rejects a bad role, a short password and a duplicate with a Spanish message and exit code != 0', async () => {
    const badRole = await lucy(db, ['staff', 'crear-usuario', 'x-user', '--rol', 'jefe'], {
      env: { LUCY_ADMIN_PASSWORD: PASSWORD },
    });
    expect(badRole.code).not.toBe(0);
    expect(badRole.stderr).toContain('Rol: "jefe" no es válido');

    const short = await lucy(db, ['staff', 'crear-admin', 'corto'], { env: { LUCY_ADMIN_PASSWORD: 'abc' } });
    expect(short.code).toBe(1);
    expect(short.stderr).toMatch(/contraseña/i);
    expect(await user('corto')).toBeUndefined();

    const dup = await lucy(db, ['staff', 'crear-admin', 'directora'], {
      env: { LUCY_ADMIN_PASSWORD: PASSWORD },
    });
    expect(dup.code).toBe(1);
    expect(dup.stderr).not.toBe('');
  }, 180_000);

  it('resetear-password changes the hash of an existing user and refuses an unknown one', async () => {
    const before = (await user('mesa.entradas'))!.password_hash;
    const r = await lucy(db, ['staff', 'resetear-password', 'mesa.entradas'], {
      env: { LUCY_ADMIN_PASSWORD: 'otra-clave-bien-larga-2027' },
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Contraseña de "mesa.entradas" cambiada');
    const after = (await user('mesa.entradas'))!.password_hash;
    expect(after).toMatch(/^\$argon2id\$/);
    expect(after).not.toBe(before);

    const unknown = await lucy(db, ['staff', 'resetear-password', 'nadie'], {
      env: { LUCY_ADMIN_PASSWORD: PASSWORD },
    });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('No existe el usuario "nadie".');
  }, 120_000);
});
