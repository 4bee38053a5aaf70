import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { AlumnoService, Estado, ExportFormat, type Alumno, type AlumnoFilterSchema } from '@lucy/proto';
import { clientFor, type GlobalOptions } from '../context.js';
import { printObject, printRows } from '../output.js';

const actor = () => process.env.LUCY_USER ?? process.env.USER ?? 'cli';
const g = (cmd: Command) => cmd.optsWithGlobals<GlobalOptions>();
const estadoName = (e: Estado) => (Estado[e] ?? '').toLowerCase();
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Parses `aspirante,ingresante` into Estado values; the error names the option. */
export function parseEstados(value: string | undefined): Estado[] {
  if (!value) return [];
  return value.split(',').map((raw) => {
    const v = Estado[raw.trim().toUpperCase() as keyof typeof Estado];
    if (typeof v !== 'number' || v === Estado.UNSPECIFIED) {
      throw new Error(
        `--estado: valor desconocido "${raw}" (valores: preinscripto, aspirante, ingresante, alumno)`,
      );
    }
    return v;
  });
}

/**
 * The document of `alumnos show`: what `alumnos list` prints (`DNI 43759455`), a bare number (`43759455`, with
 * the type from --tipo-documento) or one written with dots (`43.759.455`).
 */
export function parseDocumento(ref: string, tipoPorDefecto: string): { tipoDocumento: string; dni: string } {
  const m = /^\s*(?:([A-Za-z]{1,6})\.?\s+)?([\d.\s]+|[A-Za-z0-9]+)\s*$/.exec(ref);
  if (!m)
    throw new Error(`<id-o-dni>: "${ref}" no es un id ni un documento (p. ej. "DNI 43759455" o 43759455)`);
  const numero = /^[\d.\s]+$/.test(m[2]!) ? m[2]!.replace(/[.\s]/g, '') : m[2]!;
  return { tipoDocumento: (m[1] ?? tipoPorDefecto).toUpperCase(), dni: numero };
}

function parseSiNo(value: string | undefined, option: string): boolean | undefined {
  if (value === undefined) return undefined;
  const v = value.trim().toLowerCase();
  if (['si', 'sí', 'true', '1'].includes(v)) return true;
  if (['no', 'false', '0'].includes(v)) return false;
  throw new Error(`${option}: use "si" o "no" (recibido "${value}")`);
}

function parseEntero(value: string | undefined, option: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${option}: "${value}" no es un número válido`);
  return n;
}

interface FilterOptions {
  estado?: string;
  modalidad?: string;
  carrera?: string;
  cohorte?: string;
  conEmailInstitucional?: string;
  conAlgunEmail?: string;
  search?: string;
}

function withFilters(cmd: Command): Command {
  return cmd
    .option('--estado <estados>', 'estados separados por coma (preinscripto, aspirante, ingresante, alumno)')
    .option('--modalidad <m>', '1 (presencial) o 2 (a distancia)')
    .option('--carrera <id>', 'id de carrera de SIAL')
    .option('--cohorte <año>', 'cohorte')
    .option('--con-email-institucional <si|no>', 'con o sin e-mail institucional')
    .option('--con-algun-email <si|no>', 'con o sin algún e-mail (personal o institucional)')
    .option('--search <texto>', 'busca por apellido, nombre, DNI o e-mail');
}

/** The AlumnoFilter of the filter options. */
export function toFilter(o: FilterOptions): MessageInitShape<typeof AlumnoFilterSchema> {
  if (o.modalidad !== undefined && o.modalidad !== '1' && o.modalidad !== '2')
    throw new Error(`--modalidad: use 1 (presencial) o 2 (a distancia) (recibido "${o.modalidad}")`);
  const conInstitucional = parseSiNo(o.conEmailInstitucional, '--con-email-institucional');
  const conAlguno = parseSiNo(o.conAlgunEmail, '--con-algun-email');
  const carrera = parseEntero(o.carrera, '--carrera');
  return {
    estados: parseEstados(o.estado),
    modalidad: o.modalidad ?? '',
    idCarrera: BigInt(carrera ?? 0),
    cohorte: parseEntero(o.cohorte, '--cohorte') ?? 0,
    ...(conInstitucional !== undefined ? { conEmailInstitucional: conInstitucional } : {}),
    ...(conAlguno !== undefined ? { conAlgunEmail: conAlguno } : {}),
    search: o.search ?? '',
  };
}

function alumnoRow(a: Alumno): Record<string, unknown> {
  return {
    id: a.id,
    dni: `${a.tipoDocumento} ${a.dni}`,
    apellido: a.apellido,
    nombre: a.nombre,
    estado: estadoName(a.estado),
    cohorte: a.cohorte || '',
    modalidad: a.modalidad,
    carreras: a.carreras.map((c) => c.nombreCarrera).join(' | '),
    email_personal: a.emailPersonal,
    email_institucional: a.emailInstitucional,
  };
}

function alumnoDetail(a: Alumno): Record<string, unknown> {
  return {
    ...alumnoRow(a),
    fecha_nacimiento: a.fechaNacimiento,
    localidad: a.localidad,
    telefono: a.telefono,
    fecha_ingreso: a.fechaIngreso,
    estado_ingreso: a.estadoIngreso,
    carreras: a.carreras.map((c) => ({
      id: Number(c.idCarrera),
      nombre: c.nombreCarrera,
      modalidad: c.modalidad,
      cohorte: c.cohorte,
      comisiones: c.comisiones.map((k) => k.nombreComision),
    })),
    teams_procesado: a.teamsProcesado,
    moodle_procesado: a.moodleProcesado,
    email_procesado: a.emailProcesado,
    creado: a.createdAt ? timestampDate(a.createdAt) : undefined,
    actualizado: a.updatedAt ? timestampDate(a.updatedAt) : undefined,
  };
}

/** Registers `lucy alumnos list|show|delete|export`. */
export function register(program: Command): void {
  const alumnos = program.command('alumnos').description('Registro de alumnos ingresados desde SIAL');

  withFilters(alumnos.command('list').description('lista alumnos por apellido y nombre'))
    .option('--limite <n>', 'alumnos por página (1–500)', '50')
    .option('--pagina <token>', 'token de la página siguiente')
    .action(async (o: FilterOptions & { limite: string; pagina?: string }, cmd: Command) => {
      const res = await clientFor(AlumnoService, 'ingest', g(cmd)).listAlumnos({
        filter: toFilter(o),
        page: { pageSize: parseEntero(o.limite, '--limite') ?? 50, pageToken: o.pagina ?? '' },
      });
      const json = g(cmd).json;
      if (json) {
        printObject(
          {
            alumnos: res.alumnos.map(alumnoDetail),
            total: Number(res.page?.totalEstimate ?? 0),
            siguiente: res.page?.nextPageToken ?? '',
          },
          { json: true },
        );
        return;
      }
      printRows(res.alumnos.map(alumnoRow), {});
      const total = Number(res.page?.totalEstimate ?? 0);
      process.stdout.write(`\n${res.alumnos.length} de ${total} alumnos.`);
      if (res.page?.nextPageToken)
        process.stdout.write(` Siguiente página: --pagina ${res.page.nextPageToken}`);
      process.stdout.write('\n');
    });

  alumnos
    .command('show <id-o-dni>')
    .description('muestra un alumno por id o por DNI')
    .option('--tipo-documento <tipo>', 'tipo de documento cuando se busca por DNI', 'DNI')
    .action(async (ref: string, o: { tipoDocumento: string }, cmd: Command) => {
      const byId = UUID.test(ref);
      const res = await clientFor(AlumnoService, 'ingest', g(cmd)).getAlumno(
        byId ? { id: ref } : parseDocumento(ref, o.tipoDocumento),
      );
      if (!res.alumno) throw new Error('El servicio no devolvió el alumno.');
      printObject(alumnoDetail(res.alumno), { json: g(cmd).json });
    });

  alumnos
    .command('delete <id>')
    .description(
      'elimina un alumno del registro; identity-teams elimina luego sus cuentas de Teams y Moodle (solo UPN con el prefijo seguro)',
    )
    .option('--conservar-cuentas-externas', 'no eliminar las cuentas externas')
    .action(async (id: string, o: { conservarCuentasExternas?: boolean }, cmd: Command) => {
      if (!UUID.test(id)) throw new Error(`<id>: "${id}" no es un identificador de alumno válido`);
      const res = await clientFor(AlumnoService, 'ingest', g(cmd)).deleteAlumno({
        id,
        requestedBy: actor(),
        conservarCuentasExternas: o.conservarCuentasExternas ?? false,
      });
      const a = res.alumno;
      if (g(cmd).json) printObject(a ? alumnoDetail(a) : {}, { json: true });
      else
        process.stdout.write(
          `Eliminado: ${a?.apellido ?? ''}, ${a?.nombre ?? ''} (${a?.tipoDocumento ?? ''} ${a?.dni ?? ''}).` +
            `${o.conservarCuentasExternas ? ' Sus cuentas externas se conservan.' : ' identity-teams eliminará sus cuentas de Teams y Moodle (tarea eliminar_cuenta_externa; vea lucy tareas list).'}\n`,
        );
    });

  withFilters(alumnos.command('export').description('exporta la selección a CSV o XLSX'))
    .option('--formato <formato>', 'csv o xlsx', 'csv')
    .requiredOption('--salida <archivo>', 'archivo a escribir')
    .action(async (o: FilterOptions & { formato: string; salida: string }, cmd: Command) => {
      const formato = o.formato.trim().toLowerCase();
      if (formato !== 'csv' && formato !== 'xlsx')
        throw new Error(`--formato: use csv o xlsx (recibido "${o.formato}")`);
      const chunks: Uint8Array[] = [];
      for await (const part of clientFor(AlumnoService, 'ingest', g(cmd)).exportAlumnos({
        filter: toFilter(o),
        format: formato === 'xlsx' ? ExportFormat.XLSX : ExportFormat.CSV,
      })) {
        chunks.push(part.chunk);
      }
      const bytes = Buffer.concat(chunks);
      await writeFile(o.salida, bytes);
      if (g(cmd).json) printObject({ archivo: o.salida, bytes: bytes.length }, { json: true });
      else process.stdout.write(`${o.salida}: ${bytes.length} bytes\n`);
    });
}
