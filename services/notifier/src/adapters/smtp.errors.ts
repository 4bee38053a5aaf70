/**
 * Classification of nodemailer failures into the platform's retry semantics. Messages are Spanish (staff read
 * them in the Tarea and the delivery record) and carry only the server's reply, never credentials or bodies.
 */
import { PermanentError, TransientError } from '@lucy/platform';

/** The fields nodemailer sets on its errors (`SMTPConnection` and the mailer). */
interface NodemailerErrorFields {
  code?: string;
  responseCode?: number;
  response?: string;
  command?: string;
  rejected?: unknown;
  rejectedErrors?: unknown;
}

/** Error codes of the SMTP adapter, for metrics and the delivery record. */
export type SmtpErrorCode =
  | 'SMTP_AUTH'
  | 'SMTP_TLS'
  | 'SMTP_CONNECTION'
  | 'SMTP_TEMPORARY'
  | 'SMTP_REJECTED'
  | 'SMTP_RECIPIENTS_REJECTED'
  | 'SMTP_INVALID_MESSAGE'
  | 'SMTP_UNKNOWN';

// Network-level failures: the relay may be back on the next attempt.
const NETWORK_CODES = new Set([
  'ECONNECTION',
  'ETIMEDOUT',
  'ESOCKET',
  'EDNS',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

function fieldsOf(err: unknown): NodemailerErrorFields {
  return typeof err === 'object' && err !== null ? err : {};
}

/** The server's one-line reply, without the transport's own prefix ("Message failed: "...). */
function replyOf(fields: NodemailerErrorFields, err: unknown): string {
  const reply = typeof fields.response === 'string' && fields.response !== '' ? fields.response : undefined;
  const text = reply ?? (err instanceof Error ? err.message : String(err));
  return text.replace(/\s+/g, ' ').trim();
}

function recipientCodes(fields: NodemailerErrorFields): number[] {
  if (!Array.isArray(fields.rejectedErrors)) return [];
  return fields.rejectedErrors
    .map((e) => fieldsOf(e).responseCode)
    .filter((c): c is number => typeof c === 'number');
}

function rejectedList(fields: NodemailerErrorFields): string {
  return Array.isArray(fields.rejected) ? fields.rejected.map(String).join(', ') : '';
}

/**
 * Translates a nodemailer failure into a {@link TransientError} (4xx replies, refused or reset connections,
 * timeouts) or a {@link PermanentError} (5xx replies, every recipient refused, rejected credentials, TLS that
 * cannot be negotiated). The original error stays in `cause`.
 * @param user SMTP user, named in the authentication message (never the password).
 * @param origin where the credentials come from: staff's (the admin's Configuración) or the deployment's
 *   (SMTP_USER/SMTP_PASSWORD); the message says where to fix them.
 */
export function classifySmtpError(
  err: unknown,
  user?: string,
  origin?: 'personal' | 'despliegue',
): TransientError | PermanentError {
  if (err instanceof TransientError || err instanceof PermanentError) return err;
  const fields = fieldsOf(err);
  const code = fields.code ?? '';
  const status = fields.responseCode;
  const reply = replyOf(fields, err);

  if (code === 'EAUTH' || status === 535 || status === 534) {
    if (status !== undefined && status >= 400 && status < 500) {
      return new TransientError(`El servidor SMTP no pudo verificar las credenciales por ahora: ${reply}`, {
        cause: err,
        code: 'SMTP_TEMPORARY',
      });
    }
    const who = user ? `del usuario «${user}»` : 'configuradas';
    const hint =
      origin === 'personal'
        ? 'Reemplace el usuario y la contraseña SMTP en la Configuración del admin (Correo).'
        : user
          ? 'Revise SMTP_USER y SMTP_PASSWORD en la configuración del notificador, o cargue el usuario y la contraseña SMTP en la Configuración del admin (Correo).'
          : 'Cargue el usuario y la contraseña SMTP en la Configuración del admin (Correo), o configure SMTP_USER y SMTP_PASSWORD en el notificador.';
    return new PermanentError(
      `El servidor SMTP rechazó las credenciales ${who} (${reply}). ${hint} No se reintentará hasta corregir la configuración.`,
      { cause: err, code: 'SMTP_AUTH' },
    );
  }
  if (status === 530) {
    return new PermanentError(
      `El servidor SMTP exige autenticación o TLS antes de enviar (${reply}). Revise el usuario y la contraseña SMTP (Configuración del admin, o SMTP_USER y SMTP_PASSWORD) y SMTP_STARTTLS en la configuración del notificador.`,
      { cause: err, code: 'SMTP_AUTH' },
    );
  }
  if (code === 'ETLS') {
    return new PermanentError(
      `No se pudo establecer una conexión TLS con el servidor SMTP (${reply}). Revise SMTP_SECURE, SMTP_STARTTLS y el certificado del servidor.`,
      { cause: err, code: 'SMTP_TLS' },
    );
  }
  if (code === 'EENVELOPE') {
    const codes = recipientCodes(fields);
    const list = rejectedList(fields);
    const target = list ? ` (${list})` : '';
    if (codes.length > 0 && codes.every((c) => c >= 400 && c < 500)) {
      return new TransientError(`El servidor SMTP no aceptó los destinatarios por ahora${target}: ${reply}`, {
        cause: err,
        code: 'SMTP_TEMPORARY',
      });
    }
    if (status === undefined && codes.length === 0) {
      return new PermanentError(`El correo no tiene un destinatario válido: ${reply}`, {
        cause: err,
        code: 'SMTP_INVALID_MESSAGE',
      });
    }
    return new PermanentError(
      `El servidor SMTP rechazó todos los destinatarios${target}: ${reply}. Verifique la dirección de e-mail del alumno.`,
      { cause: err, code: 'SMTP_RECIPIENTS_REJECTED' },
    );
  }
  if (status !== undefined && status >= 400 && status < 500) {
    return new TransientError(`El servidor SMTP rechazó el correo temporalmente: ${reply}`, {
      cause: err,
      code: 'SMTP_TEMPORARY',
    });
  }
  if (status !== undefined && status >= 500) {
    return new PermanentError(`El servidor SMTP rechazó el correo: ${reply}`, {
      cause: err,
      code: 'SMTP_REJECTED',
    });
  }
  if (NETWORK_CODES.has(code)) {
    return new TransientError(`Error de conexión con el servidor SMTP: ${reply}`, {
      cause: err,
      code: 'SMTP_CONNECTION',
    });
  }
  if (code === 'EMESSAGE' || code === 'EPROTOCOL') {
    return new TransientError(`El servidor SMTP respondió de forma inesperada: ${reply}`, {
      cause: err,
      code: 'SMTP_UNKNOWN',
    });
  }
  // Anything else (an unexpected exception in the transport) is retried: the consumer's attempt budget bounds it.
  return new TransientError(`Error inesperado al enviar el correo: ${reply}`, {
    cause: err,
    code: 'SMTP_UNKNOWN',
  });
}
