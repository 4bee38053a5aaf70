/**
 * Stream, subject and bucket names, derived from a deployment prefix so tests (and several deployments on one
 * NATS) stay isolated. With prefix `t1`: stream `t1_LUCY_CMD`, subjects `t1.lucy.cmd.>`, bucket `t1_LUCY_LEASES`.
 * Without a prefix the names are exactly those of design.md.
 */
export interface Names {
  readonly prefix: string;
  readonly streams: { readonly cmd: string; readonly evt: string; readonly dlq: string };
  readonly buckets: {
    /** Scheduler leader lease. */
    readonly leases: string;
    /** Task registry: what each service handles. */
    readonly registry: string;
    /** Cancelled task ids, read by workers before they start a task. */
    readonly cancellations: string;
    /** The consumer runner's record of each task's attempts and outcome (created by the runner itself). */
    readonly outcomes: string;
    /** Last acknowledged stream sequence of each durable consumer (created by the runner itself). */
    readonly positions: string;
  };
  /** Full subject of a command: `lucy.cmd.<service>.<command>`. */
  cmd(service: string, command: string): string;
  /** Full subject of an event: `lucy.evt.<domain>.<event>`. */
  evt(domain: string, event: string): string;
  /** Full DLQ subject for a message originally on `subject` (full). */
  dlq(subject: string): string;
  /** Adds the prefix to a canonical subject (`lucy.cmd...` → `t1.lucy.cmd...`). */
  full(canonical: string): string;
  /** Removes the prefix from a full subject. */
  canonical(full: string): string;
  /** Wildcard of every command. */
  readonly allCommands: string;
  /** Wildcard of every event. */
  readonly allEvents: string;
  /** Wildcard of every dead letter. */
  readonly allDeadLetters: string;
}

/** Builds the names for a prefix (empty = production names). */
export function createNames(prefix = ''): Names {
  if (!/^[A-Za-z0-9_-]*$/.test(prefix)) throw new Error(`Invalid prefix "${prefix}"`);
  const s = prefix ? `${prefix}.` : '';
  const b = prefix ? `${prefix}_` : '';
  const full = (canonical: string) => `${s}${canonical}`;
  return Object.freeze({
    prefix,
    streams: Object.freeze({ cmd: `${b}LUCY_CMD`, evt: `${b}LUCY_EVT`, dlq: `${b}LUCY_DLQ` }),
    buckets: Object.freeze({
      leases: `${b}LUCY_LEASES`,
      registry: `${b}LUCY_TASK_REGISTRY`,
      cancellations: `${b}LUCY_CANCELLATIONS`,
      outcomes: `${b}LUCY_TASK_OUTCOMES`,
      positions: `${b}LUCY_CONSUMER_POSITIONS`,
    }),
    cmd: (service: string, command: string) => full(`lucy.cmd.${service}.${command}`),
    evt: (domain: string, event: string) => full(`lucy.evt.${domain}.${event}`),
    dlq: (subject: string) => full(`lucy.dlq.${stripPrefix(subject, s).replace(/^lucy\./, '')}`),
    full,
    canonical: (f: string) => stripPrefix(f, s),
    allCommands: full('lucy.cmd.>'),
    allEvents: full('lucy.evt.>'),
    allDeadLetters: full('lucy.dlq.>'),
  });
}

function stripPrefix(subject: string, s: string): string {
  return s && subject.startsWith(s) ? subject.slice(s.length) : subject;
}
