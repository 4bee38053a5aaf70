/**
 * Slot identity: one periodic task at one due instant. The same key is the `Nats-Msg-Id` of the published
 * command (JetStream drops a duplicate within its window, so two replicas firing the same slot publish once)
 * and the key of the durable fired-slot record.
 */

/**
 * `"<periodicTaskId>@<ISO UTC with ms>"`, e.g. `42@2026-03-02T05:00:00.000Z`. Deterministic: the same slot
 * always gives the same key, whoever computes it.
 * @throws RangeError for an empty id, an id containing `@`, or an invalid date.
 */
export function slotKey(periodicTaskId: string | number, dueAt: Date): string {
  const id = String(periodicTaskId);
  if (id === '' || id.includes('@'))
    throw new RangeError(`Identificador de tarea periódica inválido «${id}»`);
  if (Number.isNaN(dueAt.getTime())) throw new RangeError('Fecha de vencimiento inválida');
  return `${id}@${dueAt.toISOString()}`;
}

/** The parts of a {@link slotKey}, or null when `key` is not one. */
export function parseSlotKey(key: string): { periodicTaskId: string; dueAt: Date } | null {
  const at = key.lastIndexOf('@');
  if (at <= 0) return null;
  const iso = key.slice(at + 1);
  const dueAt = new Date(iso);
  if (Number.isNaN(dueAt.getTime()) || dueAt.toISOString() !== iso) return null;
  return { periodicTaskId: key.slice(0, at), dueAt };
}
