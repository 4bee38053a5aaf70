import type { Command } from 'commander';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { timestampDate, timestampFromDate, type Timestamp } from '@bufbuild/protobuf/wkt';
import {
  LogLevel,
  LogService,
  TareaEstado,
  TareaTipo,
  TaskService,
  Trigger,
  type LogEntry,
  type Tarea,
  type TareaFilterSchema,
} from '@lucy/proto';
import { clientFor, type GlobalOptions } from '../context.js';
import { localTime, printDocument, printObject, printRows, toJsonText } from '../output.js';

const CORDOBA_OFFSET = '-03:00';

/** Parses `YYYY-MM-DD` (a local day in Córdoba) or an ISO instant. */
export function parseInstant(value: string, option: string): Timestamp {
  const iso = /^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00${CORDOBA_OFFSET}` : value;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime()))
    throw new Error(`${option}: fecha inválida "${value}" (use AAAA-MM-DD o una fecha ISO)`);
  return timestampFromDate(d);
}

/** Parses a comma-separated list of enum names (`failed,running`) into enum values. */
export function parseEnumList<E extends Record<string, string | number>>(
  e: E,
  value: string | undefined,
  option: string,
): number[] {
  if (!value) return [];
  return value.split(',').map((raw) => {
    const key = raw.trim().toUpperCase();
    const v = e[key as keyof E];
    if (typeof v !== 'number' || v === 0) {
      const names = Object.keys(e)
        .filter((k) => Number.isNaN(Number(k)) && k !== 'UNSPECIFIED')
        .map((k) => k.toLowerCase());
      throw new Error(`${option}: valor desconocido "${raw}" (valores: ${names.join(', ')})`);
    }
    return v;
  });
}

const name = (e: Record<number, string>, v: number) => (e[v] ?? '').toLowerCase();
/** An instant for a row: tables print it in Córdoba time, --json as ISO 8601 with offset. */
const time = (t: Timestamp | undefined) => (t ? timestampDate(t) : undefined);

/**
 * Where a Tarea came from, at a glance: `programada «<tarea periódica>»` (the scheduler fired it), `manual
 * (<usuario>)` (staff, from the admin or this CLI), `reintento`, `ingesta` or `externa` (another system).
 */
export function origenOf(t: Pick<Tarea, 'trigger' | 'requestedBy' | 'periodicTask'>): string {
  switch (t.trigger) {
    case Trigger.SCHEDULE:
      return t.periodicTask ? `programada «${t.periodicTask}»` : 'programada';
    case Trigger.ADMIN:
      return t.requestedBy ? `manual (${t.requestedBy})` : 'manual';
    case Trigger.RETRY:
      return t.requestedBy ? `reintento (${t.requestedBy})` : 'reintento';
    case Trigger.INGEST:
      return 'ingesta';
    default:
      return t.requestedBy ? `externa (${t.requestedBy})` : 'externa';
  }
}

function tareaRow(t: Tarea): Record<string, unknown> {
  return {
    id: t.id,
    tipo: name(TareaTipo, t.tipo),
    estado: name(TareaEstado, t.estado),
    origen: origenOf(t),
    programada: time(t.scheduledAt),
    duracion: t.finishedAt
      ? `${(Number(t.durationMs) / 1000).toFixed(2)} seg`
      : t.startedAt
        ? 'En progreso...'
        : '',
    entidades: Number(t.cantidadEntidades),
    alumno: t.alumnoNombre || t.alumnoId,
    usuario: t.requestedBy,
    trigger: name(Trigger, t.trigger),
    error: t.mensajeError,
  };
}

function logRow(l: LogEntry): Record<string, unknown> {
  return {
    fecha: time(l.occurredAt),
    nivel: name(LogLevel, l.level).toUpperCase(),
    modulo: l.module,
    mensaje: l.message.slice(0, 100),
    alumno: l.alumnoId,
    usuario: l.usuario,
    tarea: l.taskId,
  };
}

interface FilterOptions {
  tipo?: string;
  estado?: string;
  desde?: string;
  hasta?: string;
  alumno?: string;
  usuario?: string;
  trigger?: string;
  task?: string;
  buscar?: string;
}

function withFilters(cmd: Command): Command {
  return cmd
    .option(
      '--tipo <tipos>',
      'tipos separados por coma (ingesta_aspirantes, crear_usuario_teams, mantenimiento...)',
    )
    .option(
      '--estado <estados>',
      'estados separados por coma (pending, running, completed, failed, skipped, cancelled)',
    )
    .option('--desde <fecha>', 'programadas desde (AAAA-MM-DD en hora de Córdoba, o ISO)')
    .option('--hasta <fecha>', 'programadas antes de (AAAA-MM-DD en hora de Córdoba, o ISO)')
    .option('--alumno <id>', 'solo este alumno')
    .option('--usuario <usuario>', 'solo las pedidas por este usuario')
    .option('--trigger <triggers>', 'origen separados por coma (admin, schedule, external, retry, ingest)')
    .option('--task <nombre>', 'nombre registrado de la tarea (alumnos.tasks....)')
    .option('--buscar <texto>', 'busca por id, alumno (nombre o DNI), usuario o texto del error');
}

function toFilter(o: FilterOptions): MessageInitShape<typeof TareaFilterSchema> {
  return {
    tipos: parseEnumList(TareaTipo, o.tipo, '--tipo'),
    estados: parseEnumList(TareaEstado, o.estado, '--estado'),
    triggers: parseEnumList(Trigger, o.trigger, '--trigger'),
    ...(o.desde ? { desde: parseInstant(o.desde, '--desde') } : {}),
    ...(o.hasta ? { hasta: parseInstant(o.hasta, '--hasta') } : {}),
    alumnoId: o.alumno ?? '',
    requestedBy: o.usuario ?? '',
    taskName: o.task ?? '',
    search: o.buscar ?? '',
  };
}

const actor = () => process.env.LUCY_USER ?? process.env.USER ?? 'cli';

/** Registers `lucy tareas`, `lucy logs`, `lucy dlq` and `lucy dashboard`. */
export function register(program: Command): void {
  const g = (cmd: Command) => cmd.optsWithGlobals<GlobalOptions>();
  const tareas = program
    .command('tareas')
    .description('Tareas: listar, ver, seguir en vivo, reintentar, cancelar, marcar fallidas');

  withFilters(tareas.command('list').description('lista Tareas, las más recientes primero'))
    .option('--limite <n>', 'filas por página (máx. 500)', '50')
    .option('--pagina <token>', 'token de la página siguiente (lo imprime la página anterior)')
    .option('--antiguas-primero', 'ordena de la más antigua a la más reciente')
    .action(
      async (
        o: FilterOptions & { limite: string; pagina?: string; antiguasPrimero?: boolean },
        cmd: Command,
      ) => {
        const res = await clientFor(TaskService, 'tracker', g(cmd)).listTareas({
          filter: toFilter(o),
          page: { pageSize: Number(o.limite), pageToken: o.pagina ?? '' },
          oldestFirst: Boolean(o.antiguasPrimero),
        });
        if (g(cmd).json)
          return printObject(
            { tareas: res.tareas.map(tareaRow), siguiente: res.page?.nextPageToken ?? '' },
            { json: true },
          );
        printRows(res.tareas.map(tareaRow), {});
        if (res.page?.nextPageToken)
          process.stdout.write(`\nSiguiente página: --pagina ${res.page.nextPageToken}\n`);
      },
    );

  tareas
    .command('show <id>')
    .description('muestra una Tarea con sus logs, su línea de tiempo y los intentos relacionados')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const res = await clientFor(TaskService, 'tracker', g(cmd)).getTarea({ id });
      const t = res.tarea!;
      if (g(cmd).json) return printObject(res, { json: true });
      printObject(
        {
          ...tareaRow(t),
          tarea: t.taskName,
          intentos: t.attempts,
          inicio: time(t.startedAt),
          fin: time(t.finishedAt),
          padre: t.parentId,
        },
        {},
      );
      const whole = `lucy tareas show ${id} --json`;
      printDocument('parametros', t.parametros, whole);
      printDocument('detalles', t.detalles, whole);
      process.stdout.write('\nLínea de tiempo:\n');
      printRows(
        res.timeline.map((e) => ({
          fecha: time(e.occurredAt),
          evento: e.kind,
          intento: e.attempt,
          detalle: e.message,
        })),
        {},
      );
      process.stdout.write('\nLogs:\n');
      printRows(res.logs.map(logRow), {});
      if (res.earlier.length || res.later.length) {
        process.stdout.write('\nIntentos relacionados:\n');
        printRows(
          [
            ...res.earlier.map((x) => ({ relacion: 'anterior', ...tareaRow(x) })),
            ...res.later.map((x) => ({ relacion: 'posterior', ...tareaRow(x) })),
          ],
          {},
        );
      }
    });

  withFilters(
    tareas.command('watch').description('muestra los cambios de Tareas en vivo (Ctrl-C para salir)'),
  ).action(async (o: FilterOptions, cmd: Command) => {
    // WatchTareas has no text search (each change would need the database): refused, not silently ignored.
    if (o.buscar !== undefined)
      throw new Error(
        '--buscar: watch no busca por texto; filtre con --alumno, --usuario, --estado, --tipo o --task',
      );
    const controller = new AbortController();
    process.once('SIGINT', () => controller.abort());
    try {
      for await (const change of clientFor(TaskService, 'tracker', g(cmd)).watchTareas(
        { filter: toFilter(o) },
        { signal: controller.signal },
      )) {
        if (!change.tarea) continue;
        const t = change.tarea;
        process.stdout.write(
          g(cmd).json
            ? `${toJsonText(tareaRow(t))}\n`
            : `${localTime(new Date())}  ${name(TareaEstado, t.estado).padEnd(10)} ${t.id}  ${name(TareaTipo, t.tipo)}  ${t.mensajeError}\n`,
        );
      }
    } catch (err) {
      if (!controller.signal.aborted) throw err;
    }
  });

  tareas
    .command('retry <id>')
    .description('publica de nuevo el comando de una Tarea fallida o cancelada, como una Tarea nueva')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const res = await clientFor(TaskService, 'tracker', g(cmd)).retryTarea({ id, requestedBy: actor() });
      printObject(g(cmd).json ? res : tareaRow(res.tarea!), { json: Boolean(g(cmd).json) });
    });

  tareas
    .command('cancel <id>')
    .description('cancela una Tarea pendiente (el worker la omitirá)')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const res = await clientFor(TaskService, 'tracker', g(cmd)).cancelTarea({ id, requestedBy: actor() });
      printObject(g(cmd).json ? res : tareaRow(res.tarea!), { json: Boolean(g(cmd).json) });
    });

  tareas
    .command('fail <id>')
    .description('marca como fallida una Tarea pendiente o atascada')
    .option('--mensaje <texto>', 'mensaje de error (por defecto el del admin)')
    .action(async (id: string, o: { mensaje?: string }, cmd: Command) => {
      const res = await clientFor(TaskService, 'tracker', g(cmd)).markFailed({
        id,
        requestedBy: actor(),
        mensaje: o.mensaje ?? '',
      });
      printObject(g(cmd).json ? res : tareaRow(res.tarea!), { json: Boolean(g(cmd).json) });
    });

  program
    .command('logs')
    .description('Log del sistema')
    .command('list')
    .description('lista el Log, lo más reciente primero')
    .option('--nivel <niveles>', 'niveles separados por coma (debug, info, success, warning, error)')
    .option('--modulo <modulo>', 'solo este módulo')
    .option('--desde <fecha>', 'desde (AAAA-MM-DD en hora de Córdoba, o ISO)')
    .option('--hasta <fecha>', 'antes de (AAAA-MM-DD en hora de Córdoba, o ISO)')
    .option('--alumno <id>', 'solo este alumno')
    .option('--tarea <id>', 'solo esta Tarea')
    .option('--buscar <texto>', 'texto en el mensaje')
    .option('--limite <n>', 'filas por página (máx. 500)', '50')
    .option('--pagina <token>', 'token de la página siguiente')
    .action(
      async (
        o: {
          nivel?: string;
          modulo?: string;
          desde?: string;
          hasta?: string;
          alumno?: string;
          tarea?: string;
          buscar?: string;
          limite: string;
          pagina?: string;
        },
        cmd: Command,
      ) => {
        const res = await clientFor(LogService, 'tracker', g(cmd)).listLogs({
          levels: parseEnumList(LogLevel, o.nivel, '--nivel'),
          module: o.modulo ?? '',
          ...(o.desde ? { desde: parseInstant(o.desde, '--desde') } : {}),
          ...(o.hasta ? { hasta: parseInstant(o.hasta, '--hasta') } : {}),
          alumnoId: o.alumno ?? '',
          taskId: o.tarea ?? '',
          search: o.buscar ?? '',
          page: { pageSize: Number(o.limite), pageToken: o.pagina ?? '' },
        });
        if (g(cmd).json)
          return printObject(
            { logs: res.logs.map(logRow), siguiente: res.page?.nextPageToken ?? '' },
            { json: true },
          );
        printRows(res.logs.map(logRow), {});
        if (res.page?.nextPageToken)
          process.stdout.write(`\nSiguiente página: --pagina ${res.page.nextPageToken}\n`);
      },
    );

  const dlq = program.command('dlq').description('Mensajes muertos (LUCY_DLQ)');
  dlq
    .command('list')
    .description('lista los mensajes muertos con su motivo, los más recientes primero')
    .option('--prefijo <subject>', 'solo los de subjects que empiezan así (p. ej. lucy.cmd.identity)')
    .option('--limite <n>', 'filas por página (máx. 500)', '50')
    .option('--pagina <token>', 'token de la página siguiente')
    .action(async (o: { prefijo?: string; limite: string; pagina?: string }, cmd: Command) => {
      const res = await clientFor(TaskService, 'tracker', g(cmd)).listDeadLetters({
        subjectPrefix: o.prefijo ?? '',
        page: { pageSize: Number(o.limite), pageToken: o.pagina ?? '' },
      });
      printRows(
        res.deadLetters.map((d) => ({
          secuencia: Number(d.sequence),
          fecha: time(d.deadLetteredAt),
          subject: d.originalSubject,
          motivo: d.reason,
          consumidor: d.consumer,
          entregas: d.deliveries,
          tarea: d.taskId,
        })),
        { json: Boolean(g(cmd).json) },
      );
    });
  dlq
    .command('redrive <secuencias...>')
    .description('reenvía mensajes muertos a su subject original (y los quita de la cola)')
    .action(async (seqs: string[], _o: unknown, cmd: Command) => {
      const sequences = seqs.map((s) => {
        if (!/^\d+$/.test(s)) throw new Error(`secuencia inválida "${s}"`);
        return BigInt(s);
      });
      const res = await clientFor(TaskService, 'tracker', g(cmd)).redriveDeadLetters({
        sequences,
        requestedBy: actor(),
      });
      printRows(
        res.results.map((r) => ({ secuencia: Number(r.sequence), ok: r.ok ? 'sí' : 'no', error: r.error })),
        { json: Boolean(g(cmd).json) },
      );
      if (res.results.some((r) => !r.ok)) process.exitCode = 1;
    });

  program
    .command('dashboard')
    .description(
      'resumen: pendientes, ejecutando, completadas y fallidas (24 h), últimas 10 y gráfico de 14 días',
    )
    .option('--dias <n>', 'días del gráfico', '14')
    .action(async (o: { dias: string }, cmd: Command) => {
      const d = await clientFor(TaskService, 'tracker', g(cmd)).getDashboard({ days: Number(o.dias) });
      if (g(cmd).json) return printObject(d, { json: true });
      printObject(
        {
          pendientes: Number(d.pendientes),
          ejecutando: Number(d.ejecutando),
          'completadas (24 h)': Number(d.completadas24h),
          'fallidas (24 h)': Number(d.fallidas24h),
          'mensajes muertos': Number(d.deadLetters),
        },
        {},
      );
      process.stdout.write('\nÚltimas 10:\n');
      printRows(d.recientes.map(tareaRow), {});
      process.stdout.write('\nPor día:\n');
      printRows(
        d.porDia.map((p) => ({ dia: p.day, estado: name(TareaEstado, p.estado), cantidad: Number(p.count) })),
        {},
      );
    });
}
