import type { ServiceImpl } from '@connectrpc/connect';
import { withInputBounds, type InputBounds } from '@lucy/platform';
import { IdentityService } from '@lucy/proto';

/**
 * Bounds of every IdentityService request, the one place they are checked: no NUL or invalid code points anywhere,
 * ids and names as the `identity` schema's columns, at most 1,000 alumnos in a list (the batch limit, lower, is
 * checked by Enqueue itself with the spec's message). Errors name the field in Spanish and never quote the value.
 */
export const IDENTITY_INPUT_BOUNDS: InputBounds = {
  maxChars: {
    alumno_id: 64,
    alumno_ids: 64,
    task_id: 64,
    task_name: 200,
    credential_ref: 100,
    requested_by: 150,
    motivo: 1000,
  },
  defaultMaxChars: 1000,
  maxItems: 1000,
  labels: {
    alumno_id: 'el alumno',
    alumno_ids: 'los alumnos',
    task_id: 'la tarea',
    task_name: 'la tarea registrada',
    credential_ref: 'la referencia de la credencial',
    requested_by: 'el usuario',
    motivo: 'el motivo',
  },
};

/** The IdentityService implementation behind {@link IDENTITY_INPUT_BOUNDS}. */
export function boundIdentityRpc(
  impl: Partial<ServiceImpl<typeof IdentityService>>,
): Partial<ServiceImpl<typeof IdentityService>> {
  return withInputBounds(IdentityService, impl as ServiceImpl<typeof IdentityService>, IDENTITY_INPUT_BOUNDS);
}
