import { Migration } from '@lucy/platform';

/**
 * Issue 24. `progress_at`: when the progress shown was reported, so the latest report of the current attempt wins
 * whatever the arrival order. `tarea_finished_idx`: the dashboard's "completadas/fallidas (24 h)" count the Tareas
 * that finished within exactly the last 24 h, by finish time, with an index-only scan of that window (the hourly
 * counters are by publication hour, which cannot make that edge exact).
 */
export class Migration20261207000000_exact extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table tracker.tarea add column if not exists progress_at timestamptz`);
    this.addSql(
      `create index if not exists tarea_finished_idx on tracker.tarea (finished_at, estado) where estado in ('completed', 'failed')`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists tracker.tarea_finished_idx`);
    this.addSql(`alter table tracker.tarea drop column if exists progress_at`);
  }
}
