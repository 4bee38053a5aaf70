import { getApp } from '$lib/server/app';
import { requireRole } from '$lib/server/guard';
import { plantillaView } from '$lib/server/plantillas';
import type { PageServerLoad } from './$types';

export const load: PageServerLoad = async (event) => {
  requireRole(event, 'lector');
  const { services } = await getApp();
  const res = await services.call('notifier', () => services.notifier.listPlantillas({}));
  return {
    problems: res.ok ? [] : [{ service: res.service, message: res.message }],
    plantillas: res.ok ? res.value.plantillas.map(plantillaView) : [],
  };
};
