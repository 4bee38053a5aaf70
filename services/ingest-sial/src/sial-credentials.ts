/**
 * The SIAL HTTP Basic credentials staff own (issue 13). A user and a password stored in ingest.configuracion (the
 * password sealed with the secret box, bound to its row and field) override the deployment's SIAL_USER /
 * SIAL_PASSWORD, as pylucy's `sial_basic_user`/`sial_basic_pass` did. They are write-only through the RPC: only the
 * user, whether a password is set and where the pair in use comes from are ever returned.
 *
 * The SIAL client reads {@link SialCredentialStore.current} at each request, which is synchronous: the row is loaded
 * at start, after each change made through this replica, and every `refreshMs` (a change made through another
 * replica reaches this one within that time). A stored password that does not open (its key left the keyring, or
 * LUCY_SECRET_KEYS is not set) is reported once and the deployment's pair is used.
 */
import type { Knex } from '@mikro-orm/postgresql';
import { latestLoad, resealSettingColumns, type FieldError, type SecretBox } from '@lucy/platform';
import type { SialCredentials } from './adapters/index.js';

/** The associated data the SIAL password is sealed under (it cannot be moved to another row or field). */
export const SIAL_PASSWORD_AAD = 'ingest.configuracion:1:sial_password';
/** Characters of the stored user (`sial_usuario varchar(200)`). */
export const MAX_SIAL_USER = 200;
/** Characters of the password. */
export const MAX_SIAL_PASSWORD = 500;

/** Where the credentials in use come from, as the RPC names it. */
export type SialCredentialsOrigin = 'personal' | 'despliegue';

/** What the Configuración shows of the credentials: never the password. */
export interface SialCredentialsView {
  usuario: string;
  passwordConfigurada: boolean;
  origen: SialCredentialsOrigin;
}

/** A change of the credentials as the RPC receives it: both or neither. */
export interface SialCredentialsChange {
  usuario?: string | undefined;
  password?: string | undefined;
}

interface Row {
  sial_usuario: string | null;
  sial_password_sealed: string | null;
}

// C0 and C1 controls and DEL (tab and line breaks included: neither belongs in a user or a password), and halves
// of a surrogate pair, which UTF-8 cannot carry.
const CONTROL = /\p{Cc}/u;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * The problems of a change (Spanish, naming `sial_usuario` / `sial_password`), without storing anything. Values are
 * never echoed. `canSeal` is false when LUCY_SECRET_KEYS is not set: a password cannot be stored then.
 */
export function checkSialCredentials(change: SialCredentialsChange, canSeal: boolean): FieldError[] {
  const { usuario, password } = change;
  if (usuario === undefined && password === undefined) return [];
  const problems: FieldError[] = [];
  if (usuario === undefined)
    problems.push({
      field: 'sial_usuario',
      message: 'Indique también el usuario de SIAL: el usuario y la contraseña se reemplazan juntos.',
    });
  if (password === undefined)
    problems.push({
      field: 'sial_password',
      message: 'Indique también la contraseña de SIAL: el usuario y la contraseña se reemplazan juntos.',
    });
  if (usuario !== undefined) {
    if (usuario.length === 0)
      problems.push({ field: 'sial_usuario', message: 'El usuario de SIAL no puede estar vacío.' });
    else if (usuario.length > MAX_SIAL_USER)
      problems.push({
        field: 'sial_usuario',
        message: `El usuario de SIAL admite como máximo ${MAX_SIAL_USER} caracteres (tiene ${usuario.length}).`,
      });
    else if (CONTROL.test(usuario) || LONE_SURROGATE.test(usuario))
      problems.push({
        field: 'sial_usuario',
        message: 'El usuario de SIAL contiene caracteres no válidos (de control o UTF-16 incompleto).',
      });
    else if (usuario.includes(':'))
      problems.push({
        field: 'sial_usuario',
        message:
          'El usuario de SIAL no puede contener «:» (HTTP Basic lo usa para separarlo de la contraseña).',
      });
    else if (usuario.trim() !== usuario)
      problems.push({
        field: 'sial_usuario',
        message: 'El usuario de SIAL no puede empezar ni terminar con espacios.',
      });
  }
  if (password !== undefined) {
    if (password.length === 0)
      problems.push({ field: 'sial_password', message: 'La contraseña de SIAL no puede estar vacía.' });
    else if (password.length > MAX_SIAL_PASSWORD)
      problems.push({
        field: 'sial_password',
        message: `La contraseña de SIAL admite como máximo ${MAX_SIAL_PASSWORD} caracteres.`,
      });
    else if (CONTROL.test(password) || LONE_SURROGATE.test(password))
      problems.push({
        field: 'sial_password',
        message: 'La contraseña de SIAL contiene caracteres no válidos (de control o UTF-16 incompleto).',
      });
    else if (!canSeal)
      problems.push({
        field: 'sial_password',
        message:
          'No se puede guardar la contraseña de SIAL: ingest-sial no tiene LUCY_SECRET_KEYS (la clave que la cifra). Configúrela en el despliegue; mientras tanto se usan SIAL_USER y SIAL_PASSWORD.',
      });
  }
  return problems;
}

/** The credentials staff stored over the deployment's, read by the SIAL client at each request. */
export interface SialCredentialStore {
  /** The pair in use: the stored one when set and it opens, else the deployment's. Never log it. */
  current(): Required<SialCredentials>;
  view(): SialCredentialsView;
  /** Whether a password can be stored (LUCY_SECRET_KEYS is set). */
  readonly canStore: boolean;
  /**
   * The columns that store a new pair (the password sealed), for the configuration's update; call {@link load}
   * once written. Validate with {@link checkSialCredentials} first.
   */
  columns(usuario: string, password: string): Record<string, string>;
  /** Reads the row again. */
  load(): Promise<void>;
  /** Starts the periodic reload. */
  start(refreshMs: number): void;
  stop(): void;
}

export function createSialCredentialStore(deps: {
  knex: Knex;
  /** Undefined without LUCY_SECRET_KEYS: nothing can be stored, and a stored password does not open. */
  box: SecretBox | undefined;
  /** SIAL_USER / SIAL_PASSWORD. */
  defaults: { user: string; password: string };
  /** A reload that failed, or a stored password that does not open (reported once per stored value). */
  onError?: (err: unknown) => void;
}): SialCredentialStore {
  const deployment = { ...deps.defaults, origin: 'despliegue' as const };
  let stored: Required<SialCredentials> | undefined;
  let reported: string | undefined;
  let timer: NodeJS.Timeout | undefined;

  const apply = (row: Row | undefined) => {
    const sealed = row?.sial_password_sealed;
    if (!row?.sial_usuario || !sealed) {
      stored = undefined;
      return;
    }
    try {
      if (!deps.box)
        throw new Error(
          'ingest.configuracion holds a SIAL password but LUCY_SECRET_KEYS is not set; using SIAL_USER/SIAL_PASSWORD',
        );
      stored = {
        user: row.sial_usuario,
        password: deps.box.open(sealed, SIAL_PASSWORD_AAD),
        origin: 'personal',
      };
      reported = undefined;
    } catch (err) {
      // The pair goes together: with its password unreadable, the deployment's user is used too.
      stored = undefined;
      if (reported !== sealed) deps.onError?.(err);
      reported = sealed;
    }
  };
  // Loads overlap (the periodic refresh, the reload after a change): see latestLoad.
  const load = latestLoad(
    async () =>
      (await deps.knex
        .withSchema('ingest')
        .table('configuracion')
        .select('sial_usuario', 'sial_password_sealed')
        .where({ id: 1 })
        .first()) as Row | undefined,
    apply,
  );

  return {
    current: () => stored ?? deployment,
    view() {
      const c = stored ?? deployment;
      return { usuario: c.user, passwordConfigurada: c.password !== '', origen: c.origin };
    },
    canStore: deps.box !== undefined,
    columns(usuario, password) {
      if (!deps.box) throw new Error('LUCY_SECRET_KEYS is not set: a SIAL password cannot be stored');
      return { sial_usuario: usuario, sial_password_sealed: deps.box.seal(password, SIAL_PASSWORD_AAD) };
    },
    load,
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

/**
 * Key rotation: re-seals the stored SIAL password with the current key when another sealed it; true if it did.
 * Run while the old key is still in the keyring.
 */
export async function resealSialCredentials(knex: Knex, box: SecretBox): Promise<boolean> {
  const done = await resealSettingColumns(knex, box, [
    { schema: 'ingest', table: 'configuracion', column: 'sial_password_sealed', aad: SIAL_PASSWORD_AAD },
  ]);
  return done.length > 0;
}
