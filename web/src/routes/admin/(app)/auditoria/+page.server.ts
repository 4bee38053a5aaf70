import { getApp } from '$lib/server/app';
import { requireRole } from '$lib/server/guard';
import { inicioDelDia } from '$lib/format';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async (event) => {
  requireRole(event, 'admin');
  const { audit } = await getApp();
  const p = event.url.searchParams;
  const actor = (p.get('actor') ?? '').trim().toLowerCase().slice(0, 150);
  const accion = (p.get('accion') ?? '').trim().slice(0, 64);
  const desdeDia = p.get('desde') ?? '';
  const hastaDia = p.get('hasta') ?? '';
  const desde = inicioDelDia(desdeDia);
  const hastaInicio = inicioDelDia(hastaDia);
  const cursor = (p.get('cursor') ?? '').slice(0, 100);
  const { entries, next } = await audit.list({
    ...(actor ? { actor } : {}),
    ...(accion ? { action: accion } : {}),
    ...(desde ? { desde } : {}),
    ...(hastaInicio ? { hasta: new Date(hastaInicio.getTime() + 86_400_000) } : {}),
    ...(cursor ? { cursor } : {}),
    limit: 50,
  });
  return {
    filtros: { actor, accion, desde: desdeDia, hasta: hastaDia, cursor },
    acciones: await audit.actions(),
    entradas: entries.map((e) => ({ ...e, at: e.at.toISOString(), detalles: e.detalles ?? null })),
    next: next ?? '',
  };
};
