import { create, fromJsonString, ScalarType, toJsonString, type DescMessage } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { KV } from '@nats-io/kv';
import {
  ActivarServiciosCommandSchema,
  CrearUsuarioTeamsCommandSchema,
  EliminarCuentaExternaCommandSchema,
  EnviarEmailCommandSchema,
  IngestaManualCommandSchema,
  IngestarCommandSchema,
  PurgarTareasCommandSchema,
  ResetearPasswordCommandSchema,
  TareaTipo,
  TaskAnnouncementSchema,
  TaskParamSchema,
  TipoIngesta,
  type TaskAnnouncement,
  type TaskParam,
} from '@lucy/proto';

/** Service names as they appear in subjects and announcements. */
export type ServiceName = 'ingest-sial' | 'identity-teams' | 'notifier' | 'task-tracker' | 'scheduler';

/** One registered task: its public name (the one staff know), its command subject and message. */
export interface TaskSpec {
  /** Registered name, e.g. `alumnos.tasks.ingestar_aspirantes`. */
  readonly name: string;
  /** Canonical command subject. */
  readonly subject: string;
  readonly schema: DescMessage;
  /** Tarea tipo; a function when it depends on the command (manual ingestion). */
  readonly tipo: TareaTipo | ((message: Record<string, unknown>) => TareaTipo);
  readonly service: ServiceName;
  /** Spanish description for staff. */
  readonly description: string;
  /** Whether the scheduler may fire it periodically. */
  readonly schedulable: boolean;
}

const ingestTipo: Record<number, TareaTipo> = {
  [TipoIngesta.PREINSCRIPTOS]: TareaTipo.INGESTA_PREINSCRIPTOS,
  [TipoIngesta.ASPIRANTES]: TareaTipo.INGESTA_ASPIRANTES,
  [TipoIngesta.INGRESANTES]: TareaTipo.INGESTA_INGRESANTES,
};

/**
 * Every task of Lucy Tasks. The names are the public names staff already know from the Celery system; each maps
 * to exactly one command subject. Adding a task type: add its command message in proto/, a line here, and a
 * worker in the owning service (docs/architecture.md, "How to add a task type").
 */
export const TASKS: readonly TaskSpec[] = Object.freeze([
  {
    name: 'alumnos.tasks.ingestar_preinscriptos',
    subject: 'lucy.cmd.ingest.ingestar_preinscriptos',
    schema: IngestarCommandSchema,
    tipo: TareaTipo.INGESTA_PREINSCRIPTOS,
    service: 'ingest-sial',
    description: 'Ingesta automática de preinscriptos desde SIAL (solo dentro de la ventana configurada)',
    schedulable: true,
  },
  {
    name: 'alumnos.tasks.ingestar_aspirantes',
    subject: 'lucy.cmd.ingest.ingestar_aspirantes',
    schema: IngestarCommandSchema,
    tipo: TareaTipo.INGESTA_ASPIRANTES,
    service: 'ingest-sial',
    description: 'Ingesta automática de aspirantes desde SIAL (solo dentro de la ventana configurada)',
    schedulable: true,
  },
  {
    name: 'alumnos.tasks.ingestar_ingresantes',
    subject: 'lucy.cmd.ingest.ingestar_ingresantes',
    schema: IngestarCommandSchema,
    tipo: TareaTipo.INGESTA_INGRESANTES,
    service: 'ingest-sial',
    description: 'Ingesta automática de ingresantes desde SIAL (solo dentro de la ventana configurada)',
    schedulable: true,
  },
  {
    name: 'alumnos.tasks.ingesta_manual',
    subject: 'lucy.cmd.ingest.ingesta_manual',
    schema: IngestaManualCommandSchema,
    tipo: (m) => ingestTipo[Number(m.tipo)] ?? TareaTipo.INGESTA_PREINSCRIPTOS,
    service: 'ingest-sial',
    description: 'Ingesta manual desde SIAL (tipo y rango opcionales; no mueve el checkpoint)',
    schedulable: true,
  },
  {
    name: 'alumnos.tasks.activar_servicios_alumno',
    subject: 'lucy.cmd.identity.activar_servicios',
    schema: ActivarServiciosCommandSchema,
    tipo: TareaTipo.ACTIVAR_SERVICIOS,
    service: 'identity-teams',
    description: 'Crea el usuario de Teams, asigna la licencia y envía el email con credenciales',
    schedulable: false,
  },
  {
    name: 'alumnos.tasks.crear_usuario_teams_async',
    subject: 'lucy.cmd.identity.crear_usuario_teams',
    schema: CrearUsuarioTeamsCommandSchema,
    tipo: TareaTipo.CREAR_USUARIO_TEAMS,
    service: 'identity-teams',
    description: 'Crea el usuario de Teams (sin enviar email)',
    schedulable: false,
  },
  {
    name: 'alumnos.tasks.resetear_password_y_enviar_email',
    subject: 'lucy.cmd.identity.resetear_password',
    schema: ResetearPasswordCommandSchema,
    tipo: TareaTipo.RESETEAR_PASSWORD,
    service: 'identity-teams',
    description: 'Resetea la contraseña del usuario de Teams y la envía por email',
    schedulable: false,
  },
  {
    name: 'alumnos.tasks.enviar_email_credenciales',
    subject: 'lucy.cmd.notify.enviar_email',
    schema: EnviarEmailCommandSchema,
    tipo: TareaTipo.ENVIAR_EMAIL,
    service: 'notifier',
    description: 'Envía un email al alumno (credenciales, contraseña nueva, bienvenida)',
    schedulable: false,
  },
  {
    name: 'alumnos.tasks.eliminar_cuenta_externa',
    subject: 'lucy.cmd.identity.eliminar_cuenta_externa',
    schema: EliminarCuentaExternaCommandSchema,
    tipo: TareaTipo.ELIMINAR_CUENTA,
    service: 'identity-teams',
    description: 'Elimina las cuentas de Teams y Moodle de un alumno (solo con el prefijo seguro)',
    schedulable: false,
  },
  {
    name: 'mantenimiento.tasks.purgar_tareas_antiguas',
    subject: 'lucy.cmd.tracker.purgar_tareas',
    schema: PurgarTareasCommandSchema,
    tipo: TareaTipo.MANTENIMIENTO,
    service: 'task-tracker',
    description: 'Elimina Tareas y Logs más antiguos que la retención (90 días por defecto)',
    schedulable: true,
  },
]);

const byName = new Map(TASKS.map((t) => [t.name, t]));
const bySubject = new Map(TASKS.map((t) => [t.subject, t]));

/** The task registered under a name, or undefined. */
export function taskByName(name: string): TaskSpec | undefined {
  return byName.get(name);
}

/** The task whose command goes on a canonical subject, or undefined. */
export function taskBySubject(subject: string): TaskSpec | undefined {
  return bySubject.get(subject);
}

/** Resolves the Tarea tipo of a task for a decoded command (as JSON). */
export function tipoOf(spec: TaskSpec, message: Record<string, unknown>): TareaTipo {
  return typeof spec.tipo === 'function' ? spec.tipo(message) : spec.tipo;
}

/**
 * The JSON type of a command field as a keyword parameter: `int64` for 64-bit integers (a JSON number or a decimal
 * string in the protobuf JSON mapping), `object` for nested messages other than Timestamp.
 */
export type ParamKind = 'boolean' | 'string' | 'number' | 'int64' | 'enum' | 'datetime' | 'object';

/** The {@link ParamKind} of one field of a command message. */
export function paramKindOf(field: DescMessage['fields'][number]): ParamKind {
  switch (field.fieldKind) {
    case 'scalar':
      if (field.scalar === ScalarType.BOOL) return 'boolean';
      if (field.scalar === ScalarType.STRING || field.scalar === ScalarType.BYTES) return 'string';
      if (
        field.scalar === ScalarType.INT64 ||
        field.scalar === ScalarType.UINT64 ||
        field.scalar === ScalarType.SINT64 ||
        field.scalar === ScalarType.FIXED64 ||
        field.scalar === ScalarType.SFIXED64
      )
        return 'int64';
      return 'number';
    case 'enum':
      return 'enum';
    case 'message':
      return field.message.typeName === 'google.protobuf.Timestamp' ? 'datetime' : 'object';
    case 'list':
    case 'map':
      return 'object';
  }
}

/** The keyword parameters of a task, derived from its command message fields (protobuf JSON names). */
export function paramsOf(schema: DescMessage): TaskParam[] {
  return schema.fields.map((f) => {
    const kind = paramKindOf(f);
    return create(TaskParamSchema, {
      name: f.jsonName,
      // The registry speaks JSON types: a 64-bit integer is announced as a number.
      type: kind === 'int64' ? 'number' : kind,
      required: false,
      description: f.jsonName,
      enumValues:
        f.fieldKind === 'enum' ? f.enum.values.filter((v) => v.number !== 0).map((v) => v.name) : [],
    });
  });
}

/**
 * Announces the tasks a service handles in the registry bucket (key = task name). Called at every start; the
 * scheduler offers only announced names.
 */
export async function announceTasks(
  registry: KV,
  service: ServiceName,
  now: Date = new Date(),
): Promise<TaskAnnouncement[]> {
  const mine = TASKS.filter((t) => t.service === service);
  const out: TaskAnnouncement[] = [];
  for (const t of mine) {
    const a = create(TaskAnnouncementSchema, {
      name: t.name,
      subject: t.subject,
      commandType: t.schema.typeName,
      tipo: typeof t.tipo === 'function' ? TareaTipo.UNSPECIFIED : t.tipo,
      service: t.service,
      description: t.description,
      params: paramsOf(t.schema),
      schedulable: t.schedulable,
      announcedAt: timestampFromDate(now),
    });
    await registry.put(registryKey(t.name), toJsonString(TaskAnnouncementSchema, a));
    out.push(a);
  }
  return out;
}

/** Every announcement in the registry bucket. */
export async function listAnnouncedTasks(registry: KV): Promise<TaskAnnouncement[]> {
  const out: TaskAnnouncement[] = [];
  const keys = await registry.keys();
  for await (const key of keys) {
    const e = await registry.get(key);
    if (!e || e.operation !== 'PUT') continue;
    try {
      out.push(fromJsonString(TaskAnnouncementSchema, e.string(), { ignoreUnknownFields: true }));
    } catch {
      // A malformed entry (from a newer or broken producer) is ignored rather than breaking the listing.
    }
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** KV keys allow only [-/_=.a-zA-Z0-9]; task names already fit. */
function registryKey(name: string): string {
  return name.replace(/[^-/_=.a-zA-Z0-9]/g, '_');
}
