/** The four identity workers, one per command, on the platform's command runner. */
import {
  createCommandWorker,
  isUuid,
  type Buckets,
  type CommandWorker,
  type FieldError,
  type NatsHandles,
  type Names,
  type Logger,
} from '@lucy/platform';
import {
  ActivarServiciosCommandSchema,
  CrearUsuarioTeamsCommandSchema,
  EliminarCuentaExternaCommandSchema,
  ResetearPasswordCommandSchema,
} from '@lucy/proto';
import type { OperationRunner } from './operation.run.js';

/** Subjects and registered names of the identity tasks. */
export const IDENTITY_TASKS = {
  activar: { subject: 'lucy.cmd.identity.activar_servicios', task: 'alumnos.tasks.activar_servicios_alumno' },
  crear: {
    subject: 'lucy.cmd.identity.crear_usuario_teams',
    task: 'alumnos.tasks.crear_usuario_teams_async',
  },
  resetear: {
    subject: 'lucy.cmd.identity.resetear_password',
    task: 'alumnos.tasks.resetear_password_y_enviar_email',
  },
  eliminar: {
    subject: 'lucy.cmd.identity.eliminar_cuenta_externa',
    task: 'alumnos.tasks.eliminar_cuenta_externa',
  },
} as const;

/** Dependencies of the workers. */
export interface IdentityWorkerDeps {
  nats: NatsHandles;
  names: Names;
  buckets: Buckets;
  logger: Logger;
  worker: string;
  runner: OperationRunner;
  concurrency: number;
  ackWaitMs: number;
  maxAttempts?: number;
  backoffMs?: (attempt: number) => number;
}

const alumnoIdRequired = (m: { alumnoId: string }): FieldError[] =>
  isUuid(m.alumnoId)
    ? []
    : [{ field: 'alumno_id', message: 'Falta el identificador del alumno o no es válido.' }];

/** Creates the workers (not started). */
export function createIdentityWorkers(deps: IdentityWorkerDeps): CommandWorker[] {
  const common = {
    js: deps.nats.js,
    jsm: deps.nats.jsm,
    names: deps.names,
    logger: deps.logger,
    worker: deps.worker,
    cancellations: deps.buckets.cancellations,
    concurrency: deps.concurrency,
    ackWaitMs: deps.ackWaitMs,
    ...(deps.maxAttempts ? { maxAttempts: deps.maxAttempts } : {}),
    ...(deps.backoffMs ? { backoffMs: deps.backoffMs } : {}),
  };
  const { runner } = deps;
  return [
    createCommandWorker({
      ...common,
      durable: 'identity-teams_activar_servicios',
      subject: IDENTITY_TASKS.activar.subject,
      taskType: IDENTITY_TASKS.activar.task,
      schema: ActivarServiciosCommandSchema,
      validate: alumnoIdRequired,
      alumnoIdOf: (m) => m.alumnoId,
      handle: (ctx) =>
        runner.run({ tipo: 'activar', alumnoId: ctx.message.alumnoId, forzar: ctx.message.forzar }, ctx),
    }),
    createCommandWorker({
      ...common,
      durable: 'identity-teams_crear_usuario_teams',
      subject: IDENTITY_TASKS.crear.subject,
      taskType: IDENTITY_TASKS.crear.task,
      schema: CrearUsuarioTeamsCommandSchema,
      validate: alumnoIdRequired,
      alumnoIdOf: (m) => m.alumnoId,
      handle: (ctx) =>
        runner.run(
          {
            tipo: 'crear',
            alumnoId: ctx.message.alumnoId,
            forzar: ctx.message.forzar,
            enviarEmail: ctx.message.enviarEmail,
          },
          ctx,
        ),
    }),
    createCommandWorker({
      ...common,
      durable: 'identity-teams_resetear_password',
      subject: IDENTITY_TASKS.resetear.subject,
      taskType: IDENTITY_TASKS.resetear.task,
      schema: ResetearPasswordCommandSchema,
      validate: alumnoIdRequired,
      alumnoIdOf: (m) => m.alumnoId,
      handle: (ctx) =>
        runner.run({ tipo: 'resetear', alumnoId: ctx.message.alumnoId, sinEmail: ctx.message.sinEmail }, ctx),
    }),
    createCommandWorker({
      ...common,
      durable: 'identity-teams_eliminar_cuenta_externa',
      subject: IDENTITY_TASKS.eliminar.subject,
      taskType: IDENTITY_TASKS.eliminar.task,
      schema: EliminarCuentaExternaCommandSchema,
      validate: alumnoIdRequired,
      alumnoIdOf: (m) => m.alumnoId,
      // Deletions one at a time per replica: the mass-deletion hold counts them in order.
      concurrency: Math.min(4, deps.concurrency),
      handle: (ctx) =>
        runner.run(
          {
            tipo: 'eliminar',
            alumnoId: ctx.message.alumnoId,
            upn: ctx.message.upn,
            moodleUsername: ctx.message.moodleUsername,
            motivo: ctx.message.motivo,
            retencionId: ctx.message.retencionId,
          },
          ctx,
        ),
    }),
  ];
}
