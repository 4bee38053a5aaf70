import { Migration } from '@lucy/platform';

/**
 * The Alumno registry and the ingestion configuration of ingest-sial, in schema `ingest`.
 * `alumno.fingerprints` maps tipo → list fingerprint (see domain/fingerprint.ts); it is written only after the
 * record was saved with its personal data.
 */
export class Migration20261128000000_init extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create schema if not exists ingest`);
    this.addSql(`
      create table ingest.alumno (
        id uuid primary key,
        tipo_documento varchar(20) not null,
        dni varchar(32) not null,
        nombre varchar(255),
        apellido varchar(255),
        email_personal varchar(255),
        email_institucional varchar(255),
        fecha_nacimiento date,
        cohorte int,
        localidad varchar(255),
        telefono varchar(100),
        estado varchar(20) not null,
        fecha_ingreso date,
        estado_ingreso varchar(100),
        modalidad varchar(2),
        carreras jsonb,
        teams_procesado boolean not null default false,
        moodle_procesado boolean not null default false,
        email_procesado boolean not null default false,
        fingerprints jsonb not null default '{}'::jsonb,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        constraint alumno_documento_unique unique (tipo_documento, dni)
      )`);
    this.addSql(`create index alumno_apellido_nombre_idx on ingest.alumno (apellido, nombre, id)`);
    this.addSql(`create index alumno_estado_idx on ingest.alumno (estado)`);
    this.addSql(`create index alumno_cohorte_idx on ingest.alumno (cohorte)`);
    this.addSql(`create index alumno_dni_idx on ingest.alumno (dni)`);
    this.addSql(`create index alumno_email_personal_idx on ingest.alumno (lower(email_personal))`);
    this.addSql(`create index alumno_email_institucional_idx on ingest.alumno (lower(email_institucional))`);
    this.addSql(`create index alumno_carreras_idx on ingest.alumno using gin (carreras jsonb_path_ops)`);
    this.addSql(`
      create table ingest.configuracion (
        id int primary key default 1 check (id = 1),
        preinscriptos_dia_inicio timestamptz,
        preinscriptos_dia_fin timestamptz,
        preinscriptos_enviar_email boolean not null default false,
        preinscriptos_activar_teams boolean not null default false,
        preinscriptos_activar_moodle boolean not null default false,
        ultima_ingesta_preinscriptos timestamptz,
        ultima_cantidad_preinscriptos int not null default 0,
        aspirantes_dia_inicio timestamptz,
        aspirantes_dia_fin timestamptz,
        aspirantes_enviar_email boolean not null default false,
        aspirantes_activar_teams boolean not null default false,
        aspirantes_activar_moodle boolean not null default false,
        ultima_ingesta_aspirantes timestamptz,
        ultima_cantidad_aspirantes int not null default 0,
        ingresantes_dia_inicio timestamptz,
        ingresantes_dia_fin timestamptz,
        ingresantes_enviar_email boolean not null default false,
        ingresantes_activar_teams boolean not null default false,
        ingresantes_activar_moodle boolean not null default false,
        ultima_ingesta_ingresantes timestamptz,
        ultima_cantidad_ingresantes int not null default 0,
        sial_requests_por_segundo double precision not null default 0,
        sial_concurrencia int not null default 16,
        actualizado_en timestamptz not null default now(),
        actualizado_por varchar(150) not null default 'sistema'
      )`);
    this.addSql(`insert into ingest.configuracion (id) values (1)`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists ingest.configuracion`);
    this.addSql(`drop table if exists ingest.alumno`);
  }
}
