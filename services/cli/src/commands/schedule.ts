import type { Command } from 'commander';
import type { JsonObject, MessageInitShape } from '@bufbuild/protobuf';
import { timestampDate, timestampFromDate, type Timestamp } from '@bufbuild/protobuf/wkt';
import {
  IntervalPeriod,
  MissedRunPolicy,
  SchedulerService,
  type PeriodicTask,
  type PeriodicTaskSchema,
  type ScheduleSchema,
} from '@lucy/proto';
import { clientFor, type GlobalOptions } from '../context.js';
import { printObject, printRows } from '../output.js';

const g = (cmd: Command): GlobalOptions => cmd.optsWithGlobals<GlobalOptions>();
/** An instant for a row: tables print it in Córdoba time, --json as ISO 8601 with offset. */
const time = (t: Timestamp | undefined) => (t ? timestampDate(t) : undefined);
const client = (cmd: Command) => clientFor(SchedulerService, 'scheduler', g(cmd));
const PERIODS: Record<string, IntervalPeriod> = {
  days: IntervalPeriod.DAYS,
  hours: IntervalPeriod.HOURS,
  minutes: IntervalPeriod.MINUTES,
  seconds: IntervalPeriod.SECONDS,
};
const POLICIES: Record<string, MissedRunPolicy> = {
  skip: MissedRunPolicy.SKIP,
  run_once: MissedRunPolicy.RUN_ONCE,
  run_all: MissedRunPolicy.RUN_ALL,
};

function taskRow(t: PeriodicTask): Record<string, unknown> {
  return {
    id: t.id,
    nombre: t.name,
    tarea: t.task,
    habilitada: t.enabled ? 'sí' : 'no',
    programacion: t.scheduleDescripcion,
    proxima: time(t.nextRunAt),
    ultima: time(t.lastRunAt),
    ejecuciones: Number(t.totalRunCount),
  };
}

/** Parses an ISO instant option. */
function instant(value: string | undefined, option: string): Timestamp | undefined {
  if (!value) return undefined;
  const d = new Date(value);
  if (Number.isNaN(d.getTime()))
    throw new Error(`${option}: fecha inválida "${value}" (use una fecha ISO con zona)`);
  return timestampFromDate(d);
}

interface ScheduleOptions {
  every?: string;
  cron?: string;
  tz?: string;
  at?: string;
}

/** The schedule described by --every, --cron or --at (exactly one). */
function scheduleFrom(o: ScheduleOptions): MessageInitShape<typeof ScheduleSchema> {
  const given = [o.every, o.cron, o.at].filter(Boolean).length;
  if (given !== 1) throw new Error('indique exactamente una programación: --every, --cron o --at');
  if (o.every) {
    const m = /^(\d+)\s*(days|hours|minutes|seconds)$/.exec(o.every.trim());
    if (!m) throw new Error(`--every: use "<n> days|hours|minutes|seconds", p. ej. "1 hours"`);
    return { kind: { case: 'interval', value: { every: BigInt(m[1]!), period: PERIODS[m[2]!]! } } };
  }
  if (o.cron) {
    const f = o.cron.trim().split(/\s+/);
    if (f.length !== 5)
      throw new Error('--cron: use cinco campos "minuto hora día-del-mes mes día-de-la-semana"');
    const [minute, hour, dayOfMonth, monthOfYear, dayOfWeek] = f as [string, string, string, string, string];
    return {
      kind: {
        case: 'crontab',
        value: {
          minute,
          hour,
          dayOfMonth,
          monthOfYear,
          dayOfWeek,
          timezone: o.tz ?? 'America/Argentina/Cordoba',
        },
      },
    };
  }
  return { kind: { case: 'clocked', value: { clockedTime: instant(o.at, '--at') } } };
}

/** Registers `lucy schedule ...` and `lucy tasks registered`. */
export function register(program: Command): void {
  const schedule = program.command('schedule').description('tareas periódicas (como django-celery-beat)');

  schedule
    .command('list')
    .description('lista las tareas periódicas')
    .option('--habilitadas', 'solo las habilitadas')
    .option('--deshabilitadas', 'solo las deshabilitadas')
    .option('--task <nombre>', 'solo esta tarea registrada')
    .option('--buscar <texto>', 'texto en el nombre o la descripción')
    .action(
      async (
        o: { habilitadas?: boolean; deshabilitadas?: boolean; task?: string; buscar?: string },
        cmd: Command,
      ) => {
        const res = await client(cmd).listPeriodicTasks({
          ...(o.habilitadas ? { enabled: true } : o.deshabilitadas ? { enabled: false } : {}),
          task: o.task ?? '',
          search: o.buscar ?? '',
        });
        printRows(res.periodicTasks.map(taskRow), g(cmd));
      },
    );

  schedule
    .command('show <id>')
    .description('muestra una tarea periódica (id o nombre) con su programación')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const res = await client(cmd).getPeriodicTask({ id });
      if (g(cmd).json) return printObject(res, { json: true });
      const t = res.periodicTask!;
      printObject(
        {
          ...taskRow(t),
          descripcion: t.description,
          kwargs: JSON.stringify(t.kwargs ?? {}),
          una_vez: t.oneOff ? 'sí' : 'no',
          inicio: time(t.startTime),
          expira: time(t.expires),
          perdidas: MissedRunPolicy[t.missedRunPolicy]?.toLowerCase(),
          modificada: time(t.dateChanged),
        },
        {},
      );
    });

  schedule
    .command('create <nombre> <tarea>')
    .description('crea una tarea periódica; la programación se crea con ella')
    .option('--every <intervalo>', 'intervalo, p. ej. "1 hours" o "30 minutes"')
    .option(
      '--cron <expresion>',
      'crontab "minuto hora día-del-mes mes día-de-la-semana", p. ej. "0 2 * * *"',
    )
    .option('--tz <zona>', 'zona horaria del crontab', 'America/Argentina/Cordoba')
    .option('--at <fecha>', 'una sola vez en esta fecha ISO (clocked)')
    .option('--kwargs <json>', 'parámetros JSON, p. ej. \'{"ignorarVentana":true}\'', '{}')
    .option('--deshabilitada', 'la crea deshabilitada')
    .option('--una-vez', 'se ejecuta una vez y se deshabilita')
    .option('--inicio <fecha>', 'no antes de esta fecha ISO')
    .option('--expira <fecha>', 'no después de esta fecha ISO')
    .option('--perdidas <politica>', 'ejecuciones perdidas: skip, run_once o run_all', 'run_once')
    .option('--descripcion <texto>', 'descripción libre', '')
    .action(
      async (
        nombre: string,
        tarea: string,
        o: ScheduleOptions & {
          kwargs: string;
          deshabilitada?: boolean;
          unaVez?: boolean;
          inicio?: string;
          expira?: string;
          perdidas: string;
          descripcion: string;
        },
        cmd: Command,
      ) => {
        let kwargs: JsonObject;
        try {
          kwargs = JSON.parse(o.kwargs) as JsonObject;
        } catch {
          throw new Error('--kwargs: no es JSON válido');
        }
        const policy = POLICIES[o.perdidas];
        if (policy === undefined) throw new Error('--perdidas: use skip, run_once o run_all');
        const c = client(cmd);
        const { schedule: saved } = await c.saveSchedule({ schedule: scheduleFrom(o) });
        const id = saved?.kind.value?.id ?? '';
        const periodicTask: MessageInitShape<typeof PeriodicTaskSchema> = {
          name: nombre,
          task: tarea,
          kwargs,
          enabled: !o.deshabilitada,
          oneOff: Boolean(o.unaVez),
          startTime: instant(o.inicio, '--inicio'),
          expires: instant(o.expira, '--expira'),
          description: o.descripcion,
          missedRunPolicy: policy,
          [`${saved?.kind.case ?? 'interval'}Id`]: id,
        };
        const res = await c.savePeriodicTask({ periodicTask, requestedBy: process.env.USER ?? 'cli' });
        if (g(cmd).json) return printObject(res, { json: true });
        printObject(taskRow(res.periodicTask!), {});
        // Saved anyway; staff should know (e.g. an ingestion more often than every 30 minutes).
        for (const a of res.advertencias) process.stdout.write(`\nAdvertencia: ${a}\n`);
      },
    );

  for (const [verb, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    schedule
      .command(`${verb} <id>`)
      .description(enabled ? 'habilita una tarea periódica' : 'deshabilita una tarea periódica')
      .action(async (id: string, _o: unknown, cmd: Command) => {
        const res = await client(cmd).setEnabled({ id, enabled, requestedBy: process.env.USER ?? 'cli' });
        printObject(g(cmd).json ? res : taskRow(res.periodicTask!), g(cmd));
      });
  }

  schedule
    .command('run <id>')
    .description('ejecuta ahora una tarea periódica, fuera de su programación')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const res = await client(cmd).runNow({ id, requestedBy: process.env.USER ?? 'cli' });
      printObject(g(cmd).json ? res : { tarea: res.taskId }, g(cmd));
    });

  schedule
    .command('preview [id]')
    .description(
      'próximas ejecuciones de una tarea periódica, o de --every/--cron/--at (marca cambios de horario)',
    )
    .option('--every <intervalo>', 'intervalo, p. ej. "1 hours"')
    .option('--cron <expresion>', 'crontab de cinco campos')
    .option('--tz <zona>', 'zona horaria del crontab', 'America/Argentina/Cordoba')
    .option('--at <fecha>', 'fecha ISO (clocked)')
    .option('--desde <fecha>', 'a partir de esta fecha ISO (por defecto ahora)')
    .option('-n, --cantidad <n>', 'cuántas (máx. 100)', '10')
    .action(
      async (
        id: string | undefined,
        o: ScheduleOptions & { desde?: string; cantidad: string },
        cmd: Command,
      ) => {
        const res = await client(cmd).preview({
          periodicTaskId: id ?? '',
          ...(id ? {} : { schedule: scheduleFrom(o) }),
          count: Number(o.cantidad),
          after: instant(o.desde, '--desde'),
        });
        if (g(cmd).json) return printObject(res, { json: true });
        process.stdout.write(`${res.descripcion}\n`);
        printRows(
          res.runs.map((r) => ({
            hora_local: r.localTime,
            utc: r.utcOffset,
            dst: r.dst,
            instante: r.at ? timestampDate(r.at).toISOString() : '',
          })),
          {},
        );
      },
    );

  const tasks =
    program.commands.find((c) => c.name() === 'tasks') ??
    program.command('tasks').description('tareas registradas');
  tasks
    .command('registered')
    .description('tareas que los servicios anunciaron (las únicas que se pueden programar)')
    .option('--programables', 'solo las que se pueden programar')
    .action(async (o: { programables?: boolean }, cmd: Command) => {
      const res = await client(cmd).listRegisteredTasks({ onlySchedulable: Boolean(o.programables) });
      printRows(
        res.tasks.map((t) => ({
          nombre: t.name,
          servicio: t.service,
          programable: t.schedulable ? 'sí' : 'no',
          parametros: t.params.map((p) => `${p.name}:${p.type}`).join(', '),
          descripcion: t.description,
        })),
        g(cmd),
      );
    });
}
