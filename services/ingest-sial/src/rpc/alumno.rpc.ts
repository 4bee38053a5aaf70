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
import { alumnoColumns, alumnoTable, toStoredAlumno, type StoredAlumno } from '../db/alumno.repository.js';
import { ESTADO_FROM_PB, toAlumnoPb } from '../mapping.js';

/** Dependencies of {@link createAlumnoRpc}. */
export interface AlumnoRpcDeps {
  knex: Knex;
  nats: NatsHandles;
  names: Names;
  clock: () => Date;
}

const MAX_PAGE = 500;
const EXPORT_CHUNK = 64 * 1024;

/** Applies an AlumnoFilter to a query; collects field errors. */
function applyFilter(
  q: Knex.QueryBuilder,
  f: AlumnoFilter | undefined,
  problems: FieldError[],
): Knex.QueryBuilder {
  if (!f) return q;
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
  if (f.idCarrera !== 0n) {
    const id = Number(f.idCarrera);
    q.where((w) => {
      w.whereRaw('carreras @> ?::jsonb', [JSON.stringify([{ id_carrera: id }])]).orWhereRaw(
        'carreras @> ?::jsonb',
        [JSON.stringify([{ id_carrera: String(id) }])],
      );
    });
  }
  if (f.cohorte !== 0) q.where('cohorte', f.cohorte);
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
  const search = f.search.trim();
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
  if (f.ids.length > 0) {
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
  const n = Number(Buffer.from(token, 'base64url').toString('utf8').replace(/^o:/, ''));
  if (!Number.isInteger(n) || n < 0) {
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
export function createAlumnoRpc(deps: AlumnoRpcDeps): ServiceImpl<typeof AlumnoService> {
  const { knex } = deps;

  async function findOne(id: string, tipoDocumento: string, dni: string): Promise<StoredAlumno> {
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
      if (problems.length > 0) throw new ValidationError(problems);
      const alumnos = ((await ordered(q)) as Record<string, unknown>[]).map(toStoredAlumno);
      const stamp = deps.clock().toISOString().slice(0, 10);
      let bytes: Uint8Array;
      let filename: string;
      let contentType: string;
      if (req.format === ExportFormat.XLSX) {
        // Loaded on first use: exceljs adds ~25 MB to the resident set of a process that never exports.
        const { default: ExcelJS } = await import('exceljs');
        const wb = new ExcelJS.Workbook();
        const ws = wb.addWorksheet('Alumnos');
        ws.addRow(EXPORT_HEADERS.map(([h]) => h));
        for (const a of alumnos) ws.addRow(EXPORT_HEADERS.map(([, get]) => get(a)));
        bytes = new Uint8Array(await wb.xlsx.writeBuffer());
        filename = `alumnos-${stamp}.xlsx`;
        contentType = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
      } else {
        const lines = [EXPORT_HEADERS.map(([h]) => h).join(',')];
        for (const a of alumnos) lines.push(EXPORT_HEADERS.map(([, get]) => csvCell(get(a))).join(','));
        bytes = new TextEncoder().encode(`\uFEFF${lines.join('\r\n')}\r\n`);
        filename = `alumnos-${stamp}.csv`;
        contentType = 'text/csv; charset=utf-8';
      }
      for (let i = 0; i < bytes.length || i === 0; i += EXPORT_CHUNK) {
        yield i === 0
          ? { filename, contentType, chunk: bytes.subarray(0, EXPORT_CHUNK) }
          : { chunk: bytes.subarray(i, i + EXPORT_CHUNK) };
      }
    },
  };
}
