// The admin's own command line: `npm run -s staff --prefix web -- crear-admin <usuario>`, `crear-usuario <usuario>
// --rol=…`, `resetear-password <usuario>` (passwords from LUCY_ADMIN_PASSWORD or stdin, never an argument, which
// would show in the process list), and `migrate`.
import { createAudit } from './audit.js';
import { createAuth, StaffError } from './auth.js';
import { createWebOrm, migrateWeb } from './db/orm.js';
import { isRole } from './roles.js';

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) {
    process.stderr.write('Contraseña (mín. 12 caracteres, se lee de la entrada estándar): ');
  }
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const url = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/lucy';
  const orm = await createWebOrm(url, 2);
  try {
    await migrateWeb(orm);
    if (command === 'migrate') {
      console.log('web: schema up to date');
      return 0;
    }
    if (command === 'crear-admin' || command === 'crear-usuario') {
      const username = rest.find((a) => !a.startsWith('--'));
      const roleArg = rest.find((a) => a.startsWith('--rol='))?.slice(6) ?? 'admin';
      const role = command === 'crear-admin' ? 'admin' : roleArg;
      if (!username || !isRole(role)) {
        console.error(
          'Uso: staff crear-admin <usuario> | staff crear-usuario <usuario> --rol=admin|operador|lector',
        );
        return 2;
      }
      const ifMissing = rest.includes('--si-no-hay-admin');
      const auth = createAuth({ orm, idleMinutes: 30, absoluteHours: 12 });
      if (ifMissing && (await auth.activeAdmins()) > 0) {
        console.log('Ya hay un administrador; no se crea otro.');
        return 0;
      }
      const password = process.env.LUCY_ADMIN_PASSWORD || (await readStdin());
      const staff = await auth.createStaff({ username, role, password, nombre: '' });
      await createAudit(orm).record({
        actor: 'sistema',
        ip: '',
        action: 'usuario.crear',
        target: staff.username,
        detalles: { rol: role, origen: 'línea de comandos' },
      });
      console.log(`Usuario "${staff.username}" creado con rol ${role}.`);
      return 0;
    }
    if (command === 'resetear-password') {
      const username = rest.find((a) => !a.startsWith('--'))?.toLowerCase();
      const auth = createAuth({ orm, idleMinutes: 30, absoluteHours: 12 });
      const staff = (await auth.listStaff()).find((s) => s.username === username);
      if (!staff) {
        console.error(`No existe el usuario "${username ?? ''}".`);
        return 1;
      }
      await auth.resetPassword(staff.id, process.env.LUCY_ADMIN_PASSWORD || (await readStdin()));
      await createAudit(orm).record({
        actor: 'sistema',
        ip: '',
        action: 'usuario.resetear_password',
        target: staff.username,
        detalles: { origen: 'línea de comandos' },
      });
      console.log(`Contraseña de "${staff.username}" cambiada; sus sesiones se cerraron.`);
      return 0;
    }
    console.error(
      'Comandos: migrate | crear-admin <usuario> | crear-usuario <usuario> --rol=… | resetear-password <usuario>',
    );
    return 2;
  } catch (err) {
    if (err instanceof StaffError) {
      console.error(err.message);
      return 1;
    }
    throw err;
  } finally {
    await orm.close(true);
  }
}

process.exitCode = await main(process.argv.slice(2));
