import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { IdentityService, type CuentaExterna } from '@lucy/proto';
import { clientFor, type GlobalOptions } from '../context.js';
import { localTime, printObject, printRows } from '../output.js';

const actor = () => process.env.LUCY_USER ?? process.env.USER ?? 'cli';
const g = (cmd: Command) => cmd.optsWithGlobals<GlobalOptions>();
const identity = (cmd: Command) => clientFor(IdentityService, 'identity', g(cmd));
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The admin header of RevealPassword and held deletions, from LUCY_ADMIN_TOKEN. */
function adminHeaders(): { headers: Record<string, string> } {
  const token = process.env.LUCY_ADMIN_TOKEN ?? '';
  if (!token) throw new Error('Falta LUCY_ADMIN_TOKEN: esta operación requiere el rol de administrador.');
  return { headers: { 'lucy-admin-token': token } };
}

function checkIds(ids: string[], what = '<alumnos...>'): string[] {
  const bad = ids.find((id) => !UUID.test(id));
  if (bad) throw new Error(`${what}: "${bad}" no es un identificador válido`);
  return ids;
}

const when = (t: CuentaExterna['creadaEn']) => (t ? localTime(timestampDate(t)) : '');

function cuentaRow(c: CuentaExterna): Record<string, unknown> {
  return {
    alumno: c.alumnoId,
    upn: c.upn,
    estado: c.estado,
    licencia: c.licenciaAsignada ? c.licenciaSku : 'no',
    moodle: c.moodleId ? String(c.moodleId) : '',
    email: c.emailSolicitado ? 'pedido' : '',
    actualizada: when(c.actualizadaEn),
  };
}

/** Registers `lucy cuentas activar|crear|resetear|show|list|revelar|eliminar|retenidas`. */
export function register(program: Command): void {
  const cuentas = program
    .command('cuentas')
    .description('cuentas de Teams (Microsoft 365) y Moodle de los alumnos (identity-teams)');

  const enqueue = async (
    cmd: Command,
    taskName: string,
    ids: string[],
    extra: { forzar?: boolean; enviarEmail?: boolean; clave?: string },
  ) => {
    // Each run is a new request (a reset asked again on purpose is queued again); one with the same --clave is
    // a retry of the first, and what that one queued is not queued twice.
    const clave = extra.clave ?? randomUUID();
    if (!/^[\x21-\x7e]{8,128}$/.test(clave))
      throw new Error('--clave: entre 8 y 128 caracteres visibles, sin espacios');
    const res = await identity(cmd).enqueue(
      {
        alumnoIds: checkIds(ids),
        taskName,
        requestedBy: actor(),
        forzar: extra.forzar ?? false,
        enviarEmail: extra.enviarEmail ?? false,
      },
      { headers: { 'idempotency-key': clave } },
    );
    const rows = res.resultados.map((r) => ({
      alumno: r.alumnoId,
      estado: r.estado,
      tarea: r.taskId,
      motivo: r.motivo,
    }));
    printRows(rows, { json: g(cmd).json });
    if (!g(cmd).json) {
      const n = res.resultados.filter((r) => r.estado === 'programada').length;
      process.stdout.write(`📋 ${n} tareas programadas\n`);
    }
  };

  cuentas
    .command('activar <alumnos...>')
    .description('🚀 Activar Teams + Enviar Email (alumnos.tasks.activar_servicios_alumno; hasta 50 por vez)')
    .option('--forzar', 'repetir también para alumnos ya activados')
    .option(
      '--clave <clave>',
      'clave de idempotencia: repetido con la misma clave, no programa nada dos veces',
    )
    .action(async (ids: string[], o: { forzar?: boolean; clave?: string }, cmd: Command) =>
      enqueue(cmd, 'alumnos.tasks.activar_servicios_alumno', ids, o),
    );

  cuentas
    .command('crear <alumnos...>')
    .description('crea el usuario de Teams sin enviar e-mail (alumnos.tasks.crear_usuario_teams_async)')
    .option('--enviar-email', 'enviar también el e-mail de credenciales')
    .option('--forzar', 'repetir también para alumnos ya activados')
    .option(
      '--clave <clave>',
      'clave de idempotencia: repetido con la misma clave, no programa nada dos veces',
    )
    .action(
      async (ids: string[], o: { forzar?: boolean; enviarEmail?: boolean; clave?: string }, cmd: Command) =>
        enqueue(cmd, 'alumnos.tasks.crear_usuario_teams_async', ids, o),
    );

  cuentas
    .command('resetear <alumnos...>')
    .description(
      'resetea la contraseña y la envía por e-mail (alumnos.tasks.resetear_password_y_enviar_email)',
    )
    .option(
      '--clave <clave>',
      'clave de idempotencia: repetido con la misma clave, no programa nada dos veces',
    )
    .action(async (ids: string[], o: { clave?: string }, cmd: Command) =>
      enqueue(cmd, 'alumnos.tasks.resetear_password_y_enviar_email', ids, o),
    );

  cuentas
    .command('show <alumno>')
    .description('muestra la cuenta de un alumno')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const { cuenta } = await identity(cmd).getCuenta({ alumnoId: checkIds([id], '<alumno>')[0]! });
      if (!cuenta) throw new Error('El servicio no devolvió la cuenta.');
      printObject(
        {
          ...cuentaRow(cuenta),
          dni: cuenta.dni,
          graph_id: cuenta.graphId,
          moodle_username: cuenta.moodleUsername,
          contrasena_temporal_guardada: cuenta.tienePasswordTemporal ? 'sí (lucy cuentas revelar)' : 'no',
          creada: when(cuenta.creadaEn),
          activada: when(cuenta.activadaEn),
          eliminada: when(cuenta.eliminadaEn),
          ultimo_error: cuenta.ultimoError,
        },
        { json: g(cmd).json },
      );
    });

  cuentas
    .command('list')
    .description('lista las cuentas (más recientes primero)')
    .option('--estado <estado>', 'pendiente, activa, eliminada o fallida')
    .option('--search <texto>', 'busca por UPN o DNI')
    .option('--limite <n>', 'cantidad máxima', '50')
    .action(async (o: { estado?: string; search?: string; limite: string }, cmd: Command) => {
      const n = Number(o.limite);
      if (!Number.isInteger(n) || n < 1 || n > 500)
        throw new Error(`--limite: "${o.limite}" debe estar entre 1 y 500`);
      const res = await identity(cmd).listCuentas({
        estado: o.estado ?? '',
        search: o.search ?? '',
        page: { pageSize: n },
      });
      printRows(res.cuentas.map(cuentaRow), { json: g(cmd).json });
    });

  cuentas
    .command('revelar <alumno>')
    .description('muestra la contraseña temporal (administradores; queda auditado)')
    .requiredOption('--motivo <texto>', 'por qué se revela (queda en el registro de auditoría)')
    .action(async (id: string, o: { motivo: string }, cmd: Command) => {
      const res = await identity(cmd).revealPassword(
        { alumnoId: checkIds([id], '<alumno>')[0]!, requestedBy: actor(), motivo: o.motivo },
        adminHeaders(),
      );
      printObject(
        {
          upn: res.upn,
          contrasena_temporal: res.password,
          generada: res.generadaEn ? localTime(timestampDate(res.generadaEn)) : '',
        },
        { json: g(cmd).json },
      );
    });

  cuentas
    .command('eliminar <alumno>')
    .description(
      'elimina las cuentas de Teams y Moodle (solo UPN con el prefijo seguro; alumnos.tasks.eliminar_cuenta_externa)',
    )
    .option('--motivo <texto>', 'por qué')
    .action(async (id: string, o: { motivo?: string }, cmd: Command) => {
      const res = await identity(cmd).deleteExternalAccount({
        alumnoId: checkIds([id], '<alumno>')[0]!,
        requestedBy: actor(),
        motivo: o.motivo ?? '',
      });
      if (g(cmd).json) printObject(res, { json: true });
      else process.stdout.write(`Tarea ${res.taskId}: eliminar ${res.upn}\n`);
    });

  const retenidas = cuentas
    .command('retenidas')
    .description('eliminaciones retenidas por el límite de eliminaciones masivas');
  retenidas
    .command('list', { isDefault: true })
    .description('lista las eliminaciones retenidas')
    .action(async (_o: unknown, cmd: Command) => {
      const res = await identity(cmd).listHeldDeletions({});
      printRows(
        res.retenidas.map((r) => ({
          id: r.id,
          alumno: r.alumnoId,
          upn: r.upn,
          pedida_por: r.requestedBy,
          retenida: r.retenidaEn ? localTime(timestampDate(r.retenidaEn)) : '',
        })),
        { json: g(cmd).json },
      );
    });
  for (const [verb, descartar] of [
    ['confirmar', false],
    ['descartar', true],
  ] as const) {
    retenidas
      .command(`${verb} <ids...>`)
      .description(
        descartar ? 'descarta eliminaciones retenidas' : 'ejecuta eliminaciones retenidas (administradores)',
      )
      .action(async (ids: string[], _o: unknown, cmd: Command) => {
        const res = await identity(cmd).confirmHeldDeletions(
          { ids: checkIds(ids, '<ids...>'), requestedBy: actor(), descartar },
          adminHeaders(),
        );
        if (g(cmd).json) printObject(res, { json: true });
        else
          process.stdout.write(
            descartar
              ? `${res.descartadas} descartadas\n`
              : `${res.taskIds.length} tareas: ${res.taskIds.join(', ')}\n`,
          );
      });
  }
}
