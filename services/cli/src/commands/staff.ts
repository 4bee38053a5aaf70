import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';

/** The admin's own command line (web/src/lib/server/cli.ts): the one place staff accounts are written from a shell. */
const WEB_CLI = join('src', 'lib', 'server', 'cli.ts');
const ROLES = ['admin', 'operador', 'lector'] as const;

/**
 * The web package: LUCY_WEB_DIR, else the `web/` of the checkout this CLI runs from (found by walking up from
 * this file, which is src/commands/ from source and dist/ from the bundle).
 */
export function webDir(): string {
  if (process.env.LUCY_WEB_DIR) return resolve(process.env.LUCY_WEB_DIR);
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'web', WEB_CLI))) return join(dir, 'web');
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new Error(
    'No se encontró el admin (web/src/lib/server/cli.ts): defina LUCY_WEB_DIR con la carpeta del paquete web.',
  );
}

/**
 * Runs the web's staff script with `args` as a child process: the same MikroORM schema, migrations, argon2id
 * hashing and audit trail as the admin, rather than a second copy of them here. The password is never an
 * argument (it would show in the process list): the child reads LUCY_ADMIN_PASSWORD or its stdin, inherited.
 */
async function runWebStaff(args: string[]): Promise<void> {
  const web = webDir();
  const require = createRequire(import.meta.url);
  const tsx = join(dirname(require.resolve('tsx/package.json')), 'dist', 'cli.mjs');
  const code = await new Promise<number>((done, fail) => {
    const child = spawn(process.execPath, [tsx, join(web, WEB_CLI), ...args], { cwd: web, stdio: 'inherit' });
    child.on('error', fail);
    child.on('exit', (status, signal) => done(status ?? (signal ? 1 : 0)));
  });
  // The child already printed its Spanish message (or error) to stdout/stderr; only its exit status is passed on.
  if (code !== 0) process.exit(code);
}

// The user name is checked by the web's createStaff (one rule, one Spanish message): passed on as given.
const userArg = (u: string) => u;

/** Registers `lucy staff crear-admin|crear-usuario|resetear-password|migrar`: the admin's staff accounts. */
export function register(program: Command): void {
  const staff = program
    .command('staff')
    .description(
      'cuentas del personal del admin web (contraseña por LUCY_ADMIN_PASSWORD o la entrada estándar; DATABASE_URL)',
    );

  staff
    .command('crear-admin <usuario>')
    .description('crea un usuario con rol admin (el primero, o uno más)')
    .option('--si-no-hay-admin', 'no hace nada si ya hay un administrador activo')
    .action(async (usuario: string, o: { siNoHayAdmin?: boolean }) => {
      await runWebStaff(['crear-admin', userArg(usuario), ...(o.siNoHayAdmin ? ['--si-no-hay-admin'] : [])]);
    });

  staff
    .command('crear-usuario <usuario>')
    .description('crea un usuario con el rol dado')
    .requiredOption('--rol <rol>', `rol: ${ROLES.join(', ')}`)
    .action(async (usuario: string, o: { rol: string }) => {
      if (!(ROLES as readonly string[]).includes(o.rol))
        throw new Error(`Rol: "${o.rol}" no es válido (${ROLES.join(', ')})`);
      await runWebStaff(['crear-usuario', userArg(usuario), `--rol=${o.rol}`]);
    });

  staff
    .command('resetear-password <usuario>')
    .description('cambia la contraseña de un usuario y cierra sus sesiones')
    .action(async (usuario: string) => {
      await runWebStaff(['resetear-password', userArg(usuario)]);
    });

  staff
    .command('migrar')
    .description('aplica las migraciones del esquema del admin web')
    .action(async () => {
      await runWebStaff(['migrate']);
    });
}
