import { describe, expect, it } from 'vitest';
import { isHttpError } from '@sveltejs/kit';
import { requireRole } from './guard.js';
import { hasRole, permissions } from './roles.js';
import type { Staff } from './auth.js';

const staff = (role: Staff['role']): Staff => ({
  id: '00000000-0000-4000-8000-000000000000',
  username: role,
  nombre: '',
  role,
  disabled: false,
  createdAt: new Date(),
});

describe('roles', () => {
  it('orders admin above operador above lector', () => {
    expect(hasRole('admin', 'operador')).toBe(true);
    expect(hasRole('operador', 'operador')).toBe(true);
    expect(hasRole('lector', 'operador')).toBe(false);
    expect(hasRole(undefined, 'lector')).toBe(false);
    expect(permissions('lector')).toEqual({ leer: true, actuar: false, administrar: false });
    expect(permissions('operador')).toEqual({ leer: true, actuar: true, administrar: false });
  });

  it('requireRole answers 403 to a role below the minimum and 401 without a session', () => {
    const status = (fn: () => unknown) => {
      try {
        fn();
        return 200;
      } catch (e) {
        return isHttpError(e) ? e.status : 500;
      }
    };
    expect(status(() => requireRole({ locals: { staff: staff('lector') } }, 'operador'))).toBe(403);
    expect(status(() => requireRole({ locals: { staff: staff('operador') } }, 'admin'))).toBe(403);
    expect(status(() => requireRole({ locals: {} }, 'lector'))).toBe(401);
    expect(requireRole({ locals: { staff: staff('admin') } }, 'operador').username).toBe('admin');
  });
});
