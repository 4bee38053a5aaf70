import { Migration } from '@lucy/platform';

/**
 * Issue 13. The SIAL HTTP Basic credentials staff may replace from the admin's Configuración: the user in clear and
 * the password sealed with the secret box (`v2:<kid>:…`, bound to `ingest.configuracion:1:sial_password`), set
 * together; null means the deployment's SIAL_USER/SIAL_PASSWORD. Additive: the previous image ignores them.
 */
export class Migration20261207160000_sial_credenciales extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table ingest.configuracion add column if not exists sial_usuario varchar(200)`);
    this.addSql(`alter table ingest.configuracion add column if not exists sial_password_sealed text`);
    this.addSql(`
      alter table ingest.configuracion add constraint configuracion_sial_credenciales_juntas
        check ((sial_usuario is null) = (sial_password_sealed is null))`);
  }

  override async down(): Promise<void> {
    this.addSql(
      `alter table ingest.configuracion drop constraint if exists configuracion_sial_credenciales_juntas`,
    );
    this.addSql(`alter table ingest.configuracion drop column if exists sial_password_sealed`);
    this.addSql(`alter table ingest.configuracion drop column if exists sial_usuario`);
  }
}
