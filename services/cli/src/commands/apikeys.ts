import type { Command } from 'commander';
// The subpath, not @lucy/platform: the CLI bundle stays free of the platform's ORM and NATS (see context.ts).
import { createApiKey, readApiKeysFile, revokeApiKey } from '@lucy/platform/api-keys';
import type { GlobalOptions } from '../context.js';
import { localTime, printObject, printRows } from '../output.js';

// `lucy apikeys`: the named RPC API keys of the keys file the services read (RPC_API_KEYS_FILE). It edits the file
// where it runs (the host or the pod that mounts it); the services pick changes up within a second, no restart.

const g = (cmd: Command) => cmd.optsWithGlobals<GlobalOptions & { archivo?: string }>();

function fileOf(cmd: Command): string {
  const path = g(cmd).archivo ?? process.env.RPC_API_KEYS_FILE;
  if (!path)
    throw new Error(
      '--archivo: indique el archivo de claves (o defina RPC_API_KEYS_FILE, el que leen los servicios)',
    );
  return path;
}

const GRANT = /^(\*|[A-Za-z_][\w.]*\/(\*|[A-Za-z_]\w*))$/;

/** Parses `--permiso` values; the error names the option and the accepted forms. */
export function parseGrants(values: readonly string[]): string[] {
  if (values.length === 0)
    throw new Error(
      '--permiso: indique al menos uno (p. ej. lucy.task.v1.TaskService/GetTarea, lucy.task.v1.TaskService/* o *)',
    );
  for (const v of values)
    if (!GRANT.test(v))
      throw new Error(
        `--permiso: "${v}" no es válido; use <paquete>.<Servicio>/<Método>, <paquete>.<Servicio>/* o *`,
      );
  return [...values];
}

/** Registers `lucy apikeys create|list|revoke`. */
export function register(program: Command): void {
  const apikeys = program
    .command('apikeys')
    .description('Claves de acceso a las APIs por sistema (guardadas con hash, con los métodos permitidos)')
    .option('--archivo <ruta>', 'archivo de claves (por defecto RPC_API_KEYS_FILE)');
  apikeys
    .command('create <nombre>')
    .description('crea una clave para un sistema y la muestra una sola vez')
    .option(
      '--permiso <permiso...>',
      'métodos permitidos: <paquete>.<Servicio>/<Método>, <paquete>.<Servicio>/* o *',
    )
    .option(
      '--impersonar',
      'permite que la clave nombre a un usuario del staff como solicitante (solo la del admin y la del CLI); ' +
        'sin ella, las Tareas muestran el nombre de la clave',
    )
    .action((nombre: string, o: { permiso?: string[]; impersonar?: boolean }, cmd: Command) => {
      if (!/^[a-z0-9][a-z0-9._-]{0,62}$/.test(nombre))
        throw new Error(
          `<nombre>: "${nombre}" no es válido; use minúsculas, dígitos, punto, guion o guion bajo (hasta 63)`,
        );
      const { key, record } = createApiKey(fileOf(cmd), nombre, parseGrants(o.permiso ?? []), new Date(), {
        onBehalfOf: o.impersonar === true,
      });
      printObject(
        {
          id: record.id,
          nombre: record.name,
          permisos: record.grants,
          impersonar: record.onBehalfOf === true,
          clave: key,
        },
        { json: Boolean(g(cmd).json) },
      );
      if (!g(cmd).json)
        process.stderr.write(
          '\nGuarde la clave ahora: no se puede volver a mostrar (solo se guarda su hash).\n',
        );
    });
  apikeys
    .command('list')
    .description('lista las claves (nunca las muestra)')
    .action((_o: unknown, cmd: Command) => {
      printRows(
        readApiKeysFile(fileOf(cmd)).map((k) => ({
          id: k.id,
          nombre: k.name,
          permisos: k.grants.join(' '),
          impersonar: k.onBehalfOf ? 'sí' : 'no',
          creada: localTime(new Date(k.createdAt)),
          revocada: k.revokedAt ? localTime(new Date(k.revokedAt)) : '',
        })),
        { json: Boolean(g(cmd).json) },
      );
    });
  apikeys
    .command('revoke <id>')
    .description('revoca una clave (los servicios la rechazan en un segundo, sin reiniciar)')
    .action((id: string, _o: unknown, cmd: Command) => {
      if (!revokeApiKey(fileOf(cmd), id))
        throw new Error(`<id>: no hay una clave con id "${id}" (vea lucy apikeys list)`);
      process.stdout.write(`Clave ${id} revocada.\n`);
    });
}
