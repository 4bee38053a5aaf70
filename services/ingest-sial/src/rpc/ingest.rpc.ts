import { create, type JsonObject as PbJsonObject } from '@bufbuild/protobuf';
import { timestampDate, timestampFromDate } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, type ServiceImpl } from '@connectrpc/connect';
import type { Knex } from '@mikro-orm/postgresql';
import {
  TransientError,
  ValidationError,
  type BatchPublisher,
  type CommandPublisher,
  type FieldError,
  type LogInput,
  type Logger,
  type Names,
} from '@lucy/platform';
import {
  ConfiguracionSchema,
  FieldPlanSchema,
  IngestaManualCommandSchema,
  PlannedChangeSchema,
  VentanaIngestaSchema,
  type Configuracion as ConfiguracionPb,
  type IngestService,
} from '@lucy/proto';
import type { SialClient } from '../adapters/index.js';
import { TIPOS, validateWindow, type Tipo } from '../domain/index.js';
import {
  loadConfiguracion,
  resetCheckpoints,
  updateConfiguracion,
  ventanaColumns,
  type Configuracion,
} from '../db/configuracion.repository.js';
import {
  INGEST_MANUAL_SUBJECT,
  INGEST_MANUAL_TASK,
  manualRange,
  validateManual,
} from '../consumers/ingest.consumer.js';
import { LOG_MODULE, runIngestion } from '../consumers/ingest.run.js';
import { TIPO_TO_PB, tipoFromPb, toFieldChangePb } from '../mapping.js';
import {
  checkSialCredentials,
  type SialCredentialStore,
  type SialCredentialsView,
} from '../sial-credentials.js';
import { checkCount, checkSialRate, checkText, MAX_REQUESTED_BY } from './input-bounds.js';

/** Dependencies of {@link createIngestRpc}. */
export interface IngestRpcDeps {
  knex: Knex;
  publisher: CommandPublisher;
  clock: () => Date;
  /** The SIAL credentials staff may replace (write-only: the password is never returned). */
  sialCredentials: SialCredentialStore;
  /** Writes a Log row (staff's configuration changes). */
  log: (entry: LogInput) => Promise<void>;
  /** For PlanIngesta, which reads SIAL synchronously (the same path as a dry-run Tarea). */
  plan: {
    /** Never used by a plan (a dry run publishes nothing), but part of a run's dependencies. */
    events: BatchPublisher;
    names: Names;
    logger: Logger;
    /** A SIAL client honouring the configured requests per second (0 = unlimited). */
    sialFor: (requestsPerSecond: number) => SialClient;
    /** Personal-data concurrency when the configuration has none. */
    concurrency: number;
  };
}

/** PlannedChanges PlanIngesta returns when the request's limit is 0. */
export const PLAN_DEFAULT_LIMIT = 500;
/** Upper bound of PlanIngesta's limit: a larger plan belongs in a dry-run Tarea or an export. */
export const PLAN_MAX_LIMIT = 5000;

const ts = (d: Date | null) => (d ? timestampFromDate(d) : undefined);

/**
 * The stored configuration as the Configuracion message, with what may be shown of the SIAL credentials in use
 * (the user, whether a password is set, where they come from; never the password).
 */
export function toConfiguracionPb(c: Configuracion, sial: SialCredentialsView): ConfiguracionPb {
  return create(ConfiguracionSchema, {
    ventanas: TIPOS.map((tipo) => {
      const v = c.ventanas[tipo];
      return create(VentanaIngestaSchema, {
        tipo: TIPO_TO_PB[tipo],
        diaInicio: ts(v.diaInicio),
        diaFin: ts(v.diaFin),
        enviarEmail: v.enviarEmail,
        activarTeams: v.activarTeams,
        activarMoodle: v.activarMoodle,
        ultimaIngesta: ts(v.ultimaIngesta),
        ultimaCantidad: BigInt(v.ultimaCantidad),
      });
    }),
    sialRequestsPorSegundo: c.sialRequestsPorSegundo,
    sialConcurrencia: c.sialConcurrencia,
    actualizadoEn: timestampFromDate(c.actualizadoEn),
    actualizadoPor: c.actualizadoPor,
    sialUsuario: sial.usuario,
    sialPasswordConfigurada: sial.passwordConfigurada,
    sialCredencialesOrigen: sial.origen,
  });
}

/** Names of a window's settings in the Log of a change. */
const VENTANA_CAMPOS = [
  ['diaInicio', 'inicio'],
  ['diaFin', 'fin'],
  ['enviarEmail', 'enviar e-mail'],
  ['activarTeams', 'activar Teams'],
  ['activarMoodle', 'activar Moodle'],
] as const;

/** What a configuration change changed, in Spanish, for its Log row; the SIAL password only as «reemplazada». */
function describeChanges(
  before: Configuracion,
  after: Configuracion,
  credenciales: boolean,
  restablecidas: boolean,
): string[] {
  const cambios: string[] = [];
  for (const tipo of TIPOS) {
    const a = before.ventanas[tipo];
    const b = after.ventanas[tipo];
    const campos = VENTANA_CAMPOS.filter(([key]) => {
      const x = a[key];
      const y = b[key];
      return x instanceof Date || y instanceof Date ? !sameTime(x as Date | null, y as Date | null) : x !== y;
    }).map(([, name]) => name);
    if (campos.length) cambios.push(`ventana de ${tipo} (${campos.join(', ')})`);
  }
  if (before.sialRequestsPorSegundo !== after.sialRequestsPorSegundo)
    cambios.push(
      `solicitudes por segundo a SIAL ${before.sialRequestsPorSegundo} → ${after.sialRequestsPorSegundo}`,
    );
  if (before.sialConcurrencia !== after.sialConcurrencia)
    cambios.push(`concurrencia con SIAL ${before.sialConcurrencia} → ${after.sialConcurrencia}`);
  if (credenciales) cambios.push('credenciales de SIAL reemplazadas');
  if (restablecidas)
    cambios.push('credenciales de SIAL: se vuelven a usar las del despliegue (SIAL_USER/SIAL_PASSWORD)');
  return cambios;
}

const sameTime = (a: Date | null, b: Date | null) => (a?.getTime() ?? null) === (b?.getTime() ?? null);

/** IngestService: configuration, checkpoints and manual runs. */
export function createIngestRpc(
  deps: IngestRpcDeps,
): Omit<ServiceImpl<typeof IngestService>, 'importConfiguracion'> {
  const { knex } = deps;
  const pb = (c: Configuracion) => toConfiguracionPb(c, deps.sialCredentials.view());
  return {
    async getConfiguracion() {
      return { configuracion: pb(await loadConfiguracion(knex)) };
    },

    async updateConfiguracion(req) {
      const input = req.configuracion;
      const problems: FieldError[] = [];
      // The SIAL credentials are replaced together; a call may carry only them (no `configuracion`).
      const credenciales = req.sialUsuario !== undefined || req.sialPassword !== undefined;
      // Or forgotten: the deployment's SIAL_USER/SIAL_PASSWORD are used again.
      const restablecer = req.restablecerSialCredenciales;
      if (!input && !credenciales && !restablecer)
        throw new ValidationError([{ field: 'configuracion', message: 'La configuración es obligatoria.' }]);
      if (restablecer && credenciales)
        problems.push({
          field: 'restablecer_sial_credenciales',
          message: 'Escriba credenciales de SIAL nuevas o vuelva a las del despliegue, no las dos cosas.',
        });
      problems.push(
        ...checkSialCredentials(
          { usuario: req.sialUsuario, password: req.sialPassword },
          deps.sialCredentials.canStore,
        ),
      );
      const current = await loadConfiguracion(knex);
      const columns: Record<string, unknown> = {};
      const seen = new Set<Tipo>();
      input?.ventanas.forEach((v, i) => {
        const tipo = tipoFromPb(v.tipo);
        if (!tipo) {
          problems.push({ field: `ventanas[${i}].tipo`, message: 'Tipo de ingesta desconocido.' });
          return;
        }
        if (seen.has(tipo)) {
          problems.push({
            field: `ventanas[${i}].tipo`,
            message: `La ventana de ${tipo} aparece más de una vez.`,
          });
          return;
        }
        seen.add(tipo);
        const diaInicio = v.diaInicio ? timestampDate(v.diaInicio) : null;
        const diaFin = v.diaFin ? timestampDate(v.diaFin) : null;
        for (const e of validateWindow({ tipo, inicio: diaInicio, fin: diaFin })) {
          const field = e.field.endsWith('_dia_inicio') ? 'diaInicio' : 'diaFin';
          problems.push({ field: `ventanas[${i}].${field}`, message: e.message });
        }
        Object.assign(
          columns,
          ventanaColumns({
            tipo,
            diaInicio,
            diaFin,
            enviarEmail: v.enviarEmail,
            activarTeams: v.activarTeams,
            activarMoodle: v.activarMoodle,
          }),
        );
        const before = current.ventanas[tipo];
        if (!sameTime(before.diaInicio, diaInicio) || !sameTime(before.diaFin, diaFin)) {
          // A new window starts from the full list.
          columns[`ultima_ingesta_${tipo}`] = null;
        }
      });
      if (input) {
        if (checkSialRate(problems, 'sialRequestsPorSegundo', input.sialRequestsPorSegundo))
          columns.sial_requests_por_segundo = input.sialRequestsPorSegundo;
        checkCount(problems, 'ventanas', input.ventanas.length, TIPOS.length);
        if (input.sialConcurrencia < 0 || input.sialConcurrencia > 256) {
          problems.push({
            field: 'sialConcurrencia',
            message: 'Debe estar entre 1 y 256 (0 = sin cambios).',
          });
        } else if (input.sialConcurrencia > 0) columns.sial_concurrencia = input.sialConcurrencia;
      }
      checkText(problems, 'requestedBy', req.requestedBy, MAX_REQUESTED_BY);
      if (problems.length > 0) throw new ValidationError(problems);
      // Sealed here, bound to its row and field; the clear password goes no further than the secret box.
      if (credenciales)
        Object.assign(columns, deps.sialCredentials.columns(req.sialUsuario!, req.sialPassword!));
      if (restablecer) Object.assign(columns, { sial_usuario: null, sial_password_sealed: null });
      // Forgetting what was never stored changes nothing: the Log says so instead of announcing a change.
      const restablecidas = restablecer && current.sialCredencialesGuardadas;
      const by = req.requestedBy.trim() || 'desconocido';
      columns.actualizado_en = deps.clock();
      columns.actualizado_por = by;
      await updateConfiguracion(knex, columns);
      // This replica uses the new credentials from its next SIAL request; the others within their refresh.
      if (credenciales || restablecer) await deps.sialCredentials.load();
      const after = await loadConfiguracion(knex);
      const cambios = describeChanges(current, after, credenciales, restablecidas);
      if (restablecer && !restablecidas)
        cambios.push(
          'credenciales de SIAL: ya se usaban las del despliegue, no había ninguna guardada en Lucy',
        );
      await deps.log({
        level: 'INFO',
        module: LOG_MODULE,
        message: `${by} cambió la configuración de ingesta: ${cambios.join('; ') || 'sin cambios'}.`,
        usuario: by,
        detalles: { accion: 'configuracion', cambios },
      });
      return { configuracion: pb(after) };
    },

    async resetCheckpoints(req) {
      const problems: FieldError[] = [];
      checkText(problems, 'requestedBy', req.requestedBy, MAX_REQUESTED_BY);
      checkCount(problems, 'tipos', req.tipos.length, TIPOS.length);
      const tipos: Tipo[] = [];
      req.tipos.forEach((t, i) => {
        const tipo = tipoFromPb(t);
        if (tipo) tipos.push(tipo);
        else problems.push({ field: `tipos[${i}]`, message: 'Tipo de ingesta desconocido.' });
      });
      if (problems.length > 0) throw new ValidationError(problems);
      await resetCheckpoints(
        knex,
        tipos.length ? tipos : TIPOS,
        req.requestedBy || 'desconocido',
        deps.clock(),
      );
      return { configuracion: pb(await loadConfiguracion(knex)) };
    },

    async startIngesta(req) {
      const command = create(IngestaManualCommandSchema, {
        tipo: req.tipo,
        desde: req.desde,
        hasta: req.hasta,
        dryRun: req.dryRun,
      });
      const problems = validateManual(command);
      checkText(problems, 'requestedBy', req.requestedBy, MAX_REQUESTED_BY);
      if (problems.length > 0) throw new ValidationError(problems);
      const { taskId } = await deps.publisher.publish(
        INGEST_MANUAL_SUBJECT,
        IngestaManualCommandSchema,
        command,
        {
          taskType: INGEST_MANUAL_TASK,
          requestedBy: req.requestedBy || 'desconocido',
          trigger: 'admin',
        },
      );
      return { taskId };
    },

    async planIngesta(req, ctx) {
      const command = create(IngestaManualCommandSchema, {
        tipo: req.tipo,
        desde: req.desde,
        hasta: req.hasta,
        dryRun: true,
      });
      const problems = validateManual(command);
      if (req.limit < 0 || req.limit > PLAN_MAX_LIMIT) {
        problems.push({
          field: 'limit',
          message: `El límite debe estar entre 1 y ${PLAN_MAX_LIMIT} (0 = ${PLAN_DEFAULT_LIMIT}).`,
        });
      }
      if (problems.length > 0) throw new ValidationError(problems);
      const tipo = tipoFromPb(req.tipo)!;
      const config = await loadConfiguracion(knex);
      const { plan } = deps;
      const run = await runIngestion(
        { knex, events: plan.events, names: plan.names, logger: plan.logger, clock: deps.clock },
        {
          tipo,
          range: manualRange(command, deps.clock()),
          sial: plan.sialFor(config.sialRequestsPorSegundo),
          concurrency: config.sialConcurrencia > 0 ? config.sialConcurrencia : plan.concurrency,
          dryRun: true,
          lastGoodCount: config.ventanas[tipo].ultimaCantidad || undefined,
          signal: ctx.signal,
          planCap: req.limit || PLAN_DEFAULT_LIMIT,
        },
      ).catch((err: unknown) => {
        // SIAL unreachable: the caller may retry later, and reads the same message a failed Tarea shows.
        if (err instanceof TransientError)
          throw new ConnectError(err.message, Code.Unavailable, undefined, undefined, err);
        throw err;
      });
      const d = run.detalles;
      const resumen: PbJsonObject = {
        tipo,
        recibidos: d.recibidos,
        created: d.created,
        updated: d.updated,
        sin_cambios: d.sin_cambios,
        descartados: d.descartados,
        datos_personales_consultados: d.datos_personales_consultados,
        errores_categorizados: { ...d.errores_categorizados },
        errors: d.errors,
        advertencias: d.advertencias,
        cambios_omitidos: Math.max(0, d.created + d.updated - run.plan.length),
      };
      return {
        resumen,
        cambios: run.plan.map((p) =>
          create(PlannedChangeSchema, {
            kind: p.kind,
            tipoDocumento: p.tipo_documento,
            dni: p.dni,
            fields: p.changes.map((c) => {
              const pb = toFieldChangePb(c);
              return create(FieldPlanSchema, { field: pb.field, before: pb.before, after: pb.after });
            }),
          }),
        ),
      };
    },
  };
}
