/**
 * Which part of a SIAL list a run asks for.
 *
 * SIAL's `/listas/{desde}/{hasta}` filters by the record's modification time, not by inscription time. So the
 * first run of a window (no checkpoint) asks for the full list `/listas/`, as the original did: asking "modified
 * since inicio" would be cheaper but silently misses everyone who inscribed before the window opened and was not
 * modified since. Later runs ask from the checkpoint — the `hasta` of the last successful run — minus an overlap
 * that absorbs clock skew between us and SIAL, the minute precision of the path dates and records committed late
 * on SIAL's side; re-reading a few records is harmless because the merge is idempotent.
 * A checkpoint older than `inicio` belongs to a previous window (the original cleared it when the window dates
 * changed) and also leads to a full list.
 */

/** Default overlap subtracted from the checkpoint: 5 minutes. */
export const DEFAULT_OVERLAP_MS = 5 * 60_000;

/** Input of {@link incrementalRange}. */
export interface IncrementalRangeInput {
  /** `hasta` of the last successful run of this tipo; absent → full list. */
  readonly checkpoint?: Date | null | undefined;
  readonly now: Date;
  /** Subtracted from the checkpoint, in ms; default 5 minutes. */
  readonly overlapMs?: number;
  /** Start of the current window; a checkpoint before it is ignored. */
  readonly inicio?: Date | null | undefined;
  /** Staff asked for a full load ("forzar carga completa"). Default false. */
  readonly forceFull?: boolean;
}

/** The part of the list to ask for. */
export interface IncrementalRange {
  /** `completo`: `listar(tipo)`; `incremental`: `listar(tipo, { desde, hasta })`. */
  readonly modo: 'completo' | 'incremental';
  /** Only for `incremental`. */
  readonly desde?: Date;
  /** Upper bound of the query and the checkpoint to store if the run succeeds (also for `completo`). */
  readonly hasta: Date;
  /** Why this mode, in Spanish, for the Tarea detalles. */
  readonly motivo: string;
}

/** Chooses the range of a run; see the module comment for the rules. */
export function incrementalRange(input: IncrementalRangeInput): IncrementalRange {
  const { checkpoint, now, inicio } = input;
  const overlapMs = input.overlapMs ?? DEFAULT_OVERLAP_MS;
  if (!Number.isFinite(overlapMs) || overlapMs < 0)
    throw new RangeError('overlapMs must be a non-negative number');
  const hasta = new Date(now.getTime());
  if (input.forceFull) return { modo: 'completo', hasta, motivo: 'Carga completa solicitada.' };
  if (!checkpoint || Number.isNaN(checkpoint.getTime())) {
    return { modo: 'completo', hasta, motivo: 'Primera ingesta de la ventana: se pide la lista completa.' };
  }
  if (inicio && checkpoint.getTime() < inicio.getTime()) {
    return {
      modo: 'completo',
      hasta,
      motivo: 'La última ingesta es anterior al inicio de la ventana actual: se pide la lista completa.',
    };
  }
  // A checkpoint in the future (our clock moved back) must not produce desde > hasta.
  const base = Math.min(checkpoint.getTime(), now.getTime());
  return {
    modo: 'incremental',
    desde: new Date(base - overlapMs),
    hasta,
    motivo: 'Ingesta incremental desde la última ingesta exitosa.',
  };
}

/** Input of {@link nextCheckpoint}. */
export interface NextCheckpointInput {
  /** Checkpoint the run started from (undefined when there was none). */
  readonly previous: Date | null | undefined;
  /** The range the run asked for. */
  readonly range: IncrementalRange;
  /** Personal-data failures of the run (`errores_categorizados.sial` of its detalles). */
  readonly erroresSial: number;
  /** Records SIAL's list answer held (`recibidos`). */
  readonly recibidos: number;
}

/**
 * The checkpoint to store after a run whose list request succeeded (a failed list request never moves it).
 *
 * It advances to `range.hasta` only when SIAL's answer confirms that point: the answer held at least one record and
 * no record lost its personal data. An empty answer proves nothing — a SIAL or proxy fault that answers `[]` with a
 * 200 looks exactly like a quiet window — so it leaves the checkpoint where it was: the next run asks again from
 * the same point, over a window that grew, and the first answer with records (or the nightly reconciliation's full
 * list) moves it. A quiet window costs a slightly wider query, never a lost change.
 * A run with personal-data failures also keeps it, so the next run lists the same records again — cheap, because
 * the fingerprint rule re-fetches personal data only for the records that failed (their fingerprint was not
 * stored). A record that fails on every run holds the checkpoint back; its errors show in every run's detalles
 * until SIAL serves it.
 */
export function nextCheckpoint(input: NextCheckpointInput): Date | undefined {
  if (input.erroresSial === 0 && input.recibidos > 0) return input.range.hasta;
  return input.previous ?? undefined;
}
