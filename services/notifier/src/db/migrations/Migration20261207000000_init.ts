import { Migration } from '@lucy/platform';
import { PLANTILLAS_POR_DEFECTO, TIPOS_EMAIL } from '../../domain/index.js';
import { tipoToDb } from '../tipo.js';

// Dollar quoting: the built-in HTML has quotes and braces, never this tag.
const q = (text: string): string => {
  if (text.includes('$lucy$')) throw new Error('template contains the quoting tag');
  return `$lucy$${text}$lucy$`;
};

/**
 * The notifier's schema `notify`: the current template of each kind, every version of it (version 1 is the
 * built-in default, seeded here), and one delivery record per e-mail (`entrega`, unique per Tarea: the record
 * checked before sending so that a redelivered command does not send twice).
 */
export class Migration20261207000000_init extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create schema if not exists notify`);
    this.addSql(`
      create table notify.plantilla (
        tipo varchar(20) primary key,
        version int not null,
        asunto text not null,
        cuerpo text not null,
        cuerpo_texto text not null default '',
        actualizada_en timestamptz not null default now(),
        actualizada_por varchar(150) not null
      )`);
    this.addSql(`
      create table notify.plantilla_version (
        tipo varchar(20) not null,
        version int not null,
        asunto text not null,
        cuerpo text not null,
        cuerpo_texto text not null default '',
        creada_en timestamptz not null default now(),
        creada_por varchar(150) not null,
        origen varchar(100) not null,
        primary key (tipo, version)
      )`);
    this.addSql(`
      create table notify.entrega (
        id uuid primary key,
        task_id varchar(64),
        tipo varchar(20) not null,
        alumno_id varchar(64) not null default '',
        destinatario varchar(320) not null default '',
        plantilla_version int,
        estado varchar(20) not null,
        message_id varchar(255) not null default '',
        respuesta_smtp text not null default '',
        error text not null default '',
        intentos int not null default 0,
        prueba boolean not null default false,
        creada_en timestamptz not null default now(),
        actualizada_en timestamptz not null default now(),
        enviada_en timestamptz,
        constraint entrega_estado_check check (estado in ('enviando', 'enviada', 'reintentando', 'fallida'))
      )`);
    this.addSql(`create unique index entrega_task_idx on notify.entrega (task_id) where task_id is not null`);
    this.addSql(`create index entrega_alumno_idx on notify.entrega (alumno_id, creada_en desc)`);
    this.addSql(`create index entrega_estado_idx on notify.entrega (estado, creada_en desc)`);
    this.addSql(`create index entrega_creada_idx on notify.entrega (creada_en desc)`);
    for (const tipo of TIPOS_EMAIL) {
      const p = PLANTILLAS_POR_DEFECTO[tipo];
      const t = q(tipoToDb(tipo));
      this.addSql(
        `insert into notify.plantilla (tipo, version, asunto, cuerpo, actualizada_por) values (${t}, 1, ${q(p.asunto)}, ${q(p.cuerpo)}, 'sistema')`,
      );
      this.addSql(
        `insert into notify.plantilla_version (tipo, version, asunto, cuerpo, creada_por, origen) values (${t}, 1, ${q(p.asunto)}, ${q(p.cuerpo)}, 'sistema', 'valores por defecto')`,
      );
    }
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists notify.entrega`);
    this.addSql(`drop table if exists notify.plantilla_version`);
    this.addSql(`drop table if exists notify.plantilla`);
  }
}
