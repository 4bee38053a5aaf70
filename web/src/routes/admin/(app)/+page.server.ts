import { timestampDate } from '@bufbuild/protobuf/wkt';
import { TareaEstado, TipoIngesta } from '@lucy/proto';
import { getApp } from '$lib/server/app';
import { requireRole } from '$lib/server/guard';
import { tareaRow } from '$lib/server/views';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async (event) => {
  requireRole(event, 'lector');
  event.depends('app:dashboard');
  const { services } = await getApp();
  const [dash, health, status, ingest, periodicas] = await Promise.all([
    services.call('task-tracker', () => services.tasks.getDashboard({ days: 14 })),
    services.health(),
    services.call('scheduler', () => services.scheduler.getStatus({})),
    services.call('ingest-sial', () => services.ingest.getConfiguracion({})),
    // The next fires of the enabled periodic tasks (a scheduler that is down is already named by getStatus).
    services.call('scheduler', () => services.scheduler.listPeriodicTasks({ enabled: true })),
  ]);
  const problems = [dash, status, ingest].flatMap((o) =>
    o.ok ? [] : [{ service: o.service, message: o.message }],
  );
  const now = Date.now();
  return {
    problems,
    dashboard: dash.ok
      ? {
          pendientes: Number(dash.value.pendientes),
          ejecutando: Number(dash.value.ejecutando),
          completadas24h: Number(dash.value.completadas24h),
          fallidas24h: Number(dash.value.fallidas24h),
          deadLetters: Number(dash.value.deadLetters),
          recientes: dash.value.recientes.map(tareaRow),
          porDia: dash.value.porDia.map((d) => ({
            day: d.day,
            estado: (TareaEstado[d.estado] ?? '').toLowerCase(),
            count: Number(d.count),
          })),
        }
      : null,
    health,
    scheduler: status.ok
      ? {
          leader: status.value.leader,
          instance: status.value.instance,
          nextTask: status.value.nextTask,
          nextDueAt: status.value.nextDueAt ? timestampDate(status.value.nextDueAt).toISOString() : null,
          enabledTasks: Number(status.value.enabledTasks),
        }
      : null,
    proximas: periodicas.ok
      ? periodicas.value.periodicTasks
          .filter((t) => t.enabled && t.nextRunAt)
          .map((t) => ({ id: t.id, name: t.name, at: timestampDate(t.nextRunAt!).toISOString() }))
          .sort((a, b) => a.at.localeCompare(b.at))
          .slice(0, 5)
      : [],
    ventanas: ingest.ok
      ? (ingest.value.configuracion?.ventanas ?? []).map((v) => {
          const desde = v.diaInicio ? timestampDate(v.diaInicio) : undefined;
          const hasta = v.diaFin ? timestampDate(v.diaFin) : undefined;
          return {
            tipo: (TipoIngesta[v.tipo] ?? '').toLowerCase(),
            desde: desde?.toISOString() ?? null,
            hasta: hasta?.toISOString() ?? null,
            abierta: Boolean(desde && desde.getTime() <= now && (!hasta || hasta.getTime() > now)),
            ultimaIngesta: v.ultimaIngesta ? timestampDate(v.ultimaIngesta).toISOString() : null,
          };
        })
      : null,
  };
};
