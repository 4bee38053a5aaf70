/**
 * IngestService.ImportConfiguracion: the ingestion settings of pylucy's Configuración (windows, per-tipo flags,
 * checkpoints), adopted by `lucy adoptar pylucy`. Idempotent: a setting already equal is left alone, so a re-run
 * writes nothing. What Lucy Tasks decided since is never undone: a checkpoint never moves backwards (an ingestion
 * of Lucy's that already ran is later than pylucy's last), and once staff changed the configuration in Lucy Tasks
 * (the last change is not the adoption's) a differing value is reported and kept, not overwritten.
 */
import type { MessageInitShape } from '@bufbuild/protobuf';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import type { ServiceImpl } from '@connectrpc/connect';
import type { Knex } from '@mikro-orm/postgresql';
import { ValidationError, type FieldError } from '@lucy/platform';
import type { ImportedSettingSchema, IngestService } from '@lucy/proto';
import { TIPOS, validateWindow, type Tipo } from '../domain/index.js';
import {
  loadConfiguracion,
  updateConfiguracion,
  type Configuracion,
  type Ventana,
} from '../db/configuracion.repository.js';
import { tipoFromPb } from '../mapping.js';
import type { SialCredentialsView } from '../sial-credentials.js';
import { toConfiguracionPb } from './ingest.rpc.js';
import { checkCount, checkText, MAX_REQUESTED_BY } from './input-bounds.js';

/** How the adoption signs its changes (`requested_by` starts so); see {@link staffChanged}. */
export const ADOPTION_ACTOR_PREFIX = 'adopción de pylucy';

type SettingInit = MessageInitShape<typeof ImportedSettingSchema>;

/** Whether the configuration was last changed by staff (not the migration's seed, not an adoption). */
export function staffChanged(c: Configuracion): boolean {
  const by = c.actualizadoPor.trim();
  return by !== '' && by !== 'sistema' && !by.startsWith(ADOPTION_ACTOR_PREFIX);
}

const render = (v: Date | boolean | null): string =>
  v === null ? '' : typeof v === 'boolean' ? (v ? 'sí' : 'no') : v.toISOString();
const same = (a: Date | boolean | null, b: Date | boolean | null): boolean =>
  a instanceof Date || b instanceof Date
    ? (a instanceof Date ? a.getTime() : null) === (b instanceof Date ? b.getTime() : null)
    : a === b;

/** The ImportConfiguracion method. */
export function createImportConfiguracionRpc(deps: {
  knex: Knex;
  clock: () => Date;
  /** What the answer shows of the SIAL credentials in use; pylucy's are never imported (secrets stay behind). */
  sialView: () => SialCredentialsView;
}): Pick<ServiceImpl<typeof IngestService>, 'importConfiguracion'> {
  const { knex } = deps;
  return {
    async importConfiguracion(req) {
      const problems: FieldError[] = [];
      checkText(problems, 'requestedBy', req.requestedBy, MAX_REQUESTED_BY);
      if (!req.requestedBy.trim())
        problems.push({ field: 'requestedBy', message: 'Indique quién hace la importación.' });
      checkCount(problems, 'ventanas', req.ventanas.length, TIPOS.length);
      const seen = new Set<Tipo>();
      req.ventanas.forEach((v, i) => {
        const tipo = tipoFromPb(v.tipo);
        if (!tipo) problems.push({ field: `ventanas[${i}].tipo`, message: 'Tipo de ingesta desconocido.' });
        else if (seen.has(tipo))
          problems.push({
            field: `ventanas[${i}].tipo`,
            message: `La ventana de ${tipo} aparece más de una vez.`,
          });
        else seen.add(tipo);
      });
      if (problems.length > 0) throw new ValidationError(problems);

      const current = await loadConfiguracion(knex);
      const byStaff = staffChanged(current);
      const keptReason = `Lucy Tasks tiene otro valor, puesto por ${current.actualizadoPor} el ${current.actualizadoEn.toISOString()}: no se sobrescribe.`;
      const results: SettingInit[] = [];
      const columns: Record<string, unknown> = {};
      const after: Configuracion = {
        ...current,
        ventanas: Object.fromEntries(TIPOS.map((t) => [t, { ...current.ventanas[t] }])) as Record<
          Tipo,
          Ventana
        >,
      };

      for (const v of req.ventanas) {
        const tipo = tipoFromPb(v.tipo)!;
        const before = current.ventanas[tipo];
        const next = after.ventanas[tipo];
        const inicio = v.diaInicio ? timestampDate(v.diaInicio) : null;
        const fin = v.diaFin ? timestampDate(v.diaFin) : null;
        const invalid = validateWindow({ tipo, inicio, fin });
        if (invalid.length > 0) {
          for (const campo of [`${tipo}_dia_inicio`, `${tipo}_dia_fin`, `ultima_ingesta_${tipo}`])
            results.push({
              campo,
              antes: render(
                campo.endsWith('inicio')
                  ? before.diaInicio
                  : campo.endsWith('fin')
                    ? before.diaFin
                    : before.ultimaIngesta,
              ),
              despues: '',
              resultado: 'omitido',
              motivo: `La ventana de pylucy no es válida: ${invalid.map((e) => e.message).join(' ')}`,
            });
        }
        const settings: [string, keyof Ventana, Date | boolean | null][] = [
          ...(invalid.length === 0
            ? ([
                [`${tipo}_dia_inicio`, 'diaInicio', inicio],
                [`${tipo}_dia_fin`, 'diaFin', fin],
              ] as [string, keyof Ventana, Date | null][])
            : []),
          [`${tipo}_enviar_email`, 'enviarEmail', v.enviarEmail],
          [`${tipo}_activar_teams`, 'activarTeams', v.activarTeams],
          [`${tipo}_activar_moodle`, 'activarMoodle', v.activarMoodle],
        ];
        let windowChanged = false;
        let windowKept = invalid.length > 0;
        for (const [campo, key, value] of settings) {
          const old = before[key] as Date | boolean | null;
          if (same(old, value)) {
            results.push({
              campo,
              antes: render(old),
              despues: render(old),
              resultado: 'sin_cambios',
              motivo: '',
            });
            continue;
          }
          if (byStaff) {
            if (key === 'diaInicio' || key === 'diaFin') windowKept = true;
            results.push({
              campo,
              antes: render(old),
              despues: render(old),
              resultado: 'omitido',
              motivo: keptReason,
            });
            continue;
          }
          if (key === 'diaInicio' || key === 'diaFin') windowChanged = true;
          columns[campo] = value;
          (next as unknown as Record<string, unknown>)[key] = value;
          results.push({
            campo,
            antes: render(old),
            despues: render(value),
            resultado: 'actualizado',
            motivo: '',
          });
        }

        // The checkpoint belongs to pylucy's window: taken with it, never moved backwards.
        const campo = `ultima_ingesta_${tipo}`;
        const target = v.ultimaIngesta ? timestampDate(v.ultimaIngesta) : null;
        if (invalid.length > 0) continue;
        if (windowKept) {
          results.push({
            campo,
            antes: render(before.ultimaIngesta),
            despues: render(before.ultimaIngesta),
            resultado: 'omitido',
            motivo: 'Es el punto de control de la ventana de pylucy, y Lucy Tasks conserva otra ventana.',
          });
          continue;
        }
        // A new window starts from its beginning (as UpdateConfiguracion does), unless pylucy's checkpoint is taken.
        const effective = windowChanged ? null : before.ultimaIngesta;
        if (target && effective && effective.getTime() >= target.getTime()) {
          results.push({
            campo,
            antes: render(before.ultimaIngesta),
            despues: render(before.ultimaIngesta),
            resultado: 'sin_cambios',
            motivo:
              effective.getTime() > target.getTime()
                ? 'Lucy Tasks ya ingirió después del último punto de control de pylucy: no retrocede.'
                : '',
          });
          continue;
        }
        if (!target && !effective) {
          if (windowChanged && before.ultimaIngesta) columns[campo] = null;
          next.ultimaIngesta = null;
          results.push({
            campo,
            antes: render(before.ultimaIngesta),
            despues: '',
            resultado: windowChanged && before.ultimaIngesta ? 'actualizado' : 'sin_cambios',
            motivo: 'Sin punto de control: la primera ingesta pide desde el inicio de la ventana.',
          });
          continue;
        }
        if (!target) {
          results.push({
            campo,
            antes: render(before.ultimaIngesta),
            despues: render(before.ultimaIngesta),
            resultado: 'sin_cambios',
            motivo: 'pylucy no tiene punto de control; se conserva el de Lucy Tasks.',
          });
          continue;
        }
        columns[campo] = target;
        next.ultimaIngesta = target;
        results.push({
          campo,
          antes: render(before.ultimaIngesta),
          despues: render(target),
          resultado: 'actualizado',
          motivo: '',
        });
      }

      if (Object.keys(columns).length > 0) {
        after.actualizadoEn = deps.clock();
        after.actualizadoPor = req.requestedBy.trim();
        if (!req.dryRun)
          await updateConfiguracion(knex, {
            ...columns,
            actualizado_en: after.actualizadoEn,
            actualizado_por: after.actualizadoPor,
          });
      }
      return {
        results,
        configuracion: req.dryRun
          ? toConfiguracionPb(after, deps.sialView())
          : toConfiguracionPb(await loadConfiguracion(knex), deps.sialView()),
      };
    },
  };
}
