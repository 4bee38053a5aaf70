// Generates a realistic Tarea history straight into the tracker schema of a database whose migrations have run:
// `insert … select from generate_series`, then the counters are rebuilt from the rows.
import type { Tracker } from '@lucy/task-tracker';

type Knex = Tracker['knex'];

/**
 * The generation SQL for `n` Tareas over the 90 days before `now`. Distribution: mostly identity and e-mail
 * tasks for ~300,000 alumnos, a few ingestions and maintenance runs; 89 % completed, 7 % failed, 2 % skipped,
 * 1 % cancelled among finished ones, the last 10 minutes pending or running; 40 staff users, the scheduler and
 * ingest-sial as requesters.
 */
export function generationSql(n: number, now: Date): string {
  return `
with src as (
  select i,
         timestamptz '${now.toISOString()}' - (random() * interval '90 days') as at,
         random() as r_tipo, random() as r_estado, random() as r_trigger, random() as r_dur,
         (random() * 300000)::int as alu, (random() * 39)::int as staff, (random() * 5)::int as err
  from generate_series(1, ${n}) as i
), typed as (
  select s.*,
    case when r_tipo < 0.30 then 'crear_usuario_teams'
         when r_tipo < 0.55 then 'activar_servicios'
         when r_tipo < 0.75 then 'enviar_email'
         when r_tipo < 0.82 then 'resetear_password'
         when r_tipo < 0.87 then 'eliminar_cuenta'
         when r_tipo < 0.91 then 'ingesta_preinscriptos'
         when r_tipo < 0.95 then 'ingesta_aspirantes'
         when r_tipo < 0.99 then 'ingesta_ingresantes'
         else 'mantenimiento' end as tipo,
    case when at > timestamptz '${now.toISOString()}' - interval '10 minutes'
           then case when r_estado < 0.5 then 'pending' else 'running' end
         when r_estado < 0.89 then 'completed'
         when r_estado < 0.96 then 'failed'
         when r_estado < 0.98 then 'skipped'
         when r_estado < 0.99 then 'cancelled'
         else 'completed' end as estado
  from src s
), shaped as (
  select t.*,
    t.tipo like 'ingesta_%' or t.tipo = 'mantenimiento' as periodic,
    case t.tipo
      when 'crear_usuario_teams' then 'alumnos.tasks.crear_usuario_teams_async'
      when 'activar_servicios' then 'alumnos.tasks.activar_servicios_alumno'
      when 'enviar_email' then 'alumnos.tasks.enviar_email_credenciales'
      when 'resetear_password' then 'alumnos.tasks.resetear_password_y_enviar_email'
      when 'eliminar_cuenta' then 'alumnos.tasks.eliminar_cuenta_externa'
      when 'ingesta_preinscriptos' then 'alumnos.tasks.ingestar_preinscriptos'
      when 'ingesta_aspirantes' then 'alumnos.tasks.ingestar_aspirantes'
      when 'ingesta_ingresantes' then 'alumnos.tasks.ingestar_ingresantes'
      else 'mantenimiento.tasks.purgar_tareas_antiguas' end as task_name,
    case t.tipo
      when 'crear_usuario_teams' then 'lucy.cmd.identity.crear_usuario_teams'
      when 'activar_servicios' then 'lucy.cmd.identity.activar_servicios'
      when 'enviar_email' then 'lucy.cmd.notify.enviar_email'
      when 'resetear_password' then 'lucy.cmd.identity.resetear_password'
      when 'eliminar_cuenta' then 'lucy.cmd.identity.eliminar_cuenta_externa'
      when 'ingesta_preinscriptos' then 'lucy.cmd.ingest.ingestar_preinscriptos'
      when 'ingesta_aspirantes' then 'lucy.cmd.ingest.ingestar_aspirantes'
      when 'ingesta_ingresantes' then 'lucy.cmd.ingest.ingestar_ingresantes'
      else 'lucy.cmd.tracker.purgar_tareas' end as subject,
    (array['García','González','Rodríguez','Fernández','López','Martínez','Pérez','Gómez','Sánchez','Romero',
           'Díaz','Álvarez','Torres','Ruiz','Ramírez','Flores','Benítez','Acosta','Medina','Herrera'])[1 + alu % 20]
      || ', ' ||
    (array['Sofía','Mateo','Valentina','Benjamín','Martina','Thiago','Catalina','Santiago','Emilia','Joaquín',
           'Isabella','Lautaro','Camila','Felipe','Lucía','Bautista','Mía','Tomás','Julieta','Agustín'])[1 + (alu / 20) % 20]
      as nombre,
    (30000000 + alu * 37)::text as dni,
    (array['Graph respondió 503 (Service Unavailable) al crear el usuario; se reintentará',
           'No quedan licencias A1 disponibles en el tenant',
           'SIAL no respondió en 30 s (timeout de la consulta de aspirantes)',
           'El alumno no tiene email personal cargado en SIAL',
           'SMTP rechazó el mensaje: 550 buzón inexistente',
           'El UPN ya existe en el directorio'])[1 + err] as error
  from typed t
)
insert into tracker.tarea (id, tipo, estado, task_name, trigger, requested_by, alumno_id, alumno_nombre, alumno_dni,
  subject, scheduled_at, started_at, started_attempt, finished_at, duration_ms, cantidad_entidades, detalles,
  mensaje_error, error_code, attempts, parent_id, parametros, payload, content_type, last_heartbeat_at,
  rank_attempt, rank_phase, command_seen, version, updated_at)
select
  -- UUIDv7-shaped: 48 bits of milliseconds, then random-looking bits, so ids sort by time as real ones do.
  (lpad(to_hex((extract(epoch from at) * 1000)::bigint), 12, '0') || '7' || substr(md5(i::text), 1, 3) || '8'
    || substr(md5(i::text), 4, 15))::uuid,
  tipo, estado, task_name,
  case when periodic then 'schedule' when r_trigger < 0.60 then 'admin' when r_trigger < 0.95 then 'ingest' else 'retry' end,
  case when periodic then 'beat' when r_trigger >= 0.60 and r_trigger < 0.95 then 'ingest_sial'
       else 'staff' || staff || '@fce.uncor.edu.ar' end,
  case when periodic then null else 'alu-' || alu end,
  case when periodic then null else nombre end,
  case when periodic then null else dni end,
  subject, at,
  case when estado in ('pending', 'cancelled') then null else at + (r_dur * interval '20 seconds') end,
  case when estado in ('pending', 'cancelled') then 0 else 1 end,
  case when estado in ('completed', 'failed', 'skipped')
       then at + (r_dur * interval '20 seconds') + (case when periodic then r_dur * interval '600 seconds' else r_dur * interval '8 seconds' end) end,
  case when estado in ('completed', 'failed', 'skipped')
       then ((case when periodic then r_dur * 600000 else r_dur * 8000 end))::bigint else 0 end,
  case when estado = 'completed' then (case when periodic then (r_dur * 500)::int else 1 end) else 0 end,
  case when estado = 'completed' and periodic then jsonb_build_object('created', (r_dur * 450)::int, 'updated', (r_dur * 50)::int, 'errors', 0) end,
  case when estado = 'failed' then error end,
  case when estado = 'failed' then 'UNAVAILABLE' end,
  case when estado in ('pending', 'cancelled') then 0 when estado = 'failed' and err = 0 then 2 else 1 end,
  null,
  case when periodic then '{}'::jsonb else jsonb_build_object('alumnoId', 'alu-' || alu) end,
  null, 'application/protobuf',
  case when estado = 'running' then at + interval '5 seconds' end,
  case when estado = 'pending' then 0 else 1 end,
  case when estado = 'pending' then 0 when estado = 'running' then 1 when estado = 'cancelled' then 4 else 3 end,
  true, 1, at
from shaped`;
}

/**
 * Fills a migrated tracker schema with `n` Tareas in one transaction: drops the secondary indexes of `tarea`,
 * inserts, re-creates them with their migration definitions (a sorted build is much faster than maintaining them
 * row by row), rebuilds `tarea_hourly_count` and `alumno_ref` from the rows; then vacuums and analyzes. Returns
 * the seconds each step took.
 */
export async function generateTareas(knex: Knex, n: number, now: Date): Promise<Record<string, number>> {
  const took: Record<string, number> = {};
  const step = async (name: string, fn: () => Promise<unknown>) => {
    const t0 = performance.now();
    await fn();
    took[name] = Math.round(performance.now() - t0) / 1000;
  };
  await knex.transaction(async (trx) => {
    await trx.raw(`set local maintenance_work_mem = '512MB'`);
    const defs = (
      await trx.raw<{ rows: Array<{ name: string; def: string }> }>(
        `select indexname as name, indexdef as def from pg_indexes
         where schemaname = 'tracker' and tablename = 'tarea' and indexname <> 'tarea_pkey'`,
      )
    ).rows;
    await step('dropIndexes', async () => {
      for (const d of defs) await trx.raw(`drop index tracker."${d.name}"`);
    });
    await step('insert', () => trx.raw(generationSql(n, now)));
    await step('createIndexes', async () => {
      for (const d of defs) await trx.raw(d.def);
    });
    await step('counters', () =>
      trx.raw(`insert into tracker.tarea_hourly_count (hour, estado, count)
               select date_trunc('hour', scheduled_at), estado, count(*) from tracker.tarea where version > 0
               group by 1, 2`),
    );
    await step('alumnoRefs', () =>
      trx.raw(`insert into tracker.alumno_ref (id, nombre, dni)
               select distinct on (alumno_id) alumno_id, alumno_nombre, alumno_dni from tracker.tarea
               where alumno_id is not null order by alumno_id`),
    );
  });
  await step('vacuumAnalyze', () => knex.raw(`vacuum analyze tracker.tarea`));
  return took;
}
