import { PassThrough } from 'node:stream';
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { ServiceImpl } from '@connectrpc/connect';
import type { Knex } from '@mikro-orm/postgresql';
import {
  CONTENT_TYPE,
  encode,
  H,
  isUuid,
  newTraceparent,
  NotFoundError,
  taskHeaders,
  ValidationError,
  type FieldError,
  type Names,
  type NatsHandles,
} from '@lucy/platform';
import {
  AlumnoDeletedSchema,
  ExportFormat,
  PageInfoSchema,
  type AlumnoFilter,
  type AlumnoService,
} from '@lucy/proto';
import {
  alumnoColumns,
  alumnoTable,
  cursorRows,
  toStoredAlumno,
  type StoredAlumno,
} from '../db/alumno.repository.js';
import { COLUMN_LIMITS } from '../domain/index.js';
import { ESTADO_FROM_PB, toAlumnoPb } from '../mapping.js';
import {
  checkCount,
  checkText,
  MAX_FILTER_IDS,
  MAX_OFFSET,
  MAX_PAGE_TOKEN,
  MAX_REQUESTED_BY,
  MAX_SEARCH,
} from './input-bounds.js';

/** Dependencies of {@link createAlumnoRpc}. */
export interface AlumnoRpcDeps {
  knex: Knex;
  nats: NatsHandles;
  names: Names;
  clock: () => Date;
  /** Most alumnos one export may hold; default {@link EXPORT_MAX_ROWS}. */
  maxExportRows?: number;
}

const MAX_PAGE = 500;
/** Bytes per export message. */
const EXPORT_CHUNK = 64 * 1024;
/** Rows fetched from the cursor at a time by an export. */
const EXPORT_BATCH = 1000;
/** Default most alumnos one export may hold: above it staff are asked to filter. */
export const EXPORT_MAX_ROWS = 200_000;

/** Applies an AlumnoFilter to a query; collects field errors. */
function applyFilter(
  q: Knex.QueryBuilder,
  f: AlumnoFilter | undefined,
  problems: FieldError[],
): Knex.QueryBuilder {
  if (!f) return q;
  checkCount(problems, 'filter.estados', f.estados.length, 10);
  if (f.estados.length > 0) {
    const estados = f.estados.map((e, i) => {
      const estado = ESTADO_FROM_PB[e];
      if (!estado) problems.push({ field: `filter.estados[${i}]`, message: 'Estado desconocido.' });
      return estado;
    });
    q.whereIn(
      'estado',
      estados.filter((e) => e !== undefined),
    );
  }
  if (f.modalidad) {
    if (f.modalidad !== '1' && f.modalidad !== '2') {
      problems.push({
        field: 'filter.modalidad',
        message: 'La modalidad debe ser "1" (presencial) o "2" (distancia).',
      });
    }
    q.where('modalidad', f.modalidad);
  }
  if (f.idCarrera < 0n || f.idCarrera > BigInt(Number.MAX_SAFE_INTEGER))
    problems.push({ field: 'filter.idCarrera', message: 'El id de carrera no es válido.' });
  else if (f.idCarrera !== 0n) {
    const id = Number(f.idCarrera);
    q.where((w) => {
      w.whereRaw('carreras @> ?::jsonb', [JSON.stringify([{ id_carrera: id }])]).orWhereRaw(
        'carreras @> ?::jsonb',
        [JSON.stringify([{ id_carrera: String(id) }])],
      );
    });
  }
  if (f.cohorte !== 0) {
    if (f.cohorte < 1900 || f.cohorte > 2200)
      problems.push({ field: 'filter.cohorte', message: 'La cohorte debe ser un año entre 1900 y 2200.' });
    q.where('cohorte', f.cohorte);
  }
  if (f.conEmailInstitucional !== undefined) {
    q.whereRaw(`coalesce(email_institucional, '') ${f.conEmailInstitucional ? '<>' : '='} ''`);
  }
  if (f.conAlgunEmail !== undefined) {
    q.whereRaw(
      f.conAlgunEmail
        ? `(coalesce(email_institucional, '') <> '' or coalesce(email_personal, '') <> '')`
        : `(coalesce(email_institucional, '') = '' and coalesce(email_personal, '') = '')`,
    );
  }
  const search = checkText(problems, 'filter.search', f.search, MAX_SEARCH) ? f.search.trim() : '';
  if (search) {
    const like = `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    q.where((w) => {
      w.whereILike('apellido', like)
        .orWhereILike('nombre', like)
        .orWhereILike('dni', like)
        .orWhereILike('email_personal', like)
        .orWhereILike('email_institucional', like)
        .orWhereRaw(`(coalesce(apellido, '') || ' ' || coalesce(nombre, '')) ilike ?`, [like]);
    });
  }
  if (f.ids.length > 0 && checkCount(problems, 'filter.ids', f.ids.length, MAX_FILTER_IDS)) {
    f.ids.forEach((id, i) => {
      if (!isUuid(id))
        problems.push({ field: `filter.ids[${i}]`, message: 'No es un identificador válido.' });
    });
    q.whereIn('id', f.ids.filter(isUuid));
  }
  return q;
}

const ordered = (q: Knex.QueryBuilder) =>
  q.orderByRaw(`coalesce(apellido, '') asc, coalesce(nombre, '') asc, id asc`);

function decodeOffset(token: string, problems: FieldError[]): number {
  if (!token) return 0;
  const text =
    token.length <= MAX_PAGE_TOKEN && /^[A-Za-z0-9_-]+$/.test(token)
      ? Buffer.from(token, 'base64url').toString('utf8')
      : '';
  const n = /^o:\d{1,9}$/.test(text) ? Number(text.slice(2)) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > MAX_OFFSET) {
    problems.push({
      field: 'page.pageToken',
      message: 'El token de página no es válido; vuelva a pedir la primera página.',
    });
    return 0;
  }
  return n;
}
const encodeOffset = (n: number) => Buffer.from(`o:${n}`).toString('base64url');

const EXPORT_HEADERS: [string, (a: StoredAlumno) => string | number][] = [
  ['tipo_documento', (a) => a.tipo_documento],
  ['dni', (a) => a.dni],
  ['apellido', (a) => a.apellido ?? ''],
  ['nombre', (a) => a.nombre ?? ''],
  ['email_personal', (a) => a.email_personal ?? ''],
  ['email_institucional', (a) => a.email_institucional ?? ''],
  ['estado', (a) => a.estado],
  ['cohorte', (a) => a.cohorte ?? ''],
  ['modalidad', (a) => a.modalidad ?? ''],
  ['fecha_nacimiento', (a) => a.fecha_nacimiento ?? ''],
  ['fecha_ingreso', (a) => a.fecha_ingreso ?? ''],
  ['localidad', (a) => a.localidad ?? ''],
  ['telefono', (a) => a.telefono ?? ''],
  [
    'carreras',
    (a) =>
      (a.carreras ?? [])
        .map((c) => (typeof c.nombre_carrera === 'string' ? c.nombre_carrera : ''))
        .filter(Boolean)
        .join(' | '),
  ],
];

/** CSV-escapes a cell; neutralises formula injection for spreadsheet users. */
export function csvCell(value: string | number): string {
  let s = String(value);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\n\r;]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * Headers of `lucy.evt.alumno.deleted`. A deletion is a staff action, not a Tarea: there is no task id or type
 * to carry (identity-teams starts `eliminar_cuenta_externa` from the event and mints its own), so only the
 * headers that are known stay — Content-Type, Lucy-Requested-By, Lucy-Trigger and a fresh traceparent.
 */
export function deletedHeaders(requestedBy: string) {
  const h = taskHeaders(
    { taskId: '', taskType: '', requestedBy, trigger: 'admin', traceparent: newTraceparent() },
    CONTENT_TYPE.protobuf,
  );
  h.delete(H.taskId);
  h.delete(H.taskType);
  return h;
}

/** AlumnoService: list, get, delete and export. */
export function createAlumnoRpc(
  deps: AlumnoRpcDeps,
): Omit<ServiceImpl<typeof AlumnoService>, 'importAlumnos' | 'listCarreras'> {
  const { knex } = deps;
  const maxExportRows = deps.maxExportRows ?? EXPORT_MAX_ROWS;

  async function findOne(id: string, tipoDocumento: string, dni: string): Promise<StoredAlumno> {
    const problems: FieldError[] = [];
    checkText(problems, 'tipoDocumento', tipoDocumento, COLUMN_LIMITS.tipo_documento);
    checkText(problems, 'dni', dni, COLUMN_LIMITS.dni);
    checkText(problems, 'id', id, 36);
    if (problems.length > 0) throw new ValidationError(problems);
    const q = alumnoTable(knex).select(alumnoColumns(knex));
    if (id) {
      if (!isUuid(id))
        throw new ValidationError([{ field: 'id', message: 'No es un identificador válido.' }]);
      q.where('id', id);
    } else if (dni) {
      q.where({ tipo_documento: (tipoDocumento || 'DNI').toUpperCase(), dni: dni.trim() });
    } else {
      throw new ValidationError([{ field: 'id', message: 'Indique el id o el DNI del alumno.' }]);
    }
    const row = (await q.first()) as Record<string, unknown> | undefined;
    if (!row) throw new NotFoundError('No existe el alumno indicado.');
    return toStoredAlumno(row);
  }

  return {
    async listAlumnos(req) {
      const problems: FieldError[] = [];
      const size = req.page?.pageSize ?? 0;
      if (size < 0 || size > MAX_PAGE) {
        problems.push({
          field: 'page.pageSize',
          message: `El tamaño de página debe estar entre 1 y ${MAX_PAGE}.`,
        });
      }
      const limit = size > 0 ? Math.min(size, MAX_PAGE) : 50;
      const offset = decodeOffset(req.page?.pageToken ?? '', problems);
      const rowsQ = applyFilter(alumnoTable(knex).select(alumnoColumns(knex)), req.filter, problems);
      const countQ = applyFilter(alumnoTable(knex).count({ n: '*' }), req.filter, []);
      if (problems.length > 0) throw new ValidationError(problems);
      const rows = (await ordered(rowsQ)
        .limit(limit + 1)
        .offset(offset)) as Record<string, unknown>[];
      const [{ n } = { n: 0 }] = (await countQ) as { n: string | number }[];
      const more = rows.length > limit;
      return {
        alumnos: rows.slice(0, limit).map((r) => toAlumnoPb(toStoredAlumno(r))),
        page: create(PageInfoSchema, {
          nextPageToken: more ? encodeOffset(offset + limit) : '',
          totalEstimate: BigInt(n),
        }),
      };
    },

    async getAlumno(req) {
      return { alumno: toAlumnoPb(await findOne(req.id, req.tipoDocumento, req.dni)) };
    },

    async deleteAlumno(req) {
      const problems: FieldError[] = [];
      checkText(problems, 'requestedBy', req.requestedBy, MAX_REQUESTED_BY);
      if (problems.length > 0) throw new ValidationError(problems);
      if (!isUuid(req.id))
        throw new ValidationError([{ field: 'id', message: 'No es un identificador válido.' }]);
      const stored = await findOne(req.id, '', '');
      const deleted = await alumnoTable(knex).where('id', req.id).delete();
      if (deleted === 0) throw new NotFoundError('No existe el alumno indicado.');
      const alumno = toAlumnoPb(stored);
      const event = create(AlumnoDeletedSchema, {
        alumno,
        deletedBy: req.requestedBy || 'desconocido',
        deletedAt: timestampFromDate(deps.clock()),
        eliminarCuentasExternas: !req.conservarCuentasExternas,
      });
      await deps.nats.js.publish(
        deps.names.evt('alumno', 'deleted'),
        encode(AlumnoDeletedSchema, event, CONTENT_TYPE.protobuf),
        { headers: deletedHeaders(event.deletedBy), msgID: `alumno-deleted:${stored.id}` },
      );
      return { alumno };
    },

    async *exportAlumnos(req) {
      const problems: FieldError[] = [];
      const q = applyFilter(alumnoTable(knex).select(alumnoColumns(knex)), req.filter, problems);
      const countQ = applyFilter(alumnoTable(knex).count({ n: '*' }), req.filter, []);
      if (problems.length > 0) throw new ValidationError(problems);
      const [{ n } = { n: 0 }] = (await countQ) as { n: string | number }[];
      const total = Number(n);
      if (total > maxExportRows) {
        throw new ValidationError([
          {
            field: 'filter',
            message: `La exportación tendría ${total.toLocaleString('es-AR')} alumnos y el máximo es ${maxExportRows.toLocaleString('es-AR')}. Aplique filtros (estado, cohorte, carrera, modalidad…) y exporte por partes.`,
          },
        ]);
      }
      const stamp = deps.clock().toISOString().slice(0, 10);
      const xlsx = req.format === ExportFormat.XLSX;
      const filename = `alumnos-${stamp}.${xlsx ? 'xlsx' : 'csv'}`;
      const contentType = xlsx
        ? 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'
        : 'text/csv; charset=utf-8';
      const batches = cursorRows(knex, ordered(q), EXPORT_BATCH);
      // Every message carries at most EXPORT_CHUNK bytes; the first also names the file.
      let first = true;
      function* messages(bytes: Uint8Array) {
        for (let i = 0; i < bytes.length || (first && i === 0); i += EXPORT_CHUNK) {
          const chunk = bytes.subarray(i, i + EXPORT_CHUNK);
          yield first ? { filename, contentType, chunk } : { chunk };
          first = false;
        }
      }
      if (!xlsx) {
        const encoder = new TextEncoder();
        yield* messages(encoder.encode(`\uFEFF${EXPORT_HEADERS.map(([h]) => h).join(',')}\r\n`));
        for await (const rows of batches) {
          let text = '';
          for (const row of rows) {
            const a = toStoredAlumno(row);
            text += `${EXPORT_HEADERS.map(([, get]) => csvCell(get(a))).join(',')}\r\n`;
          }
          yield* messages(encoder.encode(text));
        }
        return;
      }
      // Loaded on first use: exceljs adds ~25 MB to the resident set of a process that never exports.
      const { default: ExcelJS } = await import('exceljs');
      // The streaming writer writes each committed row into the zip as it goes; what the zip emits is collected
      // here and sent between batches. The generator advances only when the client takes a message, so a slow
      // client slows the cursor instead of growing a buffer.
      const out = new PassThrough();
      const pending: Buffer[] = [];
      let pendingBytes = 0;
      out.on('data', (c: Buffer) => {
        pending.push(c);
        pendingBytes += c.length;
      });
      const ended = new Promise<void>((resolve, reject) => {
        out.once('end', resolve);
        out.once('error', reject);
      });
      ended.catch(() => undefined); // awaited below
      const take = (): Uint8Array => {
        const bytes = Buffer.concat(pending);
        pending.length = 0;
        pendingBytes = 0;
        return bytes;
      };
      const wb = new ExcelJS.stream.xlsx.WorkbookWriter({
        stream: out,
        useStyles: false,
        useSharedStrings: false,
      });
      const ws = wb.addWorksheet('Alumnos');
      ws.addRow(EXPORT_HEADERS.map(([h]) => h)).commit();
      for await (const rows of batches) {
        for (const row of rows) {
          const a = toStoredAlumno(row);
          ws.addRow(EXPORT_HEADERS.map(([, get]) => get(a))).commit();
        }
        // Lets the zip's deflate hand over what it compressed so far.
        await new Promise((resolve) => setImmediate(resolve));
        if (pendingBytes >= EXPORT_CHUNK) yield* messages(take());
      }
      ws.commit();
      await wb.commit();
      await ended;
      yield* messages(take());
    },
  };
}
