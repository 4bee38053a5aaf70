import { Migration } from '@lucy/platform';

/**
 * Tareas, their timeline, the Log table and the dashboard counters of task-tracker, in schema `tracker`.
 * The counters are maintained by the projection in the same transaction as the rows, so the dashboard never
 * scans `tarea`.
 */
export class Migration20261128000000_init extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create schema if not exists tracker`);
    this.addSql(`
      create table tracker.tarea (
        id uuid primary key,
        tipo varchar(30),
        estado varchar(15) not null default 'pending',
        task_name varchar(255) not null default '',
        trigger varchar(20) not null default 'external',
        requested_by varchar(150) not null default '',
        alumno_id varchar(64),
        alumno_nombre varchar(255),
        alumno_dni varchar(32),
        subject varchar(255),
        scheduled_at timestamptz not null,
        started_at timestamptz,
        started_attempt int not null default 0,
        finished_at timestamptz,
        duration_ms bigint not null default 0,
        cantidad_entidades bigint not null default 0,
        detalles jsonb,
        mensaje_error text,
        error_code varchar(64),
        attempts int not null default 0,
        parent_id uuid,
        parametros jsonb,
        payload bytea,
        content_type varchar(64),
        last_heartbeat_at timestamptz,
        progress_done bigint not null default 0,
        progress_total bigint not null default 0,
        rank_attempt int not null default 0,
        rank_phase int not null default 0,
        command_seen boolean not null default false,
        -- 0 while a row is only a placeholder inserted to lock a task id inside a projection transaction.
        version int not null default 0,
        updated_at timestamptz not null default now()
      )`);
    // ListTareas: keyset on (scheduled_at, id), alone or after one equality filter.
    this.addSql(`create index tarea_scheduled_idx on tracker.tarea (scheduled_at desc, id desc)`);
    this.addSql(
      `create index tarea_estado_scheduled_idx on tracker.tarea (estado, scheduled_at desc, id desc)`,
    );
    this.addSql(`create index tarea_tipo_scheduled_idx on tracker.tarea (tipo, scheduled_at desc, id desc)`);
    this.addSql(
      `create index tarea_alumno_scheduled_idx on tracker.tarea (alumno_id, scheduled_at desc) where alumno_id is not null`,
    );
    this.addSql(
      `create index tarea_requested_by_scheduled_idx on tracker.tarea (requested_by, scheduled_at desc)`,
    );
    this.addSql(`create index tarea_task_name_scheduled_idx on tracker.tarea (task_name, scheduled_at desc)`);
    this.addSql(`create index tarea_parent_idx on tracker.tarea (parent_id) where parent_id is not null`);
    // The stuck sweep reads only running rows.
    this.addSql(
      `create index tarea_running_activity_idx on tracker.tarea ((coalesce(last_heartbeat_at, started_at, scheduled_at))) where estado = 'running'`,
    );

    this.addSql(`
      create table tracker.tarea_event (
        id bigserial primary key,
        task_id uuid not null references tracker.tarea (id) on delete cascade,
        kind varchar(20) not null,
        attempt int not null default 0,
        -- 0 for one-per-attempt facts; the stream sequence for progress reports.
        seq bigint not null default 0,
        occurred_at timestamptz not null,
        message text not null default '',
        constraint tarea_event_once unique (task_id, kind, attempt, seq)
      )`);

    this.addSql(`
      create table tracker.log (
        id uuid primary key,
        level varchar(10) not null default 'INFO',
        module varchar(100) not null default '',
        message text not null default '',
        detalles jsonb,
        alumno_id varchar(64),
        usuario varchar(150),
        task_id uuid,
        occurred_at timestamptz not null
      )`);
    this.addSql(`create index log_occurred_idx on tracker.log (occurred_at desc, id desc)`);
    this.addSql(`create index log_level_occurred_idx on tracker.log (level, occurred_at desc)`);
    this.addSql(`create index log_module_occurred_idx on tracker.log (module, occurred_at desc)`);
    this.addSql(`create index log_task_idx on tracker.log (task_id, occurred_at) where task_id is not null`);
    this.addSql(
      `create index log_alumno_idx on tracker.log (alumno_id, occurred_at desc) where alumno_id is not null`,
    );

    // Count of Tareas per hour of scheduled_at (UTC) and current estado: pendientes/ejecutando, the 24 h
    // figures and the 14-day chart are sums over a few hundred rows of this table.
    this.addSql(`
      create table tracker.tarea_hourly_count (
        hour timestamptz not null,
        estado varchar(15) not null,
        count bigint not null default 0,
        primary key (hour, estado)
      )`);
    this.addSql(`create index tarea_hourly_count_estado_idx on tracker.tarea_hourly_count (estado, hour)`);

    // Names and DNIs of alumnos from their events, so Tareas can be searched by them without asking ingest-sial.
    this.addSql(`
      create table tracker.alumno_ref (
        id varchar(64) primary key,
        nombre varchar(255) not null default '',
        dni varchar(32) not null default '',
        updated_at timestamptz not null default now()
      )`);
    this.addSql(`create index alumno_ref_dni_idx on tracker.alumno_ref (dni)`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists tracker.alumno_ref`);
    this.addSql(`drop table if exists tracker.tarea_hourly_count`);
    this.addSql(`drop table if exists tracker.log`);
    this.addSql(`drop table if exists tracker.tarea_event`);
    this.addSql(`drop table if exists tracker.tarea`);
  }
}
