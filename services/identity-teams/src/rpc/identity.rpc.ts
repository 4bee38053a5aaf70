/**
 * IdentityService: staff enqueue identity tasks for a selection (answered at once, with a pre-check per alumno),
 * read account records, reveal a temporary password (admin, audited, can be turned off), remove external
 * accounts and decide held deletions; the notifier resolves a credential reference at send time.
 */
import { timingSafeEqual } from 'node:crypto';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from '@connectrpc/connect';
import type { Knex } from '@mikro-orm/postgresql';
import {
  isUuid,
  NotFoundError,
  publishLog,
  TransientError,
  ValidationError,
  type CommandPublisher,
  type Names,
  type TriggerName,
} from '@lucy/platform';
import {
  ActivarServiciosCommandSchema,
  CrearUsuarioTeamsCommandSchema,
  EliminarCuentaExternaCommandSchema,
  ResetearPasswordCommandSchema,
  Trigger,
  type EnqueueResult,
  type IdentityService,
} from '@lucy/proto';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { IngestClient } from '../adapters/index.js';
import { IDENTITY_TASKS } from '../consumers/identity.consumer.js';
import { cuentaToPb } from '../consumers/operation.run.js';
import {
  decideRetenidas,
  getCuenta,
  getCuentas,
  listCuentas,
  listRetenidas,
  type Vault,
} from '../db/index.js';
import { tipoDeEstado } from '../domain/index.js';
import { identityMetrics } from '../metrics.js';

/** Header an admin presents (the value of IDENTITY_ADMIN_TOKEN). */
export const ADMIN_TOKEN_HEADER = 'lucy-admin-token';
/** A credential reference resolves for this long after the password was generated. */
const CREDENTIAL_REF_TTL_MS = 30 * 24 * 3_600_000;
const MODULE = 'identity_teams';

/** Dependencies of {@link createIdentityRpc}. */
export interface IdentityRpcDeps {
  knex: Knex;
  js: JetStreamClient;
  names: Names;
  publisher: CommandPublisher;
  vault: Vault;
  ingest: IngestClient;
  clock: () => Date;
  batchLimit: number;
  revealEnabled: boolean;
  adminToken: string | undefined;
}

const TASK_BY_NAME = {
  [IDENTITY_TASKS.activar.task]: 'activar',
  [IDENTITY_TASKS.crear.task]: 'crear',
  [IDENTITY_TASKS.resetear.task]: 'resetear',
} as const;

const TRIGGERS: Partial<Record<Trigger, TriggerName>> = {
  [Trigger.ADMIN]: 'admin',
  [Trigger.SCHEDULE]: 'schedule',
  [Trigger.EXTERNAL]: 'external',
  [Trigger.RETRY]: 'retry',
  [Trigger.INGEST]: 'ingest',
};

/** Ingest-sial unreachable: Unavailable, so the caller may retry, with the cause in Spanish. */
const unavailable = (err: unknown): unknown =>
  err instanceof TransientError ? new ConnectError(err.message, Code.Unavailable) : err;

export function createIdentityRpc(
  deps: IdentityRpcDeps,
): Omit<ServiceImpl<typeof IdentityService>, 'importCuentas'> {
  const { knex, vault, clock } = deps;

  const requireAdmin = (ctx: HandlerContext, what: string) => {
    const got = Buffer.from(ctx.requestHeader.get(ADMIN_TOKEN_HEADER) ?? '');
    const expected = Buffer.from(deps.adminToken ?? '');
    if (!deps.adminToken || got.length !== expected.length || !timingSafeEqual(got, expected)) {
      throw new ConnectError(
        `${what} requiere el rol de administrador (encabezado ${ADMIN_TOKEN_HEADER}, LUCY_ADMIN_TOKEN en el CLI).`,
        Code.PermissionDenied,
      );
    }
  };

  const publishEliminar = (
    input: { alumnoId: string; upn: string; moodleUsername?: string; motivo: string; retencionId?: string },
    requestedBy: string,
    msgId?: string,
  ) =>
    deps.publisher.publish(
      IDENTITY_TASKS.eliminar.subject,
      EliminarCuentaExternaCommandSchema,
      {
        alumnoId: input.alumnoId,
        upn: input.upn,
        moodleUsername: input.moodleUsername ?? '',
        motivo: input.motivo,
        retencionId: input.retencionId ?? '',
      },
      {
        taskType: IDENTITY_TASKS.eliminar.task,
        requestedBy,
        trigger: 'admin',
        ...(msgId ? { msgId } : {}),
      },
    );

  return {
    async enqueue(req) {
      const tipo = TASK_BY_NAME[req.taskName as keyof typeof TASK_BY_NAME];
      if (!tipo) {
        throw new ValidationError([
          {
            field: 'task_name',
            message: `Tarea desconocida «${req.taskName}»: use ${Object.keys(TASK_BY_NAME).join(', ')}.`,
          },
        ]);
      }
      if (req.alumnoIds.length === 0) {
        throw new ValidationError([{ field: 'alumno_ids', message: 'Seleccione al menos un alumno.' }]);
      }
      if (req.alumnoIds.length > deps.batchLimit) {
        throw new ValidationError([
          {
            field: 'alumno_ids',
            message: `Se seleccionaron ${req.alumnoIds.length} alumnos y el máximo por solicitud es ${deps.batchLimit}: divida la selección en tandas de hasta ${deps.batchLimit} (Mejores Prácticas → Tareas Asíncronas).`,
          },
        ]);
      }
      const requestedBy = req.requestedBy.trim() || 'desconocido';
      const trigger = TRIGGERS[req.trigger] ?? 'admin';
      const valid = [...new Set(req.alumnoIds.filter(isUuid))];
      let alumnos;
      try {
        alumnos = await deps.ingest.getAlumnos(valid);
      } catch (err) {
        throw unavailable(err);
      }
      const cuentas = await getCuentas(knex, valid);
      const seen = new Set<string>();
      const resultados: EnqueueResult[] = [];
      // The commands go out together and their broker acks are awaited once at the end: 50 sequential round trips
      // made "📋 50 tareas programadas" take seconds on a loaded machine. Order of the answer is the selection's.
      const publishes: Promise<void>[] = [];
      // Every publish is awaited before an answer, also when a later alumno's check throws: one left behind would
      // reject unhandled (and end the process) after the RPC had already answered.
      try {
        for (const id of req.alumnoIds) {
          const result = (estado: string, motivo = '', taskId = ''): EnqueueResult => ({
            $typeName: 'lucy.identity.v1.EnqueueResult',
            alumnoId: id,
            estado,
            taskId,
            motivo,
          });
          if (!isUuid(id)) {
            resultados.push(result('rechazado', `«${id}» no es un identificador de alumno válido.`));
            continue;
          }
          if (seen.has(id)) {
            resultados.push(result('omitido', 'Repetido en la selección.'));
            continue;
          }
          seen.add(id);
          const alumno = alumnos.get(id);
          if (!alumno) {
            resultados.push(result('rechazado', `Alumno ${id} no encontrado`));
            continue;
          }
          const cuenta = cuentas.get(id);
          if (tipo !== 'resetear' && alumno.estado === 'preinscripto') {
            resultados.push(
              result('rechazado', 'Los preinscriptos no reciben cuentas de Teams ni de Moodle.'),
            );
            continue;
          }
          let sendsEmail: boolean;
          try {
            if (tipo === 'activar') {
              const tipoIngesta = tipoDeEstado(alumno.estado);
              const flags = await deps.ingest.flags(tipoIngesta);
              // The worker would skip it for the same reason: say so now instead of queueing a Tarea that does nothing.
              if (!flags.activarTeams && !flags.activarMoodle) {
                resultados.push(
                  result(
                    'omitido',
                    `La configuración de ${tipoIngesta} no activa Teams ni Moodle (activar_teams, activar_moodle).`,
                  ),
                );
                continue;
              }
              sendsEmail = flags.enviarEmail;
            } else sendsEmail = tipo === 'crear' ? req.enviarEmail : true;
          } catch (err) {
            throw unavailable(err);
          }
          if (sendsEmail && !alumno.emailPersonal.trim()) {
            resultados.push(result('rechazado', 'Sin e-mail: el alumno no tiene e-mail personal.'));
            continue;
          }
          if (tipo !== 'resetear' && cuenta?.estado === 'activa' && !req.forzar) {
            resultados.push(result('omitido', `Ya activado (${cuenta.upn}); use «forzar» para repetir.`));
            continue;
          }
          if (tipo === 'resetear' && cuenta?.estado === 'eliminada') {
            resultados.push(
              result('rechazado', `La cuenta ${cuenta.upn} fue eliminada: no hay contraseña que resetear.`),
            );
            continue;
          }
          const options = { taskType: '', requestedBy, trigger };
          const published =
            tipo === 'activar'
              ? deps.publisher.publish(
                  IDENTITY_TASKS.activar.subject,
                  ActivarServiciosCommandSchema,
                  { alumnoId: id, forzar: req.forzar },
                  { ...options, taskType: IDENTITY_TASKS.activar.task },
                )
              : tipo === 'crear'
                ? deps.publisher.publish(
                    IDENTITY_TASKS.crear.subject,
                    CrearUsuarioTeamsCommandSchema,
                    { alumnoId: id, enviarEmail: req.enviarEmail, forzar: req.forzar },
                    { ...options, taskType: IDENTITY_TASKS.crear.task },
                  )
                : deps.publisher.publish(
                    IDENTITY_TASKS.resetear.subject,
                    ResetearPasswordCommandSchema,
                    { alumnoId: id, sinEmail: false },
                    { ...options, taskType: IDENTITY_TASKS.resetear.task },
                  );
          const slot = result('programada');
          resultados.push(slot);
          publishes.push(
            published.then((p) => {
              slot.taskId = p.taskId;
            }),
          );
        }
      } catch (err) {
        await Promise.allSettled(publishes);
        throw err;
      }
      await Promise.all(publishes);
      return { taskIds: resultados.map((r) => r.taskId), resultados };
    },

    async getCuenta(req) {
      if (!isUuid(req.alumnoId))
        throw new ValidationError([{ field: 'alumno_id', message: 'No es un identificador válido.' }]);
      const cuenta = await getCuenta(knex, req.alumnoId);
      if (!cuenta) throw new NotFoundError(`El alumno ${req.alumnoId} no tiene cuenta registrada.`);
      return { cuenta: cuentaToPb(cuenta, (await vault.current(req.alumnoId)) !== undefined) };
    },

    async listCuentas(req) {
      const size = req.page?.pageSize || 50;
      if (size < 1 || size > 500)
        throw new ValidationError([
          { field: 'page.page_size', message: 'El tamaño de página debe estar entre 1 y 500.' },
        ]);
      const offset = req.page?.pageToken ? Number(req.page.pageToken) : 0;
      if (!Number.isInteger(offset) || offset < 0)
        throw new ValidationError([{ field: 'page.page_token', message: 'Cursor de página inválido.' }]);
      if (req.estado && !['pendiente', 'activa', 'eliminada', 'fallida'].includes(req.estado))
        throw new ValidationError([
          { field: 'estado', message: 'Estado desconocido: pendiente, activa, eliminada o fallida.' },
        ]);
      const bad = req.alumnoIds.find((id) => !isUuid(id));
      if (bad)
        throw new ValidationError([
          { field: 'alumno_ids', message: `«${bad}» no es un identificador válido.` },
        ]);
      const { rows, total } = await listCuentas(knex, {
        estado: req.estado,
        search: req.search.trim(),
        alumnoIds: req.alumnoIds,
        limit: size,
        offset,
      });
      return {
        cuentas: rows.map((r) => cuentaToPb(r, false)),
        page: {
          nextPageToken: offset + rows.length < total ? String(offset + rows.length) : '',
          totalEstimate: BigInt(total),
        },
      };
    },

    async revealPassword(req, ctx) {
      if (!deps.revealEnabled)
        throw new ConnectError(
          'La revelación de contraseñas está desactivada en esta instalación (IDENTITY_REVEAL_ENABLED=false).',
          Code.PermissionDenied,
        );
      requireAdmin(ctx, 'Revelar una contraseña');
      const problems = [];
      if (!isUuid(req.alumnoId))
        problems.push({ field: 'alumno_id', message: 'No es un identificador válido.' });
      if (!req.requestedBy.trim())
        problems.push({ field: 'requested_by', message: 'Indique quién la revela.' });
      if (!req.motivo.trim())
        problems.push({ field: 'motivo', message: 'Indique el motivo (queda auditado).' });
      if (problems.length) throw new ValidationError(problems);
      const cred = await vault.current(req.alumnoId);
      if (!cred)
        throw new NotFoundError(`No hay contraseña temporal guardada para el alumno ${req.alumnoId}.`);
      const password = vault.open(cred);
      await vault.audit({
        accion: 'revelar',
        alumnoId: req.alumnoId,
        credencialId: cred.id,
        upn: cred.upn,
        usuario: req.requestedBy.trim(),
        motivo: req.motivo.trim(),
      });
      await publishLog(deps.js, deps.names, {
        level: 'WARNING',
        module: MODULE,
        message: `${req.requestedBy.trim()} reveló la contraseña temporal de ${cred.upn}. Motivo: ${req.motivo.trim()}`,
        alumnoId: req.alumnoId,
        usuario: req.requestedBy.trim(),
        detalles: { accion: 'revelar', credencial: cred.ref, upn: cred.upn },
      });
      identityMetrics.reveals.inc({ accion: 'revelar' });
      return { upn: cred.upn, password, generadaEn: timestampFromDate(cred.generada_en) };
    },

    async resolveCredential(req) {
      const cred = req.credentialRef ? await vault.byRef(req.credentialRef) : undefined;
      if (!cred || cred.alumno_id !== req.alumnoId)
        throw new NotFoundError('Referencia de credencial desconocida para ese alumno.');
      if (!req.taskId || cred.email_task_id !== req.taskId)
        throw new ConnectError(
          'La referencia de credencial no corresponde a esa tarea de e-mail.',
          Code.PermissionDenied,
        );
      if (!cred.en_uso)
        throw new ConnectError(
          'La contraseña de esa referencia ya fue reemplazada por otra; no se envía.',
          Code.FailedPrecondition,
        );
      if (clock().getTime() - cred.generada_en.getTime() > CREDENTIAL_REF_TTL_MS)
        throw new ConnectError('La referencia de credencial venció (30 días).', Code.FailedPrecondition);
      const password = vault.open(cred);
      await vault.audit({
        accion: 'resolver',
        alumnoId: cred.alumno_id,
        credencialId: cred.id,
        upn: cred.upn,
        usuario: 'notifier',
        taskId: req.taskId,
      });
      await publishLog(deps.js, deps.names, {
        level: 'INFO',
        module: MODULE,
        message: `El notificador obtuvo la contraseña temporal de ${cred.upn} para el e-mail de credenciales.`,
        alumnoId: cred.alumno_id,
        usuario: 'notifier',
        taskId: req.taskId,
        detalles: { accion: 'resolver', credencial: cred.ref },
      });
      identityMetrics.reveals.inc({ accion: 'resolver' });
      return { upn: cred.upn, password };
    },

    async deleteExternalAccount(req) {
      if (!isUuid(req.alumnoId))
        throw new ValidationError([{ field: 'alumno_id', message: 'No es un identificador válido.' }]);
      const cuenta = await getCuenta(knex, req.alumnoId);
      let upn = cuenta?.upn ?? '';
      if (!upn) {
        try {
          upn = (await deps.ingest.getAlumno(req.alumnoId))?.emailInstitucional ?? '';
        } catch (err) {
          throw unavailable(err);
        }
      }
      if (!upn) throw new NotFoundError(`El alumno ${req.alumnoId} no tiene cuentas externas registradas.`);
      const published = await publishEliminar(
        {
          alumnoId: req.alumnoId,
          upn,
          moodleUsername: cuenta?.moodle_username ?? '',
          motivo: req.motivo.trim() || 'Pedido del personal',
        },
        req.requestedBy.trim() || 'desconocido',
      );
      return { taskId: published.taskId, upn };
    },

    async listHeldDeletions() {
      const rows = await listRetenidas(knex);
      return {
        retenidas: rows.map((r) => ({
          id: r.id,
          alumnoId: r.alumno_id,
          upn: r.upn,
          taskId: r.task_id,
          requestedBy: r.requested_by,
          retenidaEn: timestampFromDate(r.creada_en),
          motivo: r.motivo ?? '',
        })),
      };
    },

    async confirmHeldDeletions(req, ctx) {
      requireAdmin(
        ctx,
        req.descartar ? 'Descartar eliminaciones retenidas' : 'Confirmar eliminaciones retenidas',
      );
      const bad = req.ids.find((id) => !isUuid(id));
      if (bad || req.ids.length === 0)
        throw new ValidationError([
          {
            field: 'ids',
            message: bad ? `«${bad}» no es un identificador válido.` : 'Indique qué eliminaciones.',
          },
        ]);
      const by = req.requestedBy.trim() || 'desconocido';
      const decided = await decideRetenidas(
        knex,
        req.ids,
        req.descartar ? 'descartada' : 'confirmada',
        by,
        clock(),
      );
      if (req.descartar) return { taskIds: [], descartadas: decided.length };
      const taskIds: string[] = [];
      for (const r of decided) {
        const published = await publishEliminar(
          {
            alumnoId: r.alumno_id,
            upn: r.upn,
            moodleUsername: r.moodle_username ?? '',
            motivo: `Confirmada por ${by}${r.motivo ? `: ${r.motivo}` : ''}`,
            retencionId: r.id,
          },
          by,
          `retencion:${r.id}`,
        );
        taskIds.push(published.taskId);
      }
      return { taskIds, descartadas: 0 };
    },
  };
}
