import { Migration } from '@lucy/platform';

/**
 * Issue 13. The SMTP AUTH credentials staff may replace from the admin's Configuración (write-only): one row, the
 * user in clear and the password sealed with the secret box, bound to this table, row and field
 * (`notify.configuracion:1:smtp_password`). Null columns mean "the deployment's SMTP_USER/SMTP_PASSWORD".
 */
export class Migration20261207160000_configuracion extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table if not exists notify.configuracion (
      id smallint primary key default 1 check (id = 1),
      smtp_usuario varchar(200),
      smtp_password_sealed text,
      actualizado_en timestamptz not null default now(),
      actualizado_por varchar(200) not null default '',
      constraint configuracion_smtp_juntas check ((smtp_usuario is null) = (smtp_password_sealed is null))
    )`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists notify.configuracion`);
  }
}
