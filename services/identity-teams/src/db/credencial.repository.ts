/**
 * The credential vault: temporary passwords sealed with the platform's secret box (AES-256-GCM; the sealed text
 * names its key id, so old keys keep opening while the current one seals), bound by the associated data
 * `identity.credencial:<alumnoId>:<credentialId>` so a sealed value cannot be moved to another row. The opaque
 * reference (`cred_<uuid>`) is what travels to the notifier; every opening for a person or the notifier is audited.
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from '@mikro-orm/postgresql';
import type { SecretBox } from '@lucy/platform';
import { asDate } from './cuenta.repository.js';

/** Where a credential came from. */
export type CredencialOrigen = 'creacion' | 'reseteo';

/** A stored credential (the password still sealed). */
export interface CredencialRow {
  id: string;
  ref: string;
  alumno_id: string;
  upn: string;
  sealed: string;
  key_id: string;
  origen: CredencialOrigen;
  task_id: string;
  email_task_id: string | null;
  en_uso: boolean;
  generada_en: Date;
}

/** An audited use of a credential. */
export interface AuditoriaInput {
  accion: 'revelar' | 'resolver';
  alumnoId: string;
  credencialId: string | null;
  upn: string | null;
  usuario: string;
  motivo?: string;
  taskId?: string;
}

/** The vault's operations. */
export interface Vault {
  /** Seals and stores a new password; returns the row (not yet `en_uso`). */
  store(input: {
    alumnoId: string;
    upn: string;
    origen: CredencialOrigen;
    taskId: string;
    password: string;
  }): Promise<CredencialRow>;
  get(id: string): Promise<CredencialRow | undefined>;
  byRef(ref: string): Promise<CredencialRow | undefined>;
  /** The credential the account holds now (the last one marked in use). */
  current(alumnoId: string): Promise<CredencialRow | undefined>;
  /** Marks a credential as the account's current password (the others of the alumno stop being so). */
  markInUse(id: string, alumnoId: string): Promise<void>;
  /** Binds a credential to the e-mail task allowed to resolve it. */
  bindEmailTask(id: string, emailTaskId: string): Promise<void>;
  /** Opens a credential's password. */
  open(row: CredencialRow): string;
  audit(entry: AuditoriaInput): Promise<void>;
  /** Re-seals every credential sealed with a key other than the current one; returns how many. */
  resealAll(): Promise<number>;
}

const aadOf = (alumnoId: string, id: string) => `identity.credencial:${alumnoId}:${id}`;
const table = (knex: Knex) => knex.withSchema('identity').table('credencial');

const toRow = (r: Record<string, unknown>): CredencialRow => ({
  id: String(r.id),
  ref: String(r.ref),
  alumno_id: String(r.alumno_id),
  upn: String(r.upn),
  sealed: String(r.sealed),
  key_id: String(r.key_id),
  origen: r.origen as CredencialOrigen,
  task_id: String(r.task_id),
  email_task_id: (r.email_task_id as string | null) ?? null,
  en_uso: Boolean(r.en_uso),
  generada_en: asDate(r.generada_en) ?? new Date(0),
});

/** Creates the vault over `identity.credencial` and `identity.auditoria`. */
export function createVault(deps: { knex: Knex; box: SecretBox; clock: () => Date }): Vault {
  const { knex, box, clock } = deps;
  const one = async (q: Knex.QueryBuilder) => {
    const r = (await q.first()) as Record<string, unknown> | undefined;
    return r ? toRow(r) : undefined;
  };
  return {
    async store(input) {
      const id = randomUUID();
      const row = {
        id,
        ref: `cred_${randomUUID()}`,
        alumno_id: input.alumnoId,
        upn: input.upn,
        sealed: box.seal(input.password, aadOf(input.alumnoId, id)),
        key_id: box.currentKeyId,
        origen: input.origen,
        task_id: input.taskId,
        email_task_id: null,
        en_uso: false,
        generada_en: clock(),
      };
      await table(knex).insert(row);
      return row;
    },
    get: (id) => one(table(knex).where('id', id)),
    byRef: (ref) => one(table(knex).where('ref', ref)),
    current: (alumnoId) =>
      one(table(knex).where({ alumno_id: alumnoId, en_uso: true }).orderBy('generada_en', 'desc')),
    async markInUse(id, alumnoId) {
      // One statement (was a transaction of two: four round trips on the hot path of every activation).
      await knex.raw(
        `update identity.credencial set en_uso = (id = ?) where alumno_id = ? and (en_uso or id = ?)`,
        [id, alumnoId, id],
      );
    },
    async bindEmailTask(id, emailTaskId) {
      await table(knex).where('id', id).update({ email_task_id: emailTaskId });
    },
    open: (row) => box.open(row.sealed, aadOf(row.alumno_id, row.id)),
    async audit(entry) {
      await knex
        .withSchema('identity')
        .table('auditoria')
        .insert({
          id: randomUUID(),
          accion: entry.accion,
          alumno_id: entry.alumnoId,
          credencial_id: entry.credencialId,
          upn: entry.upn,
          usuario: entry.usuario,
          motivo: entry.motivo ?? null,
          task_id: entry.taskId ?? null,
          ocurrida_en: clock(),
        });
    },
    async resealAll() {
      let count = 0;
      for (;;) {
        const rows = (await table(knex)
          .whereNot('key_id', box.currentKeyId)
          .orderBy('id')
          .limit(500)) as Record<string, unknown>[];
        if (rows.length === 0) return count;
        for (const r of rows.map(toRow)) {
          const sealed = box.seal(box.open(r.sealed, aadOf(r.alumno_id, r.id)), aadOf(r.alumno_id, r.id));
          await table(knex)
            .where({ id: r.id, sealed: r.sealed })
            .update({ sealed, key_id: box.currentKeyId });
          count++;
        }
      }
    },
  };
}
