import { Migration } from '@lucy/platform';

/**
 * Issue 19. An account adopted from pylucy: `adoptada_de` (the system it came from, `pylucy`), `adoptada_en` (when)
 * and `adopcion` (what pylucy had done: teams, moodle, email, and when). A record Lucy created itself has none.
 */
export class Migration20261207120000_adopcion extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table identity.cuenta add column if not exists adoptada_de varchar(20)`);
    this.addSql(`alter table identity.cuenta add column if not exists adoptada_en timestamptz`);
    this.addSql(`alter table identity.cuenta add column if not exists adopcion jsonb`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table identity.cuenta drop column if exists adopcion`);
    this.addSql(`alter table identity.cuenta drop column if exists adoptada_en`);
    this.addSql(`alter table identity.cuenta drop column if exists adoptada_de`);
  }
}
