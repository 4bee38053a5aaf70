import type { ServiceImpl } from '@connectrpc/connect';
import { withInputBounds, type InputBounds } from '@lucy/platform';
import { NotifierService } from '@lucy/proto';

/**
 * Bounds of every NotifierService request, the one place they are checked: no NUL or invalid code points anywhere,
 * lengths as the `notify` schema's columns (template bodies are `text`, capped at sizes no e-mail needs). Errors
 * name the field in Spanish and never quote the value.
 */
export const NOTIFIER_INPUT_BOUNDS: InputBounds = {
  maxChars: {
    asunto: 1000,
    cuerpo: 200_000,
    cuerpo_texto: 200_000,
    html: 200_000,
    texto: 200_000,
    destinatario: 320,
    requested_by: 150,
    alumno_id: 64,
    task_id: 64,
    estado: 20,
    usuario: 200,
    password: 500,
  },
  defaultMaxChars: 1000,
  maxItems: 1000,
  labels: {
    asunto: 'el asunto',
    cuerpo: 'el cuerpo HTML',
    cuerpo_texto: 'el cuerpo de texto',
    html: 'el HTML',
    texto: 'el texto',
    destinatario: 'el destinatario',
    requested_by: 'el usuario',
    alumno_id: 'el alumno',
    task_id: 'la tarea',
    estado: 'el estado',
    usuario: 'el usuario SMTP',
    password: 'la contraseña SMTP',
  },
};

/** The NotifierService implementation behind {@link NOTIFIER_INPUT_BOUNDS}. */
export function boundNotifierRpc(
  impl: ServiceImpl<typeof NotifierService>,
): ServiceImpl<typeof NotifierService> {
  return withInputBounds(NotifierService, impl, NOTIFIER_INPUT_BOUNDS);
}
