/**
 * The SMTP settings staff own (issue 13): the SMTP AUTH user and password the notifier signs in to the relay with.
 * Stored in notify.configuracion (the password sealed with the secret box, bound to its table, row and field), they
 * override the deployment's SMTP_USER/SMTP_PASSWORD. The password is write-only: nothing here returns it except
 * the `credentials` getter the mailer reads. Readers use the getters, which are synchronous: the row is loaded at
 * start, after each change made here, and every `refreshMs` (a change made through another replica reaches this
 * one within that time). The mailer compares the credentials at each send and rebuilds its pool when they change.
 */
import type { Knex } from '@mikro-orm/postgresql';
import { latestLoad, resealSettingColumns, type SecretBox } from '@lucy/platform';
import type { SmtpCredentials } from './adapters/index.js';

/** The associated data the SMTP password is sealed under (it cannot be moved to another row or field). */
export const SMTP_PASSWORD_AAD = 'notify.configuracion:1:smtp_password';
/** Where the credentials in use come from, as the RPC names it. */
export type CredentialsOrigin = 'personal' | 'despliegue' | '';
export const USUARIO_MAX = 200;
export const PASSWORD_MAX = 500;

interface Row {
  smtp_usuario: string | null;
  smtp_password_sealed: string | null;
  actualizado_en: Date;
  actualizado_por: string;
}

/** The deployment's credentials (SMTP_USER/SMTP_PASSWORD, set together or not at all). */
export interface MailSettingsDefaults {
  user: string | undefined;
  password: string | undefined;
}

export interface MailSettingsChange {
  usuario: string;
  password: string;
  /** Forget the stored credentials: the deployment's are used again (usuario and password then empty). */
  restablecer?: boolean;
  requestedBy: string;
}

/** One refused field, named as the proto names it. */
export interface SettingsProblem {
  field: string;
  message: string;
}

export interface MailSettings {
  /** The credentials in use, password in clear (staff's, else the deployment's); never logged nor returned by an RPC. */
  readonly credentials: SmtpCredentials | undefined;
  readonly origin: CredentialsOrigin;
  /** The deployment's SMTP user (SMTP_USER), what a «restablecer» goes back to; undefined without one. */
  readonly deploymentUser: string | undefined;
  /** Last change by staff. */
  readonly changed: { at: Date; by: string } | undefined;
  /** Whether a password can be stored (the notifier has LUCY_SECRET_KEYS). */
  readonly canStore: boolean;
  load(): Promise<void>;
  /** Validates and stores a change; returns the problems instead when a field is refused (nothing is stored). */
  update(change: MailSettingsChange, now: Date): Promise<SettingsProblem[]>;
  /** Starts the periodic reload. */
  start(refreshMs: number): void;
  stop(): void;
}

// C0 and C1 controls and DEL: never part of an SMTP user or password (and CR/LF would break the AUTH exchange).
const CONTROL = /\p{Cc}/u;
const chars = (text: string) => [...text].length;

/** The problems of a change (Spanish), without storing anything. */
export function checkMailSettingsChange(change: MailSettingsChange, canStore: boolean): SettingsProblem[] {
  const problems: SettingsProblem[] = [];
  if (change.restablecer) {
    if (change.usuario.trim() || change.password)
      problems.push({
        field: 'restablecer',
        message:
          'Para volver a las credenciales SMTP del despliegue deje vacíos el usuario y la contraseña: escriba unas nuevas o vuelva a las del despliegue, no las dos cosas.',
      });
    if (!change.requestedBy.trim())
      problems.push({ field: 'requested_by', message: 'Indique quién hace el cambio.' });
    return problems;
  }
  const usuario = change.usuario.trim();
  if (!usuario) problems.push({ field: 'usuario', message: 'Indique el usuario SMTP.' });
  else if (chars(usuario) > USUARIO_MAX)
    problems.push({ field: 'usuario', message: `El usuario SMTP admite hasta ${USUARIO_MAX} caracteres.` });
  else if (CONTROL.test(usuario))
    problems.push({
      field: 'usuario',
      message: 'El usuario SMTP no puede contener caracteres de control (saltos de línea, tabulaciones).',
    });
  // The password is kept exactly as typed (spaces included); only an empty or blank one is refused.
  if (!change.password.trim()) problems.push({ field: 'password', message: 'Indique la contraseña SMTP.' });
  else if (chars(change.password) > PASSWORD_MAX)
    problems.push({
      field: 'password',
      message: `La contraseña SMTP admite hasta ${PASSWORD_MAX} caracteres.`,
    });
  else if (CONTROL.test(change.password))
    problems.push({
      field: 'password',
      message: 'La contraseña SMTP no puede contener caracteres de control (saltos de línea, tabulaciones).',
    });
  else if (!canStore)
    problems.push({
      field: 'password',
      message:
        'No se puede guardar la contraseña SMTP: el notificador no tiene configurada LUCY_SECRET_KEYS (la clave que la cifra). Pida que se configure en el despliegue.',
    });
  if (!change.requestedBy.trim())
    problems.push({ field: 'requested_by', message: 'Indique quién hace el cambio.' });
  return problems;
}

export function createMailSettings(deps: {
  knex: Knex;
  /** Undefined without LUCY_SECRET_KEYS: nothing can be stored, and the deployment's credentials are used. */
  box: SecretBox | undefined;
  defaults: MailSettingsDefaults;
  onError?: (err: unknown) => void;
}): MailSettings {
  const table = () => deps.knex.withSchema('notify').table('configuracion');
  const deployment: SmtpCredentials | undefined =
    deps.defaults.user !== undefined && deps.defaults.password !== undefined
      ? { user: deps.defaults.user, password: deps.defaults.password, origin: 'despliegue' }
      : undefined;
  let row: Row | undefined;
  let stored: SmtpCredentials | undefined;
  let timer: NodeJS.Timeout | undefined;
  // The sealed value that did not open, so each reload does not report it again.
  let unopened: string | undefined;

  // A password whose key left the keyring before a re-seal (or a notifier without LUCY_SECRET_KEYS): the
  // deployment's credentials are used, and the error (once per stored value) says why.
  const apply = (r: Row | undefined) => {
    row = r;
    stored = undefined;
    if (!r?.smtp_usuario || !r.smtp_password_sealed) return;
    try {
      if (!deps.box)
        throw new Error(
          'notify.configuracion holds SMTP credentials but LUCY_SECRET_KEYS is not set: using SMTP_USER/SMTP_PASSWORD',
        );
      stored = {
        user: r.smtp_usuario,
        password: deps.box.open(r.smtp_password_sealed, SMTP_PASSWORD_AAD),
        origin: 'personal',
      };
      unopened = undefined;
    } catch (err) {
      if (unopened !== r.smtp_password_sealed) deps.onError?.(err);
      unopened = r.smtp_password_sealed;
    }
  };
  // The last load started wins: a periodic reload that read the row before a change here does not undo it (see
  // latestLoad).
  const load = latestLoad(async () => (await table().where({ id: 1 }).first()) as Row | undefined, apply);

  return {
    get credentials() {
      return stored ?? deployment;
    },
    get origin() {
      return (stored ?? deployment)?.origin ?? '';
    },
    get deploymentUser() {
      return deployment?.user;
    },
    get changed() {
      return row ? { at: new Date(row.actualizado_en), by: row.actualizado_por } : undefined;
    },
    get canStore() {
      return deps.box !== undefined;
    },
    load,
    async update(change, now) {
      const problems = checkMailSettingsChange(change, deps.box !== undefined);
      if (problems.length) return problems;
      // Forgetting needs no key; a new password without one was refused by the check above.
      const keep = !change.restablecer && deps.box;
      const values = {
        smtp_usuario: keep ? change.usuario.trim() : null,
        smtp_password_sealed: keep ? keep.seal(change.password, SMTP_PASSWORD_AAD) : null,
        actualizado_en: now,
        actualizado_por: change.requestedBy.trim().slice(0, 200),
      };
      await deps.knex.raw(
        `insert into notify.configuracion (id, smtp_usuario, smtp_password_sealed, actualizado_en, actualizado_por)
         values (1, ?, ?, ?, ?)
         on conflict (id) do update set smtp_usuario = excluded.smtp_usuario,
           smtp_password_sealed = excluded.smtp_password_sealed, actualizado_en = excluded.actualizado_en,
           actualizado_por = excluded.actualizado_por`,
        [values.smtp_usuario, values.smtp_password_sealed, values.actualizado_en, values.actualizado_por],
      );
      await load();
      return [];
    },
    start(refreshMs) {
      timer = setInterval(() => {
        load().catch((err: unknown) => deps.onError?.(err));
      }, refreshMs);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}

/** Key rotation: re-seals the stored SMTP password with the current key when another sealed it; true if it did. */
export async function resealMailSettings(knex: Knex, box: SecretBox): Promise<boolean> {
  const done = await resealSettingColumns(knex, box, [
    { schema: 'notify', table: 'configuracion', column: 'smtp_password_sealed', aad: SMTP_PASSWORD_AAD },
  ]);
  return done.length > 0;
}
