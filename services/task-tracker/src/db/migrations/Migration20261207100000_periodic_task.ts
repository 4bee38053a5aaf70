import { Migration } from '@lucy/platform';

/**
 * Issue 18. `periodic_task`: the name of the periodic task whose schedule fired a Tarea (the command's
 * `Lucy-Periodic-Task` header), so the list and the detail tell manual from scheduled runs, and which schedule.
 */
export class Migration20261207100000_periodic_task extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table tracker.tarea add column if not exists periodic_task text`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table tracker.tarea drop column if exists periodic_task`);
  }
}
