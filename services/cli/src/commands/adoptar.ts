/**
 * `lucy adoptar pylucy`: adopt a running pylucy in one command. It reads pylucy in one read-only snapshot, maps its
 * rows and hands each kind to the service that owns it through that service's import RPC (never another service's
 * tables): alumnos to ingest-sial, accounts to identity-teams, beat tasks to the scheduler, Tareas and Logs to
 * task-tracker. Dry run by default (each RPC plans without writing); `--aplicar` writes. Every import is keyed by
 * natural keys or original ids, so a re-run — or a run after one killed midway — adds nothing twice.
 */
import type { Command } from 'commander';
import type { MessageInitShape } from '@bufbuild/protobuf';
import {
  AlumnoService,
  IdentityService,
  IngestService,
  NotifierService,
  SchedulerService,
  TaskService,
  type ImportedAlumno,
  type ImportedPeriodicTaskSchema,
} from '@lucy/proto';
import { clientFor, type GlobalOptions } from '../context.js';
import {
  ALUMNOS_SQL,
  alumnoFingerprint,
  clean,
  BEAT_SQL,
  countRows,
  DEFINED_TIPOS,
  LOG_IDS_SQL,
  LOGS_BY_ID_SQL,
  openPylucy,
  plantillasDe,
  readConfiguracion,
  streamRows,
  ventanasDe,
  TAREA_IDS_SQL,
  TAREAS_BY_ID_SQL,
  toImportedAlumno,
  toImportedLog,
  toImportedPeriodicTask,
  toImportedTarea,
  type AlumnoLink,
  type AlumnoRow,
  type BeatRow,
  type LogRow,
  type PylucySnapshot,
  type TareaRow,
} from './adoptar-pylucy.js';
import {
  configReport,
  emptyReport,
  renderReport,
  type AdoptionReport,
  type KindCounts,
} from './adoptar-report.js';

/** Rows per RPC call. */
/** Alumnos read and probed by fingerprint at once (ImportAlumnos takes up to 5,000; fewer keep the peak RSS low). */
const ALUMNO_BATCH = 2000;
/** Changed alumnos per merging ImportAlumnos call. */
const ALUMNO_IMPORT_BATCH = 1000;
/** History ids read and probed at once (ImportHistorial takes up to 20,000). */
const HISTORY_BATCH = 20_000;
/** Whole history rows read from pylucy at once, for a batch the tracker lacks. */
const HISTORY_ROWS = 2000;
/** Rows split into parts of at most {@link HISTORY_MAX_BYTES} (by `size`), so no call passes the request limit. */
function bySize<T>(rows: T[], size: (r: T) => number): T[][] {
  const parts: T[][] = [];
  let part: T[] = [];
  let bytes = 0;
  for (const r of rows) {
    const n = size(r);
    if (part.length > 0 && bytes + n > HISTORY_MAX_BYTES) {
      parts.push(part);
      part = [];
      bytes = 0;
    }
    part.push(r);
    bytes += n;
  }
  if (part.length > 0) parts.push(part);
  return parts;
}

const jsonLength = (v: unknown): number =>
  v === null || v === undefined ? 4 : typeof v === 'string' ? v.length : JSON.stringify(v).length;

/** Calls per step in flight at once. */
const IN_FLIGHT = 3;
/** Bytes of text per history call, below the services' 4 MiB request limit. */
const HISTORY_MAX_BYTES = 2_500_000;

interface AdoptarOptions {
  desde?: string;
  aplicar?: boolean;
  habilitar?: boolean;
  historialDias: string;
}

const bump = (k: KindCounts, resultado: string, motivo = '') => {
  if (/^cread/.test(resultado)) k.creados++;
  else if (/^actualizad/.test(resultado)) k.actualizados++;
  else if (resultado === 'sin_cambios') k.sin_cambios++;
  else {
    k.omitidos++;
    const m = motivo || 'sin motivo';
    k.motivos[m] = (k.motivos[m] ?? 0) + 1;
  }
};

/**
 * At most `limit` calls in flight: reading pylucy's next batch overlaps the services' work on the previous ones.
 * The first failure stops the step (a re-run completes it: every import is idempotent).
 */
export function inFlight(limit: number) {
  const running = new Set<Promise<void>>();
  const state: { failure?: { err: unknown } } = {};
  // A function, not the property: TypeScript would narrow it away after the first check across the await.
  const check = () => {
    if (state.failure) throw state.failure.err;
  };
  return {
    async add(work: () => Promise<void>): Promise<void> {
      check();
      const p: Promise<void> = work()
        .catch((err: unknown) => {
          state.failure ??= { err };
        })
        .finally(() => running.delete(p));
      running.add(p);
      if (running.size >= limit) await Promise.race(running);
      check();
    },
    async drain(): Promise<void> {
      await Promise.all(running);
      check();
    },
  };
}

/** Progress of one step: a bar on a terminal, plain lines otherwise (on stderr, so stdout stays the report). */
function progress(label: string, total: number) {
  const tty = process.stderr.isTTY;
  const t0 = Date.now();
  let done = 0;
  let lastLine = 0;
  const draw = () => {
    const pct = total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 100;
    if (tty) {
      const width = 30;
      const fill = Math.round((pct / 100) * width);
      process.stderr.write(
        `\r${label.padEnd(22)} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${pct}% ${done}/${total}`,
      );
    } else if (done === total || Date.now() - lastLine > 2000) {
      lastLine = Date.now();
      process.stderr.write(`${label}: ${done}/${total}\n`);
    }
  };
  return {
    add(n: number) {
      done += n;
      draw();
    },
    end() {
      done = Math.max(done, total);
      if (tty) {
        draw();
        process.stderr.write('\n');
      } else
        process.stderr.write(
          `${label}: ${done}/${total} listo en ${((Date.now() - t0) / 1000).toFixed(1)} s\n`,
        );
    },
  };
}

/** Runs the adoption and returns its report. */
export async function adoptPylucy(
  url: string,
  options: { aplicar: boolean; habilitar: boolean; historialDias: number; global: GlobalOptions; now?: Date },
): Promise<AdoptionReport> {
  const g = options.global;
  const alumnosRpc = clientFor(AlumnoService, 'ingest', g);
  const identityRpc = clientFor(IdentityService, 'identity', g);
  const schedulerRpc = clientFor(SchedulerService, 'scheduler', g);
  const trackerRpc = clientFor(TaskService, 'tracker', g);
  const ingestRpc = clientFor(IngestService, 'ingest', g);
  const notifierRpc = clientFor(NotifierService, 'notifier', g);
  const dryRun = !options.aplicar;
  const requestedBy = `adopción de pylucy (${process.env.LUCY_USER ?? process.env.USER ?? 'cli'})`;
  const now = options.now ?? new Date();
  const since = new Date(now.getTime() - options.historialDias * 86_400_000);

  const snap: PylucySnapshot = await openPylucy(url);
  try {
    for (const t of ['alumnos_alumno', 'alumnos_tarea', 'alumnos_log', 'django_celery_beat_periodictask']) {
      if (!snap.tables.has(t)) throw new Error(`--desde: la base no parece de pylucy (falta la tabla ${t}).`);
    }
    const report = emptyReport(dryRun ? 'simulacion' : 'aplicado', options.historialDias);

    // ---- alumnos and accounts ------------------------------------------------------------------------------
    const totalAlumnos = await countRows(snap, 'alumnos_alumno');
    report.pylucy.alumnos_alumno = totalAlumnos;
    const links = new Map<string, AlumnoLink>();
    const bar = progress('Alumnos y cuentas', totalAlumnos);
    const notePassword = (row: AlumnoRow) => {
      if (!row.tiene_password) return;
      report.passwords.cantidad++;
      if (report.passwords.alumnos.length < 5000)
        report.passwords.alumnos.push({
          tipoDocumento: row.tipo_documento,
          dni: row.dni,
          nombre: `${row.apellido}, ${row.nombre}`,
        });
    };
    const alumnoCalls = inFlight(IN_FLIGHT);
    for await (const rows of streamRows<AlumnoRow>(snap, ALUMNOS_SQL, [], ALUMNO_BATCH)) {
      await alumnoCalls.add(() => importAlumnoBatch(rows));
    }
    await alumnoCalls.drain();
    bar.end();
    async function importAlumnoBatch(all: AlumnoRow[]): Promise<void> {
      // First the fingerprints alone: a row imported before and unchanged in pylucy since is neither sent nor
      // merged again (its account neither), which is what makes a re-run cheap.
      const prints = all.map(alumnoFingerprint);
      const probe = await alumnosRpc.importAlumnos({
        probe: true,
        requestedBy,
        alumnos: all.map((r, i) => ({
          originalId: BigInt(r.id),
          tipoDocumento: clean(r.tipo_documento),
          dni: clean(r.dni),
          fingerprint: prints[i]!,
        })),
      });
      const rows: AlumnoRow[] = [];
      const rowPrints: string[] = [];
      all.forEach((row, i) => {
        const p = probe.results[i];
        if (p?.resultado === 'sin_cambios' && p.alumnoId) {
          bump(report.alumnos, 'sin_cambios');
          links.set(row.id, { id: p.alumnoId, nombre: `${row.apellido}, ${row.nombre}`, dni: row.dni });
          notePassword(row);
          if (row.email_institucional?.trim()) bump(report.cuentas, 'sin_cambios');
        } else {
          rows.push(row);
          rowPrints.push(prints[i]!);
        }
      });
      if (rows.length === 0) {
        bar.add(all.length);
        return;
      }
      for (let i = 0; i < rows.length; i += ALUMNO_IMPORT_BATCH)
        await importChanged(
          rows.slice(i, i + ALUMNO_IMPORT_BATCH),
          rowPrints.slice(i, i + ALUMNO_IMPORT_BATCH),
        );
      bar.add(all.length);
    }
    async function importChanged(rows: AlumnoRow[], rowPrints: string[]): Promise<void> {
      const imported: ImportedAlumno[] = rows.map((r, i) => {
        const a = toImportedAlumno(r);
        a.fingerprint = rowPrints[i]!;
        return a;
      });
      // Marked as adopted only once their accounts are imported too (below): a run interrupted in between leaves
      // them unmarked, so the next run sends the alumnos and their accounts again.
      const res = await alumnosRpc.importAlumnos({
        alumnos: imported,
        dryRun,
        requestedBy,
        diferirMarca: !dryRun,
      });
      const cuentas = [];
      for (let i = 0; i < rows.length; i++) {
        const row = rows[i]!;
        const r = res.results[i];
        if (!r) continue;
        bump(report.alumnos, r.resultado, r.motivo);
        if (r.alumnoId)
          links.set(row.id, { id: r.alumnoId, nombre: `${row.apellido}, ${row.nombre}`, dni: row.dni });
        notePassword(row);
        if (row.email_institucional?.trim()) {
          if (!r.alumnoId) {
            // A dry run creates no alumno, so its account is planned with it.
            if (r.resultado === 'omitido')
              bump(report.cuentas, 'omitida', `Su alumno no se importa: ${r.motivo}`);
            else bump(report.cuentas, 'creada');
            continue;
          }
          cuentas.push({
            alumnoId: r.alumnoId,
            dni: row.dni,
            upn: row.email_institucional.trim(),
            teamsProcesado: row.teams_procesado,
            moodleProcesado: row.moodle_procesado,
            emailProcesado: row.email_procesado,
            ...(row.fecha_ultima_modificacion
              ? {
                  procesadoEn: {
                    seconds: BigInt(Math.floor(new Date(row.fecha_ultima_modificacion).getTime() / 1000)),
                    nanos: 0,
                  },
                }
              : {}),
          });
        }
      }
      if (cuentas.length) {
        const cr = await identityRpc.importCuentas({ cuentas, dryRun, requestedBy });
        for (const c of cr.results) bump(report.cuentas, c.resultado, c.motivo);
      }
      if (dryRun) return;
      // Not an omitido one: a row Postgres refused stays unmarked and is tried again by the next run.
      const adopted = imported.filter((_, i) => {
        const r = res.results[i];
        return r?.alumnoId && r.resultado !== 'omitido';
      });
      if (adopted.length)
        await alumnosRpc.importAlumnos({
          marcar: true,
          requestedBy,
          alumnos: adopted.map((a) => ({
            originalId: a.originalId,
            tipoDocumento: a.tipoDocumento,
            dni: a.dni,
            fingerprint: a.fingerprint,
          })),
        });
    }

    // ---- periodic tasks ------------------------------------------------------------------------------------
    const beats: BeatRow[] = [];
    for await (const rows of streamRows<BeatRow>(snap, BEAT_SQL, [], 500)) beats.push(...rows);
    report.pylucy.django_celery_beat_periodictask = beats.length;
    const pb = progress('Tareas periódicas', beats.length);
    const toSend: {
      row: BeatRow;
      msg: MessageInitShape<typeof ImportedPeriodicTaskSchema>;
      notes: string[];
    }[] = [];
    for (const b of beats) {
      const m = toImportedPeriodicTask(b);
      if ('skip' in m) {
        bump(report.tareasPeriodicas, 'omitida', m.skip);
        report.tareasPeriodicasDetalle.push({
          nombre: b.name,
          tarea: b.task,
          resultado: 'omitida',
          motivo: m.skip,
          habilitada: false,
        });
        continue;
      }
      toSend.push({ row: b, msg: m.task, notes: m.notes });
    }
    if (toSend.length) {
      const res = await schedulerRpc.importPeriodicTasks({
        periodicTasks: toSend.map((t) => t.msg),
        dryRun,
        habilitar: options.habilitar,
        requestedBy,
      });
      res.results.forEach((r, i) => {
        bump(report.tareasPeriodicas, r.resultado, r.motivo);
        report.tareasPeriodicasDetalle.push({
          nombre: r.name,
          tarea: toSend[i]!.row.task,
          resultado: r.resultado,
          motivo: [r.motivo, ...toSend[i]!.notes].filter(Boolean).join(' '),
          habilitada: r.enabled,
        });
      });
    }
    pb.add(beats.length);
    pb.end();

    // ---- history -------------------------------------------------------------------------------------------
    report.pylucy.alumnos_tarea = await countRows(snap, 'alumnos_tarea');
    report.pylucy.alumnos_log = await countRows(snap, 'alumnos_log');
    const tareasTotal = await countRows(snap, 'alumnos_tarea where hora_programada >= $1', [since]);
    const logsTotal = await countRows(snap, 'alumnos_log where fecha >= $1', [since]);
    report.pylucy.alumnos_tarea_en_ventana = tareasTotal;
    report.pylucy.alumnos_log_en_ventana = logsTotal;
    // Two passes per batch: the ids alone (light to read, and a probe of the tracker says which it lacks), then
    // the whole rows only of a batch with something missing. A re-run reads and sends ids only.
    const tb = progress('Historial de Tareas', tareasTotal);
    const tareaCalls = inFlight(IN_FLIGHT);
    for await (const ids of streamRows<{ id: string; tipo: string; estado: string }>(
      snap,
      TAREA_IDS_SQL,
      [since],
      HISTORY_BATCH,
    )) {
      for (const r of ids) {
        if (r.estado === 'pending' || r.estado === 'running') report.tareasInterrumpidas++;
        if (!DEFINED_TIPOS.has(r.tipo))
          report.tiposNoDefinidos[r.tipo] = (report.tiposNoDefinidos[r.tipo] ?? 0) + 1;
      }
      await tareaCalls.add(async () => {
        const probe = await trackerRpc.importHistorial({
          tareas: ids.map((t) => ({ originalId: BigInt(t.id) })),
          dryRun: true,
        });
        if (dryRun || probe.tareasCreadas === 0n) {
          report.tareas.creados += Number(probe.tareasCreadas);
          report.tareas.sin_cambios += Number(probe.tareasSinCambios);
        } else {
          for (let i = 0; i < ids.length; i += HISTORY_ROWS) {
            const { rows } = await snap.client.query<TareaRow>(TAREAS_BY_ID_SQL, [
              ids.slice(i, i + HISTORY_ROWS).map((t) => t.id),
            ]);
            const size = (r: TareaRow) => (r.mensaje_error?.length ?? 0) + jsonLength(r.detalles) + 300;
            for (const part of bySize(rows, size)) {
              const res = await trackerRpc.importHistorial({
                tareas: part.map((r) => toImportedTarea(r, r.alumno_id ? links.get(r.alumno_id) : undefined)),
              });
              report.tareas.creados += Number(res.tareasCreadas);
              report.tareas.sin_cambios += Number(res.tareasSinCambios);
            }
          }
        }
        tb.add(ids.length);
      });
    }
    await tareaCalls.drain();
    tb.end();

    const lb = progress('Historial de Logs', logsTotal);
    const logCalls = inFlight(IN_FLIGHT);
    for await (const ids of streamRows<{ id: string }>(snap, LOG_IDS_SQL, [since], HISTORY_BATCH)) {
      await logCalls.add(async () => {
        const probe = await trackerRpc.importHistorial({
          logs: ids.map((l) => ({ originalId: BigInt(l.id) })),
          dryRun: true,
        });
        if (dryRun || probe.logsCreados === 0n) {
          report.logs.creados += Number(probe.logsCreados);
          report.logs.sin_cambios += Number(probe.logsSinCambios);
        } else {
          for (let i = 0; i < ids.length; i += HISTORY_ROWS) {
            const { rows } = await snap.client.query<LogRow>(LOGS_BY_ID_SQL, [
              ids.slice(i, i + HISTORY_ROWS).map((l) => l.id),
            ]);
            for (const part of bySize(rows, (r) => r.mensaje.length + jsonLength(r.detalles) + 200)) {
              const res = await trackerRpc.importHistorial({
                logs: part.map((r) => toImportedLog(r, r.alumno_id ? links.get(r.alumno_id) : undefined)),
              });
              report.logs.creados += Number(res.logsCreados);
              report.logs.sin_cambios += Number(res.logsSinCambios);
            }
          }
        }
        lb.add(ids.length);
      });
    }
    await logCalls.drain();
    lb.end();
    const olderT = report.pylucy.alumnos_tarea - tareasTotal;
    const olderL = report.pylucy.alumnos_log - logsTotal;
    if (olderT > 0)
      report.tareas.motivos[`Anteriores a ${options.historialDias} días (--historial-dias)`] = olderT;
    if (olderL > 0)
      report.logs.motivos[`Anteriores a ${options.historialDias} días (--historial-dias)`] = olderL;
    report.tareas.omitidos = olderT;
    report.logs.omitidos = olderL;

    // ---- configuration and what is not imported ------------------------------------------------------------
    const config = await readConfiguracion(snap);
    if (config) {
      report.pylucy.alumnos_configuracion = 1;
      const cb = progress('Configuración', 2);
      report.configuracion = configReport(config);
      const ingest = await ingestRpc.importConfiguracion({
        ventanas: ventanasDe(config),
        dryRun,
        requestedBy,
      });
      for (const r of ingest.results) {
        bump(report.configuracionIngesta, r.resultado, r.motivo);
        report.configuracion.ingesta.push({
          campo: r.campo,
          antes: r.antes,
          despues: r.despues,
          resultado: r.resultado,
          motivo: r.motivo,
        });
      }
      await importIdentidad(config);
      cb.add(1);
      const plantillas = plantillasDe(config);
      if (plantillas.length) {
        const res = await notifierRpc.importPlantillas({
          plantillas: plantillas.map(({ nombre: _n, ...p }) => p),
          dryRun,
          requestedBy,
        });
        res.results.forEach((r, i) => {
          const p = plantillas[i]!;
          bump(report.plantillas, r.resultado, r.motivo);
          report.configuracion.plantillas.push({
            tipo: p.nombre,
            campos: p.origen ?? '',
            resultado: r.resultado,
            motivo: r.motivo,
            version: r.version,
            variablesDesconocidas: [...r.variablesDesconocidas],
          });
        });
      }
      cb.add(1);
      cb.end();
    }
    for (const [table, what] of [
      [
        'alumnos_tareapersonalizada',
        'Tareas personalizadas: no se importan; cada una se rehace como tarea periódica de Lucy Tasks (ingesta con ventana) o como acción en lote del admin (correo, Teams, Moodle).',
      ],
      [
        'cursos_cursoingreso',
        'Cursos de ingreso: no se importan; Lucy Tasks aún no inscribe en cursos de Moodle (necesita el mapeo carrera/modalidad/comisión → curso).',
      ],
      ['cursos_carrera', 'Carreras: no se importan; solo se usaban para mostrar nombres.'],
    ] as const) {
      if (!snap.tables.has(table)) continue;
      const n = await countRows(snap, table);
      report.pylucy[table] = n;
      if (n > 0) report.noImportado.push({ tabla: table, cantidad: n, que: what });
    }
    return report;

    /**
     * pylucy's batch size and account prefix → identity-teams' own settings, through UpdateConfiguracionIdentidad,
     * with the adoption's rules: a value already equal is left alone (a re-run writes nothing), and once staff
     * changed these settings in Lucy Tasks a differing value is reported and kept.
     */
    async function importIdentidad(row: Record<string, unknown>): Promise<void> {
      const { configuracion: actual } = await identityRpc.getConfiguracionIdentidad({});
      if (!actual) return;
      const by = actual.actualizadoPor.trim();
      const byStaff = by !== '' && !by.startsWith('adopción de pylucy');
      const lote = typeof row.batch_size === 'number' ? row.batch_size : Number(row.batch_size);
      const prefijo = typeof row.account_prefix === 'string' ? row.account_prefix.trim() : '';
      const change: { loteMaximo?: number; prefijoUpn?: string } = {};
      const settings: [string, string, string, string, () => void][] = [];
      if (Number.isInteger(lote) && lote > 0)
        settings.push([
          'batch_size',
          String(actual.loteMaximo),
          String(Math.min(lote, 500)),
          lote > 500 ? 'pylucy tenía más de 500; se importa 500, el máximo de Lucy Tasks.' : '',
          () => (change.loteMaximo = Math.min(lote, 500)),
        ]);
      if (prefijo)
        settings.push([
          'account_prefix',
          actual.prefijoUpn,
          prefijo,
          '',
          () => (change.prefijoUpn = prefijo),
        ]);
      for (const [campo, antes, despues, nota, apply] of settings) {
        let resultado = 'actualizado';
        let motivo = nota;
        if (antes === despues) {
          resultado = 'sin_cambios';
          motivo = '';
        } else if (byStaff) {
          resultado = 'omitido';
          motivo = `Lucy Tasks tiene otro valor, puesto por ${by}: no se sobrescribe.`;
        } else apply();
        bump(report.configuracionIngesta, resultado, motivo);
        report.configuracion.identidad.push({
          campo,
          antes,
          despues: resultado === 'actualizado' ? despues : antes,
          resultado,
          motivo,
        });
      }
      if (!dryRun && Object.keys(change).length > 0)
        await identityRpc.updateConfiguracionIdentidad({ ...change, requestedBy });
    }
  } finally {
    await snap.close();
  }
}

/** Registers `lucy adoptar pylucy`. */
export function register(program: Command): void {
  const adoptar = program.command('adoptar').description('Adopta un sistema anterior en funcionamiento.');
  adoptar
    .command('pylucy')
    .description(
      'Importa de pylucy alumnos, cuentas, configuración, tareas periódicas e historial. Por defecto solo simula.',
    )
    .option('--desde <url>', 'URL de Postgres de pylucy (por defecto PYLUCY_DATABASE_URL)')
    .option('--aplicar', 'importa de verdad (sin esto, solo informa qué haría)')
    .option('--habilitar', 'conserva habilitadas las tareas periódicas que pylucy tenía habilitadas')
    .option('--historial-dias <n>', 'días de historial de Tareas y Logs a importar', '90')
    .action(async (o: AdoptarOptions, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const url = o.desde ?? process.env.PYLUCY_DATABASE_URL ?? '';
      if (!url)
        throw new Error('--desde: indique la URL de Postgres de pylucy (o defina PYLUCY_DATABASE_URL).');
      if (!/^postgres(ql)?:\/\//.test(url)) throw new Error('--desde: debe ser una URL postgres://…');
      const dias = Number(o.historialDias);
      if (!Number.isInteger(dias) || dias < 0 || dias > 36_500)
        throw new Error(
          `--historial-dias: debe ser un número entero de días entre 0 y 36500 (recibió «${o.historialDias}»).`,
        );
      const report = await adoptPylucy(url, {
        aplicar: Boolean(o.aplicar),
        habilitar: Boolean(o.habilitar),
        historialDias: dias,
        global: g,
      });
      process.stdout.write(g.json ? `${JSON.stringify(report, null, 2)}\n` : renderReport(report));
    });
}
