import { Migration } from '@mikro-orm/migrations';

/** Staff accounts, sessions, login attempts and the audit trail of the admin, in schema `web`. */
export class Migration20261207000000_init extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create schema if not exists web`);
    this.addSql(`
      create table web.staff_user (
        id uuid primary key,
        username varchar(150) not null unique,
        nombre varchar(255) not null default '',
        role varchar(20) not null check (role in ('admin', 'operador', 'lector')),
        password_hash varchar(255) not null,
        disabled boolean not null default false,
        created_at timestamptz not null,
        updated_at timestamptz not null,
        password_changed_at timestamptz not null
      )`);
    this.addSql(`
      create table web.staff_session (
        id_hash varchar(64) primary key,
        user_id uuid not null references web.staff_user (id) on delete cascade,
        created_at timestamptz not null,
        last_seen_at timestamptz not null,
        ip varchar(64) not null default '',
        user_agent varchar(512) not null default ''
      )`);
    this.addSql(`create index staff_session_user_idx on web.staff_session (user_id)`);
    this.addSql(`
      create table web.login_attempt (
        id uuid primary key,
        username varchar(150) not null,
        ip varchar(64) not null,
        at timestamptz not null,
        success boolean not null
      )`);
    this.addSql(`create index login_attempt_username_idx on web.login_attempt (username, at)`);
    this.addSql(`create index login_attempt_ip_idx on web.login_attempt (ip, at)`);
    this.addSql(`
      create table web.audit_entry (
        id uuid primary key,
        at timestamptz not null,
        actor varchar(150) not null,
        ip varchar(64) not null default '',
        action varchar(64) not null,
        target varchar(255) not null default '',
        detalles jsonb
      )`);
    this.addSql(`create index audit_entry_at_idx on web.audit_entry (at desc, id desc)`);
    this.addSql(`create index audit_entry_actor_idx on web.audit_entry (actor, at desc)`);
  }
}
