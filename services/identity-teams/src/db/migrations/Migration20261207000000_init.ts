import { Migration } from '@lucy/platform';

/**
 * The account records of identity-teams, in schema `identity`:
 * - `cuenta`: one row per alumno (UPN, Graph object id, licence, Moodle id, estado), with a lease so only one task
 *   works on an alumno at a time;
 * - `operacion`: the recorded state machine of each task (the steps already done), so a redelivered or retried
 *   command does only what is left;
 * - `credencial`: temporary passwords, sealed with the platform's secret box (AES-256-GCM, key id kept for
 *   rotation), each with the opaque reference the notifier resolves;
 * - `eliminacion`: the deletion history the mass-deletion hold counts, and the deletions it holds;
 * - `auditoria`: who revealed or resolved which credential;
 * - `rate_bucket`: the Graph write token bucket shared by every replica.
 */
export class Migration20261207000000_init extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create schema if not exists identity`);
    this.addSql(`
      create table identity.cuenta (
        alumno_id uuid primary key,
        dni varchar(32) not null,
        upn varchar(255) not null,
        graph_id varchar(64),
        licencia_sku varchar(100),
        licencia_asignada boolean not null default false,
        moodle_id bigint,
        moodle_username varchar(255),
        email_solicitado boolean not null default false,
        estado varchar(20) not null default 'pendiente',
        ultimo_error text,
        creada_en timestamptz,
        activada_en timestamptz,
        eliminada_en timestamptz,
        actualizada_en timestamptz not null default now(),
        lease_task uuid,
        lease_run varchar(64),
        lease_hasta timestamptz
      )`);
    this.addSql(`create index cuenta_upn_idx on identity.cuenta (lower(upn))`);
    this.addSql(`create index cuenta_estado_idx on identity.cuenta (estado, actualizada_en desc)`);
    this.addSql(`
      create table identity.operacion (
        task_id uuid primary key,
        alumno_id uuid not null,
        tipo varchar(20) not null,
        plan text[] not null,
        hechos text[] not null default '{}',
        credencial_id uuid,
        email_task_id uuid,
        creando boolean not null default false,
        completada_en timestamptz,
        creada_en timestamptz not null default now(),
        actualizada_en timestamptz not null default now()
      )`);
    this.addSql(`create index operacion_alumno_idx on identity.operacion (alumno_id)`);
    this.addSql(`
      create table identity.credencial (
        id uuid primary key,
        ref varchar(64) not null unique,
        alumno_id uuid not null,
        upn varchar(255) not null,
        sealed text not null,
        key_id varchar(32) not null,
        origen varchar(20) not null,
        task_id uuid not null,
        email_task_id uuid,
        en_uso boolean not null default false,
        generada_en timestamptz not null
      )`);
    this.addSql(`create index credencial_alumno_idx on identity.credencial (alumno_id, generada_en desc)`);
    this.addSql(`
      create table identity.eliminacion (
        id uuid primary key,
        task_id uuid not null unique,
        alumno_id uuid not null,
        upn varchar(255) not null,
        moodle_username varchar(255),
        estado varchar(20) not null,
        motivo text,
        requested_by varchar(150) not null,
        creada_en timestamptz not null,
        decidida_en timestamptz,
        decidida_por varchar(150),
        realizada_en timestamptz
      )`);
    this.addSql(`create index eliminacion_estado_idx on identity.eliminacion (estado, creada_en)`);
    this.addSql(`
      create table identity.auditoria (
        id uuid primary key,
        accion varchar(20) not null,
        alumno_id uuid not null,
        credencial_id uuid,
        upn varchar(255),
        usuario varchar(150) not null,
        motivo text,
        task_id uuid,
        ocurrida_en timestamptz not null
      )`);
    this.addSql(`create index auditoria_alumno_idx on identity.auditoria (alumno_id, ocurrida_en desc)`);
    this.addSql(`
      create table identity.rate_bucket (
        name varchar(100) primary key,
        tokens double precision not null,
        updated_ms bigint not null
      )`);
  }

  override async down(): Promise<void> {
    for (const t of ['rate_bucket', 'auditoria', 'eliminacion', 'credencial', 'operacion', 'cuenta']) {
      this.addSql(`drop table if exists identity.${t}`);
    }
  }
}
