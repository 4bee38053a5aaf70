import { Migration } from '@lucy/platform';

/**
 * Issue 14. `trace_id`: the W3C trace id of the command that created a Tarea (and of the event a Log came with), so
 * everything one click caused is found with ListTareas by trace id. Partial indexes: rows without a trace (older
 * rows, messages from systems that send none) cost nothing.
 */
export class Migration20261207060000_trace extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table tracker.tarea add column if not exists trace_id text`);
    this.addSql(`alter table tracker.log add column if not exists trace_id text`);
    this.addSql(
      `create index if not exists tarea_trace_idx on tracker.tarea (trace_id, scheduled_at desc, id desc) where trace_id is not null`,
    );
    this.addSql(
      `create index if not exists log_trace_idx on tracker.log (trace_id) where trace_id is not null`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists tracker.log_trace_idx`);
    this.addSql(`drop index if exists tracker.tarea_trace_idx`);
    this.addSql(`alter table tracker.log drop column if exists trace_id`);
    this.addSql(`alter table tracker.tarea drop column if exists trace_id`);
  }
}
