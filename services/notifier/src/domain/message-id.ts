/**
 * The Message-ID of an alumno's e-mail is derived from its Tarea: a redelivered command (or a resend after a crash
 * between the relay's acceptance and our delivery record) carries the same Message-ID, so the relay, the
 * mailbox or a reader can recognise the copy as the same message (RFC 5322 §3.6.4).
 */

/** The domain of a sender (`Name <user@domain>` or `user@domain`), lower-cased; `lucy.invalid` when none. */
export function dominioDe(sender: string): string {
  const match = /@([^\s<>@]+?)>?\s*$/.exec(sender.trim());
  return match?.[1]?.toLowerCase() ?? 'lucy.invalid';
}

/** `<tarea-<taskId>@<domain>>`: stable per Tarea. Characters outside the RFC's dot-atom are replaced. */
export function messageIdFor(taskId: string, domain: string): string {
  const left = `tarea-${taskId}`.replace(/[^A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]/g, '-');
  return `<${left}@${domain}>`;
}
