/**
 * AlumnoService.ListCarreras: the carreras present among the stored alumnos (id, its first non-empty name, how many
 * alumnos), for the admin's carrera filter. SIAL sends `id_carrera` as a number or as a string; both count as one.
 */
import type { ServiceImpl } from '@connectrpc/connect';
import type { Knex } from '@mikro-orm/postgresql';
import type { AlumnoService } from '@lucy/proto';

/** More carreras than a select should offer are cut (a faculty has a few dozen). */
const MAX_CARRERAS = 1000;

export function createCarrerasRpc(deps: {
  knex: Knex;
}): Pick<ServiceImpl<typeof AlumnoService>, 'listCarreras'> {
  return {
    async listCarreras() {
      const { rows } = await deps.knex.raw<{ rows: { id: string; nombre: string; alumnos: string }[] }>(
        `with c as (
           select (e->>'id_carrera') as id, coalesce(e->>'nombre_carrera', '') as nombre, a.id as alumno
             from ingest.alumno a, jsonb_array_elements(
               case when jsonb_typeof(a.carreras) = 'array' then a.carreras else '[]'::jsonb end) e
            where (e->>'id_carrera') ~ '^[0-9]{1,15}$'
         )
         select id::bigint as id,
                (array_agg(nombre order by nombre = '', nombre))[1] as nombre,
                count(distinct alumno) as alumnos
           from c group by id::bigint order by 1 limit ?`,
        [MAX_CARRERAS],
      );
      // By name as staff read it (Spanish collation, whatever the database's), then by id.
      rows.sort((x, y) => x.nombre.localeCompare(y.nombre, 'es') || Number(BigInt(x.id) - BigInt(y.id)));
      return {
        carreras: rows.map((r) => ({
          idCarrera: BigInt(r.id),
          nombreCarrera: r.nombre,
          alumnos: BigInt(r.alumnos),
        })),
      };
    },
  };
}
