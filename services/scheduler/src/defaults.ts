import { uuidv7 } from '@lucy/platform';
import type { SchedulerRepository } from './db/index.js';

/** Marker of the defaults in `scheduler.seed_marker`: applied once per database, so staff may delete them. */
export const DEFAULTS_MARKER = 'defaults-v1';

/** Marker of the nightly reconciliations, added after `defaults-v1`, so databases seeded before get them too. */
export const RECONCILIATION_MARKER = 'reconciliacion-v1';

const INGESTIONS = [
  ['preinscriptos', 'alumnos.tasks.ingestar_preinscriptos'],
  ['aspirantes', 'alumnos.tasks.ingestar_aspirantes'],
  ['ingresantes', 'alumnos.tasks.ingestar_ingresantes'],
] as const;

const cordoba = {
  dayOfWeek: '*',
  dayOfMonth: '*',
  monthOfYear: '*',
  timezone: 'America/Argentina/Cordoba',
};

/**
 * Creates the default periodic tasks on first start: the three SIAL ingestions on the spec's "Ejemplos de
 * Configuración" 1–3 (preinscriptos every hour, aspirantes daily at 02:00, ingresantes every 30 minutes Monday to
 * Friday; disabled until staff enable them), the daily retention cleanup at 04:00 (enabled), and the nightly
 * reconciliations ({@link applyReconciliationDefaults}). Idempotent and safe with several replicas starting at
 * once. Returns whether the first defaults were created now.
 */
export async function applyDefaults(repo: SchedulerRepository, now: Date): Promise<boolean> {
  const created = await repo.once(DEFAULTS_MARKER, async (tx) => {
    const hourly = await tx.saveSchedule(
      uuidv7(now.getTime()),
      { kind: 'interval', every: 1, period: 'hours' },
      true,
    );
    const at2 = await tx.saveSchedule(
      uuidv7(now.getTime()),
      { kind: 'crontab', minute: '0', hour: '2', ...cordoba },
      true,
    );
    const workdays30 = await tx.saveSchedule(
      uuidv7(now.getTime()),
      { kind: 'crontab', minute: '*/30', hour: '*', ...cordoba, dayOfWeek: '1-5' },
      true,
    );
    const ingestion = {
      preinscriptos: { schedule: hourly!, kind: 'interval' as const, cuando: 'cada 1 hora' },
      aspirantes: { schedule: at2!, kind: 'crontab' as const, cuando: 'todos los días a las 02:00' },
      ingresantes: {
        schedule: workdays30!,
        kind: 'crontab' as const,
        cuando: 'cada 30 minutos de lunes a viernes',
      },
    };
    const at4 = await tx.saveSchedule(
      uuidv7(now.getTime()),
      { kind: 'crontab', minute: '0', hour: '4', ...cordoba },
      true,
    );
    const base = {
      args: [],
      kwargs: {},
      oneOff: false,
      startTime: null,
      expires: null,
      scheduleKind: 'crontab' as const,
      missedRunPolicy: 'run_once' as const,
      missedRunCap: 10,
    };
    for (const [tipo, task] of INGESTIONS) {
      const { schedule, kind, cuando } = ingestion[tipo];
      await tx.insertTask(
        uuidv7(now.getTime()),
        {
          ...base,
          name: `Ingesta automática de ${tipo}`,
          task,
          enabled: false,
          description: `Ingesta de ${tipo} desde SIAL ${cuando} (solo actúa dentro de la ventana configurada).`,
          scheduleKind: kind,
          scheduleId: schedule.id,
        },
        now,
      );
    }
    await tx.insertTask(
      uuidv7(now.getTime()),
      {
        ...base,
        name: 'Limpieza diaria de Tareas antiguas',
        task: 'mantenimiento.tasks.purgar_tareas_antiguas',
        enabled: true,
        description: 'Elimina Tareas y Logs más antiguos que la retención configurada en task-tracker.',
        scheduleId: at4!.id,
      },
      now,
    );
  });
  await applyReconciliationDefaults(repo, now);
  return created;
}

/**
 * The nightly reconciliation of each tipo (`alumnos.tasks.ingestar_<tipo>` with `{"reconciliar": true}`) at 03:30
 * Córdoba, a low-load hour between the 02:00 ingestion and the 04:00 cleanup: the whole list compared by
 * fingerprints, catching what incremental runs missed (ingest-sial's README). Enabled: like every ingestion it
 * does nothing outside the tipo's window.
 */
async function applyReconciliationDefaults(repo: SchedulerRepository, now: Date): Promise<boolean> {
  return repo.once(RECONCILIATION_MARKER, async (tx) => {
    const at330 = await tx.saveSchedule(
      uuidv7(now.getTime()),
      { kind: 'crontab', minute: '30', hour: '3', ...cordoba },
      true,
    );
    for (const [tipo, task] of INGESTIONS) {
      await tx.insertTask(
        uuidv7(now.getTime()),
        {
          name: `Reconciliación nocturna de ${tipo}`,
          task,
          args: [],
          kwargs: { reconciliar: true },
          enabled: true,
          oneOff: false,
          startTime: null,
          expires: null,
          description: `Compara la lista completa de ${tipo} de SIAL con lo guardado y trae lo que las ingestas incrementales no trajeron (solo dentro de la ventana configurada).`,
          scheduleKind: 'crontab',
          scheduleId: at330!.id,
          missedRunPolicy: 'run_once',
          missedRunCap: 10,
        },
        now,
      );
    }
  });
}
