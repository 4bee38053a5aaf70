import { Migration } from '@lucy/platform';

/**
 * Search of ListTareas without scanning `tarea`: a trigram GIN index over the text a staff member may type
 * (alumno name, DNI and id, user, error text, task name, parameters). The expression must stay identical to
 * `TAREA_SEARCH_TEXT` in `src/db/tarea.repository.ts`, or the planner will not use the index.
 *
 * pg_trgm is a trusted extension (PostgreSQL 13+), so the database owner can create it.
 */
export class Migration20261128120000_search extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create extension if not exists pg_trgm`);
    this.addSql(
      `create index tarea_search_trgm_idx on tracker.tarea using gin ((
        coalesce(alumno_nombre, '') || ' ' || coalesce(alumno_dni, '') || ' ' || coalesce(alumno_id, '') || ' ' ||
        requested_by || ' ' || coalesce(mensaje_error, '') || ' ' || task_name || ' ' || coalesce(parametros::text, '')
      ) gin_trgm_ops)`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists tracker.tarea_search_trgm_idx`);
  }
}
