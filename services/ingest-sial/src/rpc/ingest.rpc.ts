import { create } from '@bufbuild/protobuf';
import { timestampDate, timestampFromDate } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, type ServiceImpl } from '@connectrpc/connect';
import type { Knex } from '@mikro-orm/postgresql';
import { ValidationError, type CommandPublisher, type FieldError } from '@lucy/platform';
import {
  ConfiguracionSchema,
  IngestaManualCommandSchema,
  VentanaIngestaSchema,
  type Configuracion as ConfiguracionPb,
  type IngestService,
} from '@lucy/proto';
import { TIPOS, validateWindow, type Tipo } from '../domain/index.js';
import {
  loadConfiguracion,
  resetCheckpoints,
  updateConfiguracion,
  ventanaColumns,
  type Configuracion,
} from '../db/configuracion.repository.js';
import { INGEST_MANUAL_SUBJECT, INGEST_MANUAL_TASK, validateManual } from '../consumers/ingest.consumer.js';
import { TIPO_TO_PB, tipoFromPb } from '../mapping.js';

/** Dependencies of {@link createIngestRpc}. */
export interface IngestRpcDeps {
  knex: Knex;
  publisher: CommandPublisher;
  clock: () => Date;
}

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
export function createIngestRpc(deps: IngestRpcDeps): ServiceImpl<typeof IngestService> {
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
      if (!Number.isFinite(input.sialRequestsPorSegundo) || input.sialRequestsPorSegundo < 0) {
        problems.push({
          field: 'sialRequestsPorSegundo',
          message: 'Debe ser un número mayor o igual a 0 (0 = sin límite).',
        });
      } else columns.sial_requests_por_segundo = input.sialRequestsPorSegundo;
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

    planIngesta() {
      throw new ConnectError(
        'PlanIngesta todavía no está disponible; use StartIngesta con dry_run.',
        Code.Unimplemented,
      );
    },
  };
}
