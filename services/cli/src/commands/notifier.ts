import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { timestampDate, type Timestamp } from '@bufbuild/protobuf/wkt';
import { NotifierService, TipoEmail, type Entrega, type Plantilla } from '@lucy/proto';
import { clientFor, type GlobalOptions } from '../context.js';
import { localTime, printObject, printRows } from '../output.js';
import { parseLocalDateTime } from './ingest.js';

const TIPOS: Record<string, TipoEmail> = {
  bienvenida: TipoEmail.BIENVENIDA,
  credenciales: TipoEmail.CREDENCIALES,
  'nueva-contrasena': TipoEmail.PASSWORD_RESET,
  password_reset: TipoEmail.PASSWORD_RESET,
  enrolamiento: TipoEmail.ENROLAMIENTO,
};
const TIPO_NAMES: Record<number, string> = {
  [TipoEmail.BIENVENIDA]: 'bienvenida',
  [TipoEmail.CREDENCIALES]: 'credenciales',
  [TipoEmail.PASSWORD_RESET]: 'nueva-contrasena',
  [TipoEmail.ENROLAMIENTO]: 'enrolamiento',
};

const actor = () => process.env.LUCY_USER ?? process.env.USER ?? 'cli';
const g = (cmd: Command) => cmd.optsWithGlobals<GlobalOptions>();
const time = (t: Timestamp | undefined) => (t ? localTime(timestampDate(t)) : '');

/** Parses an e-mail kind (`credenciales`); the error names the argument and the values. */
export function parseTipoEmail(value: string, field = '<tipo>'): TipoEmail {
  const t = TIPOS[value.trim().toLowerCase()];
  if (t === undefined) {
    throw new Error(
      `${field}: tipo de e-mail desconocido "${value}" (valores: bienvenida, credenciales, nueva-contrasena, enrolamiento)`,
    );
  }
  return t;
}

function parsePositive(value: string, option: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`${option}: "${value}" no es un número entero mayor que 0`);
  return n;
}

function readTemplateFile(path: string, option: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`${option}: no se pudo leer ${path} (${(err as Error).message})`);
  }
}

function plantillaRow(p: Plantilla): Record<string, unknown> {
  return {
    tipo: TIPO_NAMES[p.tipo] ?? String(p.tipo),
    version: p.version,
    asunto: p.asunto,
    texto_plano: p.cuerpoTexto ? 'propio' : 'generado',
    actualizada: time(p.actualizadaEn),
    por: p.actualizadaPor,
  };
}

function entregaRow(e: Entrega): Record<string, unknown> {
  return {
    creada: time(e.creadaEn),
    tipo: TIPO_NAMES[e.tipo] ?? String(e.tipo),
    estado: e.estado,
    destinatario: e.destinatario,
    alumno: e.alumnoId || (e.prueba ? '(prueba)' : ''),
    intentos: e.intentos,
    version: e.plantillaVersion || '',
    respuesta: e.error || e.respuestaSmtp,
    tarea: e.taskId,
  };
}

interface EditOptions {
  asunto?: string;
  cuerpoArchivo?: string;
  textoArchivo?: string;
  sinTexto?: boolean;
  base?: string;
}

/** Registers `lucy plantillas …` and `lucy emails …` (the notifier). */
export function register(program: Command): void {
  const plantillas = program.command('plantillas').description('Plantillas de los e-mails (notificador)');

  plantillas
    .command('list')
    .description('lista las cuatro plantillas con su versión actual')
    .action(async (_o: unknown, cmd: Command) => {
      const res = await clientFor(NotifierService, 'notifier', g(cmd)).listPlantillas({});
      printRows(res.plantillas.map(plantillaRow), g(cmd));
    });

  plantillas
    .command('show <tipo>')
    .description('muestra una plantilla: asunto, cuerpo, variables disponibles e historial de versiones')
    .action(async (tipo: string, _o: unknown, cmd: Command) => {
      const res = await clientFor(NotifierService, 'notifier', g(cmd)).getPlantilla({
        tipo: parseTipoEmail(tipo),
      });
      const p = res.plantilla;
      if (g(cmd).json) {
        printObject(
          {
            ...(p ? { ...plantillaRow(p), cuerpo: p.cuerpo, cuerpo_texto: p.cuerpoTexto } : {}),
            variables: res.variables.map((v) => ({ ...v, $typeName: undefined })),
            versiones: res.versiones.map((v) => ({
              version: v.version,
              creada: time(v.creadaEn),
              por: v.creadaPor,
              origen: v.origen,
            })),
          },
          { json: true },
        );
        return;
      }
      if (p) printObject(plantillaRow(p), {});
      process.stdout.write('\nVARIABLES\n');
      printRows(
        res.variables.map((v) => ({
          variable: `{${v.nombre}}`,
          descripcion: v.descripcion,
          en_asunto: v.enAsunto ? 'sí' : 'no',
          obligatoria: v.obligatoria ? 'sí' : 'no',
        })),
        {},
      );
      process.stdout.write('\nVERSIONES\n');
      printRows(
        res.versiones.map((v) => ({
          version: v.version,
          creada: time(v.creadaEn),
          por: v.creadaPor,
          origen: v.origen,
        })),
        {},
      );
      if (p)
        process.stdout.write(
          `\nCUERPO\n${p.cuerpo}\n${p.cuerpoTexto ? `\nTEXTO PLANO\n${p.cuerpoTexto}\n` : ''}`,
        );
    });

  plantillas
    .command('edit <tipo>')
    .description(
      'guarda una nueva versión; lo que no indique queda como está (use {variable}; {{ y }} para llaves)',
    )
    .option('--asunto <texto>', 'nuevo asunto')
    .option('--cuerpo-archivo <ruta>', 'archivo con el nuevo cuerpo (HTML si contiene <html)')
    .option('--texto-archivo <ruta>', 'archivo con la parte de texto plano')
    .option('--sin-texto', 'genera la parte de texto plano a partir del HTML')
    .option('--base <version>', 'versión de la que partió; se rechaza si alguien guardó otra después')
    .action(async (tipo: string, o: EditOptions, cmd: Command) => {
      const client = clientFor(NotifierService, 'notifier', g(cmd));
      const t = parseTipoEmail(tipo);
      if (!o.asunto && !o.cuerpoArchivo && !o.textoArchivo && !o.sinTexto) {
        throw new Error('indique al menos --asunto, --cuerpo-archivo, --texto-archivo o --sin-texto');
      }
      const current = (await client.getPlantilla({ tipo: t })).plantilla;
      const res = await client.updatePlantilla({
        plantilla: {
          tipo: t,
          asunto: o.asunto ?? current?.asunto ?? '',
          cuerpo: o.cuerpoArchivo
            ? readTemplateFile(o.cuerpoArchivo, '--cuerpo-archivo')
            : (current?.cuerpo ?? ''),
          cuerpoTexto: o.sinTexto
            ? ''
            : o.textoArchivo
              ? readTemplateFile(o.textoArchivo, '--texto-archivo')
              : (current?.cuerpoTexto ?? ''),
        },
        requestedBy: actor(),
        versionBase: o.base ? parsePositive(o.base, '--base') : (current?.version ?? 0),
      });
      if (g(cmd).json) {
        printObject(
          { ...(res.plantilla ? plantillaRow(res.plantilla) : {}), avisos: res.avisos },
          { json: true },
        );
        return;
      }
      process.stdout.write(`Guardada la versión ${res.plantilla?.version ?? '?'}.\n`);
      for (const aviso of res.avisos) process.stdout.write(`aviso: ${aviso}\n`);
    });

  plantillas
    .command('preview <tipo>')
    .description(
      'muestra el e-mail armado con datos de ejemplo (la plantilla guardada, o la de los archivos)',
    )
    .option('--asunto <texto>', 'asunto a probar')
    .option('--cuerpo-archivo <ruta>', 'cuerpo a probar')
    .option('--texto-archivo <ruta>', 'texto plano a probar')
    .option('--html', 'muestra también la parte HTML')
    .action(async (tipo: string, o: EditOptions & { html?: boolean }, cmd: Command) => {
      const client = clientFor(NotifierService, 'notifier', g(cmd));
      const t = parseTipoEmail(tipo);
      let plantilla: { tipo: TipoEmail; asunto: string; cuerpo: string; cuerpoTexto: string } | undefined;
      if (o.asunto || o.cuerpoArchivo || o.textoArchivo) {
        const current = (await client.getPlantilla({ tipo: t })).plantilla;
        plantilla = {
          tipo: t,
          asunto: o.asunto ?? current?.asunto ?? '',
          cuerpo: o.cuerpoArchivo
            ? readTemplateFile(o.cuerpoArchivo, '--cuerpo-archivo')
            : (current?.cuerpo ?? ''),
          cuerpoTexto: o.textoArchivo
            ? readTemplateFile(o.textoArchivo, '--texto-archivo')
            : (current?.cuerpoTexto ?? ''),
        };
      }
      const res = await client.previewPlantilla({ tipo: t, ...(plantilla ? { plantilla } : {}) });
      if (g(cmd).json) {
        printObject(
          { asunto: res.asunto, texto: res.texto, html: res.html, avisos: res.avisos },
          { json: true },
        );
        return;
      }
      process.stdout.write(`Asunto: ${res.asunto}\n\n${res.texto}\n`);
      if (o.html) process.stdout.write(`\n--- HTML ---\n${res.html}\n`);
      for (const aviso of res.avisos) process.stdout.write(`aviso: ${aviso}\n`);
    });

  plantillas
    .command('restaurar <tipo> <version>')
    .description('vuelve a una versión anterior (se guarda como una versión nueva)')
    .action(async (tipo: string, version: string, _o: unknown, cmd: Command) => {
      const res = await clientFor(NotifierService, 'notifier', g(cmd)).restorePlantillaVersion({
        tipo: parseTipoEmail(tipo),
        version: parsePositive(version, '<version>'),
        requestedBy: actor(),
      });
      if (g(cmd).json) printObject(res.plantilla ? plantillaRow(res.plantilla) : {}, { json: true });
      else
        process.stdout.write(
          `Restaurada la versión ${version} como versión ${res.plantilla?.version ?? '?'}.\n`,
        );
    });

  const emails = program
    .command('emails')
    .description('E-mails enviados a los alumnos (registros de entrega)');

  emails
    .command('list')
    .description('lista los registros de entrega, los más nuevos primero')
    .option('--alumno <id>', 'id del alumno')
    .option('--estado <estado>', 'enviando, enviada, reintentando o fallida')
    .option('--tipo <tipo>', 'bienvenida, credenciales, nueva-contrasena o enrolamiento')
    .option('--tarea <id>', 'id de la Tarea')
    .option('--desde <fecha>', 'creados desde (AAAA-MM-DDTHH:MM, hora de Córdoba)')
    .option('--hasta <fecha>', 'creados antes de (AAAA-MM-DDTHH:MM, hora de Córdoba)')
    .option('--limit <n>', 'máximo de filas (por defecto 50, hasta 500)')
    .action(
      async (
        o: {
          alumno?: string;
          estado?: string;
          tipo?: string;
          tarea?: string;
          desde?: string;
          hasta?: string;
          limit?: string;
        },
        cmd: Command,
      ) => {
        const res = await clientFor(NotifierService, 'notifier', g(cmd)).listEntregas({
          alumnoId: o.alumno ?? '',
          estado: o.estado ?? '',
          tipo: o.tipo ? parseTipoEmail(o.tipo, '--tipo') : TipoEmail.UNSPECIFIED,
          taskId: o.tarea ?? '',
          ...(o.desde ? { desde: parseLocalDateTime(o.desde, '--desde') } : {}),
          ...(o.hasta ? { hasta: parseLocalDateTime(o.hasta, '--hasta') } : {}),
          limit: o.limit ? parsePositive(o.limit, '--limit') : 0,
        });
        printRows(res.entregas.map(entregaRow), g(cmd));
      },
    );

  emails
    .command('prueba <destinatario>')
    .description('envía un e-mail de prueba (con --tipo, esa plantilla con datos de ejemplo)')
    .option('--tipo <tipo>', 'plantilla a enviar')
    .action(async (destinatario: string, o: { tipo?: string }, cmd: Command) => {
      const res = await clientFor(NotifierService, 'notifier', g(cmd)).sendTestEmail({
        destinatario,
        requestedBy: actor(),
        tipo: o.tipo ? parseTipoEmail(o.tipo, '--tipo') : TipoEmail.UNSPECIFIED,
      });
      if (g(cmd).json) printObject({ ...res, $typeName: undefined }, { json: true });
      else process.stdout.write(`Enviado: ${res.messageId} (${res.respuestaSmtp})\n`);
    });
}
