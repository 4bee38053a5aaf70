import { create, toJson, type JsonValue } from '@bufbuild/protobuf';
import { ListValueSchema } from '@bufbuild/protobuf/wkt';
import type { ServiceImpl } from '@connectrpc/connect';
import type { Knex } from '@mikro-orm/postgresql';
import {
  CONTENT_TYPE,
  createBatchPublisher,
  publishAllOrThrow,
  encode,
  H,
  newTraceparent,
  taskHeaders,
  uuidv7,
  ValidationError,
  type FieldError,
  type OutboundMessage,
} from '@lucy/platform';
import {
  AlumnoCreatedSchema,
  AlumnoUpdatedSchema,
  type AlumnoService,
  type ImportAlumnoResultSchema,
  type ImportAlumnosResponseSchema,
  type ImportedAlumno,
} from '@lucy/proto';
import type { MessageInitShape } from '@bufbuild/protobuf';
import {
  documentKey,
  loadAlumnosByDocument,
  upsertAlumnos,
  type AlumnoUpsert,
  type StoredAlumno,
} from '../db/alumno.repository.js';
import {
  COLUMN_LIMITS,
  forwardEstado,
  ingestFieldsOf,
  isPlausibleEmail,
  jsonEqual,
  MERGED_FIELDS,
  type AlumnoIngestFields,
  type Estado,
  type FieldChange,
  type JsonObject,
} from '../domain/index.js';
import { ESTADO_FROM_PB, toAlumnoPb, toFieldChangePb } from '../mapping.js';
import type { AlumnoRpcDeps } from './alumno.rpc.js';
import { checkText } from './input-bounds.js';

/** The key of `alumno.fingerprints` holding the fingerprint of the pylucy row an alumno was imported from. */
export const PYLUCY_FINGERPRINT = 'pylucy';

/** Alumnos per ImportAlumnos call. */
export const IMPORT_ALUMNOS_MAX = 5000;

type Outcome = MessageInitShape<typeof ImportAlumnosResponseSchema>;
type ResultInit = MessageInitShape<typeof ImportAlumnoResultSchema>;

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const blank = (v: unknown) =>
  v === null || v === undefined || v === '' || (Array.isArray(v) && v.length === 0);

/** What pylucy says about one alumno, as the ingestion's fields, or why it cannot be imported. */
function incoming(a: ImportedAlumno): { fields: Partial<AlumnoIngestFields>; estado: Estado } | string {
  const problems: FieldError[] = [];
  const tipo = a.tipoDocumento.trim().toUpperCase();
  const dni = a.dni.trim();
  if (!tipo || !dni) return 'Falta el tipo o el número de documento.';
  checkText(problems, 'tipo_documento', tipo, COLUMN_LIMITS.tipo_documento);
  checkText(problems, 'dni', dni, COLUMN_LIMITS.dni);
  const text = (field: keyof typeof COLUMN_LIMITS, value: string): string | null => {
    const v = value.trim();
    if (!v) return null;
    return checkText(problems, field, v, COLUMN_LIMITS[field]) ? v : null;
  };
  const estado = ESTADO_FROM_PB[a.estado];
  if (!estado) return 'El estado no es uno de preinscripto, aspirante, ingresante o alumno.';
  const email = text('email_personal', a.emailPersonal);
  const carreras: JsonValue[] = a.carreras ? toJson(ListValueSchema, a.carreras) : [];
  const fields: Partial<AlumnoIngestFields> = {
    tipo_documento: tipo,
    dni,
    nombre: text('nombre', a.nombre),
    apellido: text('apellido', a.apellido),
    // An address SIAL would refuse is left out rather than stored (the ingestion's rule).
    email_personal: email && isPlausibleEmail(email) ? email : null,
    fecha_nacimiento: DATE.test(a.fechaNacimiento) ? a.fechaNacimiento : null,
    cohorte: a.cohorte > 0 && a.cohorte < 10_000 ? a.cohorte : null,
    localidad: text('localidad', a.localidad),
    telefono: text('telefono', a.telefono),
    fecha_ingreso: DATE.test(a.fechaIngreso) ? a.fechaIngreso : null,
    estado_ingreso: text('estado_ingreso', a.estadoIngreso),
    modalidad: a.modalidad === '1' || a.modalidad === '2' ? a.modalidad : null,
    carreras: carreras.length ? (carreras as JsonObject[]) : null,
  };
  if (problems.length)
    return `Valor no válido en ${problems.map((p) => p.field).join(', ')}: ${problems[0]!.message}`;
  return { fields, estado };
}

/**
 * The merge of an adopted alumno into the stored one. The ingestion's guarantees hold — never a duplicate (keyed
 * by tipo_documento and dni), estado only forward, never a blanked field — and one more: a value Lucy already
 * has is kept (it came from SIAL, fresher than pylucy's copy), so pylucy only fills what is missing. That also
 * makes a re-run after an ingestion change nothing.
 */
export function mergeAdopted(
  existing: StoredAlumno | undefined,
  inc: { fields: Partial<AlumnoIngestFields>; estado: Estado },
): { kind: 'create' | 'update' | 'unchanged'; values: AlumnoIngestFields; changes: FieldChange[] } {
  const base: AlumnoIngestFields = existing
    ? ingestFieldsOf(existing)
    : {
        tipo_documento: inc.fields.tipo_documento!,
        dni: inc.fields.dni!,
        nombre: null,
        apellido: null,
        email_personal: null,
        fecha_nacimiento: null,
        cohorte: null,
        localidad: null,
        telefono: null,
        estado: inc.estado,
        fecha_ingreso: null,
        estado_ingreso: null,
        modalidad: null,
        carreras: null,
      };
  const values = { ...base };
  const changes: FieldChange[] = [];
  const estado = existing ? forwardEstado(existing.estado, inc.estado) : inc.estado;
  if (!existing || estado !== existing.estado) {
    changes.push({ field: 'estado', before: existing?.estado ?? null, after: estado });
    values.estado = estado;
  }
  for (const field of MERGED_FIELDS) {
    const after = inc.fields[field];
    if (blank(after) || !blank(base[field])) continue;
    if (field === 'carreras' && jsonEqual(base[field], after)) continue;
    changes.push({ field, before: base[field], after });
    (values as unknown as Record<string, unknown>)[field] = after;
  }
  if (!existing) return { kind: 'create', values, changes };
  return { kind: changes.length ? 'update' : 'unchanged', values, changes };
}

const RESULT = { create: 'creado', update: 'actualizado', unchanged: 'sin_cambios' } as const;

/** Characters of a pylucy row fingerprint (the CLI sends a 32-character digest). */
const FINGERPRINT_MAX = 64;
/** What a fingerprint may hold: it becomes part of a message id header. */
const FINGERPRINT = /^[\x21-\x7e]*$/;

/** Marks alumnos as adopted from the given pylucy rows (alumno id → fingerprint of the row). */
async function storeFingerprints(knex: Knex, marks: Map<string, string>): Promise<void> {
  if (marks.size === 0) return;
  await knex.raw(
    `update ingest.alumno a set fingerprints = a.fingerprints || jsonb_build_object(?::text, x.f)
     from unnest(?::uuid[], ?::text[]) as x(id, f) where a.id = x.id`,
    [PYLUCY_FINGERPRINT, [...marks.keys()], [...marks.values()]],
  );
}

/**
 * AlumnoService.ImportAlumnos: alumnos adopted from pylucy, merged by {@link mergeAdopted} and written with the
 * ingestion's bulk upsert (keyed by document, so a repeated call or a call after a killed run adds nothing). Each
 * creation or change is announced as the ingestion announces its own (`lucy.evt.alumno.created|updated`), with a
 * message id per alumno and content, so a retried call publishes nothing twice.
 */
export function createImportAlumnosRpc(
  deps: AlumnoRpcDeps,
): Pick<ServiceImpl<typeof AlumnoService>, 'importAlumnos'> {
  const events = createBatchPublisher(deps.nats.nc);
  return {
    async importAlumnos(req): Promise<Outcome> {
      if (req.alumnos.length > IMPORT_ALUMNOS_MAX)
        throw new ValidationError([
          { field: 'alumnos', message: `Admite como máximo ${IMPORT_ALUMNOS_MAX} alumnos por llamada.` },
        ]);
      const problems: FieldError[] = [];
      checkText(problems, 'requested_by', req.requestedBy, 150);
      // The fingerprint is stored and is part of an event's message id; a probe and marcar look alumnos up by their
      // document (an import checks it per row instead, and skips that row): all bounded and free of control
      // characters before anything is read.
      req.alumnos.forEach((a, i) => {
        if (
          checkText(problems, `alumnos[${i}].fingerprint`, a.fingerprint, FINGERPRINT_MAX) &&
          !FINGERPRINT.test(a.fingerprint)
        )
          problems.push({
            field: `alumnos[${i}].fingerprint`,
            message: 'Solo admite letras, dígitos y signos ASCII visibles (sin espacios ni saltos de línea).',
          });
        if (!req.probe && !req.marcar) return;
        checkText(problems, `alumnos[${i}].tipo_documento`, a.tipoDocumento, COLUMN_LIMITS.tipo_documento);
        checkText(problems, `alumnos[${i}].dni`, a.dni, COLUMN_LIMITS.dni);
      });
      if (problems.length) throw new ValidationError(problems.slice(0, 20));
      if (req.marcar && (req.probe || req.dryRun || req.diferirMarca))
        throw new ValidationError([
          { field: 'marcar', message: 'marcar va solo: sin probe, dry_run ni diferir_marca.' },
        ]);
      if (req.probe || req.marcar) {
        // By document only: one indexed read, nothing merged.
        const keys = req.alumnos.map((a) => ({
          tipo_documento: a.tipoDocumento.trim().toUpperCase(),
          dni: a.dni.trim(),
        }));
        const { rows } = await deps.knex.raw<{
          rows: { id: string; tipo_documento: string; dni: string; f: string | null }[];
        }>(
          `select a.id, a.tipo_documento, a.dni, a.fingerprints ->> ? as f from ingest.alumno a
           join jsonb_to_recordset(?::jsonb) as doc(t text, d text) on doc.t = a.tipo_documento and doc.d = a.dni`,
          [
            PYLUCY_FINGERPRINT,
            JSON.stringify(
              keys.filter((k) => k.tipo_documento && k.dni).map((k) => ({ t: k.tipo_documento, d: k.dni })),
            ),
          ],
        );
        const found = new Map(rows.map((r) => [documentKey(r.tipo_documento, r.dni), r]));
        if (req.marcar) {
          // The adoption's mark, once the alumnos' accounts are imported too (see diferir_marca).
          const marks = new Map<string, string>();
          const seen = new Set<string>();
          const results = req.alumnos.map((a, i): ResultInit => {
            const key = documentKey(keys[i]!.tipo_documento, keys[i]!.dni);
            // As an import does: the first row of a repeated document is the one that counts.
            if (seen.has(key))
              return {
                originalId: a.originalId,
                resultado: 'omitido',
                motivo: 'Documento repetido en pylucy.',
              };
            seen.add(key);
            const s = found.get(key);
            if (!s || !a.fingerprint)
              return {
                originalId: a.originalId,
                resultado: 'omitido',
                motivo: s ? 'Falta la huella de la fila de pylucy.' : 'No hay alumno con ese documento.',
              };
            if (s.f !== a.fingerprint) marks.set(s.id, a.fingerprint);
            return { originalId: a.originalId, alumnoId: s.id, resultado: 'sin_cambios' };
          });
          await storeFingerprints(deps.knex, marks);
          return { results };
        }
        return {
          results: req.alumnos.map((a, i) => {
            const s = found.get(documentKey(keys[i]!.tipo_documento, keys[i]!.dni));
            return s && a.fingerprint && s.f === a.fingerprint
              ? { originalId: a.originalId, alumnoId: s.id, resultado: 'sin_cambios' }
              : { originalId: a.originalId, resultado: 'pendiente' };
          }),
        };
      }
      const parsed = req.alumnos.map(incoming);
      const docs = parsed.flatMap((p) =>
        typeof p === 'string' ? [] : [{ tipo_documento: p.fields.tipo_documento!, dni: p.fields.dni! }],
      );
      const stored = await loadAlumnosByDocument(deps.knex, docs);
      const now = deps.clock();
      const planned = new Map<string, ReturnType<typeof mergeAdopted> & { id: string }>();
      const out: ResultInit[] = parsed.map((p, i) => {
        const originalId = req.alumnos[i]!.originalId;
        if (typeof p === 'string') return { originalId, resultado: 'omitido', motivo: p };
        const key = documentKey(p.fields.tipo_documento!, p.fields.dni!);
        const earlier = planned.get(key);
        if (earlier) return { originalId, resultado: 'omitido', motivo: 'Documento repetido en pylucy.' };
        const existing = stored.get(key);
        const merged = mergeAdopted(existing, p);
        planned.set(key, { ...merged, id: existing?.id ?? uuidv7() });
        return {
          originalId,
          alumnoId: existing?.id ?? '',
          resultado: RESULT[merged.kind],
          campos: merged.changes.map((c) => c.field),
        };
      });
      if (req.dryRun) return { results: out };

      const writes = [...planned.values()].filter((p) => p.kind !== 'unchanged');
      const rows: AlumnoUpsert[] = writes.map((p) => ({
        id: p.id,
        values: p.values,
        fingerprint: undefined,
        now,
      }));
      const rejected = await upsertAlumnos(deps.knex, rows);
      const refused = new Map(
        rejected.map((r) => [documentKey(r.row.values.tipo_documento, r.row.values.dni), r]),
      );
      // The ids as stored: a concurrent ingestion may have created the row first.
      const after = await loadAlumnosByDocument(deps.knex, docs);
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
      const messages: OutboundMessage[] = [];
      for (const p of writes) {
        const key = documentKey(p.values.tipo_documento, p.values.dni);
        const a = after.get(key);
        if (!a || refused.has(key)) continue;
        const alumno = toAlumnoPb(a);
        const created = p.kind === 'create';
        const data = created
          ? encode(AlumnoCreatedSchema, create(AlumnoCreatedSchema, { alumno }), CONTENT_TYPE.protobuf)
          : encode(
              AlumnoUpdatedSchema,
              create(AlumnoUpdatedSchema, { alumno, changes: p.changes.map(toFieldChangePb) }),
              CONTENT_TYPE.protobuf,
            );
        const h = headers();
        h.set(H.msgId, `pylucy-import:${a.id}:${p.kind}:${p.changes.map((c) => c.field).join(',')}`);
        messages.push({
          subject: deps.names.evt('alumno', created ? 'created' : 'updated'),
          data,
          headers: h,
        });
      }
      // The pylucy fingerprint of each planned row (a repeated document is omitido, so its first row's).
      const fingerprintOf = new Map<string, string>();
      parsed.forEach((p, i) => {
        const f = req.alumnos[i]!.fingerprint;
        if (typeof p !== 'string' && f && out[i]!.resultado !== 'omitido')
          fingerprintOf.set(documentKey(p.fields.tipo_documento!, p.fields.dni!), f);
      });
      // A row this call leaves unchanged but that does not carry its fingerprint yet was never announced as adopted:
      // the call that wrote it failed before its events were stored (the fingerprint is stored only after them, by
      // that call or by the adoption's later `marcar`), or it came from SIAL exactly as pylucy has it. Its state is
      // announced now (`updated`, no changes), so a failed publish is repaired by the retry instead of lost — the
      // retry itself finds the row unchanged and would otherwise announce nothing.
      for (const p of planned.values()) {
        if (p.kind !== 'unchanged') continue;
        const key = documentKey(p.values.tipo_documento, p.values.dni);
        const f = fingerprintOf.get(key);
        const a = after.get(key);
        if (!f || !a || a.fingerprints[PYLUCY_FINGERPRINT as never] === f) continue;
        const h = headers();
        h.set(H.msgId, `pylucy-import:${a.id}:sync:${f}`);
        messages.push({
          subject: deps.names.evt('alumno', 'updated'),
          data: encode(
            AlumnoUpdatedSchema,
            create(AlumnoUpdatedSchema, { alumno: toAlumnoPb(a), changes: [] }),
            CONTENT_TYPE.protobuf,
          ),
          headers: h,
        });
      }
      // One pass for the whole call (an acked `js.publish` per alumno was most of this service's CPU in an
      // adoption). Any event not stored fails the call, before the fingerprints are marked: the retry announces
      // those rows again (above). An alumno whose first event was stored after all is then announced twice with the
      // same state, which the projections (alumno_ref, ...) apply idempotently.
      await publishAllOrThrow(events, messages);
      // Each imported row remembers the pylucy row it came from, so a later probe skips it while unchanged (unless
      // the adoption marks it itself, after the accounts: diferir_marca).
      if (!req.diferirMarca) {
        const marks = new Map<string, string>();
        for (const [key, f] of fingerprintOf) {
          const a = after.get(key);
          if (a && !refused.has(key) && a.fingerprints[PYLUCY_FINGERPRINT as never] !== f) marks.set(a.id, f);
        }
        await storeFingerprints(deps.knex, marks);
      }
      return {
        results: out.map((r, i) => {
          const p = parsed[i]!;
          if (typeof p === 'string' || r.resultado === 'omitido') return r;
          const key = documentKey(p.fields.tipo_documento!, p.fields.dni!);
          const rej = refused.get(key);
          if (rej) return { ...r, resultado: 'omitido', motivo: `Postgres lo rechazó: ${rej.reason}` };
          return { ...r, alumnoId: after.get(key)?.id ?? '' };
        }),
      };
    },
  };
}
