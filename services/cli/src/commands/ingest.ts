import type { Command } from 'commander';
import { Code, ConnectError } from '@connectrpc/connect';
import { timestampDate, timestampFromDate, type Timestamp } from '@bufbuild/protobuf/wkt';
import {
  IngestService,
  TareaEstado,
  TareaTipo,
  TaskService,
  TipoIngesta,
  type Configuracion,
  type VentanaIngesta,
} from '@lucy/proto';
import { clientFor, type GlobalOptions } from '../context.js';
import { localTime, printObject, printRows } from '../output.js';

/** SIAL times and windows are Córdoba local time (UTC−3 all year, no DST). */
const CORDOBA_OFFSET = '-03:00';

const TIPOS = {
  preinscriptos: TipoIngesta.PREINSCRIPTOS,
  aspirantes: TipoIngesta.ASPIRANTES,
  ingresantes: TipoIngesta.INGRESANTES,
} as const;
type TipoName = keyof typeof TIPOS;

const tipoName = (t: TipoIngesta): string =>
  (Object.keys(TIPOS) as TipoName[]).find((k) => TIPOS[k] === t) ?? 'desconocido';

const actor = () => process.env.LUCY_USER ?? process.env.USER ?? 'cli';
const g = (cmd: Command) => cmd.optsWithGlobals<GlobalOptions>();

/** Parses a tipo name (`aspirantes`); the error names the argument. */
export function parseTipo(value: string, field = '<tipo>'): TipoIngesta {
  const t = TIPOS[value.trim().toLowerCase() as TipoName];
  if (t === undefined) {
    throw new Error(`${field}: tipo desconocido "${value}" (valores: ${Object.keys(TIPOS).join(', ')})`);
  }
  return t;
}

/**
 * Parses `AAAA-MM-DDTHH:MM` or `AAAA-MM-DD` (Córdoba local time) or an ISO instant with its offset.
 * The error names the option.
 */
export function parseLocalDateTime(value: string, option: string): Timestamp {
  const v = value.trim();
  let iso = v;
  if (/^\d{4}-\d{2}-\d{2}$/.test(v)) iso = `${v}T00:00:00${CORDOBA_OFFSET}`;
  else if (/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?$/.test(v))
    iso = `${v.replace(' ', 'T')}${v.length === 16 ? ':00' : ''}${CORDOBA_OFFSET}`;
  const d = new Date(iso);
  if (!/^\d{4}-\d{2}-\d{2}/.test(v) || Number.isNaN(d.getTime())) {
    throw new Error(
      `${option}: fecha inválida "${value}" (use AAAA-MM-DDTHH:MM en hora de Córdoba, o AAAA-MM-DD)`,
    );
  }
  return timestampFromDate(d);
}

function parseNumber(value: string, option: string, min: number, integer: boolean): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
    throw new Error(
      `${option}: "${value}" no es válido (use un número${integer ? ' entero' : ''} mayor o igual a ${min})`,
    );
  }
  return n;
}

/** An instant for a row: tables print it in Córdoba time, --json as ISO 8601 with offset. */
const time = (t: Timestamp | undefined) => (t ? timestampDate(t) : undefined);

const TAREA_TIPO: Record<TipoName, TareaTipo> = {
  preinscriptos: TareaTipo.INGESTA_PREINSCRIPTOS,
  aspirantes: TareaTipo.INGESTA_ASPIRANTES,
  ingresantes: TareaTipo.INGESTA_INGRESANTES,
};

/** When each tipo's last ingestion (periodic or manual) completed, by tipo name. */
type UltimasIngestas = Partial<Record<string, Date>>;

/**
 * The end of each tipo's last completed ingestion Tarea, from task-tracker. The configuration's `ultima_ingesta`
 * is the incremental checkpoint, which manual runs never move, a run with SIAL errors keeps and a window change
 * or reset-checkpoints clears: shown alone as "última ingesta" it was blank after successful runs. Best effort:
 * without task-tracker the column stays empty.
 */
async function ultimasIngestas(opts: GlobalOptions): Promise<UltimasIngestas> {
  const tracker = clientFor(TaskService, 'tracker', opts);
  const entries = await Promise.all(
    (Object.keys(TIPOS) as TipoName[]).map(async (tipo) => {
      const res = await tracker
        .listTareas({
          filter: { tipos: [TAREA_TIPO[tipo]], estados: [TareaEstado.COMPLETED] },
          page: { pageSize: 1 },
        })
        .catch(() => undefined);
      const finished = res?.tareas[0]?.finishedAt;
      return [tipo, finished ? timestampDate(finished) : undefined] as const;
    }),
  );
  return Object.fromEntries(entries);
}

function ventanaRow(v: VentanaIngesta, ultimas: UltimasIngestas): Record<string, unknown> {
  return {
    tipo: tipoName(v.tipo),
    inicio: time(v.diaInicio),
    fin: time(v.diaFin),
    enviar_email: v.enviarEmail,
    activar_teams: v.activarTeams,
    activar_moodle: v.activarMoodle,
    ultima_ingesta: ultimas[tipoName(v.tipo)],
    checkpoint: time(v.ultimaIngesta),
    ultima_cantidad: Number(v.ultimaCantidad),
  };
}

async function printConfiguracion(c: Configuracion | undefined, opts: GlobalOptions): Promise<void> {
  if (!c) throw new Error('El servicio no devolvió la configuración.');
  const json = opts.json;
  const ultimas = await ultimasIngestas(opts);
  if (json) {
    printObject(
      {
        ventanas: c.ventanas.map((v) => ventanaRow(v, ultimas)),
        sial_requests_por_segundo: c.sialRequestsPorSegundo,
        sial_concurrencia: c.sialConcurrencia,
        actualizado_en: time(c.actualizadoEn) ?? null,
        actualizado_por: c.actualizadoPor,
      },
      { json: true },
    );
    return;
  }
  printRows(
    c.ventanas.map((v) => ventanaRow(v, ultimas)),
    {},
  );
  process.stdout.write(
    '\nULTIMA_INGESTA: fin de la última ingesta completada (periódica o manual). CHECKPOINT: desde dónde pide ' +
      'la próxima ingesta periódica (vacío: pide la lista completa).\n' +
      `SIAL: ${c.sialRequestsPorSegundo || 'sin límite de'} pedidos/s, ${c.sialConcurrencia} en paralelo. ` +
      `Modificada ${localTime(time(c.actualizadoEn))} por ${c.actualizadoPor || '—'}.\n`,
  );
}

/** Server field paths → the CLI options that set them, so an error names what the user typed. */
const FIELD_OPTIONS: [RegExp, string][] = [
  [/ventanas\[\d+\]\.diaInicio/g, '--inicio'],
  [/ventanas\[\d+\]\.diaFin/g, '--fin'],
  [/ventanas\[\d+\]\.tipo/g, '<tipo>'],
  [/sialRequestsPorSegundo/g, '--requests-por-segundo'],
  [/sialConcurrencia/g, '--concurrencia'],
];

/** Rewrites an InvalidArgument's field names as CLI options; other errors pass unchanged. */
export function withOptionNames(err: unknown): unknown {
  if (!(err instanceof ConnectError) || err.code !== Code.InvalidArgument) return err;
  let message = err.rawMessage;
  for (const [re, option] of FIELD_OPTIONS) message = message.replace(re, option);
  return new Error(message);
}

interface SetOptions {
  inicio?: string;
  fin?: string;
  sinInicio?: boolean;
  sinFin?: boolean;
  enviarEmail?: boolean;
  activarTeams?: boolean;
  activarMoodle?: boolean;
  requestsPorSegundo?: string;
  concurrencia?: string;
}

/** Registers `lucy ingest run|config|reset-checkpoints`. */
export function register(program: Command): void {
  const ingest = program.command('ingest').description('Ingesta de alumnos desde SIAL');

  ingest
    .command('run <tipo>')
    .description(
      'inicia una ingesta manual (preinscriptos, aspirantes o ingresantes) e imprime el id de la Tarea',
    )
    .option('--desde <fecha>', 'desde (AAAA-MM-DDTHH:MM, hora de Córdoba); junto con --hasta')
    .option('--hasta <fecha>', 'hasta (AAAA-MM-DDTHH:MM, hora de Córdoba); junto con --desde')
    .option('--dry-run', 'calcula el plan sin escribir nada')
    .action(async (tipo: string, o: { desde?: string; hasta?: string; dryRun?: boolean }, cmd: Command) => {
      const request = {
        tipo: parseTipo(tipo),
        ...(o.desde ? { desde: parseLocalDateTime(o.desde, '--desde') } : {}),
        ...(o.hasta ? { hasta: parseLocalDateTime(o.hasta, '--hasta') } : {}),
        dryRun: o.dryRun ?? false,
        requestedBy: actor(),
      };
      if (Boolean(o.desde) !== Boolean(o.hasta))
        throw new Error(`${o.desde ? '--hasta' : '--desde'}: indique --desde y --hasta juntos, o ninguno`);
      const res = await clientFor(IngestService, 'ingest', g(cmd))
        .startIngesta(request)
        .catch((err: unknown) => {
          throw withOptionNames(err);
        });
      if (g(cmd).json) printObject({ taskId: res.taskId }, { json: true });
      else process.stdout.write(`${res.taskId}\n`);
    });

  const config = ingest.command('config').description('Configuración de la ingesta (ventanas por tipo)');
  config
    .command('show')
    .description('muestra las ventanas, los checkpoints y los límites de SIAL')
    .action(async (_o: unknown, cmd: Command) => {
      const res = await clientFor(IngestService, 'ingest', g(cmd)).getConfiguracion({});
      await printConfiguracion(res.configuracion, g(cmd));
    });

  config
    .command('set [tipo]')
    .description(
      'cambia la ventana de un tipo (cambiar inicio o fin reinicia su checkpoint) o los límites de SIAL',
    )
    .option('--inicio <fecha>', 'inicio de la ventana (AAAA-MM-DDTHH:MM, hora de Córdoba)')
    .option('--fin <fecha>', 'fin de la ventana (AAAA-MM-DDTHH:MM, hora de Córdoba)')
    .option('--sin-inicio', 'quita el inicio (la ingesta periódica no corre)')
    .option('--sin-fin', 'quita el fin (sin fecha de cierre)')
    .option('--enviar-email', 'enviar el e-mail de bienvenida a los nuevos')
    .option('--no-enviar-email', 'no enviar el e-mail de bienvenida')
    .option('--activar-teams', 'crear cuentas de Teams a los nuevos')
    .option('--no-activar-teams', 'no crear cuentas de Teams')
    .option('--activar-moodle', 'matricular en Moodle a los nuevos')
    .option('--no-activar-moodle', 'no matricular en Moodle')
    .option('--requests-por-segundo <n>', 'máximo de pedidos por segundo a SIAL (0 = sin límite)')
    .option('--concurrencia <n>', 'pedidos de datos personales en paralelo (1–256)')
    .action(async (tipo: string | undefined, o: SetOptions, cmd: Command) => {
      const windowOptions = [
        o.inicio,
        o.fin,
        o.sinInicio,
        o.sinFin,
        o.enviarEmail,
        o.activarTeams,
        o.activarMoodle,
      ];
      if (!tipo && windowOptions.some((v) => v !== undefined))
        throw new Error(
          '<tipo>: indique el tipo cuya ventana cambia (preinscriptos, aspirantes o ingresantes)',
        );
      if (o.inicio && o.sinInicio) throw new Error('--inicio: no se puede usar junto con --sin-inicio');
      if (o.fin && o.sinFin) throw new Error('--fin: no se puede usar junto con --sin-fin');
      const client = clientFor(IngestService, 'ingest', g(cmd));
      const current = (await client.getConfiguracion({})).configuracion;
      if (!current) throw new Error('El servicio no devolvió la configuración.');
      const ventanas: VentanaIngesta[] = [];
      if (tipo) {
        const t = parseTipo(tipo);
        const before = current.ventanas.find((v) => v.tipo === t);
        // UpdateConfiguracion replaces a window whole: start from the stored one and change what was given.
        const next: VentanaIngesta = { ...before!, tipo: t };
        if (o.inicio) next.diaInicio = parseLocalDateTime(o.inicio, '--inicio');
        if (o.sinInicio) next.diaInicio = undefined;
        if (o.fin) next.diaFin = parseLocalDateTime(o.fin, '--fin');
        if (o.sinFin) next.diaFin = undefined;
        if (o.enviarEmail !== undefined) next.enviarEmail = o.enviarEmail;
        if (o.activarTeams !== undefined) next.activarTeams = o.activarTeams;
        if (o.activarMoodle !== undefined) next.activarMoodle = o.activarMoodle;
        ventanas.push(next);
      }
      const res = await client
        .updateConfiguracion({
          configuracion: {
            ventanas,
            sialRequestsPorSegundo:
              o.requestsPorSegundo !== undefined
                ? parseNumber(o.requestsPorSegundo, '--requests-por-segundo', 0, false)
                : current.sialRequestsPorSegundo,
            // 0 keeps the stored value.
            sialConcurrencia:
              o.concurrencia !== undefined ? parseNumber(o.concurrencia, '--concurrencia', 1, true) : 0,
          },
          requestedBy: actor(),
        })
        .catch((err: unknown) => {
          throw withOptionNames(err);
        });
      await printConfiguracion(res.configuracion, g(cmd));
    });

  ingest
    .command('reset-checkpoints [tipo]')
    .description('olvida el checkpoint (de un tipo o de los tres): la próxima corrida trae la lista completa')
    .action(async (tipo: string | undefined, _o: unknown, cmd: Command) => {
      const res = await clientFor(IngestService, 'ingest', g(cmd)).resetCheckpoints({
        tipos: tipo ? [parseTipo(tipo)] : [],
        requestedBy: actor(),
      });
      await printConfiguracion(res.configuracion, g(cmd));
    });
}
