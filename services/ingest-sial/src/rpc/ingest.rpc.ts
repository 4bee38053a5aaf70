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
import { runIngestion } from '../consumers/ingest.run.js';
import { TIPO_TO_PB, tipoFromPb, toFieldChangePb } from '../mapping.js';
import { checkCount, checkSialRate, checkText, MAX_REQUESTED_BY } from './input-bounds.js';

/** Dependencies of {@link createIngestRpc}. */
export interface IngestRpcDeps {
  knex: Knex;
  publisher: CommandPublisher;
  clock: () => Date;
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

/** The stored configuration as the Configuracion message. */
export function toConfiguracionPb(c: Configuracion): ConfiguracionPb {
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
  });
}

const sameTime = (a: Date | null, b: Date | null) => (a?.getTime() ?? null) === (b?.getTime() ?? null);

/** IngestService: configuration, checkpoints and manual runs. */
export function createIngestRpc(
  deps: IngestRpcDeps,
): Omit<ServiceImpl<typeof IngestService>, 'importConfiguracion'> {
  const { knex } = deps;
  return {
    async getConfiguracion() {
      return { configuracion: toConfiguracionPb(await loadConfiguracion(knex)) };
    },

    async updateConfiguracion(req) {
      const input = req.configuracion;
      const problems: FieldError[] = [];
      if (!input)
        throw new ValidationError([{ field: 'configuracion', message: 'La configuración es obligatoria.' }]);
      const current = await loadConfiguracion(knex);
      const columns: Record<string, unknown> = {};
      const seen = new Set<Tipo>();
      input.ventanas.forEach((v, i) => {
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
      if (checkSialRate(problems, 'sialRequestsPorSegundo', input.sialRequestsPorSegundo))
        columns.sial_requests_por_segundo = input.sialRequestsPorSegundo;
      checkText(problems, 'requestedBy', req.requestedBy, MAX_REQUESTED_BY);
      checkCount(problems, 'ventanas', input.ventanas.length, TIPOS.length);
      if (input.sialConcurrencia < 0 || input.sialConcurrencia > 256) {
        problems.push({ field: 'sialConcurrencia', message: 'Debe estar entre 1 y 256 (0 = sin cambios).' });
      } else if (input.sialConcurrencia > 0) columns.sial_concurrencia = input.sialConcurrencia;
      if (problems.length > 0) throw new ValidationError(problems);
      columns.actualizado_en = deps.clock();
      columns.actualizado_por = req.requestedBy || 'desconocido';
      await updateConfiguracion(knex, columns);
      return { configuracion: toConfiguracionPb(await loadConfiguracion(knex)) };
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
      return { configuracion: toConfiguracionPb(await loadConfiguracion(knex)) };
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
