import { requireRole } from '$lib/server/guard';
import { permissions, ROLE_LABEL } from '$lib/server/roles';
import type { LayoutServerLoad } from './$types';

export const load: LayoutServerLoad = async (event) => {
  const staff = requireRole(event, 'lector');
  return {
    staff: {
      username: staff.username,
      nombre: staff.nombre,
      role: staff.role,
      roleLabel: ROLE_LABEL[staff.role],
    },
    can: permissions(staff.role),
  };
};
