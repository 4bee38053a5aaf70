import { Migration } from '@lucy/platform';

/**
 * Issue 13. The Graph client secret staff may replace from the admin's Configuración (write-only), sealed with the
 * secret box and bound to this row and field; null means the deployment's GRAPH_CLIENT_SECRET.
 */
export class Migration20261207150000_graph_secret extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      `alter table identity.configuracion add column if not exists graph_client_secret_sealed text`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`alter table identity.configuracion drop column if exists graph_client_secret_sealed`);
  }
}
