/**
 * Pure projection rules of a Tarea: given its current state (or none) and one incoming fact, the new state.
 * No I/O here; the consumers load rows, fold events with {@link applyEvent} and write the result back.
 *
 * Ordering and duplicates are handled by a rank per state-deciding fact, `(attempt, phase)`:
 * - phase 1: `started` (and the implicit running of `progress`);
 * - phase 2: `stuck` (inferred by the sweep, so a real terminal event of the same attempt overrides it);
 * - phase 3: terminal events of the worker: `succeeded`, `failed`, `skipped`;
 * - phase 4: staff decisions: `cancelled`, `marked_failed` (final for the attempt they were taken in).
 * A fact changes `estado` only when its rank is strictly greater than the rank the state was last decided
 * with. Facts of an equal or lower rank only fill fields still unknown, so a duplicate is a no-op and a late
 * `started` cannot reopen a finished attempt, while any fact of a later attempt proves the task ran again.
 * The command (`published`) never decides `estado` by itself: it creates a pending Tarea or fills the fields
 * only the command carries (tipo, parameters, payload, scheduled time) in a row an event created first.
 */

/** Estados of design.md. */
export type Estado = 'pending' | 'running' | 'completed' | 'failed' | 'skipped' | 'cancelled';

/** Estados that end a Tarea (until a later attempt proves otherwise). */
export const FINAL_ESTADOS: readonly Estado[] = ['completed', 'failed', 'skipped', 'cancelled'];

/** Message of a Tarea marked failed by the stuck sweep. */
export const STUCK_MESSAGE = 'La tarea dejó de reportar actividad (posible caída del worker)';

/** Default message of MarkFailed (the original admin action's text). */
export const MARK_FAILED_MESSAGE = 'Tarea marcada como fallida manualmente desde el admin';

/** The projected Tarea. Times are Dates; JSON fields are plain objects. */
export interface TareaState {
  id: string;
  tipo: string | null;
  estado: Estado;
  taskName: string;
  trigger: string;
  requestedBy: string;
  alumnoId: string | null;
  alumnoNombre: string | null;
  alumnoDni: string | null;
  subject: string | null;
  scheduledAt: Date;
  startedAt: Date | null;
  startedAttempt: number;
  finishedAt: Date | null;
  durationMs: number;
  cantidadEntidades: number;
  detalles: Record<string, unknown> | null;
  mensajeError: string | null;
  errorCode: string | null;
  attempts: number;
  parentId: string | null;
  parametros: Record<string, unknown> | null;
  payload: Uint8Array | null;
  contentType: string | null;
  lastHeartbeatAt: Date | null;
  progressDone: number;
  progressTotal: number;
  /** When the progress shown was reported (latest report of the current attempt wins). */
  progressAt: Date | null;
  rankAttempt: number;
  rankPhase: number;
  commandSeen: boolean;
  /** W3C trace id of the command (or, until it is seen, of the first event that carried one). */
  traceId?: string | null;
  /** Name of the periodic task that fired the command (`Lucy-Periodic-Task`); null for other Tareas. */
  periodicTask?: string | null;
}

/** Context headers every command and lifecycle event carries. */
export interface EventContext {
  taskName?: string | undefined;
  trigger?: string | undefined;
  requestedBy?: string | undefined;
  parentId?: string | undefined;
  /** W3C trace id from the message's `traceparent`. */
  traceId?: string | undefined;
}

/** Facts the projection understands. */
export type TareaEvent =
  | ({
      kind: 'published';
      taskId: string;
      at: Date;
      tipo: string | null;
      subject: string;
      alumnoId?: string | undefined;
      alumnoNombre?: string | undefined;
      alumnoDni?: string | undefined;
      parametros: Record<string, unknown> | null;
      payload: Uint8Array;
      contentType: string;
      /** The command's `Lucy-Periodic-Task` header (the scheduler's commands). */
      periodicTask?: string | undefined;
    } & EventContext)
  | ({
      kind: 'started';
      taskId: string;
      at: Date;
      attempt: number;
      alumnoId?: string | undefined;
    } & EventContext)
  | ({
      kind: 'progress';
      taskId: string;
      at: Date;
      attempt: number;
      heartbeat: boolean;
      done: number;
      total: number;
      message?: string | undefined;
    } & EventContext)
  | ({
      kind: 'succeeded';
      taskId: string;
      at: Date;
      attempt: number;
      cantidadEntidades: number;
      detalles: Record<string, unknown> | null;
    } & EventContext)
  | ({
      kind: 'failed';
      taskId: string;
      at: Date;
      attempt: number;
      mensajeError: string;
      willRetry: boolean;
      errorCode: string;
      detalles: Record<string, unknown> | null;
      /** With `willRetry`: the runner's wait before the next attempt, ms (absent when unknown). */
      retryInMs?: number | undefined;
    } & EventContext)
  | ({
      kind: 'skipped';
      taskId: string;
      at: Date;
      attempt: number;
      reason: string;
      detalles: Record<string, unknown> | null;
    } & EventContext)
  | { kind: 'cancelled'; taskId: string; at: Date; by: string }
  | { kind: 'marked_failed'; taskId: string; at: Date; by: string; mensaje: string }
  /** Inferred by the sweep: no start, progress or heartbeat since `cutoff`. */
  | { kind: 'stuck'; taskId: string; at: Date; cutoff: Date };

/** A fresh pending Tarea for a task id first seen at `at`. */
export function emptyTarea(id: string, at: Date): TareaState {
  return {
    id,
    tipo: null,
    estado: 'pending',
    taskName: '',
    trigger: 'external',
    requestedBy: '',
    alumnoId: null,
    alumnoNombre: null,
    alumnoDni: null,
    subject: null,
    scheduledAt: at,
    startedAt: null,
    startedAttempt: 0,
    finishedAt: null,
    durationMs: 0,
    cantidadEntidades: 0,
    detalles: null,
    mensajeError: null,
    errorCode: null,
    attempts: 0,
    parentId: null,
    parametros: null,
    payload: null,
    contentType: null,
    lastHeartbeatAt: null,
    progressDone: 0,
    progressTotal: 0,
    progressAt: null,
    rankAttempt: 0,
    rankPhase: 0,
    commandSeen: false,
  };
}

function phaseOf(kind: TareaEvent['kind']): number {
  switch (kind) {
    case 'published':
      return 0;
    case 'started':
    case 'progress':
      return 1;
    case 'stuck':
      return 2;
    case 'succeeded':
    case 'failed':
    case 'skipped':
      return 3;
    case 'cancelled':
    case 'marked_failed':
      return 4;
  }
}

function outranks(attempt: number, phase: number, s: TareaState): boolean {
  return attempt > s.rankAttempt || (attempt === s.rankAttempt && phase > s.rankPhase);
}

function fillContext(s: TareaState, e: EventContext): void {
  if (!s.commandSeen) {
    if (e.taskName && !s.taskName) s.taskName = e.taskName;
    if (e.trigger && s.trigger === 'external') s.trigger = e.trigger;
    if (e.requestedBy && !s.requestedBy) s.requestedBy = e.requestedBy;
  }
  if (e.parentId && !s.parentId) s.parentId = e.parentId;
  if (e.traceId && !s.traceId) s.traceId = e.traceId;
}

function finish(s: TareaState, at: Date): void {
  s.finishedAt = at;
}

/**
 * The duration shown to staff, derived from the final fields so it does not depend on arrival order: finish minus
 * the Tarea's start (its first attempt's), so it covers every attempt and the waits between them; 0 while
 * unfinished or when no start is known.
 */
function withDuration(s: TareaState): TareaState {
  s.durationMs =
    s.finishedAt && s.startedAt && s.rankPhase >= 2
      ? Math.max(0, s.finishedAt.getTime() - s.startedAt.getTime())
      : 0;
  return s;
}

/**
 * Start and progress, as a pure fold: the Tarea's start time is the earliest `started`/`progress` of any attempt
 * (its first attempt's start; a `started` always precedes its progress), while the progress shown is the latest
 * non-heartbeat report of the current attempt (the highest any `started` or `progress` names) — facts of an older
 * attempt never show.
 */
function trackAttempt(
  s: TareaState,
  e: { attempt: number; at: Date },
  report?: { done: number; total: number },
): void {
  if (!s.lastHeartbeatAt || s.lastHeartbeatAt < e.at) s.lastHeartbeatAt = e.at;
  if (!s.startedAt || e.at < s.startedAt) s.startedAt = e.at;
  if (e.attempt < s.startedAttempt) return;
  if (e.attempt > s.startedAttempt) {
    s.startedAttempt = e.attempt;
    s.progressDone = 0;
    s.progressTotal = 0;
    s.progressAt = null;
  }
  if (
    report &&
    (!s.progressAt ||
      e.at > s.progressAt ||
      (e.at.getTime() === s.progressAt.getTime() && report.done > s.progressDone))
  ) {
    s.progressAt = e.at;
    s.progressDone = report.done;
    s.progressTotal = report.total;
  }
}

/** A start or progress of a later attempt than the state was decided with: the earlier outcome no longer shows. */
function runningAgain(s: TareaState, attempt: number): void {
  if (attempt > s.rankAttempt) {
    s.mensajeError = null;
    s.errorCode = null;
    s.detalles = null;
  }
  s.rankAttempt = attempt;
  s.rankPhase = 1;
  s.estado = 'running';
  s.finishedAt = null;
}

/**
 * Applies one fact to a Tarea (undefined = not yet projected) and returns the new state; the input is not
 * modified. Idempotent: applying the same fact again returns an equal state.
 */
export function applyEvent(current: TareaState | undefined, e: TareaEvent): TareaState {
  return withDuration(apply(current ? { ...current } : emptyTarea(e.taskId, e.at), e));
}

function apply(s: TareaState, e: TareaEvent): TareaState {
  if (e.kind === 'published') {
    if (!s.commandSeen) {
      s.commandSeen = true;
      s.scheduledAt = e.at;
      s.tipo = e.tipo;
      s.subject = e.subject;
      s.parametros = e.parametros;
      s.payload = e.payload;
      s.contentType = e.contentType;
      if (e.taskName) s.taskName = e.taskName;
      if (e.trigger) s.trigger = e.trigger;
      if (e.requestedBy) s.requestedBy = e.requestedBy;
      // The command's trace is the Tarea's: the one its RPC or caller started.
      if (e.traceId) s.traceId = e.traceId;
      if (e.periodicTask) s.periodicTask = e.periodicTask;
    }
    if (e.parentId && !s.parentId) s.parentId = e.parentId;
    if (e.traceId && !s.traceId) s.traceId = e.traceId;
    if (e.alumnoId && !s.alumnoId) s.alumnoId = e.alumnoId;
    if (e.alumnoNombre && !s.alumnoNombre) s.alumnoNombre = e.alumnoNombre;
    if (e.alumnoDni && !s.alumnoDni) s.alumnoDni = e.alumnoDni;
    return s;
  }
  if (e.kind === 'cancelled' || e.kind === 'marked_failed') {
    // Staff act on the attempt they see; a fact of a later attempt still outranks the decision.
    const attempt = Math.max(s.rankAttempt, s.attempts);
    if (!outranks(attempt, 4, s)) return s;
    s.rankAttempt = attempt;
    s.rankPhase = 4;
    s.estado = e.kind === 'cancelled' ? 'cancelled' : 'failed';
    if (e.kind === 'marked_failed') s.mensajeError = e.mensaje;
    if (!s.finishedAt || e.kind === 'cancelled') s.finishedAt = e.at;
    return s;
  }
  if (e.kind === 'stuck') {
    const attempt = s.rankAttempt;
    const lastActivity = s.lastHeartbeatAt ?? s.startedAt ?? s.scheduledAt;
    if (s.estado !== 'running' || !outranks(attempt, 2, s) || lastActivity >= e.cutoff) return s;
    s.rankPhase = 2;
    s.estado = 'failed';
    s.mensajeError = STUCK_MESSAGE;
    s.errorCode = 'STUCK';
    finish(s, e.at);
    return s;
  }

  fillContext(s, e);
  // Without its command the Tarea was scheduled no later than its earliest fact, whichever arrived first.
  if (!s.commandSeen && e.at < s.scheduledAt) s.scheduledAt = e.at;
  if (e.attempt > s.attempts) s.attempts = e.attempt;
  const phase = phaseOf(e.kind);
  const decides = outranks(e.attempt, phase, s);

  switch (e.kind) {
    case 'started': {
      if (e.alumnoId && !s.alumnoId) s.alumnoId = e.alumnoId;
      trackAttempt(s, e);
      if (decides) runningAgain(s, e.attempt);
      return s;
    }
    case 'progress': {
      trackAttempt(s, e, e.heartbeat ? undefined : { done: e.done, total: e.total });
      // Progress of a later attempt proves it runs even if its `started` is still on its way.
      if (decides) runningAgain(s, e.attempt);
      return s;
    }
    case 'succeeded':
    case 'failed':
    case 'skipped': {
      if (!decides) return s;
      // An earlier attempt's outcome never shows, even when this attempt's `started` has not arrived yet.
      if (e.attempt > s.rankAttempt) {
        s.mensajeError = null;
        s.errorCode = null;
        s.detalles = null;
      }
      s.rankAttempt = e.attempt;
      s.rankPhase = 3;
      finish(s, e.at);
      if (e.kind === 'succeeded') {
        s.estado = 'completed';
        s.cantidadEntidades = e.cantidadEntidades;
        s.detalles = e.detalles;
        s.mensajeError = null;
        s.errorCode = null;
      } else if (e.kind === 'failed') {
        // A failure the worker will retry leaves the Tarea waiting for its next attempt.
        s.estado = e.willRetry ? 'pending' : 'failed';
        s.mensajeError = e.mensajeError;
        s.errorCode = e.errorCode || null;
        if (e.detalles) s.detalles = e.detalles;
        if (e.willRetry) {
          s.finishedAt = null;
        }
      } else {
        // The worker skips a task staff cancelled; it stays cancelled rather than "omitida".
        s.estado = e.detalles?.cancelada === true ? 'cancelled' : 'skipped';
        s.mensajeError = null;
        s.detalles = { ...(e.detalles ?? {}), motivo: e.reason };
      }
      return s;
    }
  }
}

/** Kind of the timeline entry a fact produces, and its Spanish text; undefined when it adds none (heartbeats). */
export function timelineOf(e: TareaEvent): { kind: string; attempt: number; message: string } | undefined {
  switch (e.kind) {
    case 'published':
      return { kind: 'published', attempt: 0, message: `Publicada en ${e.subject}` };
    case 'started':
      return { kind: 'started', attempt: e.attempt, message: `Intento ${e.attempt} iniciado` };
    case 'progress':
      if (e.heartbeat) return undefined;
      return {
        kind: 'progress',
        attempt: e.attempt,
        message: e.message || (e.total > 0 ? `Progreso ${e.done}/${e.total}` : `Progreso ${e.done}`),
      };
    case 'succeeded':
      return {
        kind: 'succeeded',
        attempt: e.attempt,
        message: `Completada (${e.cantidadEntidades} entidades)`,
      };
    case 'failed':
      return {
        kind: 'failed',
        attempt: e.attempt,
        message: e.willRetry
          ? `Falló; se reintentará${e.retryInMs ? ` en ${waitText(e.retryInMs)}` : ''}: ${e.mensajeError}`
          : `Falló: ${e.mensajeError}`,
      };
    case 'skipped':
      return { kind: 'skipped', attempt: e.attempt, message: `Omitida: ${e.reason}` };
    case 'cancelled':
      return { kind: 'cancelled', attempt: 0, message: `Cancelada por ${e.by}` };
    case 'marked_failed':
      return { kind: 'failed', attempt: 0, message: `Marcada como fallida por ${e.by}: ${e.mensaje}` };
    case 'stuck':
      return { kind: 'stuck', attempt: 0, message: STUCK_MESSAGE };
  }
}

/** A wait as staff read it: «4 s», «1 min 4 s», «5 min». */
export function waitText(ms: number): string {
  const total = Math.max(1, Math.round(ms / 1000));
  const min = Math.floor(total / 60);
  const sec = total % 60;
  if (min === 0) return `${sec} s`;
  return sec === 0 ? `${min} min` : `${min} min ${sec} s`;
}

/** A Log row the projection writes for a fact (module `tasks`, as the original Lucy logged task outcomes). */
export interface AttemptLog {
  level: 'INFO' | 'WARNING' | 'ERROR';
  module: 'tasks';
  message: string;
  detalles: Record<string, unknown>;
}

/**
 * The Log row of a failed attempt, so every failure is in the Logs of its Tarea whichever worker ran it: a failed
 * attempt the runner retries (WARNING, with the wait before the next attempt) and the final failure (ERROR, with
 * the attempts used); and of a skip (INFO, with its reason). Undefined for any other fact.
 */
export function attemptLogOf(e: TareaEvent): AttemptLog | undefined {
  if (e.kind === 'skipped') {
    // Skipped before doing anything (already done, cancelled, nothing to do): the reason is also a Log row, so
    // every Tarea has at least one and the Logs page tells why nothing happened.
    return {
      level: 'INFO',
      module: 'tasks',
      message: `Tarea omitida: ${e.reason}`,
      detalles: { intento: e.attempt, ...(e.detalles ?? {}) },
    };
  }
  if (e.kind !== 'failed') return undefined;
  const detalles: Record<string, unknown> = { intento: e.attempt };
  if (e.errorCode) detalles.codigo_error = e.errorCode;
  if (e.willRetry) {
    if (e.retryInMs) detalles.reintento_en_ms = e.retryInMs;
    const wait = e.retryInMs ? ` en ${waitText(e.retryInMs)}` : '';
    return {
      level: 'WARNING',
      module: 'tasks',
      message: `Intento ${e.attempt} falló: ${e.mensajeError}. Se reintentará${wait} (intento ${e.attempt + 1}).`,
      detalles,
    };
  }
  return {
    level: 'ERROR',
    module: 'tasks',
    message:
      e.attempt > 1
        ? `La tarea falló tras ${e.attempt} intentos: ${e.mensajeError}`
        : `La tarea falló: ${e.mensajeError}`,
    detalles,
  };
}

/** How one attempt ended, for the attempt metric. */
export type AttemptOutcome = 'succeeded' | 'retried' | 'failed' | 'skipped' | 'stuck';

/**
 * What one fact ended, told apart for the metrics: an attempt (its outcome) and the Tarea itself (its final
 * estado). A retried attempt ends an attempt, not the Tarea; a duplicate or an outranked fact ends nothing.
 */
export function endingsOf(
  before: TareaState | undefined,
  after: TareaState,
): { attempt?: AttemptOutcome; tarea?: Estado } {
  const out: { attempt?: AttemptOutcome; tarea?: Estado } = {};
  const decided =
    after.rankPhase >= 2 &&
    after.rankPhase <= 3 &&
    (!before || before.rankAttempt !== after.rankAttempt || before.rankPhase !== after.rankPhase);
  if (decided) {
    out.attempt =
      after.rankPhase === 2
        ? 'stuck'
        : after.estado === 'completed'
          ? 'succeeded'
          : after.estado === 'pending'
            ? 'retried'
            : after.estado === 'failed'
              ? 'failed'
              : 'skipped';
  }
  if (FINAL_ESTADOS.includes(after.estado) && (!before || !FINAL_ESTADOS.includes(before.estado)))
    out.tarea = after.estado;
  return out;
}

/** Whether two states differ in anything stored (used to skip no-op writes). */
export function sameTarea(a: TareaState | undefined, b: TareaState): boolean {
  if (!a) return false;
  for (const k of Object.keys(b) as Array<keyof TareaState>) {
    const x = a[k];
    const y = b[k];
    if (x instanceof Date || y instanceof Date) {
      if ((x as Date | null)?.getTime() !== (y as Date | null)?.getTime()) return false;
    } else if (x instanceof Uint8Array || y instanceof Uint8Array) {
      if (
        x !== y &&
        Buffer.compare(
          Buffer.from((x as Uint8Array | null) ?? []),
          Buffer.from((y as Uint8Array | null) ?? []),
        ) !== 0
      )
        return false;
    } else if (typeof x === 'object' && x !== null) {
      if (JSON.stringify(x) !== JSON.stringify(y)) return false;
    } else if (x !== y) return false;
  }
  return true;
}

/** Hour bucket (UTC start of the hour) the dashboard counters use for a Tarea. */
export function hourOf(d: Date): string {
  const h = new Date(d.getTime());
  h.setUTCMinutes(0, 0, 0);
  return h.toISOString();
}

/** Counter changes `(hour, estado) → delta` caused by a state change. */
export function counterDeltas(
  before: TareaState | undefined,
  after: TareaState,
): Array<{ hour: string; estado: Estado; delta: number }> {
  const out: Array<{ hour: string; estado: Estado; delta: number }> = [];
  const bh = before ? hourOf(before.scheduledAt) : undefined;
  const ah = hourOf(after.scheduledAt);
  if (before && bh === ah && before.estado === after.estado) return out;
  if (before && bh) out.push({ hour: bh, estado: before.estado, delta: -1 });
  out.push({ hour: ah, estado: after.estado, delta: 1 });
  return out;
}
