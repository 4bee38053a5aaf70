import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { LogLevel } from '@lucy/proto';
import { getApp } from '$lib/server/app';
import { requireRole } from '$lib/server/guard';
import { enumValue, logView } from '$lib/server/views';
import { inicioDelDia, NIVELES } from '$lib/format';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async (event) => {
  requireRole(event, 'lector');
  const { services } = await getApp();
  const p = event.url.searchParams;
  const niveles = p.getAll('nivel').filter((n) => (NIVELES as readonly string[]).includes(n));
  const modulo = (p.get('modulo') ?? '').trim().slice(0, 100);
  const desdeDia = p.get('desde') ?? '';
  const hastaDia = p.get('hasta') ?? '';
  const desde = inicioDelDia(desdeDia);
  const hastaInicio = inicioDelDia(hastaDia);
  const hasta = hastaInicio ? new Date(hastaInicio.getTime() + 86_400_000) : undefined;
  const tarea = (p.get('tarea') ?? '').trim().slice(0, 36);
  const alumno = (p.get('alumno') ?? '').trim().slice(0, 64);
  const q = (p.get('q') ?? '').trim().slice(0, 200);
  const cursor = (p.get('cursor') ?? '').slice(0, 500);
  const res = await services.call('task-tracker', () =>
    services.logs.listLogs({
      levels: niveles.map((n) => enumValue(LogLevel, n)!).filter(Boolean),
      module: modulo,
      ...(desde ? { desde: timestampFromDate(desde) } : {}),
      ...(hasta ? { hasta: timestampFromDate(hasta) } : {}),
      taskId: tarea,
      alumnoId: alumno,
      search: q,
      page: { pageSize: 100, pageToken: cursor },
    }),
  );
  return {
    filtros: { niveles, modulo, desde: desdeDia, hasta: hastaDia, tarea, alumno, q, cursor },
    problems: res.ok ? [] : [{ service: res.service, message: res.message }],
    logs: res.ok ? res.value.logs.map(logView) : [],
    next: res.ok ? res.value.page?.nextPageToken || '' : '',
  };
};
