import { uuidv7 } from '@lucy/platform';
import type { SchedulerRepository } from './db/index.js';

/** Marker of the defaults in `scheduler.seed_marker`: applied once per database, so staff may delete them. */
export const DEFAULTS_MARKER = 'defaults-v1';

const INGESTIONS = [
  ['preinscriptos', 'alumnos.tasks.ingestar_preinscriptos'],
  ['aspirantes', 'alumnos.tasks.ingestar_aspirantes'],
  ['ingresantes', 'alumnos.tasks.ingestar_ingresantes'],
] as const;

/**
 * Creates the default periodic tasks on first start: the three SIAL ingestions every 5 minutes (as in the
 * original deployment, disabled until staff enable them) and the daily retention cleanup at 04:00 (enabled).
 * Idempotent and safe with several replicas starting at once. Returns whether they were created now.
 */
export async function applyDefaults(repo: SchedulerRepository, now: Date): Promise<boolean> {
  return repo.once(DEFAULTS_MARKER, async (tx) => {
    const cordoba = {
      dayOfWeek: '*',
      dayOfMonth: '*',
      monthOfYear: '*',
      timezone: 'America/Argentina/Cordoba',
    };
    const every5 = await tx.saveSchedule(
      uuidv7(now.getTime()),
      { kind: 'crontab', minute: '*/5', hour: '*', ...cordoba },
      true,
    );
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
      await tx.insertTask(
        uuidv7(now.getTime()),
        {
          ...base,
          name: `Ingesta automática de ${tipo}`,
          task,
          enabled: false,
          description: `Ingesta de ${tipo} desde SIAL cada 5 minutos (solo actúa dentro de la ventana configurada).`,
          scheduleId: every5!.id,
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
}
