/** The ingestion workers: one per periodic tipo (`alumnos.tasks.ingestar_<tipo>`) and the manual one. */
import { timestampDate } from '@bufbuild/protobuf/wkt';
import type { Knex } from '@mikro-orm/postgresql';
import {
  createBatchPublisher,
  createCommandWorker,
  PermanentError,
  SkipTask,
  TransientError,
  ValidationError,
  type Buckets,
  type CommandContext,
  type CommandWorker,
  type FieldError,
  type HandlerResult,
  type Logger,
  type Names,
  type NatsHandles,
  type TaskReporter,
} from '@lucy/platform';
import { IngestaManualCommandSchema, IngestarCommandSchema, type IngestaManualCommand } from '@lucy/proto';
import type { SialClient, SialClientOptions } from '../adapters/index.js';
import {
  cantidadEntidades,
  combineDetalles,
  evaluateWindow,
  incrementalRange,
  nextCheckpoint,
  summarizeIngest,
  TIPOS,
  ERROR_CATEGORIAS,
  type IncrementalRange,
  type IngestDetalles,
  type Tipo,
} from '../domain/index.js';
import {
  loadConfiguracion,
  saveCheckpoint,
  updateConfiguracion,
  type Configuracion,
} from '../db/configuracion.repository.js';
import { tipoFromPb } from '../mapping.js';
import { ingestMetrics } from '../metrics.js';
import {
  LOG_MODULE,
  RECORD_LOG_CAP,
  runIngestion,
  type IngestRunResult,
  type WrittenChange,
} from './ingest.run.js';

/** Dependencies of the ingestion workers. */
export interface IngestWorkerDeps {
  knex: Knex;
  nats: NatsHandles;
  names: Names;
  buckets: Buckets;
  logger: Logger;
  worker: string;
  clock: () => Date;
  /**
   * A SIAL client for a run, honouring the configured requests per second (0 = unlimited); `onRetry` hears each
   * HTTP retry inside the run (the Tarea's Log).
   */
  sialFor: (requestsPerSecond: number, onRetry?: SialClientOptions['onRetry']) => SialClient;
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

/** Tarea attempts of an ingestion before it is dead-lettered, unless configured (`INGEST_MAX_ATTEMPTS`). */
const DEFAULT_MAX_ATTEMPTS = 5;

/**
 * Delay before the worker runs a failed ingestion again, by attempt: 1 s · 4^(n−1), at most 5 minutes (the
 * platform worker's curve, passed to it explicitly so that the Log row of a failed attempt states the real wait).
 */
export const ingestBackoffMs = (attempt: number): number =>
  Math.min(1000 * 4 ** Math.max(0, attempt - 1), 5 * 60_000);

/** HTTP retries inside one attempt written to the Log; the rest only to the service log. */
const HTTP_RETRY_LOG_CAP = 20;

/** A wait in Spanish: «900 ms», «16 s», «4 min 16 s». */
export function describeWait(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const rest = s % 60;
  return rest === 0 ? `${s / 60} min` : `${Math.floor(s / 60)} min ${rest} s`;
}

/** What the worker will do after a failed attempt (its own rules, mirrored so that the Log can say it). */
type Fate =
  { kind: 'retry'; delayMs: number } | { kind: 'final'; permanent: boolean } | { kind: 'interrupted' };

interface AttemptPolicy {
  maxAttempts: number;
  backoffMs: (attempt: number) => number;
}

function fateOf(err: unknown, attempt: number, signal: AbortSignal, policy: AttemptPolicy): Fate {
  if (err instanceof PermanentError || err instanceof ValidationError)
    return { kind: 'final', permanent: true };
  // A worker that is stopping hands the task back without using up the attempt.
  if (signal.aborted) return { kind: 'interrupted' };
  if (attempt < policy.maxAttempts) return { kind: 'retry', delayMs: policy.backoffMs(attempt) };
  return { kind: 'final', permanent: false };
}

/**
 * The SIAL client's HTTP retries inside this attempt as Log rows (a retried request is not a Tarea attempt), up to
 * {@link HTTP_RETRY_LOG_CAP}; the service log has every one.
 */
function httpRetryLog(ctx: CommandContext<unknown>): NonNullable<SialClientOptions['onRetry']> {
  let logged = 0;
  return ({ attempt, delayMs, error }) => {
    if (logged > HTTP_RETRY_LOG_CAP) return;
    logged++;
    const message =
      logged > HTTP_RETRY_LOG_CAP
        ? `Hubo más de ${HTTP_RETRY_LOG_CAP} solicitudes HTTP a SIAL repetidas en el intento ${ctx.attempt}; el resto no se detalla en el Log.`
        : `Solicitud HTTP a SIAL fallida (${error.message}); se repite en ${describeWait(delayMs)} (solicitud ${attempt + 1}, dentro del intento ${ctx.attempt} de la Tarea).`;
    void ctx.reporter
      .log({
        level: 'WARNING',
        module: LOG_MODULE,
        message,
        detalles: { solicitud: attempt, espera_ms: delayMs, intento: ctx.attempt },
      })
      .catch(() => undefined);
  };
}

/**
 * A failed attempt, counted (attempt, and the task when no retry follows). Its Log rows — the attempt with the wait
 * before the next one, the final failure — are written by task-tracker from the runner's `failed` event, as for
 * every task; writing them here too showed each failure twice.
 */
function recordFailure(ctx: CommandContext<unknown>, tipo: Tipo, err: unknown, policy: AttemptPolicy): void {
  const fate = fateOf(err, ctx.attempt, ctx.signal, policy);
  ingestMetrics.attempts.inc({ tipo, result: fate.kind === 'interrupted' ? 'interrupted' : 'failed' });
  if (fate.kind === 'final') ingestMetrics.runs.inc({ tipo, result: 'failed' });
}

/** Reads the configuration for an attempt; a failure (the database unavailable) is a failed attempt like any. */
async function configurationFor(
  ctx: CommandContext<unknown>,
  tipo: Tipo,
  knex: Knex,
  policy: AttemptPolicy,
): Promise<Configuracion> {
  try {
    return await loadConfiguracion(knex);
  } catch (err) {
    const failure = new TransientError(
      `No se pudo leer la Configuración de ingesta: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
    recordFailure(ctx, tipo, failure, policy);
    throw failure;
  }
}

/**
 * Runs one ingestion attempt (everything after the window check) and records it. Attempts and tasks are counted
 * apart: `lucy_ingest_attempts_total` counts every attempt's result; `lucy_ingest_runs_total` counts a task once,
 * when it ends (`succeeded`, `dry_run`, or `failed` when no retry follows). A failed attempt's Log row is written by
 * task-tracker ({@link recordFailure}).
 */
async function measuredRun(
  ctx: CommandContext<unknown>,
  tipo: Tipo,
  label: string,
  dryRun: boolean,
  policy: AttemptPolicy,
  clock: () => Date,
  run: () => Promise<{ result: HandlerResult; detalles: IngestDetalles }>,
): Promise<HandlerResult> {
  const endTimer = ingestMetrics.runSeconds.startTimer({ tipo });
  let outcome: { result: HandlerResult; detalles: IngestDetalles };
  try {
    outcome = await run();
  } catch (err) {
    endTimer();
    recordFailure(ctx, tipo, err, policy);
    throw err;
  }
  endTimer();
  const result = dryRun ? 'dry_run' : 'succeeded';
  ingestMetrics.attempts.inc({ tipo, result });
  ingestMetrics.runs.inc({ tipo, result });
  if (!dryRun) {
    const d = outcome.detalles;
    // Metric labels stay Spanish (the README's table); the Tarea's keys are the spec's.
    const records = { creados: d.created, actualizados: d.updated, sin_cambios: d.sin_cambios };
    for (const [name, n] of Object.entries({ ...records, descartados: d.descartados })) {
      ingestMetrics.records.inc({ tipo, outcome: name }, n);
    }
    for (const categoria of ERROR_CATEGORIAS) {
      ingestMetrics.errors.inc({ tipo, categoria }, d.errores_categorizados[categoria]);
    }
    ingestMetrics.lastSuccess.set({ tipo }, clock().getTime() / 1000);
  }
  return outcome.result;
}

/** The run's summary as a Log row of its Tarea: SUCCESS without problems, WARNING with some (as the original). */
async function logSummary(
  reporter: TaskReporter,
  tipo: Tipo,
  d: IngestDetalles,
  extra: { titulo?: string; detalles?: Record<string, unknown> } = {},
): Promise<void> {
  await reporter.log({
    level: d.errors === 0 ? 'SUCCESS' : 'WARNING',
    module: LOG_MODULE,
    message: summarizeIngest(tipo, d, extra.titulo),
    detalles: {
      recibidos: d.recibidos,
      created: d.created,
      updated: d.updated,
      errors: d.errors,
      sin_cambios: d.sin_cambios,
      descartados: d.descartados,
      errores_categorizados: d.errores_categorizados,
      ...extra.detalles,
    },
  });
}

/**
 * The records a reconciliation caught — changed in SIAL (or new) although the incremental runs had not brought
 * them — one WARNING Log row each (up to {@link RECORD_LOG_CAP}, then one line counting the rest), the alumno
 * linked.
 */
function createCaughtLog(reporter: TaskReporter, tipo: Tipo) {
  let count = 0;
  return {
    get count() {
      return count;
    },
    async record(change: WrittenChange): Promise<void> {
      count++;
      if (count > RECORD_LOG_CAP) return;
      const campos = change.changes.map((c) => c.field);
      const what =
        change.kind === 'create'
          ? 'no estaba en el registro'
          : `había cambiado (${campos.length > 0 ? campos.join(', ') : 'sin campos visibles'})`;
      await reporter.log({
        level: 'WARNING',
        module: LOG_MODULE,
        message: `Reconciliación de ${tipo}: ${change.tipo_documento} ${change.dni} ${what} en SIAL y las ingestas incrementales no lo trajeron; ya quedó ${change.kind === 'create' ? 'creado' : 'actualizado'}.`,
        detalles: {
          reconciliacion: true,
          registro: `${change.tipo_documento} ${change.dni}`,
          tipo_cambio: change.kind === 'create' ? 'creado' : 'actualizado',
          campos,
        },
        alumnoId: change.alumnoId,
      });
    },
    async flush(): Promise<void> {
      if (count > RECORD_LOG_CAP) {
        await reporter.log({
          level: 'WARNING',
          module: LOG_MODULE,
          message: `Reconciliación de ${tipo}: otros ${count - RECORD_LOG_CAP} registros perdidos por las ingestas incrementales no se detallan en el Log; están contados en los detalles de la Tarea.`,
        });
      }
    },
  };
}

/** Creates the four ingestion workers (not started). */
export function createIngestWorkers(deps: IngestWorkerDeps): CommandWorker[] {
  const policy: AttemptPolicy = {
    maxAttempts: deps.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    backoffMs: deps.backoffMs ?? ingestBackoffMs,
  };
  const common = {
    js: deps.nats.js,
    jsm: deps.nats.jsm,
    names: deps.names,
    logger: deps.logger,
    worker: deps.worker,
    cancellations: deps.buckets.cancellations,
    concurrency: 1,
    ackWaitMs: 60_000,
    maxAttempts: policy.maxAttempts,
    backoffMs: policy.backoffMs,
  };
  const runDeps = {
    knex: deps.knex,
    events: createBatchPublisher(deps.nats.nc),
    names: deps.names,
    logger: deps.logger,
    clock: deps.clock,
  };
  for (const tipo of TIPOS) ingestMetrics.reconciliationMissed.inc({ tipo }, 0);

  const periodic = TIPOS.map((tipo) =>
    createCommandWorker({
      ...common,
      durable: `ingest-sial_ingestar_${tipo}`,
      subject: periodicSubject(tipo),
      taskType: periodicTask(tipo),
      schema: IngestarCommandSchema,
      handle: async (ctx) => {
        const now = deps.clock();
        const reconciliar = ctx.message.reconciliar;
        const label = reconciliar ? `La reconciliación de ${tipo}` : `La ingesta de ${tipo}`;
        const config = await configurationFor(ctx, tipo, deps.knex, policy);
        const ventana = config.ventanas[tipo];
        if (!ctx.message.ignorarVentana) {
          const decision = evaluateWindow({ tipo, inicio: ventana.diaInicio, fin: ventana.diaFin }, now);
          if (!decision.run) {
            ingestMetrics.runs.inc({ tipo, result: 'skipped' });
            throw new SkipTask(decision.reason, { codigo: decision.code, tipo });
          }
        }
        return measuredRun(ctx, tipo, label, false, policy, deps.clock, async () => {
          const base = {
            tipo,
            sial: deps.sialFor(config.sialRequestsPorSegundo, httpRetryLog(ctx)),
            concurrency: config.sialConcurrencia > 0 ? config.sialConcurrencia : deps.concurrency,
            dryRun: false,
            reporter: ctx.reporter,
            task: ctx.task,
            signal: ctx.signal,
            working: () => ctx.working(),
          };
          const incremental = incrementalRange({
            checkpoint: ventana.ultimaIngesta,
            now,
            inicio: ventana.diaInicio,
          });
          let range = incremental;
          // A reconciliation first brings the incremental window as a normal run would, so that what the full
          // list changes afterwards is exactly what the incremental runs missed (a record changed in the last
          // minutes is not "missed"). Without a checkpoint there is nothing to reconcile against: it is the
          // full load.
          let previa: IngestRunResult | undefined;
          let caught: ReturnType<typeof createCaughtLog> | undefined;
          if (reconciliar) {
            if (incremental.modo === 'incremental') {
              previa = await runIngestion(runDeps, { ...base, range: incremental, lastGoodCount: undefined });
              caught = createCaughtLog(ctx.reporter, tipo);
            }
            range = {
              modo: 'completo',
              hasta: now,
              motivo:
                incremental.modo === 'incremental'
                  ? 'Reconciliación: la lista completa comparada por huellas con lo guardado, después de la ventana incremental.'
                  : `Reconciliación sin punto de control previo (${incremental.motivo})`,
            };
          }
          const run = await runIngestion(runDeps, {
            ...base,
            range,
            lastGoodCount: ventana.ultimaCantidad || undefined,
            onChanged: caught ? (c) => caught.record(c) : undefined,
            pass: previa ? 'completa' : undefined,
          });
          if (range.modo === 'completo' && run.detalles.recibidos === 0 && ventana.ultimaCantidad > 0) {
            // An empty full list after a good one is more likely a SIAL or proxy fault than an emptied table: it
            // moves nothing (checkpoint, a reset kept for the next run) until staff confirm it with a manual run.
            throw new TransientError(
              `SIAL devolvió la lista completa de ${tipo} vacía (la última completa trajo ${ventana.ultimaCantidad} registros); no se avanza el punto de control. Si la lista está vacía de verdad, confírmelo con una ingesta manual completa.`,
              { code: 'SIAL_LISTA_VACIA' },
            );
          }
          await caught?.flush();
          const checkpoint = nextCheckpoint({
            previous: ventana.ultimaIngesta,
            range,
            erroresSial: run.detalles.errores_categorizados.sial,
            recibidos: run.detalles.recibidos,
          });
          await saveCheckpoint(
            deps.knex,
            tipo,
            checkpoint,
            range.modo === 'completo' && run.detalles.recibidos > 0 ? run.detalles.recibidos : undefined,
          );
          const detalles = previa ? combineDetalles(previa.detalles, run.detalles) : run.detalles;
          const extra: Record<string, unknown> = { checkpoint: checkpoint?.toISOString() ?? null };
          if (run.detalles.recibidos === 0) {
            extra.checkpoint_sin_mover =
              'SIAL respondió vacío: el punto de control queda donde estaba hasta que una respuesta con registros lo confirme.';
          }
          if (reconciliar) {
            extra.modo = 'reconciliacion';
            const perdidos = caught?.count ?? 0;
            ingestMetrics.reconciliationMissed.inc({ tipo }, perdidos);
            extra.reconciliacion = {
              perdidos,
              ...(previa
                ? {
                    incremental_previa: {
                      recibidos: previa.detalles.recibidos,
                      created: previa.detalles.created,
                      updated: previa.detalles.updated,
                    },
                  }
                : {}),
            };
            await ctx.reporter.log({
              level: perdidos > 0 ? 'WARNING' : 'SUCCESS',
              module: LOG_MODULE,
              message:
                perdidos > 0
                  ? `Reconciliación de ${tipo}: ${perdidos} registros habían cambiado en SIAL sin que las ingestas incrementales los trajeran; ya quedaron al día.`
                  : previa
                    ? `Reconciliación de ${tipo}: ningún cambio perdido entre ${run.detalles.recibidos} registros comparados.`
                    : `Reconciliación de ${tipo}: no había punto de control previo; se hizo la carga completa.`,
              detalles: { perdidos, comparados: run.detalles.recibidos },
            });
          }
          ctx.logger.info({ tipo, detalles }, summarizeIngest(tipo, detalles));
          await logSummary(ctx.reporter, tipo, detalles, {
            ...(reconciliar ? { titulo: `Reconciliación de ${tipo}` } : {}),
            detalles: { modo: reconciliar ? 'reconciliacion' : range.modo },
          });
          return {
            result: toResult(tipo, range, { ...run, detalles }, extra),
            detalles,
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
      const label = dryRun ? `La simulación de ingesta de ${tipo}` : `La ingesta manual de ${tipo}`;
      return measuredRun(ctx, tipo, label, dryRun, policy, deps.clock, async () => {
        const now = deps.clock();
        const config = await loadConfiguracion(deps.knex);
        const range = manualRange(ctx.message, now);
        const run = await runIngestion(runDeps, {
          tipo,
          range,
          sial: deps.sialFor(config.sialRequestsPorSegundo, httpRetryLog(ctx)),
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
        if (!dryRun) {
          await logSummary(ctx.reporter, tipo, run.detalles, {
            titulo: `Ingesta manual de ${tipo}`,
            detalles: { modo: range.modo },
          });
        }
        const extra = dryRun ? { dry_run: true, plan: run.plan, plan_truncado: run.plan.length >= 200 } : {};
        return { result: toResult(tipo, range, run, extra), detalles: run.detalles };
      });
    },
  });
  return [...periodic, manual];
}
