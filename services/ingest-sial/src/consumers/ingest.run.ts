/**
 * One ingestion run: list → validate → load stored alumnos (one query) → personal data where the fingerprint rule
 * says so (bounded concurrency) → merge → bulk upsert → alumno events. Shared by the periodic and manual tasks.
 */
import { setMaxListeners } from 'node:events';
import { create } from '@bufbuild/protobuf';
import type { Knex } from '@mikro-orm/postgresql';
import {
  CONTENT_TYPE,
  encode,
  H,
  PermanentError,
  publishAllOrThrow,
  taskHeaders,
  TransientError,
  uuidv7,
  type Logger,
  type BatchPublisher,
  type Names,
  type TaskContext,
  type TaskReporter,
} from '@lucy/platform';
import { AlumnoCreatedSchema, AlumnoUpdatedSchema } from '@lucy/proto';
import { mapWithConcurrency, SialConnectionError, SialError, type SialClient } from '../adapters/index.js';
import {
  assessSourceHealth,
  createIngestTally,
  mapSialAlumno,
  ESTADO_FOR_TIPO,
  mergeAlumno,
  parsePersonalData,
  personalDataError,
  restoreListItem,
  scannedFingerprint,
  createListScanner,
  dataRejected,
  recordError,
  shouldFetchPersonalData,
  type FieldChange,
  type IncrementalRange,
  type IngestDetalles,
  type ListScan,
  type MergeKind,
  type PreparedItem,
  type RecordError,
  type ScannedItem,
  type SialListItem,
  type SialPersonalData,
  type Tipo,
} from '../domain/index.js';
import {
  documentKey,
  documentTypesByNumber,
  findUnchangedPositions,
  loadAlumnosByDocument,
  upsertAlumnos,
  type AlumnoUpsert,
  type StoredAlumno,
  type UpsertRejection,
} from '../db/alumno.repository.js';
import { toAlumnoPb, toFieldChangePb } from '../mapping.js';

/** What a run needs. */
export interface IngestRunDeps {
  knex: Knex;
  /** Publishes the alumno events of each page in one pass (`createBatchPublisher` on the service's connection). */
  events: BatchPublisher;
  names: Names;
  logger: Logger;
  clock: () => Date;
}

/** Input of {@link runIngestion}. */
export interface IngestRunInput {
  tipo: Tipo;
  range: IncrementalRange;
  sial: SialClient;
  concurrency: number;
  dryRun: boolean;
  /** Last good full-list count, for source-health warnings. */
  lastGoodCount: number | undefined;
  /** The Tarea's reporter (progress, warnings); absent for a synchronous plan (PlanIngesta). */
  reporter?: TaskReporter | undefined;
  /** The Tarea's context, for the alumno events' headers; required unless `dryRun`. */
  task?: TaskContext | undefined;
  signal: AbortSignal;
  working?: (() => void) | undefined;
  /** Planned changes kept in the result; default 200. */
  planCap?: number | undefined;
  /**
   * Names this pass in the alumno events' `Nats-Msg-Id` when one Tarea makes several (the reconciliation's
   * incremental window, then its full list), so an alumno changed by both is announced by both.
   */
  pass?: string | undefined;
  /** Called for each alumno created or updated once its write held (not for dry runs): the reconciliation's hook. */
  onChanged?: ((change: WrittenChange) => Promise<void>) | undefined;
}

/** An alumno a run created or updated (written and committed). */
export interface WrittenChange {
  kind: 'create' | 'update';
  alumnoId: string;
  tipo_documento: string;
  dni: string;
  changes: readonly FieldChange[];
}

/** One planned change (dry runs). */
export interface PlannedChange {
  kind: MergeKind;
  tipo_documento: string;
  dni: string;
  changes: readonly FieldChange[];
}

/** The run's result. */
export interface IngestRunResult {
  detalles: IngestDetalles;
  plan: PlannedChange[];
}

const PROGRESS_EVERY = 2000;
/** Module of the Log rows an ingestion writes. */
export const LOG_MODULE = 'ingest_sial';
/** Problems with records written to the Log one by one per run; the rest are counted in one line. */
export const RECORD_LOG_CAP = 200;
/** Planned changes a dry-run Tarea keeps in its detalles. */
export const PLAN_CAP = 200;
/** Alumno events published in one pass (a page has at most 5,000 records). */
const EVENT_CHUNK = 1024;
/** Records per page of a run: stored rows loaded, merged, upserted and announced together. */
export const RUN_PAGE = 5000;

/** Maps a SIAL failure of the list request to the worker's error classes. */
export function listFailure(err: unknown): Error {
  if (err instanceof SialError) {
    // Each kind says what it is: «Error de conexión con SIAL: …» (unreachable, timeout), «SIAL respondió HTTP 502
    // …», «Respuesta inválida de SIAL …» (a proxy's HTML page); all retried with backoff.
    if (err.transient)
      return new TransientError(err.message, {
        cause: err,
        code: err instanceof SialConnectionError ? 'SIAL_CONNECTION' : 'SIAL',
      });
    return new PermanentError(err.message, { cause: err, code: 'SIAL' });
  }
  return err instanceof Error ? err : new Error(String(err));
}

/** Runs one ingestion; throws (without writing anything) when the list request fails. */
export async function runIngestion(deps: IngestRunDeps, input: IngestRunInput): Promise<IngestRunResult> {
  const { tipo, range, sial, reporter } = input;
  const planCap = input.planCap ?? PLAN_CAP;
  const tally = createIngestTally();
  // Every problem with a record is counted in the detalles and, up to a bound, is a Log row of the Tarea naming
  // the record and the reason: a run over a broken list must not flood the Log with 100,000 lines.
  let logged = 0;
  let unlogged = 0;
  const problem = async (
    e: RecordError,
    options: { discarded: boolean; alumnoId?: string | undefined },
  ): Promise<void> => {
    tally.error(e);
    if (options.discarded) tally.discarded();
    if (!reporter) return;
    if (logged >= RECORD_LOG_CAP) {
      unlogged++;
      return;
    }
    logged++;
    await reporter.log({
      // A record left out of the run is an error; a record saved without one of its fields is a warning.
      level: options.discarded ? 'ERROR' : 'WARNING',
      module: LOG_MODULE,
      message: e.mensaje,
      detalles: {
        categoria: e.categoria,
        registro: e.registro,
        ...(e.campo ? { campo: e.campo } : {}),
        descartado: options.discarded,
      },
      ...(options.alumnoId ? { alumnoId: options.alumnoId } : {}),
    });
  };
  // Every in-flight SIAL request listens on the task's signal.
  setMaxListeners(input.concurrency * 2 + 10, input.signal);
  // First pass, while the list arrives: validate each record and find which position wins each document. The
  // client parses the response record by record, so only the validated items are kept, never the raw list.
  let scan: ListScan;
  try {
    scan = await sial.listarEach(
      tipo,
      range.modo === 'completo' ? {} : { desde: range.desde!, hasta: range.hasta },
      () => {
        const scanner = createListScanner(tipo);
        return { record: (record, json) => scanner.add(record, json), end: () => scanner.finish() };
      },
      { signal: input.signal },
    );
  } catch (err) {
    throw listFailure(err);
  }
  const received = scan.items.length;
  tally.received(received);
  for (const e of scan.rejected) await problem(e, { discarded: true });
  const warnings = [
    ...scan.warnings,
    ...assessSourceHealth({
      tipo,
      received,
      lastGoodCount: input.lastGoodCount,
      modo: range.modo,
      invalid: scan.rejected.length,
    }).warnings,
  ];
  for (const w of warnings) {
    tally.warn(w);
    await reporter?.log({ level: 'WARNING', module: LOG_MODULE, message: w });
  }

  const now = deps.clock();
  const estado = ESTADO_FOR_TIPO[tipo];
  const plan: PlannedChange[] = [];
  let done = 0;
  const total = scan.kept;
  const scanned = scan.items;

  // Page by page (skip the unchanged → load stored → personal data → merge → upsert → events): each scanned item is
  // released as its page is taken, so memory is bounded by a page and the compact scanned list, not by the list
  // with its parsed records, stored rows, merges and events.
  const takePage = (start: number): ScannedItem[] => {
    const page: ScannedItem[] = [];
    const end = Math.min(scanned.length, start + RUN_PAGE);
    for (let position = start; position < end; position++) {
      const item = scanned[position];
      if (item) page.push(item);
      scanned[position] = undefined;
    }
    return page;
  };
  // An incremental window lists only records SIAL says it modified in that window, and a change of personal data
  // alone (a new phone) leaves the list entry — and so its fingerprint — as it was: every record of a window gets
  // its personal data (a window holds few), and the fingerprint rule saves the requests on full lists only.
  const windowed = range.modo === 'incremental';
  // Which records of a page are unchanged: a query that only reads the page's documents, so the next page's can
  // run in Postgres while this process works on the current page (pages never share a document).
  const unchangedOf = (
    items: readonly ScannedItem[],
    fingerprints: readonly string[],
  ): Promise<Set<number>> => {
    if (windowed) return Promise.resolve(new Set<number>());
    const pending = findUnchangedPositions(deps.knex, tipo, estado, {
      tipoDocumento: items.map((x) => x.tipodoc),
      dni: items.map((x) => x.nrodoc),
      fingerprint: fingerprints,
    });
    pending.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
    return pending;
  };
  // A page's items, their fingerprints (hashed from the kept text) and its unchanged query, started.
  type Page = { items: ScannedItem[]; fingerprints: string[]; unchanged: Promise<Set<number>> };
  const startPage = (start: number): Page => {
    const items = takePage(start);
    const fingerprints = items.map(scannedFingerprint);
    return { items, fingerprints, unchanged: unchangedOf(items, fingerprints) };
  };
  if (scanned.length > 0) {
    let next = startPage(0);
    for (let p = 0; p < scanned.length; p += RUN_PAGE) {
      const current = next;
      if (p + RUN_PAGE < scanned.length) next = startPage(p + RUN_PAGE);
      await runPage(current.items, current.fingerprints, await current.unchanged);
    }
  }
  if (unlogged > 0) {
    await reporter?.log({
      level: 'WARNING',
      module: LOG_MODULE,
      message: `Otros ${unlogged} problemas con registros no se detallan en el Log; están contados en los detalles de la Tarea.`,
    });
  }
  return { detalles: tally.toDetalles(), plan };

  /**
   * One person, one alumno: an entry SIAL sent without tipodoc takes the document type of the one alumno stored
   * with that number (a passport holder stays PAS); with none, or only a DNI, it is a DNI; with several it is
   * rejected with the reason, never guessed. An entry that resolves to a document already in the page is dropped.
   */
  async function resolveOmittedTipodoc(page: PreparedItem[]): Promise<void> {
    const omitted = page.filter((p) => p.item.tipodocOmitted);
    if (omitted.length === 0) return;
    const stored = await documentTypesByNumber(
      deps.knex,
      omitted.map((p) => p.item.nrodoc),
    );
    const keys = new Set(
      page.filter((p) => !p.item.tipodocOmitted).map((p) => documentKey(p.item.tipodoc, p.item.nrodoc)),
    );
    const kept: PreparedItem[] = [];
    for (const p of page) {
      if (!p.item.tipodocOmitted) {
        kept.push(p);
        continue;
      }
      const tipos = stored.get(p.item.nrodoc) ?? [];
      if (tipos.length > 1) {
        await problem(
          recordError(
            'datos_invalidos',
            `Documento ${p.item.nrodoc}`,
            `SIAL no envió tipodoc y hay ${tipos.length} alumnos con ese número (${tipos.join(', ')}); no se adivina cuál es, el registro no se guardó`,
            'tipodoc',
          ),
          { discarded: true },
        );
        done++;
        continue;
      }
      const tipodoc = tipos[0] ?? p.item.tipodoc;
      const key = documentKey(tipodoc, p.item.nrodoc);
      if (keys.has(key)) {
        // The same person listed twice, once with tipodoc and once without: the entry with it wins.
        tally.outcome('unchanged');
        done++;
        continue;
      }
      keys.add(key);
      kept.push(tipodoc === p.item.tipodoc ? p : { ...p, item: { ...p.item, tipodoc } });
    }
    page.length = 0;
    page.push(...kept);
  }

  async function runPage(
    items: readonly ScannedItem[],
    fingerprints: readonly string[],
    unchanged: Set<number>,
  ): Promise<void> {
    // Records whose list fingerprint matches the stored one (and whose alumno has names and is at or past this
    // estado) need no personal data and merge to `unchanged` ({@link findUnchangedPositions}): they skip the rest.
    // The others are parsed again from their text, only now.
    const page: PreparedItem[] = [];
    items.forEach((scannedItem, i) => {
      if (!unchanged.has(i)) {
        const { issues } = scannedItem;
        page.push({ item: restoreListItem(scannedItem), fingerprint: fingerprints[i]!, issues });
        return;
      }
      for (const e of scannedItem.issues) tally.error(e);
      tally.outcome('unchanged');
      done++;
    });
    if (unchanged.size > 0) {
      input.working?.();
      await reporter?.progress(done, total, `${done} de ${total} registros procesados`);
    }
    await resolveOmittedTipodoc(page);
    if (page.length === 0) return;
    const existing = await loadAlumnosByDocument(
      deps.knex,
      page.map(({ item }) => ({ tipo_documento: item.tipodoc, dni: item.nrodoc })),
    );
    const upserts: AlumnoUpsert[] = [];
    // The merge outcome of each record written, counted once the write is known to have held.
    const written: {
      kind: MergeKind;
      item: SialListItem;
      alumnoId: string | undefined;
      id: string;
      changes: readonly FieldChange[];
    }[] = [];
    const events: AlumnoEvent[] = [];

    await mapWithConcurrency(page, input.concurrency, async ({ item, fingerprint, issues }) => {
      const stored = existing.get(documentKey(item.tipodoc, item.nrodoc));
      for (const e of issues) await problem(e, { discarded: false, alumnoId: stored?.id });
      const decision = shouldFetchPersonalData({
        existing: stored,
        storedFingerprint: stored?.fingerprints[tipo],
        fingerprint,
        force: windowed,
      });
      let personal: SialPersonalData | null = null;
      let personalOk = !decision.fetch;
      if (decision.fetch) {
        tally.personalDataFetched();
        try {
          const parsed = parsePersonalData(
            await sial.datosPersonales(item.nrodoc, { signal: input.signal }),
            item,
          );
          if (parsed.ok) {
            personal = parsed.value;
            personalOk = true;
            for (const e of parsed.issues) await problem(e, { discarded: false, alumnoId: stored?.id });
          } else if (parsed.error.categoria === 'datos_invalidos') {
            // A value no column can hold: the record is left out whole, the stored alumno untouched, and its
            // fingerprint not written, so the next run asks again.
            await problem(parsed.error, { discarded: true, alumnoId: stored?.id });
            done++;
            return;
          } else await problem(parsed.error, { discarded: false, alumnoId: stored?.id });
        } catch (err) {
          if (input.signal.aborted) throw err;
          await problem(personalDataError(item, err), { discarded: false, alumnoId: stored?.id });
        }
      }
      const result = mergeAlumno(stored, mapSialAlumno(item, personal), tipo);
      if (result.kind !== 'unchanged' && plan.length < planCap) {
        plan.push({
          kind: result.kind,
          tipo_documento: item.tipodoc,
          dni: item.nrodoc,
          changes: result.changes,
        });
      }
      const newFingerprint = personalOk && stored?.fingerprints[tipo] !== fingerprint;
      const id = stored?.id ?? uuidv7(now.getTime());
      if (input.dryRun || !(result.kind !== 'unchanged' || newFingerprint)) tally.outcome(result.kind);
      else written.push({ kind: result.kind, item, alumnoId: stored?.id, id, changes: result.changes });
      if (result.kind !== 'unchanged' || newFingerprint) {
        upserts.push({
          id,
          values: result.values,
          fingerprint: personalOk ? { tipo, value: fingerprint } : undefined,
          // A fingerprint-only write is not a change of the alumno.
          now: result.kind === 'unchanged' && stored ? stored.updated_at : now,
        });
        if (result.kind !== 'unchanged') {
          events.push({
            kind: result.kind,
            changes: result.changes,
            alumno: {
              ...result.values,
              id,
              email_institucional: stored?.email_institucional ?? null,
              teams_procesado: stored?.teams_procesado ?? false,
              moodle_procesado: stored?.moodle_procesado ?? false,
              email_procesado: stored?.email_procesado ?? false,
              fingerprints: {},
              created_at: stored?.created_at ?? now,
              updated_at: now,
            },
          });
        }
      }
      done++;
      if (done % PROGRESS_EVERY === 0) {
        input.working?.();
        await reporter?.progress(done, total, `${done} de ${total} registros procesados`);
      }
    });

    if (!input.dryRun) {
      if (!input.task) throw new Error('runIngestion: a run that writes needs its task context');
      let rejected: UpsertRejection[];
      try {
        rejected = await upsertAlumnos(deps.knex, upserts);
      } catch (err) {
        // Not a data error (those are isolated row by row): the database is unavailable or overloaded; retry the
        // whole run (it is idempotent).
        throw new TransientError(`No se pudieron guardar los alumnos: ${(err as Error).message}`, {
          cause: err,
        });
      }
      const refused = new Map(
        rejected.map((r) => [documentKey(r.row.values.tipo_documento, r.row.values.dni), r]),
      );
      for (const w of written) {
        const r = refused.get(documentKey(w.item.tipodoc, w.item.nrodoc));
        if (r) await problem(dataRejected(w.item, r.reason), { discarded: true, alumnoId: w.alumnoId });
        else {
          tally.outcome(w.kind);
          if (w.kind !== 'unchanged' && input.onChanged) {
            await input.onChanged({
              kind: w.kind,
              alumnoId: w.id,
              tipo_documento: w.item.tipodoc,
              dni: w.item.nrodoc,
              changes: w.changes,
            });
          }
        }
      }
      await publishAlumnoEvents(
        deps,
        refused.size === 0
          ? events
          : events.filter((e) => !refused.has(documentKey(e.alumno.tipo_documento, e.alumno.dni))),
        input.task,
        input.pass,
      );
    }
  }
}

type AlumnoEvent = { kind: 'create' | 'update'; alumno: StoredAlumno; changes: readonly FieldChange[] };

async function publishAlumnoEvents(
  deps: IngestRunDeps,
  events: readonly AlumnoEvent[],
  task: TaskContext,
  pass?: string,
): Promise<void> {
  const taskId = task.taskId;
  const idPrefix = pass ? `${taskId}:${pass}` : taskId;
  const created = deps.names.evt('alumno', 'created');
  const updated = deps.names.evt('alumno', 'updated');
  for (let i = 0; i < events.length; i += EVENT_CHUNK) {
    const messages = events.slice(i, i + EVENT_CHUNK).map((e) => {
      const headers = taskHeaders(task, CONTENT_TYPE.protobuf);
      headers.set(H.msgId, `${idPrefix}:${e.alumno.id}:${e.kind}`);
      const alumno = toAlumnoPb(e.alumno);
      const data =
        e.kind === 'create'
          ? encode(
              AlumnoCreatedSchema,
              create(AlumnoCreatedSchema, { alumno, taskId }),
              CONTENT_TYPE.protobuf,
            )
          : encode(
              AlumnoUpdatedSchema,
              create(AlumnoUpdatedSchema, { alumno, taskId, changes: e.changes.map(toFieldChangePb) }),
              CONTENT_TYPE.protobuf,
            );
      return { subject: e.kind === 'create' ? created : updated, data, headers };
    });
    // A failure fails the page as a rejected publication did: the run is retried, and the same Nats-Msg-Id
    // makes JetStream drop the events that were stored the first time.
    await publishAllOrThrow(deps.events, messages);
  }
}
