import { hash } from 'node:crypto';
import { create, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { timestampDate, timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { ServiceImpl } from '@connectrpc/connect';
import type { Knex } from '@mikro-orm/postgresql';
import {
  CONTENT_TYPE,
  createBatchPublisher,
  publishAllOrThrow,
  encode,
  H,
  isUuid,
  newTraceparent,
  taskHeaders,
  ValidationError,
  type Names,
  type NatsHandles,
  type OutboundMessage,
} from '@lucy/platform';
import {
  CuentaActualizadaSchema,
  CuentaExternaSchema,
  type IdentityService,
  type ImportCuentaResultSchema,
  type ImportCuentasResponseSchema,
  type ImportedCuenta,
} from '@lucy/proto';
import { cuentaToPb } from '../consumers/operation.run.js';
import { cuentaTable, getCuentas, type CuentaRow } from '../db/index.js';
import { buildUpn } from '../domain/index.js';

/** Accounts per ImportCuentas call. */
export const IMPORT_CUENTAS_MAX = 5000;

type ResultInit = MessageInitShape<typeof ImportCuentaResultSchema>;

/** Dependencies of {@link createImportCuentasRpc}. */
export interface ImportCuentasDeps {
  knex: Knex;
  /** The service's connection: the events of a call are published in one pass (`createBatchPublisher`). */
  nc: NatsHandles['nc'];
  names: Names;
  clock: () => Date;
  /** The UPN rule of this deployment, to report adopted UPNs that do not follow it. */
  upnPrefix: string;
  upnDomain: string;
}

const UPN = /^[^\s@]{1,200}@[^\s@]{1,54}$/;

/** What pylucy had done for the account: stored as is in `cuenta.adopcion`. */
function adopcionOf(c: ImportedCuenta) {
  return {
    teams: c.teamsProcesado,
    moodle: c.moodleProcesado,
    email: c.emailProcesado,
    procesado_en: c.procesadoEn ? timestampDate(c.procesadoEn).toISOString() : null,
  };
}

/** The row an adopted account is stored as. Graph's object id is left to be looked up by UPN on first use. */
function rowOf(c: ImportedCuenta, now: Date): Record<string, unknown> {
  const when = c.procesadoEn ? timestampDate(c.procesadoEn) : now;
  const upn = c.upn.trim().toLowerCase();
  return {
    alumno_id: c.alumnoId,
    dni: c.dni.trim(),
    upn,
    graph_id: null,
    // pylucy assigned the licence with the account (facts §4): an adopted account is taken as licensed.
    licencia_asignada: c.teamsProcesado,
    moodle_username: c.moodleProcesado ? upn : null,
    email_solicitado: c.emailProcesado,
    // The account exists under that UPN (pylucy saves it only after Graph created or found it): active, so an
    // activation finds it and skips instead of creating a second one.
    estado: 'activa',
    creada_en: when,
    activada_en: c.teamsProcesado ? when : null,
    // pylucy sets email_procesado after its e-mail went out.
    email_enviado_en: c.emailProcesado ? when : null,
    actualizada_en: now,
    adoptada_de: 'pylucy',
    adoptada_en: now,
    adopcion: JSON.stringify(adopcionOf(c)),
  };
}

/** JSON with sorted keys (jsonb does not keep key order). */
const canonical = (v: unknown): string =>
  v && typeof v === 'object' && !Array.isArray(v)
    ? `{${Object.keys(v)
        .sort()
        .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
        .join(',')}}`
    : JSON.stringify(v ?? null);

const sameAdoption = (r: CuentaRow & { adopcion?: unknown }, c: ImportedCuenta): boolean =>
  r.upn === c.upn.trim().toLowerCase() &&
  r.dni === c.dni.trim() &&
  canonical(r.adopcion) === canonical(adopcionOf(c));

/**
 * IdentityService.ImportCuentas: the accounts pylucy already created become account records marked as adopted
 * (`adoptada_de = 'pylucy'`, what was done and when), keyed by alumno id, so activating an adopted alumno skips
 * instead of creating a second Microsoft 365 user. A record Lucy created itself is never touched. Each new or
 * changed record is announced on `lucy.evt.cuenta.activada` (ingest-sial projects the UPN and flags onto the
 * alumno), with a message id per record and content. No password is ever received or stored.
 */
export function createImportCuentasRpc(
  deps: ImportCuentasDeps,
): Pick<ServiceImpl<typeof IdentityService>, 'importCuentas'> {
  const events = createBatchPublisher(deps.nc);
  return {
    async importCuentas(req): Promise<MessageInitShape<typeof ImportCuentasResponseSchema>> {
      if (req.cuentas.length > IMPORT_CUENTAS_MAX)
        throw new ValidationError([
          { field: 'cuentas', message: `Admite como máximo ${IMPORT_CUENTAS_MAX} cuentas por llamada.` },
        ]);
      const invalid = req.cuentas.flatMap((c, i) =>
        isUuid(c.alumnoId) ? [] : [{ field: `cuentas[${i}].alumno_id`, message: 'No es un id de alumno.' }],
      );
      if (invalid.length) throw new ValidationError(invalid.slice(0, 20));
      const now = deps.clock();
      const stored = (await getCuentas(deps.knex, [...new Set(req.cuentas.map((c) => c.alumnoId))])) as Map<
        string,
        CuentaRow & { adopcion?: unknown; adoptada_de?: string | null }
      >;
      const origin = new Map(
        (
          (await cuentaTable(deps.knex)
            .select('alumno_id', 'adoptada_de', 'adopcion')
            .whereIn('alumno_id', [...stored.keys()])) as {
            alumno_id: string;
            adoptada_de: string | null;
            adopcion: unknown;
          }[]
        ).map((r) => [r.alumno_id, r]),
      );
      const seen = new Set<string>();
      const writes: Record<string, unknown>[] = [];
      /** Adopted records already as pylucy has them: announced again (below). */
      const unchanged: string[] = [];
      const results: ResultInit[] = req.cuentas.map((c) => {
        const upn = c.upn.trim().toLowerCase();
        if (!c.dni.trim() || c.dni.length > 32)
          return { alumnoId: c.alumnoId, resultado: 'omitida', motivo: 'Falta el DNI o es demasiado largo.' };
        if (!UPN.test(upn) || upn.length > 255)
          return {
            alumnoId: c.alumnoId,
            resultado: 'omitida',
            motivo: 'El e-mail institucional no es un UPN.',
          };
        if (seen.has(c.alumnoId))
          return { alumnoId: c.alumnoId, resultado: 'omitida', motivo: 'Alumno repetido en la importación.' };
        seen.add(c.alumnoId);
        const existing = stored.get(c.alumnoId);
        const o = origin.get(c.alumnoId);
        let note = '';
        try {
          const expected = buildUpn({ prefix: deps.upnPrefix, dni: c.dni, domain: deps.upnDomain });
          if (expected.toLowerCase() !== upn)
            note = `El UPN de pylucy (${upn}) no sigue la regla de Lucy (${expected}): se conserva el de pylucy.`;
        } catch {
          // A DNI Lucy could not build a UPN from: the adopted one stands.
        }
        if (existing && o?.adoptada_de !== 'pylucy')
          return {
            alumnoId: c.alumnoId,
            resultado: 'omitida',
            motivo: `Lucy Tasks ya tiene una cuenta propia para este alumno (${existing.upn}); no se reemplaza.`,
          };
        if (existing && sameAdoption({ ...existing, adopcion: o?.adopcion }, c)) {
          unchanged.push(c.alumnoId);
          return { alumnoId: c.alumnoId, resultado: 'sin_cambios', motivo: note };
        }
        writes.push(rowOf(c, now));
        return { alumnoId: c.alumnoId, resultado: existing ? 'actualizada' : 'creada', motivo: note };
      });
      if (req.dryRun || writes.length + unchanged.length === 0) return { results };

      const written =
        writes.length === 0
          ? []
          : await deps.knex
              .withSchema('identity')
              .table('cuenta')
              .insert(writes)
              .onConflict('alumno_id')
              .merge([
                'dni',
                'upn',
                'licencia_asignada',
                'moodle_username',
                'email_solicitado',
                'activada_en',
                'email_enviado_en',
                'actualizada_en',
                'adopcion',
              ])
              // Never over a record Lucy created meanwhile.
              .where('cuenta.adoptada_de', 'pylucy')
              .returning<{ alumno_id: string }[]>('alumno_id');
      // Read back through the repository, which normalises the row (timestamps come back as text). The adoption sends
      // an account only while its alumno is not marked as adopted yet: a first run, or the retry of one interrupted
      // after writing the record and before its event was stored. An unchanged record is announced again so that
      // retry repairs the alumno's UPN and flags (the projection writes nothing when they are already right; the
      // message id drops a repeat within JetStream's duplicate window).
      const rows = [
        ...(await getCuentas(deps.knex, [...written.map((r) => r.alumno_id), ...unchanged])).values(),
      ];
      const headers = () => {
        const h = taskHeaders(
          {
            taskId: '',
            taskType: '',
            requestedBy: req.requestedBy || 'adopción de pylucy',
            trigger: 'external',
            traceparent: newTraceparent(),
          },
          CONTENT_TYPE.protobuf,
        );
        h.delete(H.taskId);
        h.delete(H.taskType);
        return h;
      };
      const messages: OutboundMessage[] = rows.map((r) => {
        const cuenta = cuentaToPb(r, false);
        const event = create(CuentaActualizadaSchema, { cuenta, occurredAt: timestampFromDate(now) });
        // The id follows the whole record as announced (the Teams/Moodle flags too), so a changed record is never
        // taken for a repeat of the previous one; the same record announced again within the window is.
        const digest = hash('sha1', toBinary(CuentaExternaSchema, cuenta), 'hex');
        const h = headers();
        h.set(H.msgId, `pylucy-adopt:${r.alumno_id}:${digest.slice(0, 16)}`);
        return {
          subject: deps.names.evt('cuenta', 'activada'),
          data: encode(CuentaActualizadaSchema, event, CONTENT_TYPE.protobuf),
          headers: h,
        };
      });
      // Any event not stored fails the call; the CLI then leaves the alumnos unmarked and sends these accounts again.
      await publishAllOrThrow(events, messages);
      return { results };
    },
  };
}
