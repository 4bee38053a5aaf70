/**
 * One identity task for one alumno, as a recorded state machine: the alumno's lease is taken, the task's plan is
 * recorded on its first run (`identity.operacion`), and each pending step runs and is recorded as done before
 * the next starts. Each step first looks at what an interrupted attempt may have left (an account created but
 * not recorded, a Moodle user, an e-mail task id) and adopts it, so a redelivery after a crash, a retry after a
 * transient failure or a repeated command never creates a second account nor repeats a finished step.
 */
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { Knex } from '@mikro-orm/postgresql';
import {
  CONTENT_TYPE,
  encode,
  PermanentError,
  SkipTask,
  taskHeaders,
  TransientError,
  uuidv7,
  type CommandContext,
  type CommandPublisher,
  type HandlerResult,
  type Logger,
  type Names,
} from '@lucy/platform';
import {
  CuentaActualizadaSchema,
  EnviarEmailCommandSchema,
  TipoEmail,
  type CuentaExterna,
} from '@lucy/proto';
import type { JetStreamClient } from '@nats-io/jetstream';
import {
  GRAPH_ERROR,
  GraphUserExistsError,
  MOODLE_ERROR,
  MoodleUserExistsError,
  type GraphClient,
  type GraphSku,
  type GraphUser,
  type IngestClient,
  type MoodleClient,
  type AlumnoInfo,
} from '../adapters/index.js';
import {
  AccountNameError,
  buildDisplayName,
  buildMailNickname,
  buildUpn,
  checkDeletionAllowed,
  forbiddenMessage,
  generateTemporaryPassword,
  pendingSteps,
  planActivation,
  planSteps,
  tipoDeEstado,
  PASO_NOMBRE,
  type OperacionTipo,
  type Paso,
} from '../domain/index.js';
import {
  admitEliminacion,
  claimCuenta,
  createOperacion,
  getCuenta,
  getEliminacion,
  getOperacion,
  markHechoAndRenew,
  releaseCuenta,
  setEliminacionEstado,
  updateCuenta,
  updateOperacion,
  type CredencialRow,
  type CuentaRow,
  type OperacionRow,
  type Vault,
} from '../db/index.js';
import { identityMetrics } from '../metrics.js';

/** Everything the identity tasks need. */
export interface OperationDeps {
  knex: Knex;
  js: JetStreamClient;
  names: Names;
  publisher: CommandPublisher;
  logger: Logger;
  clock: () => Date;
  graph: GraphClient;
  /** Undefined when Moodle is not configured. */
  moodle: MoodleClient | undefined;
  moodleAuth: string;
  vault: Vault;
  ingest: IngestClient;
  upnPrefix: string;
  upnDomain: string;
  studentSku: string;
  safeDeletePrefix: string;
  massDelete: { max: number; windowMs: number };
  /**
   * How long a run holds an alumno without renewing (renewed at every step); a crashed run's alumno is free again
   * after it. Set it to the command's ack wait, after which JetStream redelivers.
   */
  leaseMs?: number;
  /** Waits while another run holds the alumno; default the wall clock. */
  sleep?: (ms: number) => Promise<void>;
}

/** What one command asks. */
export interface OperationRequest {
  tipo: OperacionTipo;
  alumnoId: string;
  forzar?: boolean;
  /** crear_usuario_teams: e-mail the credentials too. */
  enviarEmail?: boolean;
  /** resetear_password: skip the e-mail. */
  sinEmail?: boolean;
  /** eliminar_cuenta_externa. */
  upn?: string;
  moodleUsername?: string;
  motivo?: string;
  retencionId?: string;
}

const MODULE = 'identity_teams';

/** What staff read in the Tarea's Logs when a step is done (`{upn}` is the account). */
const PASO_HECHO: Record<Paso, string> = {
  usuario_graph: 'Usuario de Microsoft 365 listo',
  licencia: 'Licencia asignada',
  moodle: 'Usuario de Moodle listo',
  password: 'Contraseña temporal nueva fijada (cambio obligatorio al ingresar)',
  email: 'E-mail de credenciales pedido al notificador',
  eliminar_graph: 'Usuario de Microsoft 365 eliminado',
  eliminar_moodle: 'Usuario de Moodle eliminado',
};

/** The seed's "Usuario ya existe", with the reason. */
const userExists = (reason: string) =>
  new PermanentError(`Usuario ya existe: ${reason}`, { code: 'USUARIO_YA_EXISTE' });

/** Shares one read of the tenant's SKUs between tasks for a few seconds (Graph charges it 3 units). */
function skuCache(graph: GraphClient, partNumber: string, ttlMs = 5000) {
  let cached: { at: number; sku: GraphSku } | undefined;
  let pending: Promise<GraphSku> | undefined;
  return {
    async get(now: number): Promise<GraphSku> {
      if (cached && now - cached.at < ttlMs) return cached.sku;
      pending ??= graph.resolveSku(partNumber).finally(() => (pending = undefined));
      const sku = await pending;
      cached = { at: now, sku };
      return sku;
    },
    taken() {
      if (cached) cached.sku = { ...cached.sku, available: Math.max(0, cached.sku.available - 1) };
    },
    forget() {
      cached = undefined;
    },
  };
}

/** The account record as the proto shows it (events, RPC). Never a password. */
export function cuentaToPb(c: CuentaRow, tienePassword: boolean): CuentaExterna {
  const ts = (d: Date | null) => (d ? timestampFromDate(d) : undefined);
  return {
    $typeName: 'lucy.identity.v1.CuentaExterna',
    alumnoId: c.alumno_id,
    upn: c.upn,
    graphId: c.graph_id ?? '',
    licenciaAsignada: c.licencia_asignada,
    moodleId: BigInt(c.moodle_id ?? 0),
    tienePasswordTemporal: tienePassword,
    creadaEn: ts(c.creada_en),
    eliminadaEn: ts(c.eliminada_en),
    dni: c.dni,
    estado: c.estado,
    licenciaSku: c.licencia_sku ?? '',
    moodleUsername: c.moodle_username ?? '',
    emailSolicitado: c.email_solicitado,
    activadaEn: ts(c.activada_en),
    actualizadaEn: ts(c.actualizada_en),
    ultimoError: c.ultimo_error ?? '',
    emailEnviado: c.email_enviado_en !== null,
    emailEnviadoEn: ts(c.email_enviado_en),
  };
}

/** Creates the runner of identity tasks. */
export function createOperationRunner(deps: OperationDeps) {
  const { knex, graph, vault, clock } = deps;
  const leaseMs = deps.leaseMs ?? 60_000;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));

  /**
   * Takes the alumno for this run, waiting (with heartbeats) while another run holds it: a second delivery of the
   * same task waits for the first and then finds its steps done; a crashed holder's lease runs out.
   */
  const claim = async (
    input: { alumnoId: string; dni: string; upn: string },
    ctx: CommandContext<unknown>,
  ): Promise<{ cuenta: CuentaRow; runId: string }> => {
    const runId = `${ctx.task.taskId}:${ctx.attempt}:${Math.random().toString(36).slice(2, 10)}`;
    const deadline = Date.now() + leaseMs + 5000;
    for (;;) {
      const cuenta = await claimCuenta(knex, {
        ...input,
        taskId: ctx.task.taskId,
        runId,
        now: clock(),
        leaseMs,
      });
      if (cuenta) return { cuenta, runId };
      if (Date.now() > deadline)
        throw new TransientError(`Otra tarea está procesando al alumno ${input.alumnoId}; se reintentará.`, {
          code: 'ALUMNO_OCUPADO',
        });
      ctx.working();
      await sleep(200);
    }
  };
  const leaseLost = (alumnoId: string) =>
    new TransientError(`Se perdió la reserva del alumno ${alumnoId}; se reintentará.`, {
      code: 'ALUMNO_OCUPADO',
    });
  /**
   * Records a step done and renews the lease in one statement; the next step runs only while the lease holds (the
   * claim just took it for the first step).
   */
  const stepDone = async (taskId: string, paso: Paso, alumnoId: string, runId: string) => {
    const now = clock();
    const renewed = await markHechoAndRenew(knex, {
      taskId,
      paso,
      alumnoId,
      runId,
      until: new Date(now.getTime() + leaseMs),
      now,
    });
    identityMetrics.steps.inc({ paso });
    return renewed;
  };
  const skus = skuCache(graph, deps.studentSku);

  /**
   * One INFO Log and one progress event per step done, for the Tarea's Logs. Published without holding up the
   * next step; the task awaits them before it reports its outcome (a lost one fails the attempt, and the retry
   * only logs the steps it does).
   */
  const stepReports = (
    ctx: CommandContext<unknown>,
    alumnoId: string,
    total: number,
    alreadyDone: number,
  ) => {
    const pending: Promise<unknown>[] = [];
    let done = alreadyDone;
    return {
      step(paso: Paso, upn: string, detalles: Record<string, unknown> = {}) {
        done++;
        const message = `Paso ${done}/${total}: ${PASO_HECHO[paso]} (${upn}).`;
        pending.push(
          ctx.reporter.log({
            level: 'INFO',
            module: MODULE,
            message,
            alumnoId,
            detalles: { paso, upn, ...detalles },
          }),
          ctx.reporter.progress(done, total, message),
        );
      },
      async flush() {
        await Promise.all(pending.splice(0));
      },
    };
  };

  const publishCuenta = async (
    kind: 'creada' | 'activada' | 'password_reseteada' | 'email_enviado' | 'eliminada',
    cuenta: CuentaRow,
    ctx: CommandContext<unknown>,
    tiene?: boolean,
  ) => {
    tiene ??= (await vault.current(cuenta.alumno_id)) !== undefined;
    const event = create(CuentaActualizadaSchema, {
      cuenta: cuentaToPb(cuenta, tiene),
      taskId: ctx.task.taskId,
      occurredAt: timestampFromDate(clock()),
    });
    await deps.js.publish(
      deps.names.evt('cuenta', kind),
      encode(CuentaActualizadaSchema, event, CONTENT_TYPE.protobuf),
      {
        headers: taskHeaders(ctx.task, CONTENT_TYPE.protobuf),
        msgID: `${ctx.task.taskId}:cuenta.${kind}`,
      },
    );
  };

  const upnOf = (alumno: AlumnoInfo): string => {
    try {
      return buildUpn({ prefix: deps.upnPrefix, dni: alumno.dni, domain: deps.upnDomain });
    } catch (err) {
      if (err instanceof AccountNameError)
        throw new PermanentError(`No se puede armar el UPN del alumno ${alumno.id}: ${err.message}`, {
          code: 'UPN_INVALIDO',
        });
      throw err;
    }
  };

  /** The credential of this task: the one recorded on an earlier attempt, else a new sealed one. */
  const ensureCredential = async (
    op: OperacionRow,
    alumnoId: string,
    upn: string,
    origen: 'creacion' | 'reseteo',
  ): Promise<{ row: CredencialRow; password: string }> => {
    if (op.credencial_id) {
      const row = await vault.get(op.credencial_id);
      if (row) return { row, password: vault.open(row) };
    }
    const password = generateTemporaryPassword();
    const row = await vault.store({ alumnoId, upn, origen, taskId: op.task_id, password });
    await updateOperacion(knex, op.task_id, { credencial_id: row.id }, clock());
    op.credencial_id = row.id;
    return { row, password };
  };

  /** Translates the adapters' errors of a step into the seed's messages. */
  const stepError = (paso: Paso, upn: string, err: unknown): unknown => {
    if (err instanceof PermanentError) {
      if (err.code === GRAPH_ERROR.forbidden)
        return new PermanentError(forbiddenMessage(paso, upn), {
          code: err.code,
          detalles: err.detalles,
          cause: err,
        });
      if (err.code === GRAPH_ERROR.noSeats)
        return new PermanentError(`Sin licencias disponibles (SKU ${deps.studentSku})`, {
          code: err.code,
          cause: err,
        });
      // Right after a restart the client no longer knows it created the user: a 404 is replication lag.
      if (err.code === GRAPH_ERROR.notFound && (paso === 'licencia' || paso === 'password'))
        return new TransientError(
          `Microsoft 365 todavía no muestra la cuenta ${upn} (replicación); se reintentará.`,
          { cause: err, code: 'GRAPH_REPLICACION' },
        );
    }
    return err;
  };

  // ---- steps ---------------------------------------------------------------------------------------------

  async function stepUsuario(
    op: OperacionRow,
    alumno: AlumnoInfo,
    cuenta: CuentaRow,
    ctx: CommandContext<unknown>,
  ): Promise<CuentaRow> {
    if (cuenta.graph_id && cuenta.estado !== 'eliminada') return cuenta;
    const upn = upnOf(alumno);
    const cred = await ensureCredential(op, alumno.id, upn, 'creacion');
    const { byUpn, byEmployeeId } = await graph.lookupAccount(upn, alumno.dni);
    const state = (u: GraphUser) => ({
      id: u.id,
      userPrincipalName: u.userPrincipalName,
      // An empty employeeId is no employeeId (accounts made before Lucy set it).
      employeeId: u.employeeId || null,
      skuIds: u.assignedLicenses.map((l) => l.skuId),
    });
    const plan = planActivation({
      alumno: { dni: alumno.dni, estado: alumno.estado },
      upn,
      studentSkuId: '',
      graph: { byUpn: byUpn ? state(byUpn) : null, byEmployeeId: byEmployeeId.map(state) },
    });
    if (plan.conflicts[0]) throw userExists(plan.conflicts[0]);
    let user = byUpn;
    let created = false;
    if (!user) {
      await updateOperacion(knex, op.task_id, { creando: true }, clock());
      try {
        user = await graph.createUser({
          userPrincipalName: upn,
          displayName: buildDisplayName(alumno.nombre, alumno.apellido),
          mailNickname: buildMailNickname(alumno.nombre, alumno.apellido, alumno.dni),
          ...(alumno.nombre ? { givenName: alumno.nombre } : {}),
          ...(alumno.apellido ? { surname: alumno.apellido } : {}),
          employeeId: alumno.dni,
          password: cred.password,
        });
        created = true;
        identityMetrics.graphUsers.inc({ result: 'created' });
      } catch (err) {
        if (!(err instanceof GraphUserExistsError)) throw err;
        // Created by an interrupted attempt (or a lost answer): find it and adopt it if it is this person's.
        user = await graph.findUserByUpn(upn);
        if (!user)
          throw new TransientError(`La cuenta ${upn} existe pero todavía no es visible (replicación).`, {
            code: 'GRAPH_REPLICACION',
          });
        if (user.employeeId && user.employeeId.toLowerCase() !== alumno.dni.toLowerCase())
          throw userExists(
            `La cuenta ${upn} ya existe en Microsoft 365 y pertenece a otra persona (employeeId ${user.employeeId}).`,
          );
      }
    }
    let passwordKnown = created;
    if (!created) {
      identityMetrics.graphUsers.inc({ result: 'adopted' });
      if (user.employeeId) {
        // Only Lucy sets employeeId, and no record of ours holds this account: an attempt of ours made it and
        // its password never reached the alumno. Setting the task's password makes the e-mail true.
        await graph.resetPassword(user.id, cred.password, { forceChange: true });
        passwordKnown = true;
      } else {
        await ctx.reporter.log({
          level: 'WARNING',
          module: MODULE,
          message: `Se adoptó la cuenta existente ${user.userPrincipalName} (creada por el sistema anterior); su contraseña no se conoce ni se cambia: use «resetear contraseña» para enviar credenciales nuevas.`,
          alumnoId: alumno.id,
        });
      }
    }
    if (passwordKnown) await vault.markInUse(cred.row.id, alumno.id);
    const now = clock();
    return updateCuenta(
      knex,
      alumno.id,
      {
        dni: alumno.dni,
        upn: user.userPrincipalName,
        graph_id: user.id,
        estado: 'pendiente',
        creada_en: now,
        eliminada_en: null,
        ultimo_error: null,
      },
      now,
    );
  }

  async function stepLicencia(cuenta: CuentaRow): Promise<CuentaRow> {
    if (cuenta.licencia_asignada) return cuenta;
    if (!cuenta.graph_id)
      throw new PermanentError('No hay cuenta de Microsoft 365 a la que asignar licencia.');
    const sku = await skus.get(clock().getTime());
    if (sku.available <= 0) {
      const user = await graph.findUserByUpn(cuenta.upn);
      if (!user?.assignedLicenses.some((l) => l.skuId === sku.skuId)) {
        skus.forget();
        throw new PermanentError(`Sin licencias disponibles (SKU ${deps.studentSku})`, {
          code: GRAPH_ERROR.noSeats,
          detalles: { sku: deps.studentSku, disponibles: 0 },
        });
      }
    } else {
      await graph.assignLicense(cuenta.graph_id, sku.skuId);
      skus.taken();
    }
    return updateCuenta(
      knex,
      cuenta.alumno_id,
      { licencia_asignada: true, licencia_sku: deps.studentSku },
      clock(),
    );
  }

  async function stepMoodle(alumno: AlumnoInfo, cuenta: CuentaRow): Promise<CuentaRow> {
    const moodle = deps.moodle;
    if (!moodle || cuenta.moodle_id) return cuenta;
    const username = cuenta.upn.toLowerCase();
    const adopt = async (): Promise<{ id: number } | undefined> => {
      const [found] = await moodle.getUsersByField('username', [username]);
      if (!found) return undefined;
      if (found.idnumber !== '' && found.idnumber.toLowerCase() !== alumno.dni.toLowerCase()) {
        throw userExists(
          `El usuario ${username} ya existe en Moodle y pertenece a otra persona (idnumber ${found.idnumber}).`,
        );
      }
      return { id: found.id };
    };
    let user = await adopt();
    if (!user) {
      const cred = deps.moodleAuth === 'manual' ? await vault.current(alumno.id) : undefined;
      try {
        user = await moodle.createUser({
          username,
          firstname: alumno.nombre.trim() || '-',
          lastname: alumno.apellido.trim() || '-',
          email: cuenta.upn,
          idnumber: alumno.dni,
          auth: deps.moodleAuth,
          ...(deps.moodleAuth === 'manual'
            ? cred
              ? { password: vault.open(cred) }
              : { createPassword: true }
            : {}),
        });
      } catch (err) {
        if (!(err instanceof MoodleUserExistsError)) throw err;
        user = await adopt();
        if (!user) throw err;
      }
    }
    return updateCuenta(knex, alumno.id, { moodle_id: user.id, moodle_username: username }, clock());
  }

  async function stepPassword(op: OperacionRow, alumno: AlumnoInfo, cuenta: CuentaRow): Promise<CuentaRow> {
    let graphId = cuenta.graph_id;
    if (!graphId) {
      const user = await graph.findUserByUpn(cuenta.upn);
      if (!user)
        throw new PermanentError(
          `El alumno ${alumno.id} no tiene cuenta de Microsoft 365 (${cuenta.upn}): no hay contraseña que resetear.`,
          { code: 'SIN_CUENTA' },
        );
      graphId = user.id;
    }
    const cred = await ensureCredential(op, alumno.id, cuenta.upn, 'reseteo');
    await graph.resetPassword(graphId, cred.password, { forceChange: true });
    await vault.markInUse(cred.row.id, alumno.id);
    return updateCuenta(knex, alumno.id, { graph_id: graphId }, clock());
  }

  async function stepEmail(
    op: OperacionRow,
    alumno: AlumnoInfo,
    cuenta: CuentaRow,
    tipo: OperacionTipo,
    ctx: CommandContext<unknown>,
  ): Promise<CuentaRow> {
    const cred = op.credencial_id ? await vault.get(op.credencial_id) : undefined;
    if (!cred?.en_uso) {
      await ctx.reporter.log({
        level: 'WARNING',
        module: MODULE,
        message: `No se pidió el e-mail de credenciales de ${cuenta.upn}: la contraseña de la cuenta no es una que Lucy haya fijado.`,
        alumnoId: alumno.id,
      });
      return cuenta;
    }
    let emailTaskId = op.email_task_id;
    if (!emailTaskId) {
      emailTaskId = uuidv7(clock().getTime());
      await updateOperacion(knex, op.task_id, { email_task_id: emailTaskId }, clock());
      op.email_task_id = emailTaskId;
    }
    await vault.bindEmailTask(cred.id, emailTaskId);
    // The same task id (and Nats-Msg-Id) on every attempt: a republish is dropped as a duplicate.
    await deps.publisher.publish(
      'lucy.cmd.notify.enviar_email',
      EnviarEmailCommandSchema,
      {
        alumnoId: alumno.id,
        tipo: tipo === 'resetear' ? TipoEmail.PASSWORD_RESET : TipoEmail.CREDENCIALES,
        upn: cuenta.upn,
        credentialRef: cred.ref,
      },
      {
        taskType: 'alumnos.tasks.enviar_email_credenciales',
        requestedBy: ctx.task.requestedBy,
        trigger: ctx.task.trigger,
        taskId: emailTaskId,
        msgId: emailTaskId,
        parentTaskId: ctx.task.taskId,
        traceparent: ctx.task.traceparent,
      },
    );
    identityMetrics.emails.inc();
    return updateCuenta(knex, alumno.id, { email_solicitado: true }, clock());
  }

  // ---- tasks ---------------------------------------------------------------------------------------------

  /** activar / crear / resetear. */
  async function runAccountTask(req: OperationRequest, ctx: CommandContext<unknown>): Promise<HandlerResult> {
    const alumno = await deps.ingest.getAlumno(req.alumnoId);
    if (!alumno)
      throw new PermanentError(`Alumno ${req.alumnoId} no encontrado`, { code: 'ALUMNO_NO_ENCONTRADO' });
    const upn = upnOf(alumno);
    const taskId = ctx.task.taskId;
    const { cuenta: claimed, runId } = await claim({ alumnoId: alumno.id, dni: alumno.dni, upn }, ctx);
    let cuenta = claimed;
    try {
      let op = await getOperacion(knex, taskId);
      const omitidos: string[] = [];
      if (!op) {
        if (req.tipo !== 'resetear' && cuenta.estado === 'activa' && !req.forzar) {
          throw new SkipTask(
            `El alumno ya tiene la cuenta activa (${cuenta.upn}); no se repite la activación (use «forzar» para repetirla).`,
            { upn: cuenta.upn, motivo: 'ya_activado' },
          );
        }
        if (alumno.estado === 'preinscripto' && req.tipo !== 'resetear') {
          throw new SkipTask(
            'Los preinscriptos no reciben cuentas de Teams ni de Moodle; solo el correo de bienvenida.',
            { motivo: 'preinscripto' },
          );
        }
        if (req.tipo === 'resetear' && !cuenta.graph_id && cuenta.estado !== 'activa') {
          const user = await graph.findUserByUpn(cuenta.upn);
          if (!user)
            throw new PermanentError(
              `El alumno ${alumno.id} no tiene cuenta de Microsoft 365 (${cuenta.upn}): no hay contraseña que resetear.`,
              { code: 'SIN_CUENTA' },
            );
        }
        const tipoIngesta = tipoDeEstado(alumno.estado);
        const flags = await deps.ingest.flags(tipoIngesta);
        const enviarEmail =
          req.tipo === 'activar'
            ? flags.enviarEmail
            : req.tipo === 'crear'
              ? Boolean(req.enviarEmail)
              : !req.sinEmail;
        let plan = planSteps({
          tipo: req.tipo,
          activarTeams: flags.activarTeams,
          activarMoodle: flags.activarMoodle && deps.moodle !== undefined,
          enviarEmail,
          moodleConfigurado: deps.moodle !== undefined,
        });
        if (plan.includes('email') && !alumno.emailPersonal.trim()) {
          plan = plan.filter((p) => p !== 'email');
          omitidos.push('email: el alumno no tiene e-mail personal');
        }
        if (plan.length === 0) {
          throw new SkipTask(
            `La configuración de ${tipoIngesta} no activa Teams ni Moodle (activar_teams, activar_moodle): no hay nada que hacer.`,
            { tipo: tipoIngesta, motivo: 'configuracion' },
          );
        }
        op = await createOperacion(knex, { taskId, alumnoId: alumno.id, tipo: req.tipo, plan, now: clock() });
      }
      const pending = pendingSteps(op.plan, op.hechos);
      const reports = stepReports(ctx, alumno.id, op.plan.length, op.plan.length - pending.length);
      let leased = true;
      for (const paso of pending) {
        ctx.working();
        if (!leased) throw leaseLost(alumno.id);
        try {
          switch (paso) {
            case 'usuario_graph':
              cuenta = await stepUsuario(op, alumno, cuenta, ctx);
              break;
            case 'licencia':
              cuenta = await stepLicencia(cuenta);
              break;
            case 'moodle':
              cuenta = await stepMoodle(alumno, cuenta);
              break;
            case 'password':
              cuenta = await stepPassword(op, alumno, cuenta);
              break;
            case 'email':
              cuenta = await stepEmail(op, alumno, cuenta, req.tipo, ctx);
              break;
            default:
              throw new PermanentError(`Paso ${paso} no corresponde a esta tarea.`);
          }
        } catch (err) {
          await reports.flush().catch(() => undefined);
          throw stepError(paso, cuenta.upn, err);
        }
        leased = await stepDone(taskId, paso, alumno.id, runId);
        reports.step(
          paso,
          cuenta.upn,
          paso === 'licencia'
            ? { sku: deps.studentSku }
            : paso === 'moodle'
              ? { moodle_id: cuenta.moodle_id }
              : paso === 'email'
                ? { email_task_id: op.email_task_id }
                : paso === 'usuario_graph'
                  ? { graph_id: cuenta.graph_id }
                  : {},
        );
      }
      await reports.flush();
      const now = clock();
      const activa = req.tipo !== 'resetear' && cuenta.graph_id !== null;
      cuenta = await updateCuenta(
        knex,
        alumno.id,
        activa ? { estado: 'activa', activada_en: cuenta.activada_en ?? now, ultimo_error: null } : {},
        now,
      );
      if (!op.completada_en) await updateOperacion(knex, taskId, { completada_en: now }, now);
      const current = await vault.current(alumno.id);
      await publishCuenta(
        req.tipo === 'resetear' ? 'password_reseteada' : 'activada',
        cuenta,
        ctx,
        current !== undefined,
      );
      return {
        cantidadEntidades: 1,
        detalles: {
          upn: cuenta.upn,
          graph_id: cuenta.graph_id,
          licencia: cuenta.licencia_asignada ? deps.studentSku : null,
          moodle_id: cuenta.moodle_id,
          pasos: op.plan,
          pasos_en_este_intento: pending,
          ...(omitidos.length ? { omitidos } : {}),
          email_task_id: op.email_task_id,
          temporal_revelable: current
            ? 'guardada cifrada; se puede revelar con RevealPassword (lucy cuentas revelar)'
            : 'desconocida (cuenta adoptada)',
        },
      };
    } catch (err) {
      if (err instanceof PermanentError) {
        await updateCuenta(knex, alumno.id, { ultimo_error: err.message }, clock()).catch(() => undefined);
      }
      throw err;
    } finally {
      await releaseCuenta(knex, alumno.id, runId).catch(() => undefined);
    }
  }

  /** eliminar_cuenta_externa. */
  async function runDeletion(req: OperationRequest, ctx: CommandContext<unknown>): Promise<HandlerResult> {
    const taskId = ctx.task.taskId;
    const stored = await getCuenta(knex, req.alumnoId);
    let upn = req.upn?.trim() || stored?.upn || '';
    if (!upn) {
      const alumno = await deps.ingest.getAlumno(req.alumnoId);
      upn = alumno?.emailInstitucional ?? '';
    }
    if (!upn) {
      throw new SkipTask('El alumno no tiene cuentas externas registradas: no hay nada que eliminar.', {
        motivo: 'sin_cuenta',
      });
    }
    if (stored?.estado === 'eliminada' && !req.retencionId && !(await getOperacion(knex, taskId))) {
      // A second request (a redelivered alumno.deleted past the de-duplication window, a repeated click): nothing
      // left to delete, and it must not count against the mass-deletion limit.
      throw new SkipTask(`Las cuentas de ${stored.upn} ya fueron eliminadas.`, {
        upn: stored.upn,
        motivo: 'ya_eliminada',
      });
    }
    const moodleUsername = req.moodleUsername?.trim() || stored?.moodle_username || upn.toLowerCase();
    for (const target of [upn, ...(deps.moodle ? [moodleUsername] : [])]) {
      const verdict = checkDeletionAllowed(target, deps.safeDeletePrefix);
      if (!verdict.allowed) {
        deps.logger.warn(
          { security: true, alumnoId: req.alumnoId, upn: target, taskId },
          'deletion refused: UPN outside the safe prefix',
        );
        await ctx.reporter.log({
          level: 'WARNING',
          module: MODULE,
          message: verdict.reason,
          alumnoId: req.alumnoId,
          detalles: { seguridad: true, upn: target, prefijo_seguro: deps.safeDeletePrefix },
        });
        identityMetrics.deletions.inc({ result: 'refused' });
        throw new PermanentError(verdict.reason, {
          code: 'ELIMINACION_RECHAZADA',
          detalles: { upn: target },
        });
      }
    }
    const { runId } = await claim({ alumnoId: req.alumnoId, dni: stored?.dni ?? '', upn }, ctx);
    try {
      let bypass = false;
      if (req.retencionId) {
        const held = await getEliminacion(knex, req.retencionId);
        if (held?.estado !== 'confirmada')
          throw new PermanentError(
            `La eliminación retenida ${req.retencionId} no fue confirmada por un administrador.`,
            { code: 'RETENCION_NO_CONFIRMADA' },
          );
        bypass = true;
      }
      const { row, inWindow } = await admitEliminacion(knex, {
        taskId,
        alumnoId: req.alumnoId,
        upn,
        moodleUsername: deps.moodle ? moodleUsername : null,
        requestedBy: ctx.task.requestedBy,
        motivo: req.motivo?.trim() || null,
        now: clock(),
        windowMs: deps.massDelete.windowMs,
        max: deps.massDelete.max,
        bypass,
      });
      if (row.estado === 'retenida') {
        identityMetrics.deletions.inc({ result: 'held' });
        const horas = Math.round((deps.massDelete.windowMs / 3_600_000) * 10) / 10;
        throw new SkipTask(
          `Eliminación retenida para confirmación de un administrador: ya hubo ${inWindow} eliminaciones en ${horas} h (máximo ${deps.massDelete.max}). Confírmela o descártela con «lucy cuentas retenidas».`,
          { retencion_id: row.id, upn, en_ventana: inWindow, maximo: deps.massDelete.max },
        );
      }
      let op = await getOperacion(knex, taskId);
      op ??= await createOperacion(knex, {
        taskId,
        alumnoId: req.alumnoId,
        tipo: 'eliminar',
        plan: planSteps({
          tipo: 'eliminar',
          activarTeams: true,
          activarMoodle: false,
          enviarEmail: false,
          moodleConfigurado: deps.moodle !== undefined,
        }),
        now: clock(),
      });
      const resultado: Record<string, string> = {};
      const pendientes = pendingSteps(op.plan, op.hechos);
      const reports = stepReports(ctx, req.alumnoId, op.plan.length, op.plan.length - pendientes.length);
      let leased = true;
      for (const paso of pendientes) {
        ctx.working();
        if (!leased) throw leaseLost(req.alumnoId);
        try {
          if (paso === 'eliminar_graph') {
            resultado.teams = await graph.deleteUser(upn);
          } else if (paso === 'eliminar_moodle' && deps.moodle) {
            const users = await deps.moodle.getUsersByField('username', [moodleUsername]);
            if (users.length > 0) await deps.moodle.deleteUsers(users.map((u) => u.id));
            resultado.moodle = users.length > 0 ? 'deleted' : 'not_found';
          }
        } catch (err) {
          await reports.flush().catch(() => undefined);
          if (err instanceof PermanentError && err.code === MOODLE_ERROR.configuration) throw err;
          throw stepError(paso, upn, err);
        }
        leased = await stepDone(taskId, paso, req.alumnoId, runId);
        reports.step(paso, paso === 'eliminar_moodle' ? moodleUsername : upn, {
          resultado: paso === 'eliminar_graph' ? resultado.teams : resultado.moodle,
        });
      }
      await reports.flush();
      const now = clock();
      await setEliminacionEstado(knex, row.id, 'realizada', { realizada_en: now });
      if (!op.completada_en) await updateOperacion(knex, taskId, { completada_en: now }, now);
      const cuenta = await updateCuenta(
        knex,
        req.alumnoId,
        {
          upn,
          estado: 'eliminada',
          eliminada_en: now,
          licencia_asignada: false,
          moodle_id: null,
          email_solicitado: false,
          email_enviado_en: null,
        },
        now,
      );
      await publishCuenta('eliminada', cuenta, ctx);
      identityMetrics.deletions.inc({ result: 'deleted' });
      return {
        cantidadEntidades: 1,
        detalles: { upn, moodle_username: deps.moodle ? moodleUsername : null, ...resultado },
      };
    } finally {
      await releaseCuenta(knex, req.alumnoId, runId).catch(() => undefined);
    }
  }

  return {
    run(req: OperationRequest, ctx: CommandContext<unknown>): Promise<HandlerResult> {
      return req.tipo === 'eliminar' ? runDeletion(req, ctx) : runAccountTask(req, ctx);
    },
    /** Staff-facing step names, for the README and logs. */
    pasos: PASO_NOMBRE,
  };
}

export type OperationRunner = ReturnType<typeof createOperationRunner>;
