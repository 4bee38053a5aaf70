import { Migration } from '@lucy/platform';

/**
 * A claimed slot the next leader decides not to republish (its policy skips or coalesces it, or the task was
 * disabled) is recorded as missed: `missed_at` and the decision. A `fired_slot` row is then either confirmed
 * (`fired_at`), missed (`missed_at`), or being fired by the current leader — never left half-done.
 */
export class Migration20261207090000_missed_slot extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table scheduler.fired_slot add column if not exists missed_at timestamptz`);
    this.addSql(
      `alter table scheduler.fired_slot add column if not exists missed_decision varchar(16)
         check (missed_decision in ('skipped', 'coalesced', 'capped', 'disabled', 'rescheduled'))`,
    );
    // The takeover reads the unresolved claims of every task: a partial index keeps that read to those rows.
    this.addSql(
      `create index if not exists fired_slot_unresolved_idx on scheduler.fired_slot (periodic_task_id, due_at)
         where fired_at is null and missed_at is null`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists scheduler.fired_slot_unresolved_idx`);
    this.addSql(`alter table scheduler.fired_slot drop column if exists missed_decision`);
    this.addSql(`alter table scheduler.fired_slot drop column if exists missed_at`);
  }
}
