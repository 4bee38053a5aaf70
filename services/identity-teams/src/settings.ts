/**
 * The identity settings staff own (issue 13): the batch limit of Enqueue, the UPN prefix of new accounts, the
 * Moodle web-service token and the Graph client secret. Stored in identity.configuracion (the two secrets sealed
 * with the secret box, each bound to its field), they override the deployment's IDENTITY_BATCH_LIMIT,
 * IDENTITY_UPN_PREFIX, MOODLE_TOKEN and GRAPH_CLIENT_SECRET. Readers use the getters, which are
 * synchronous: the row is loaded at start, after each change made here, and every `refreshMs` (a change made
 * through another replica reaches this one within that time).
 */
import type { Knex } from '@mikro-orm/postgresql';
import { latestLoad, resealSettingColumns, type SecretBox } from '@lucy/platform';
import { buildUpn } from './domain/account-names.js';

/** The associated data the Moodle token is sealed under (it cannot be moved to another row or field). */
export const MOODLE_TOKEN_AAD = 'identity.configuracion:1:moodle_token';
/** The associated data the Graph client secret is sealed under. */
export const GRAPH_CLIENT_SECRET_AAD = 'identity.configuracion:1:graph_client_secret';
/** Where a secret in use comes from, as the RPC names it. */
export type SecretOrigin = 'personal' | 'despliegue' | '';
export const MAX_LOTE = 500;
const PREFIX_MAX = 20;

interface Row {
  lote_maximo: number | null;
  prefijo_upn: string | null;
  moodle_token_sealed: string | null;
  graph_client_secret_sealed: string | null;
  actualizado_en: Date;
  actualizado_por: string;
}

/** The deployment's values, used while staff have not set their own. */
export interface SettingsDefaults {
  batchLimit: number;
  upnPrefix: string;
  upnDomain: string;
  moodleToken: string | undefined;
  graphClientSecret: string | undefined;
}

export interface SettingsChange {
  loteMaximo?: number | undefined;
  prefijoUpn?: string | undefined;
  moodleToken?: string | undefined;
  graphClientSecret?: string | undefined;
  /** Forget the stored Moodle token: the deployment's is used again. */
  restablecerMoodleToken?: boolean;
  /** Forget the stored Graph client secret: the deployment's is used again. */
  restablecerGraphClientSecret?: boolean;
  requestedBy: string;
}

/** One refused field, named as the proto names it. */
export interface SettingsProblem {
  field: string;
  message: string;
}

export interface IdentitySettings {
  readonly batchLimit: number;
  readonly upnPrefix: string;
  /** The Moodle token in clear (stored one, else the deployment's); never logged nor returned by an RPC. */
  readonly moodleToken: string;
  readonly moodleTokenOrigin: SecretOrigin;
  /** The Graph client secret in clear (stored one, else the deployment's); never logged nor returned by an RPC. */
  readonly graphClientSecret: string;
  readonly graphClientSecretOrigin: SecretOrigin;
  /** Last change by staff. */
  readonly changed: { at: Date; by: string } | undefined;
  load(): Promise<void>;
  /** Validates and stores a change; returns the problems instead when a field is refused (nothing is stored). */
  update(change: SettingsChange, now: Date): Promise<SettingsProblem[]>;
  /** Starts the periodic reload. */
  start(refreshMs: number): void;
  stop(): void;
}

/** The problems of a change (Spanish), without storing anything. */
export function checkSettingsChange(change: SettingsChange, upnDomain: string): SettingsProblem[] {
  const problems: SettingsProblem[] = [];
  if (change.loteMaximo !== undefined) {
    if (!Number.isInteger(change.loteMaximo) || change.loteMaximo < 1 || change.loteMaximo > MAX_LOTE)
      problems.push({
        field: 'lote_maximo',
        message: `El lote máximo debe ser un número entero entre 1 y ${MAX_LOTE}.`,
      });
  }
  if (change.prefijoUpn !== undefined) {
    const p = change.prefijoUpn.trim();
    if (p.length > PREFIX_MAX)
      problems.push({ field: 'prefijo_upn', message: `El prefijo admite hasta ${PREFIX_MAX} caracteres.` });
    else {
      try {
        buildUpn({ prefix: p, dni: '12345678', domain: upnDomain || 'example.org' });
      } catch (err) {
        problems.push({ field: 'prefijo_upn', message: (err as Error).message });
      }
    }
  }
  if (change.moodleToken !== undefined) {
    const t = change.moodleToken.trim();
    if (!t || t.length > 200 || /\s/.test(t))
      problems.push({
        field: 'moodle_token',
        message: 'El token de Moodle no puede estar vacío, tener espacios ni superar 200 caracteres.',
      });
  }
  if (change.graphClientSecret !== undefined) {
    const t = change.graphClientSecret.trim();
    if (!t || t.length > 500 || /[\s\p{Cc}]/u.test(t))
      problems.push({
        field: 'graph_client_secret',
        message:
          'El secreto de cliente de Graph no puede estar vacío, tener espacios ni superar 500 caracteres.',
      });
  }
  if (change.restablecerMoodleToken && change.moodleToken !== undefined)
    problems.push({
      field: 'restablecer_moodle_token',
      message: 'Escriba un token de Moodle nuevo o vuelva al del despliegue, no las dos cosas.',
    });
  if (change.restablecerGraphClientSecret && change.graphClientSecret !== undefined)
    problems.push({
      field: 'restablecer_graph_client_secret',
      message: 'Escriba un secreto de cliente de Graph nuevo o vuelva al del despliegue, no las dos cosas.',
    });
  if (!change.requestedBy.trim())
    problems.push({ field: 'requested_by', message: 'Indique quién lo cambia.' });
  return problems;
}

export function createIdentitySettings(deps: {
  knex: Knex;
  box: SecretBox;
  defaults: SettingsDefaults;
  onError?: (err: unknown) => void;
}): IdentitySettings {
  const table = () => deps.knex.withSchema('identity').table('configuracion');
  let row: Row | undefined;
  let token: string | undefined;
  let graphSecret: string | undefined;
  let timer: NodeJS.Timeout | undefined;

  // A sealed value whose key left the keyring before a re-seal: the deployment's value is used, and the error
  // says why, once per stored value (per column), not at every periodic reload.
  const unopened = new Map<string, string>();
  const open = (sealed: string | null | undefined, aad: string): string | undefined => {
    if (!sealed) {
      unopened.delete(aad);
      return undefined;
    }
    try {
      const value = deps.box.open(sealed, aad);
      unopened.delete(aad);
      return value;
    } catch (err) {
      if (unopened.get(aad) !== sealed) deps.onError?.(err);
      unopened.set(aad, sealed);
      return undefined;
    }
  };
  const apply = (r: Row | undefined) => {
    row = r;
    token = open(r?.moodle_token_sealed, MOODLE_TOKEN_AAD);
    graphSecret = open(r?.graph_client_secret_sealed, GRAPH_CLIENT_SECRET_AAD);
  };
  const origin = (stored: string | undefined, deployment: string | undefined): SecretOrigin =>
    stored ? 'personal' : deployment ? 'despliegue' : '';
  // Loads overlap (the periodic refresh, the reload after a change): see latestLoad.
  const load = latestLoad(async () => (await table().where({ id: 1 }).first()) as Row | undefined, apply);

  return {
    get batchLimit() {
      return row?.lote_maximo ?? deps.defaults.batchLimit;
    },
    get upnPrefix() {
      return row?.prefijo_upn ?? deps.defaults.upnPrefix;
    },
    get moodleToken() {
      return token ?? deps.defaults.moodleToken ?? '';
    },
    get moodleTokenOrigin() {
      return origin(token, deps.defaults.moodleToken);
    },
    get graphClientSecret() {
      return graphSecret ?? deps.defaults.graphClientSecret ?? '';
    },
    get graphClientSecretOrigin() {
      return origin(graphSecret, deps.defaults.graphClientSecret);
    },
    get changed() {
      return row ? { at: new Date(row.actualizado_en), by: row.actualizado_por } : undefined;
    },
    load,
    async update(change, now) {
      const problems = checkSettingsChange(change, deps.defaults.upnDomain);
      if (problems.length) return problems;
      const values: Record<string, unknown> = {
        actualizado_en: now,
        actualizado_por: change.requestedBy.trim().slice(0, 200),
      };
      if (change.loteMaximo !== undefined) values.lote_maximo = change.loteMaximo;
      if (change.prefijoUpn !== undefined) values.prefijo_upn = change.prefijoUpn.trim().toLowerCase();
      if (change.moodleToken !== undefined)
        values.moodle_token_sealed = deps.box.seal(change.moodleToken.trim(), MOODLE_TOKEN_AAD);
      if (change.graphClientSecret !== undefined)
        values.graph_client_secret_sealed = deps.box.seal(
          change.graphClientSecret.trim(),
          GRAPH_CLIENT_SECRET_AAD,
        );
      if (change.restablecerMoodleToken) values.moodle_token_sealed = null;
      if (change.restablecerGraphClientSecret) values.graph_client_secret_sealed = null;
      await deps.knex.raw(
        `insert into identity.configuracion (id, ${Object.keys(values).join(', ')})
         values (1, ${Object.keys(values)
           .map(() => '?')
           .join(', ')})
         on conflict (id) do update set ${Object.keys(values)
           .map((k) => `${k} = excluded.${k}`)
           .join(', ')}`,
        Object.values(values) as Knex.RawBinding[],
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

/**
 * Key rotation: re-seals each stored secret (Moodle token, Graph client secret) with the current key when another
 * sealed it; true if it re-sealed any.
 */
export async function resealSettings(knex: Knex, box: SecretBox): Promise<boolean> {
  const done = await resealSettingColumns(knex, box, [
    { schema: 'identity', table: 'configuracion', column: 'moodle_token_sealed', aad: MOODLE_TOKEN_AAD },
    {
      schema: 'identity',
      table: 'configuracion',
      column: 'graph_client_secret_sealed',
      aad: GRAPH_CLIENT_SECRET_AAD,
    },
  ]);
  return done.length > 0;
}
