import { Migration } from '@lucy/platform';

/**
 * `identity.cuenta.email_enviado_en`: when the relay accepted the account's last credentials (or new-password)
 * e-mail, from the notifier's `lucy.evt.notify.email_enviado`; `email_solicitado` only says it was asked for.
 */
export class Migration20261207080000_email_enviado extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table identity.cuenta add column if not exists email_enviado_en timestamptz`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table identity.cuenta drop column if exists email_enviado_en`);
  }
}
