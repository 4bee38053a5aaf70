/** The ingestion workers: one per periodic tipo (`alumnos.tasks.ingestar_<tipo>`) and the manual one. */
import { timestampDate } from '@bufbuild/protobuf/wkt';
import type { Knex } from '@mikro-orm/postgresql';
import {
  createBatchPublisher,
  createCommandWorker,
  SkipTask,
  TransientError,
  type Buckets,
  type CommandWorker,
  type FieldError,
  type HandlerResult,
  type Logger,
  type Names,
  type NatsHandles,
  type TaskReporter,
} from '@lucy/platform';
import { IngestaManualCommandSchema, IngestarCommandSchema, type IngestaManualCommand } from '@lucy/proto';
import type { SialClient } from '../adapters/index.js';
import {
  cantidadEntidades,
  evaluateWindow,
  incrementalRange,
  nextCheckpoint,
  summarizeIngest,
  TIPOS,
  ERROR_CATEGORIAS,
  type IncrementalRange,
  type Tipo,
} from '../domain/index.js';
import { loadConfiguracion, saveCheckpoint, updateConfiguracion } from '../db/configuracion.repository.js';
import { tipoFromPb } from '../mapping.js';
import { ingestMetrics } from '../metrics.js';
import { LOG_MODULE, runIngestion, type IngestRunResult } from './ingest.run.js';

/** Dependencies of the ingestion workers. */
export interface IngestWorkerDeps {
  knex: Knex;
  nats: NatsHandles;
  names: Names;
  buckets: Buckets;
  logger: Logger;
  worker: string;
  clock: () => Date;
  /** A SIAL client for a run, honouring the configured requests per second (0 = unlimited). */
  sialFor: (requestsPerSecond: number) => SialClient;
  /** Default personal-data concurrency when the configuration has none. */
  concurrency: number;
  maxAttempts?: number;
  backoffMs?: (attempt: number) => number;
}

export const INGEST_MANUAL_SUBJECT = 'lucy.cmd.ingest.ingesta_manual';
export const INGEST_MANUAL_TASK = 'alumnos.tasks.ingesta_manual';
export const periodicSubject = (tipo: Tipo) => `lucy.cmd.ingest.ingestar_${tipo}`;
export const periodicTask = (tipo: Tipo) => `alumnos.tasks.ingestar_${tipo}`;

/** Semantic validation of a manual command (Spanish field errors). */
export function validateManual(m: IngestaManualCommand): FieldError[] {
  const errors: FieldError[] = [];
  if (!tipoFromPb(m.tipo)) {
    errors.push({
      field: 'tipo',
      message: 'Tipo de ingesta desconocido: debe ser preinscriptos, aspirantes o ingresantes.',
    });
  }
  if (m.desde && !m.hasta)
    errors.push({ field: 'hasta', message: 'Indique la fecha «hasta» junto con «desde».' });
  if (!m.desde && m.hasta)
    errors.push({ field: 'desde', message: 'Indique la fecha «desde» junto con «hasta».' });
  if (m.desde && m.hasta && timestampDate(m.desde).getTime() > timestampDate(m.hasta).getTime()) {
    errors.push({ field: 'desde', message: 'La fecha «desde» debe ser anterior a la fecha «hasta».' });
  }
  return errors;
}

/** The range of a (validated) manual command: the staff's desde/hasta, or the full list up to now. */
export function manualRange(m: IngestaManualCommand, now: Date): IncrementalRange {
  return m.desde && m.hasta
    ? {
        modo: 'incremental',
        desde: timestampDate(m.desde),
        hasta: timestampDate(m.hasta),
        motivo: 'Rango indicado por el personal.',
      }
    : { modo: 'completo', hasta: now, motivo: 'Ingesta manual de la lista completa.' };
}

function toResult(
  tipo: Tipo,
  range: IncrementalRange,
  run: IngestRunResult,
  extra: Record<string, unknown>,
): HandlerResult {
  return {
    cantidadEntidades: extra.dry_run ? 0 : cantidadEntidades(run.detalles),
    detalles: {
      ...run.detalles,
      tipo,
      modo: range.modo,
      motivo: range.motivo,
      ...(range.desde ? { desde: range.desde.toISOString() } : {}),
      hasta: range.hasta.toISOString(),
      ...extra,
    },
  };
}

/**
 * Runs one ingestion (everything after the window check) and records it: its result (`succeeded`, `dry_run`,
 * `failed`, or `cancelled` when the task's signal aborted it), its duration, and for a real successful run its
 * records, problems and end time.
 */
async function measuredRun(
  tipo: Tipo,
  dryRun: boolean,
  signal: AbortSignal,
  clock: () => Date,
  run: () => Promise<{ result: HandlerResult; detalles: IngestRunResult['detalles'] }>,
): Promise<HandlerResult> {
  const endTimer = ingestMetrics.runSeconds.startTimer({ tipo });
  let outcome: { result: HandlerResult; detalles: IngestRunResult['detalles'] };
  try {
    outcome = await run();
  } catch (err) {
    endTimer();
    ingestMetrics.runs.inc({ tipo, result: signal.aborted ? 'cancelled' : 'failed' });
    throw err;
  }
  endTimer();
  ingestMetrics.runs.inc({ tipo, result: dryRun ? 'dry_run' : 'succeeded' });
  if (!dryRun) {
    const d = outcome.detalles;
    const records = { creados: d.creados, actualizados: d.actualizados, sin_cambios: d.sin_cambios };
    for (const [name, n] of Object.entries({ ...records, descartados: d.descartados })) {
      ingestMetrics.records.inc({ tipo, outcome: name }, n);
    }
    for (const categoria of ERROR_CATEGORIAS) {
      ingestMetrics.errors.inc({ tipo, categoria }, d.errores[categoria]);
    }
    ingestMetrics.lastSuccess.set({ tipo }, clock().getTime() / 1000);
  }
  return outcome.result;
}

/** The run's summary as a Log row of its Tarea: SUCCESS without problems, WARNING with some (as the original). */
async function logSummary(reporter: TaskReporter, tipo: Tipo, d: IngestRunResult['detalles']): Promise<void> {
  await reporter.log({
    level: d.total_errores === 0 ? 'SUCCESS' : 'WARNING',
    module: LOG_MODULE,
    message: summarizeIngest(tipo, d),
    detalles: {
      recibidos: d.recibidos,
      creados: d.creados,
      actualizados: d.actualizados,
      sin_cambios: d.sin_cambios,
      descartados: d.descartados,
      errores: d.errores,
    },
  });
}

/** Creates the four ingestion workers (not started). */
export function createIngestWorkers(deps: IngestWorkerDeps): CommandWorker[] {
  const common = {
    js: deps.nats.js,
    jsm: deps.nats.jsm,
    names: deps.names,
    logger: deps.logger,
    worker: deps.worker,
    cancellations: deps.buckets.cancellations,
    concurrency: 1,
    ackWaitMs: 60_000,
    ...(deps.maxAttempts ? { maxAttempts: deps.maxAttempts } : {}),
    ...(deps.backoffMs ? { backoffMs: deps.backoffMs } : {}),
  };
  const runDeps = {
    knex: deps.knex,
    events: createBatchPublisher(deps.nats.nc),
    names: deps.names,
    logger: deps.logger,
    clock: deps.clock,
  };

  const periodic = TIPOS.map((tipo) =>
    createCommandWorker({
      ...common,
      durable: `ingest-sial_ingestar_${tipo}`,
      subject: periodicSubject(tipo),
      taskType: periodicTask(tipo),
      schema: IngestarCommandSchema,
      handle: async (ctx) => {
        const now = deps.clock();
        const config = await loadConfiguracion(deps.knex);
        const ventana = config.ventanas[tipo];
        if (!ctx.message.ignorarVentana) {
          const decision = evaluateWindow({ tipo, inicio: ventana.diaInicio, fin: ventana.diaFin }, now);
          if (!decision.run) {
            ingestMetrics.runs.inc({ tipo, result: 'skipped' });
            throw new SkipTask(decision.reason, { codigo: decision.code, tipo });
          }
        }
        return measuredRun(tipo, false, ctx.signal, deps.clock, async () => {
          const range = incrementalRange({
            checkpoint: ventana.ultimaIngesta,
            now,
            inicio: ventana.diaInicio,
          });
          const run = await runIngestion(runDeps, {
            tipo,
            range,
            sial: deps.sialFor(config.sialRequestsPorSegundo),
            concurrency: config.sialConcurrencia > 0 ? config.sialConcurrencia : deps.concurrency,
            dryRun: false,
            lastGoodCount: ventana.ultimaCantidad || undefined,
            reporter: ctx.reporter,
            task: ctx.task,
            signal: ctx.signal,
            working: () => ctx.working(),
          });
          if (range.modo === 'completo' && run.detalles.recibidos === 0 && ventana.ultimaCantidad > 0) {
            // An empty full list after a good one is more likely a SIAL or proxy fault than an emptied table: it
            // moves nothing (checkpoint, a reset kept for the next run) until staff confirm it with a manual run.
            throw new TransientError(
              `SIAL devolvió la lista completa de ${tipo} vacía (la última completa trajo ${ventana.ultimaCantidad} registros); no se avanza el punto de control. Si la lista está vacía de verdad, confírmelo con una ingesta manual completa.`,
              { code: 'SIAL_LISTA_VACIA' },
            );
          }
          const checkpoint = nextCheckpoint({
            previous: ventana.ultimaIngesta,
            range,
            erroresSial: run.detalles.errores.sial,
          });
          await saveCheckpoint(
            deps.knex,
            tipo,
            checkpoint,
            range.modo === 'completo' && run.detalles.recibidos > 0 ? run.detalles.recibidos : undefined,
          );
          ctx.logger.info({ tipo, detalles: run.detalles }, summarizeIngest(tipo, run.detalles));
          await logSummary(ctx.reporter, tipo, run.detalles);
          return {
            result: toResult(tipo, range, run, { checkpoint: checkpoint?.toISOString() ?? null }),
            detalles: run.detalles,
          };
        });
      },
    }),
  );

  const manual = createCommandWorker({
    ...common,
    durable: 'ingest-sial_ingesta_manual',
    subject: INGEST_MANUAL_SUBJECT,
    taskType: INGEST_MANUAL_TASK,
    schema: IngestaManualCommandSchema,
    validate: validateManual,
    handle: async (ctx) => {
      const tipo = tipoFromPb(ctx.message.tipo)!;
      const dryRun = ctx.message.dryRun;
      return measuredRun(tipo, dryRun, ctx.signal, deps.clock, async () => {
        const now = deps.clock();
        const config = await loadConfiguracion(deps.knex);
        const range = manualRange(ctx.message, now);
        const run = await runIngestion(runDeps, {
          tipo,
          range,
          sial: deps.sialFor(config.sialRequestsPorSegundo),
          concurrency: config.sialConcurrencia > 0 ? config.sialConcurrencia : deps.concurrency,
          dryRun: ctx.message.dryRun,
          lastGoodCount: config.ventanas[tipo].ultimaCantidad || undefined,
          reporter: ctx.reporter,
          task: ctx.task,
          signal: ctx.signal,
          working: () => ctx.working(),
        });
        if (!dryRun && range.modo === 'completo' && run.detalles.recibidos === 0) {
          // Staff asked for the whole list and SIAL has none: that confirms it, so scheduled runs accept it too.
          await updateConfiguracion(deps.knex, { [`ultima_cantidad_${tipo}`]: 0 });
        }
        if (!dryRun) await logSummary(ctx.reporter, tipo, run.detalles);
        const extra = dryRun ? { dry_run: true, plan: run.plan, plan_truncado: run.plan.length >= 200 } : {};
        return { result: toResult(tipo, range, run, extra), detalles: run.detalles };
      });
    },
  });
  return [...periodic, manual];
}
