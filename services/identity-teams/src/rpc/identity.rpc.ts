/**
 * IdentityService: staff enqueue identity tasks for a selection (answered at once, with a pre-check per alumno),
 * read account records, reveal a temporary password (admin, audited, can be turned off), remove external
 * accounts and decide held deletions; the notifier resolves a credential reference at send time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from '@connectrpc/connect';
import type { Knex } from '@mikro-orm/postgresql';
import {
  CONTENT_TYPE,
  encode,
  isUuid,
  NotFoundError,
  publishLog,
  TransientError,
  ValidationError,
  type CommandPublisher,
  type Names,
  type PreparedCommand,
  type TriggerName,
} from '@lucy/platform';
import {
  ActivarServiciosCommandSchema,
  CrearUsuarioTeamsCommandSchema,
  EliminarCuentaExternaCommandSchema,
  ResetearPasswordCommandSchema,
  Trigger,
  type EnqueueRequest,
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
/**
 * Request header with a client's idempotency key for Enqueue: a retry of the same request sends the same key, and
 * no command the first attempt stored is queued again. Without it the key is derived from the request itself.
 */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';

/**
 * The idempotency key of an Enqueue: the client's (bound to the task, the user, the trigger and the flags, so two
 * users' keys never meet and a key reused for a request asking something else — «forzar», «enviar e-mail» — is not
 * taken for a retry of the first; the selection may differ, a retry of only the failed alumnos stays a retry),
 * or, when absent, a digest of everything the request asks (task, user, trigger, flags, the set of alumnos). A
 * request repeated within LUCY_CMD's duplicate window (10 minutes) is then a retry: its commands are not stored
 * again; past the window, or with another selection or flag, it is a new request.
 */
export function enqueueKey(req: EnqueueRequest, clientKey = ''): string {
  const requestedBy = req.requestedBy.trim() || 'desconocido';
  const what = clientKey
    ? ['client', clientKey, req.taskName, requestedBy, req.trigger, req.forzar, req.enviarEmail]
    : [
        'request',
        req.taskName,
        requestedBy,
        req.trigger,
        req.forzar,
        req.enviarEmail,
        [...new Set(req.alumnoIds)].sort(),
      ];
  return createHash('sha256').update(JSON.stringify(what)).digest('base64url').slice(0, 32);
}

/** The `Nats-Msg-Id` of an alumno's command in an Enqueue with idempotency key `key`. */
export const enqueueMsgId = (key: string, alumnoId: string): string => `enqueue:${key}:${alumnoId}`;

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
): Omit<
  ServiceImpl<typeof IdentityService>,
  | 'importCuentas'
  | 'preCheck'
  | 'getConfiguracionIdentidad'
  | 'updateConfiguracionIdentidad'
  | 'checkDeletion'
> {
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
    async enqueue(req, ctx) {
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
      const clientKey = ctx.requestHeader.get(IDEMPOTENCY_KEY_HEADER)?.trim() ?? '';
      if (clientKey.length > 200)
        throw new ValidationError([
          { field: IDEMPOTENCY_KEY_HEADER, message: 'La clave de idempotencia admite hasta 200 caracteres.' },
        ]);
      const requestedBy = req.requestedBy.trim() || 'desconocido';
      const trigger = TRIGGERS[req.trigger] ?? 'admin';
      const key = enqueueKey(req, clientKey);
      const valid = [...new Set(req.alumnoIds.filter(isUuid))];
      // The alumnos (one ingest-sial call for the whole selection) and their accounts, at once.
      const [alumnos, cuentas] = await Promise.all([
        deps.ingest.getAlumnos(valid).catch((err: unknown) => {
          throw unavailable(err);
        }),
        getCuentas(knex, valid),
      ]);
      // The tipo's flags once per request (every alumno of a tipo shares them), whatever the cache says.
      const flagsOf = new Map<string, ReturnType<IngestClient['flags']>>();
      const flags = (t: ReturnType<typeof tipoDeEstado>) => {
        let got = flagsOf.get(t);
        if (!got) flagsOf.set(t, (got = deps.ingest.flags(t)));
        return got;
      };
      const seen = new Set<string>();
      const resultados: EnqueueResult[] = [];
      const queued: { slot: EnqueueResult; command: PreparedCommand }[] = [];
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
          resultados.push(result('rechazado', 'Los preinscriptos no reciben cuentas de Teams ni de Moodle.'));
          continue;
        }
        let sendsEmail: boolean;
        try {
          if (tipo === 'activar') {
            const tipoIngesta = tipoDeEstado(alumno.estado);
            const f = await flags(tipoIngesta);
            // The worker would skip it for the same reason: say so now instead of queueing a Tarea that does nothing.
            if (!f.activarTeams && !f.activarMoodle) {
              resultados.push(
                result(
                  'omitido',
                  `La configuración de ${tipoIngesta} no activa Teams ni Moodle (activar_teams, activar_moodle).`,
                ),
              );
              continue;
            }
            sendsEmail = f.enviarEmail;
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
        const options = { requestedBy, trigger, msgId: enqueueMsgId(key, id) };
        const pb = CONTENT_TYPE.protobuf;
        const command =
          tipo === 'activar'
            ? deps.publisher.prepare(
                IDENTITY_TASKS.activar.subject,
                encode(ActivarServiciosCommandSchema, { alumnoId: id, forzar: req.forzar }, pb),
                pb,
                { ...options, taskType: IDENTITY_TASKS.activar.task },
              )
            : tipo === 'crear'
              ? deps.publisher.prepare(
                  IDENTITY_TASKS.crear.subject,
                  encode(
                    CrearUsuarioTeamsCommandSchema,
                    { alumnoId: id, enviarEmail: req.enviarEmail, forzar: req.forzar },
                    pb,
                  ),
                  pb,
                  { ...options, taskType: IDENTITY_TASKS.crear.task },
                )
              : deps.publisher.prepare(
                  IDENTITY_TASKS.resetear.subject,
                  encode(ResetearPasswordCommandSchema, { alumnoId: id, sinEmail: false }, pb),
                  pb,
                  { ...options, taskType: IDENTITY_TASKS.resetear.task },
                );
        const slot = result('programada');
        resultados.push(slot);
        queued.push({ slot, command });
      }
      // The commands go out in one write and their acks are awaited together: 50 sequential broker round trips made
      // "📋 50 tareas programadas" take seconds on a loaded machine. Each command's Nats-Msg-Id comes from the request
      // (enqueueKey), so a retry of a request that failed in part stores only the commands that were not stored —
      // JetStream drops the others as duplicates and the answer gives the Tareas queued the first time.
      const acks = await deps.publisher.publishPrepared(queued.map((q) => q.command));
      let failed = 0;
      acks.forEach((ack, i) => {
        const { slot } = queued[i]!;
        if (ack instanceof Error) {
          failed++;
          slot.estado = 'rechazado';
          slot.motivo = `No se pudo encolar (NATS: ${ack.message}). Reintente la misma solicitud: las ya programadas no se repiten.`;
          return;
        }
        slot.taskId = ack.taskId;
        if (ack.duplicate)
          slot.motivo =
            'Ya programada por un intento anterior de esta misma solicitud: no se encoló de nuevo.';
      });
      // Nothing stored: an error the caller retries (with the same key) rather than a list of failures.
      if (failed > 0 && failed === acks.length)
        throw new ConnectError(
          `No se pudo encolar ninguna de las ${failed} tareas (NATS no las confirmó): reintente.`,
          Code.Unavailable,
        );
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
