import { Migration } from '@lucy/platform';

/**
 * The django-celery-beat tables of the scheduler (schema `scheduler`), plus `fired_slot`, the durable record of
 * each (periodic task, due time) fired: its primary key is the backstop against double firing when JetStream's
 * dedup window (10 min) is not enough, and `fired_at` null marks a slot claimed but not yet confirmed published,
 * which the next leader republishes with the same task id and `Nats-Msg-Id`.
 */
export class Migration20261128120000_init extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create schema if not exists scheduler`);
    this.addSql(`
      create table scheduler.interval_schedule (
        id uuid primary key,
        every bigint not null check (every > 0),
        period varchar(16) not null check (period in ('days', 'hours', 'minutes', 'seconds', 'microseconds')),
        created_at timestamptz not null default now()
      )`);
    this.addSql(`
      create table scheduler.crontab_schedule (
        id uuid primary key,
        minute varchar(240) not null default '*',
        hour varchar(96) not null default '*',
        day_of_week varchar(64) not null default '*',
        day_of_month varchar(124) not null default '*',
        month_of_year varchar(64) not null default '*',
        timezone varchar(63) not null default 'America/Argentina/Cordoba',
        created_at timestamptz not null default now()
      )`);
    this.addSql(`
      create table scheduler.solar_schedule (
        id uuid primary key,
        event varchar(24) not null,
        latitude double precision not null check (latitude between -90 and 90),
        longitude double precision not null check (longitude between -180 and 180),
        created_at timestamptz not null default now()
      )`);
    this.addSql(`
      create table scheduler.clocked_schedule (
        id uuid primary key,
        clocked_time timestamptz not null,
        created_at timestamptz not null default now()
      )`);
    this.addSql(`
      create table scheduler.periodic_task (
        id uuid primary key,
        name varchar(200) not null,
        task varchar(200) not null,
        args jsonb not null default '[]',
        kwargs jsonb not null default '{}',
        enabled boolean not null default true,
        one_off boolean not null default false,
        start_time timestamptz,
        expires timestamptz,
        description text not null default '',
        last_run_at timestamptz,
        total_run_count bigint not null default 0 check (total_run_count >= 0),
        date_changed timestamptz not null default now(),
        interval_id uuid references scheduler.interval_schedule (id) on delete restrict,
        crontab_id uuid references scheduler.crontab_schedule (id) on delete restrict,
        solar_id uuid references scheduler.solar_schedule (id) on delete restrict,
        clocked_id uuid references scheduler.clocked_schedule (id) on delete restrict,
        missed_run_policy varchar(10) not null default 'run_once'
          check (missed_run_policy in ('skip', 'run_once', 'run_all')),
        missed_run_cap int not null default 10 check (missed_run_cap between 1 and 1000),
        created_at timestamptz not null default now(),
        constraint periodic_task_name_key unique (name),
        -- django-celery-beat's rule: exactly one schedule kind.
        constraint periodic_task_one_schedule check (num_nonnulls(interval_id, crontab_id, solar_id, clocked_id) = 1),
        constraint periodic_task_expires_after_start check (expires is null or start_time is null or expires > start_time)
      )`);
    this.addSql(
      `create index periodic_task_interval_idx on scheduler.periodic_task (interval_id) where interval_id is not null`,
    );
    this.addSql(
      `create index periodic_task_crontab_idx on scheduler.periodic_task (crontab_id) where crontab_id is not null`,
    );
    this.addSql(
      `create index periodic_task_solar_idx on scheduler.periodic_task (solar_id) where solar_id is not null`,
    );
    this.addSql(
      `create index periodic_task_clocked_idx on scheduler.periodic_task (clocked_id) where clocked_id is not null`,
    );
    this.addSql(`create index periodic_task_task_idx on scheduler.periodic_task (task)`);
    this.addSql(`
      create table scheduler.fired_slot (
        periodic_task_id uuid not null references scheduler.periodic_task (id) on delete cascade,
        due_at timestamptz not null,
        -- Lucy-Task-Id of the published command; kept so a republish after a crash reuses it.
        task_id uuid not null,
        -- KV revision of the leader lease that claimed the slot; a newer leader may take over an unconfirmed one.
        fencing_token bigint not null,
        claimed_at timestamptz not null default now(),
        fired_at timestamptz,
        primary key (periodic_task_id, due_at)
      )`);
    // Marks one-time actions (the default periodic tasks) so they run once per database, not once per start.
    this.addSql(`
      create table scheduler.seed_marker (
        name varchar(64) primary key,
        applied_at timestamptz not null default now()
      )`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists scheduler.seed_marker`);
    this.addSql(`drop table if exists scheduler.fired_slot`);
    this.addSql(`drop table if exists scheduler.periodic_task`);
    this.addSql(`drop table if exists scheduler.clocked_schedule`);
    this.addSql(`drop table if exists scheduler.solar_schedule`);
    this.addSql(`drop table if exists scheduler.crontab_schedule`);
    this.addSql(`drop table if exists scheduler.interval_schedule`);
  }
}
