import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { TareaEstado, TareaOrden, TareaTipo } from '@lucy/proto';
import { getApp } from '$lib/server/app';
import { requireRole } from '$lib/server/guard';
import { enumValue, tareaRow } from '$lib/server/views';
import { ESTADOS, inicioDelDia, TIPOS } from '$lib/format';
import type { PageServerLoad } from './$types';

/** Sort columns of the list (`por` in the URL) and the tracker's TareaOrden of each. */
const POR = {
  programada: TareaOrden.PROGRAMADA,
  iniciada: TareaOrden.INICIADA,
  finalizada: TareaOrden.FINALIZADA,
  tipo: TareaOrden.TIPO,
  estado: TareaOrden.ESTADO,
  duracion: TareaOrden.DURACION,
} as const;
type Por = keyof typeof POR;

export const load: PageServerLoad = async (event) => {
  requireRole(event, 'lector');
  const { services } = await getApp();
  const p = event.url.searchParams;
  const tipos = p.getAll('tipo').filter((t) => (TIPOS as readonly string[]).includes(t));
  const estados = p.getAll('estado').filter((e) => (ESTADOS as readonly string[]).includes(e));
  const desdeDia = p.get('desde') ?? '';
  const hastaDia = p.get('hasta') ?? '';
  const desde = inicioDelDia(desdeDia);
  // "hasta" names a day and includes it: the filter ends where the next day starts.
  const hastaInicio = inicioDelDia(hastaDia);
  const hasta = hastaInicio ? new Date(hastaInicio.getTime() + 86_400_000) : undefined;
  const q = (p.get('q') ?? '').trim().slice(0, 200);
  const alumno = (p.get('alumno') ?? '').trim().slice(0, 64);
  const usuario = (p.get('usuario') ?? '').trim().slice(0, 150);
  const orden = p.get('orden') === 'asc' ? 'asc' : 'desc';
  const porParam = p.get('por') ?? '';
  const por: Por = Object.hasOwn(POR, porParam) ? (porParam as Por) : 'programada';
  const cursor = (p.get('cursor') ?? '').slice(0, 500);
  const size = Math.min(Math.max(Number(p.get('n')) || 50, 10), 200);

  const res = await services.call('task-tracker', () =>
    services.tasks.listTareas({
      filter: {
        tipos: tipos.map((t) => enumValue(TareaTipo, t)!).filter(Boolean),
        estados: estados.map((e) => enumValue(TareaEstado, e)!).filter(Boolean),
        ...(desde ? { desde: timestampFromDate(desde) } : {}),
        ...(hasta ? { hasta: timestampFromDate(hasta) } : {}),
        search: q,
        alumnoId: alumno,
        requestedBy: usuario,
      },
      page: { pageSize: size, pageToken: cursor },
      oldestFirst: orden === 'asc',
      orden: POR[por],
    }),
  );
  return {
    filtros: {
      tipos,
      estados,
      desde: desdeDia,
      hasta: hastaDia,
      q,
      alumno,
      usuario,
      orden,
      por,
      cursor,
      n: size,
    },
    problems: res.ok ? [] : [{ service: res.service, message: res.message }],
    tareas: res.ok ? res.value.tareas.map(tareaRow) : [],
    next: res.ok ? res.value.page?.nextPageToken || '' : '',
    total: res.ok ? Number(res.value.page?.totalEstimate ?? -1) : -1,
  };
};
