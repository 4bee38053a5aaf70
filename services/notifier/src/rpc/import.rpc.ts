/**
 * NotifierService.ImportPlantillas: the e-mail subjects and templates of pylucy's Configuración, adopted by
 * `lucy adoptar pylucy` as new template versions attributed to the adoption (origen «adopción de pylucy»). A
 * template using a variable its kind of e-mail does not offer, or one the notifier's validation refuses, is
 * reported and left alone — never rewritten. Idempotent: a template equal to the current version, or to a version
 * an earlier adoption already stored, creates nothing (a later edit by staff is never overwritten by a re-run).
 */
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { ServiceImpl } from '@connectrpc/connect';
import type { Knex } from '@mikro-orm/postgresql';
import { ValidationError, type FieldError } from '@lucy/platform';
import type { ImportPlantillaResultSchema, NotifierService } from '@lucy/proto';
import {
  isTipoEmailConocido,
  nombreTipoEmail,
  parseTemplate,
  prepararPlantilla,
  variablesDe,
  variablesOf,
  type TipoEmailConocido,
} from '../domain/index.js';
import { guardarVersion, listVersiones, loadPlantilla, tipoToDb, type PlantillaCache } from '../db/index.js';

/** The `origen` of a version stored by the adoption. */
export const ADOPTION_ORIGIN = 'adopción de pylucy';

type ResultInit = MessageInitShape<typeof ImportPlantillaResultSchema>;

/** Dependencies of {@link createImportPlantillasRpc}. */
export interface ImportPlantillasDeps {
  knex: Knex;
  clock: () => Date;
  plantillas?: PlantillaCache;
}

/** Variables a template uses that its kind does not offer (syntax problems are left to the validation). */
export function unknownVariables(tipo: TipoEmailConocido, ...templates: string[]): string[] {
  const offered = new Set(variablesDe(tipo).map((v) => v.name as string));
  const used = new Set(templates.flatMap((t) => variablesOf(parseTemplate(t))));
  return [...used].filter((v) => !offered.has(v));
}

/** The ImportPlantillas method. */
export function createImportPlantillasRpc(
  deps: ImportPlantillasDeps,
): Pick<ServiceImpl<typeof NotifierService>, 'importPlantillas'> {
  const { knex, clock } = deps;
  return {
    async importPlantillas(req) {
      const por = req.requestedBy.trim().slice(0, 150);
      const problems: FieldError[] = [];
      if (!por) problems.push({ field: 'requested_by', message: 'indique quién hace la importación.' });
      const seen = new Set<number>();
      req.plantillas.forEach((p, i) => {
        if (!isTipoEmailConocido(p.tipo))
          problems.push({ field: `plantillas[${i}].tipo`, message: 'tipo de e-mail desconocido.' });
        else if (seen.has(p.tipo))
          problems.push({
            field: `plantillas[${i}].tipo`,
            message: 'el tipo de e-mail aparece más de una vez.',
          });
        seen.add(p.tipo);
      });
      if (problems.length > 0) throw new ValidationError(problems);

      const results: ResultInit[] = [];
      for (const p of req.plantillas) {
        // Checked and stored under the kind's row lock: a run killed mid-call (whose call the notifier finishes)
        // and the next run cannot both find the template new and store it twice.
        const result = await knex.transaction(async (trx) => {
          if (!req.dryRun)
            await trx.raw('select 1 from notify.plantilla where tipo = ? for update', [
              tipoToDb(p.tipo as TipoEmailConocido),
            ]);
          return importOne(trx, p);
        });
        // Told once committed, so the worker's cache cannot reload the previous version in between.
        if (result.version) deps.plantillas?.forget(p.tipo as TipoEmailConocido);
        results.push(result);
      }
      return { results };

      async function importOne(trx: Knex, p: (typeof req.plantillas)[number]): Promise<ResultInit> {
        const tipo = p.tipo as TipoEmailConocido;
        const nombre = nombreTipoEmail(tipo);
        const current = await loadPlantilla(trx, tipo);
        const asunto = p.asunto.trim() ? p.asunto : (current?.asunto ?? '');
        const cuerpo = p.cuerpo.trim() ? p.cuerpo : (current?.cuerpo ?? '');
        const unknown = unknownVariables(tipo, asunto, cuerpo);
        if (unknown.length > 0) {
          return {
            tipo,
            resultado: 'omitida',
            motivo: `usa variables que el correo «${nombre}» no ofrece (${unknown.map((u) => `{${u}}`).join(', ')}): no se importa ni se cambia sola; adáptela en el admin (Plantillas).`,
            variablesDesconocidas: unknown,
          };
        }
        let prepared;
        try {
          // The stored plain-text part is kept: pylucy had none (it sent the rendered text as both parts).
          prepared = prepararPlantilla({ tipo, asunto, cuerpo, cuerpoTexto: current?.cuerpoTexto ?? '' });
        } catch (err) {
          if (!(err instanceof ValidationError)) throw err;
          return {
            tipo,
            resultado: 'omitida',
            motivo: `el notifier la rechaza: ${err.fields.map((f) => f.message).join('; ')}. No se importa; corríjala en el admin (Plantillas).`,
          };
        }
        const same = (v: { asunto: string; cuerpo: string; cuerpoTexto: string }) =>
          v.asunto === prepared.asunto &&
          v.cuerpo === prepared.cuerpo &&
          v.cuerpoTexto === prepared.cuerpoTexto;
        const avisos = prepared.avisos.length ? ` Al guardarla: ${prepared.avisos.join('; ')}.` : '';
        if (current && same(current)) {
          return {
            tipo,
            resultado: 'sin_cambios',
            motivo: `igual a la versión actual (${current.version}).`,
          };
        }
        const adopted = (await listVersiones(trx, tipo)).find((v) => v.origen === ADOPTION_ORIGIN && same(v));
        if (adopted) {
          return {
            tipo,
            resultado: 'sin_cambios',
            motivo: `ya importada como versión ${adopted.version}; la actual (${current?.version ?? '—'}) es un cambio posterior hecho en Lucy Tasks y se conserva.`,
          };
        }
        if (req.dryRun) {
          return {
            tipo,
            resultado: 'creada',
            motivo: `nueva versión sobre la ${current?.version ?? '—'}.${avisos}`,
          };
        }
        const saved = await guardarVersion(trx, {
          tipo,
          asunto: prepared.asunto,
          cuerpo: prepared.cuerpo,
          cuerpoTexto: prepared.cuerpoTexto,
          por,
          origen: ADOPTION_ORIGIN,
          ahora: clock(),
        });
        return {
          tipo,
          resultado: 'creada',
          version: saved.version,
          motivo: `versión ${saved.version} (la anterior, ${current?.version ?? '—'}, se puede restaurar).${avisos}`,
        };
      }
    },
  };
}
