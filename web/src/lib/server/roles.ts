// Roles of staff and what each may do; checked on the server in every load and action.

export const ROLES = ['admin', 'operador', 'lector'] as const;
export type Role = (typeof ROLES)[number];

/** Spanish names of the roles. */
export const ROLE_LABEL: Record<Role, string> = {
  admin: 'Administrador',
  operador: 'Operador',
  lector: 'Lector',
};

const RANK: Record<Role, number> = { lector: 1, operador: 2, admin: 3 };

/** True when `role` is `min` or above: admin ⊃ operador ⊃ lector. */
export function hasRole(role: Role | undefined, min: Role): boolean {
  return role !== undefined && RANK[role] >= RANK[min];
}

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/** What a role may do, for the pages to show or hide buttons (the server checks again). */
export function permissions(role: Role | undefined) {
  return {
    leer: hasRole(role, 'lector'),
    actuar: hasRole(role, 'operador'),
    administrar: hasRole(role, 'admin'),
  };
}
