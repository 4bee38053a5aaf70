import type { ServiceImpl } from '@connectrpc/connect';
import { withInputBounds, type FieldError, type InputBounds } from '@lucy/platform';
import { LogService, TaskService, type RedriveDeadLettersRequest } from '@lucy/proto';
import type { Message } from '@bufbuild/protobuf';

/** Page tokens are ours: a keyset cursor (base64url JSON of an instant and a UUID) or a DLQ sequence. */
const MAX_PAGE_TOKEN_CHARS = 200;

/**
 * Bounds of every TaskService and LogService request, the one place they are checked: lengths as the columns of
 * the tracker schema (`tarea.requested_by varchar(150)`, `log.module varchar(100)`...), a search of at most 200
 * characters (a 10 MB ILIKE pattern cost seconds per call), no NUL or invalid code points, DLQ sequences as
 * stream sequences. Errors name the field in Spanish and never quote the value.
 */
export const TRACKER_INPUT_BOUNDS: InputBounds = {
  maxChars: {
    id: 36,
    task_id: 36,
    alumno_id: 64,
    requested_by: 150,
    module: 100,
    search: 200,
    mensaje: 2000,
    subject_prefix: 255,
    page_token: MAX_PAGE_TOKEN_CHARS,
  },
  defaultMaxChars: 1000,
  maxItems: 1000,
  labels: {
    id: 'el id de la tarea',
    task_id: 'el id de la tarea',
    alumno_id: 'el id del alumno',
    requested_by: 'el usuario',
    module: 'el módulo',
    search: 'la búsqueda',
    mensaje: 'el mensaje',
    subject_prefix: 'el prefijo de subject',
    page_token: 'el token de página',
    sequences: 'la lista de mensajes',
    tipos: 'la lista de tipos',
    estados: 'la lista de estados',
    triggers: 'la lista de orígenes',
    levels: 'la lista de niveles',
  },
  check(method, req: Message) {
    const errors: FieldError[] = [];
    if (method === 'redriveDeadLetters') {
      (req as RedriveDeadLettersRequest).sequences.forEach((seq, i) => {
        if (seq < 1n || seq > BigInt(Number.MAX_SAFE_INTEGER))
          errors.push({ field: `sequences[${i}]`, message: 'El número de mensaje no es válido.' });
      });
    }
    return errors;
  },
};

/** The TaskService implementation behind {@link TRACKER_INPUT_BOUNDS}. */
export function boundTaskRpc(impl: ServiceImpl<typeof TaskService>): ServiceImpl<typeof TaskService> {
  return withInputBounds(TaskService, impl, TRACKER_INPUT_BOUNDS);
}

/** The LogService implementation behind {@link TRACKER_INPUT_BOUNDS}. */
export function boundLogRpc(impl: ServiceImpl<typeof LogService>): ServiceImpl<typeof LogService> {
  return withInputBounds(LogService, impl, TRACKER_INPUT_BOUNDS);
}
