// A service call whose refusal keeps the per-field violations (google.rpc.BadRequest), so a form can name each
// invalid field in Spanish beside it instead of one long message.
import { ConnectError } from '@connectrpc/connect';
import { BadRequestSchema } from '@lucy/proto';
import type { ServiceName } from './config.js';
import { describeFailure } from './services.js';

/** One invalid field as the service named it (`crontab.minute`, `kwargs.desde`, `ventanas[0].diaFin`…). */
export interface FieldProblem {
  field: string;
  message: string;
}

/** The value, or the Spanish reason with the fields the service refused. */
export type FieldOutcome<T> =
  { ok: true; value: T } | { ok: false; service: ServiceName; message: string; fields: FieldProblem[] };

/** The violations a ConnectError carries in a BadRequest detail (none for other errors). */
export function fieldProblems(err: unknown): FieldProblem[] {
  const e = ConnectError.from(err);
  return e
    .findDetails(BadRequestSchema)
    .flatMap((d) => d.violations.map((v) => ({ field: v.field, message: v.description })));
}

/** Runs a call; a failure becomes an outcome naming the service and, when given, the invalid fields. */
export async function callWithFields<T>(
  service: ServiceName,
  fn: () => Promise<T>,
): Promise<FieldOutcome<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    return { ok: false, service, message: describeFailure(service, err), fields: fieldProblems(err) };
  }
}
