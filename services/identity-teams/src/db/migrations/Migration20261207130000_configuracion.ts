import { Migration } from '@lucy/platform';

/**
 * Issue 13. The identity settings staff own from the admin's Configuración: the batch limit, the UPN prefix and the
 * Moodle web-service token (sealed with the secret box, bound to this row and field). One row; a null column means
 * "the deployment's value" (IDENTITY_BATCH_LIMIT, IDENTITY_UPN_PREFIX, MOODLE_TOKEN).
 */
export class Migration20261207130000_configuracion extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create table if not exists identity.configuracion (
      id smallint primary key default 1 check (id = 1),
      lote_maximo integer check (lote_maximo between 1 and 500),
      prefijo_upn varchar(20),
      moodle_token_sealed text,
      actualizado_en timestamptz not null default now(),
      actualizado_por varchar(200) not null default ''
    )`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists identity.configuracion`);
  }
}
