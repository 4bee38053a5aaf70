/**
 * IdentityService.PreCheck and the identity settings staff own (issue 13). PreCheck answers, for each alumno of a
 * selection, what Enqueue would do — with the same domain rule (domain/pre-check.ts), the same alumnos and
 * accounts and the same per-tipo flags — and queues nothing. Get/UpdateConfiguracionIdentidad read and change the
 * batch limit, the UPN prefix, the Moodle token and the Graph client secret; the two secrets are write-only (only
 * whether one is set, and where it comes from, is returned). CheckDeletion applies the deletion guard the
 * deletion itself applies (operation.run.ts) to the accounts an alumno's deletion would remove.
 */
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { ServiceImpl } from '@connectrpc/connect';
import type { Knex } from '@mikro-orm/postgresql';
import { commandProblems, isUuid, publishLog, ValidationError, type Names } from '@lucy/platform';
import { EliminarCuentaExternaCommandSchema, type EnqueueResult, type IdentityService } from '@lucy/proto';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { IngestClient } from '../adapters/index.js';
import { IDENTITY_TASKS } from '../consumers/identity.consumer.js';
import { getCuenta, getCuentas } from '../db/index.js';
import { deletionRefusal } from '../domain/deletion-guard.js';
import { flagsTipoOf, preCheckAlumno, type IdentityAction } from '../domain/pre-check.js';
import type { IdentitySettings } from '../settings.js';
import { unavailable } from './unavailable.js';

export interface ConfigRpcDeps {
  knex: Knex;
  js: JetStreamClient;
  names: Names;
  ingest: IngestClient;
  settings: IdentitySettings;
  clock: () => Date;
  upnDomain: string;
  safeDeletePrefix: string;
  /** The deployment signs in to Graph with a certificate (the client secret is then not used). */
  graphUsesCertificate: boolean;
  /** Whether Moodle is configured (MOODLE_URL): its username is then guarded too. */
  moodleConfigured: () => boolean;
}

const ACTION_BY_TASK: Record<string, IdentityAction> = {
  [IDENTITY_TASKS.activar.task]: 'activar',
  [IDENTITY_TASKS.crear.task]: 'crear',
  [IDENTITY_TASKS.resetear.task]: 'resetear',
};
/** Most alumnos one PreCheck reads (the admin's selection is at most 500). */
const MAX_PRECHECK = 500;

export function createConfigRpc(
  deps: ConfigRpcDeps,
): Pick<
  ServiceImpl<typeof IdentityService>,
  'preCheck' | 'getConfiguracionIdentidad' | 'updateConfiguracionIdentidad' | 'checkDeletion'
> {
  const view = () => {
    const changed = deps.settings.changed;
    return {
      loteMaximo: deps.settings.batchLimit,
      prefijoUpn: deps.settings.upnPrefix,
      dominioUpn: deps.upnDomain,
      prefijoEliminable: deps.safeDeletePrefix,
      moodleTokenConfigurado: deps.settings.moodleToken !== '',
      moodleTokenOrigen: deps.settings.moodleTokenOrigin,
      graphClientSecretConfigurado: deps.settings.graphClientSecret !== '',
      graphClientSecretOrigen: deps.settings.graphClientSecretOrigin,
      graphUsaCertificado: deps.graphUsesCertificate,
      ...(changed ? { actualizadoEn: timestampFromDate(changed.at), actualizadoPor: changed.by } : {}),
    };
  };

  return {
    async preCheck(req) {
      const action = ACTION_BY_TASK[req.taskName];
      if (!action)
        throw new ValidationError([
          {
            field: 'task_name',
            message: `Tarea desconocida «${req.taskName}»: use ${Object.keys(ACTION_BY_TASK).join(', ')}.`,
          },
        ]);
      if (req.alumnoIds.length === 0)
        throw new ValidationError([{ field: 'alumno_ids', message: 'Seleccione al menos un alumno.' }]);
      if (req.alumnoIds.length > MAX_PRECHECK)
        throw new ValidationError([
          { field: 'alumno_ids', message: `Se revisan hasta ${MAX_PRECHECK} alumnos por vez.` },
        ]);
      const valid = [...new Set(req.alumnoIds.filter(isUuid))];
      const [alumnos, cuentas] = await Promise.all([
        deps.ingest.getAlumnos(valid).catch((err: unknown) => {
          throw unavailable(err);
        }),
        getCuentas(deps.knex, valid),
      ]);
      const flags = new Map<string, Awaited<ReturnType<IngestClient['flags']>>>();
      try {
        for (const a of alumnos.values()) {
          const tipo = flagsTipoOf(action, a.estado);
          if (tipo && !flags.has(tipo)) flags.set(tipo, await deps.ingest.flags(tipo));
        }
      } catch (err) {
        throw unavailable(err);
      }
      const seen = new Set<string>();
      const resultados: EnqueueResult[] = req.alumnoIds.map((id) => {
        const result = (estado: string, motivo = ''): EnqueueResult => ({
          $typeName: 'lucy.identity.v1.EnqueueResult',
          alumnoId: id,
          estado,
          taskId: '',
          motivo,
        });
        if (!isUuid(id)) return result('rechazado', `«${id}» no es un identificador de alumno válido.`);
        if (seen.has(id)) return result('omitido', 'Repetido en la selección.');
        seen.add(id);
        const alumno = alumnos.get(id);
        const cuenta = cuentas.get(id);
        const tipo = alumno ? flagsTipoOf(action, alumno.estado) : undefined;
        const out = preCheckAlumno({
          action,
          alumnoId: id,
          alumno,
          cuenta: cuenta ? { estado: cuenta.estado, upn: cuenta.upn } : undefined,
          flags: tipo ? flags.get(tipo) : undefined,
          enviarEmail: req.enviarEmail,
          forzar: req.forzar,
        });
        return result(out.estado, out.motivo);
      });
      return { resultados, loteMaximo: deps.settings.batchLimit };
    },

    async getConfiguracionIdentidad() {
      return { configuracion: view() };
    },

    async updateConfiguracionIdentidad(req) {
      // A secret nothing would read (the deployment signs in with a certificate) is refused, not shown as set.
      if (deps.graphUsesCertificate && req.graphClientSecret !== undefined)
        throw new ValidationError([
          {
            field: 'graph_client_secret',
            message:
              'Este despliegue se autentica ante Microsoft Graph con un certificado (GRAPH_CLIENT_CERTIFICATE_PATH o GRAPH_CLIENT_CERTIFICATE_PRIVATE_KEY): un secreto de cliente no se usaría. Para usar un secreto, quite el certificado del despliegue.',
          },
        ]);
      const before = view();
      const problems = await deps.settings.update(
        {
          loteMaximo: req.loteMaximo,
          prefijoUpn: req.prefijoUpn,
          moodleToken: req.moodleToken,
          graphClientSecret: req.graphClientSecret,
          restablecerMoodleToken: req.restablecerMoodleToken,
          restablecerGraphClientSecret: req.restablecerGraphClientSecret,
          requestedBy: req.requestedBy,
        },
        deps.clock(),
      );
      if (problems.length) throw new ValidationError(problems);
      const after = view();
      // What changed, for the Logs; the token only as "reemplazado", never its value.
      const cambios = [
        before.loteMaximo !== after.loteMaximo && `lote máximo ${before.loteMaximo} → ${after.loteMaximo}`,
        before.prefijoUpn !== after.prefijoUpn &&
          `prefijo de UPN «${before.prefijoUpn}» → «${after.prefijoUpn}»`,
        req.moodleToken !== undefined && 'token de Moodle reemplazado',
        req.graphClientSecret !== undefined && 'secreto de cliente de Graph reemplazado',
        req.restablecerMoodleToken &&
          (after.moodleTokenConfigurado
            ? 'token de Moodle: se vuelve a usar el del despliegue'
            : 'token de Moodle olvidado: el despliegue no define MOODLE_TOKEN, queda sin configurar (las activaciones no crean cuentas de Moodle)'),
        req.restablecerGraphClientSecret &&
          (after.graphClientSecretConfigurado || after.graphUsaCertificado
            ? 'secreto de cliente de Graph: se vuelve a usar el del despliegue'
            : 'secreto de cliente de Graph olvidado: el despliegue no define GRAPH_CLIENT_SECRET, queda sin configurar'),
      ].filter((c): c is string => Boolean(c));
      await publishLog(deps.js, deps.names, {
        level: 'INFO',
        module: 'identity_teams',
        message: `${req.requestedBy.trim()} cambió la configuración de cuentas: ${cambios.join('; ') || 'sin cambios'}.`,
        usuario: req.requestedBy.trim(),
        detalles: { accion: 'configuracion', cambios },
      });
      return { configuracion: after };
    },

    async checkDeletion(req) {
      if (!isUuid(req.alumnoId))
        throw new ValidationError([
          { field: 'alumno_id', message: `«${req.alumnoId}» no es un identificador de alumno válido.` },
        ]);
      const stored = await getCuenta(deps.knex, req.alumnoId);
      // Already removed: a deletion has nothing left to remove.
      if (stored?.estado === 'eliminada') return { permitida: true, motivo: '', upn: '' };
      let upn = stored?.upn ?? '';
      if (!upn) {
        const alumno = await deps.ingest.getAlumno(req.alumnoId).catch((err: unknown) => {
          throw unavailable(err);
        });
        upn = alumno?.emailInstitucional ?? '';
      }
      if (!upn) return { permitida: true, motivo: '', upn: '' };
      // The command the deletion is asked with (alumno.deleted, DeleteExternalAccount) must keep its field rules:
      // the worker refuses one that does not (an accented letter or a stray space in SIAL's e-mail).
      const command = create(EliminarCuentaExternaCommandSchema, {
        alumnoId: req.alumnoId,
        upn,
        moodleUsername: stored?.moodle_username ?? '',
      });
      const problem = commandProblems(EliminarCuentaExternaCommandSchema, command)[0];
      if (problem)
        return {
          permitida: false,
          motivo: `No se puede pedir la eliminación de las cuentas del alumno: ${problem.field}: ${problem.message}.`,
          upn,
        };
      const moodleUsername = stored?.moodle_username || upn.toLowerCase();
      const motivo = deletionRefusal(
        [upn, ...(deps.moodleConfigured() ? [moodleUsername] : [])],
        deps.safeDeletePrefix,
      );
      return { permitida: !motivo, motivo: motivo ?? '', upn };
    },
  };
}
