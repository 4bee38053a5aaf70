import { Migration } from '@lucy/platform';

/**
 * The search index of ListTareas, narrowed to what the seed says staff search by ("Por ID, alumno, usuario,
 * error"): the alumno's name and DNI, the requesting user, the error text, and the UPN, Moodle user or pylucy id
 * a command or an imported Tarea names. The first index also held the alumno id, the task name and the whole
 * parameters as JSON text — 140 trigrams for a typical row, each one a GIN entry written on every insert and every
 * non-HOT update of a Tarea. It was three quarters of the database's work in a bulk import (200,000 Tareas as
 * ImportHistorial writes them: 27.4 s with it, 5.3 s without any search index, 10.1 s with these two).
 *
 * What the narrower text no longer holds is found otherwise (see `searchClause` in `src/rpc/task.rpc.ts`): an id or
 * an alumno id by equality (the primary key and `tarea_alumno_scheduled_idx`), a Tarea id by its first hex digits
 * (a range of the primary key) or by its last ones, as the admin shows it (`tarea_id_suffix_idx`, one btree entry
 * a row), a task by its name or tipo with the list's own filters.
 *
 * The expression must stay identical to `TAREA_SEARCH_TEXT` in `src/db/tarea.repository.ts`, or the planner will
 * not use the index (`test/search.test.ts` checks the plan).
 */
export class Migration20261208000000_search_narrow extends Migration {
  override async up(): Promise<void> {
    this.addSql(`drop index if exists tracker.tarea_search_trgm_idx`);
    this.addSql(
      `create index if not exists tarea_busqueda_trgm_idx on tracker.tarea using gin ((
        coalesce(alumno_nombre, '') || ' ' || coalesce(alumno_dni, '') || ' ' || requested_by || ' ' ||
        coalesce(mensaje_error, '') || ' ' || coalesce(parametros->>'upn', '') || ' ' ||
        coalesce(parametros->>'moodleUsername', '') || ' ' || coalesce(parametros->>'id_original', '')
      ) gin_trgm_ops)`,
    );
    // The end of an id, as the admin shows it (its last 8 or 12 hex digits; the random part of a UUIDv7).
    this.addSql(
      `create index if not exists tarea_id_suffix_idx on tracker.tarea (reverse(id::text) text_pattern_ops)`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists tracker.tarea_id_suffix_idx`);
    this.addSql(`drop index if exists tracker.tarea_busqueda_trgm_idx`);
    this.addSql(
      `create index if not exists tarea_search_trgm_idx on tracker.tarea using gin ((
        coalesce(alumno_nombre, '') || ' ' || coalesce(alumno_dni, '') || ' ' || coalesce(alumno_id, '') || ' ' ||
        requested_by || ' ' || coalesce(mensaje_error, '') || ' ' || task_name || ' ' || coalesce(parametros::text, '')
      ) gin_trgm_ops)`,
    );
  }
}
