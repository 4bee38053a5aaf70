import { describe, expect, it } from 'vitest';
import { checkMailSettingsChange } from './settings.js';

const ok = { usuario: 'notificador@fce.unrc.edu.ar', password: ' con espacios ', requestedBy: 'admin' };
const fields = (problems: { field: string }[]) => problems.map((p) => p.field);

describe('checkMailSettingsChange', () => {
  it('accepts a user and a password kept as typed (inner and outer spaces included)', () => {
    expect(checkMailSettingsChange(ok, true)).toEqual([]);
  });

  it('names each refused field in Spanish', () => {
    expect(fields(checkMailSettingsChange({ usuario: '', password: '   ', requestedBy: ' ' }, true))).toEqual(
      ['usuario', 'password', 'requested_by'],
    );
    expect(checkMailSettingsChange({ ...ok, usuario: 'a\u0085b' }, true)[0]?.message).toMatch(/control/);
    expect(checkMailSettingsChange({ ...ok, password: 'a\u007fb' }, true)[0]?.field).toBe('password');
    expect(checkMailSettingsChange({ ...ok, usuario: 'ñ'.repeat(200) }, true)).toEqual([]);
    expect(checkMailSettingsChange({ ...ok, usuario: 'ñ'.repeat(201) }, true)[0]?.field).toBe('usuario');
    expect(checkMailSettingsChange({ ...ok, password: '😀'.repeat(500) }, true)).toEqual([]);
    expect(checkMailSettingsChange({ ...ok, password: '😀'.repeat(501) }, true)[0]?.field).toBe('password');
  });

  it('refuses a password when there is no key ring to seal it, naming password and LUCY_SECRET_KEYS', () => {
    const [problem, ...rest] = checkMailSettingsChange(ok, false);
    expect(rest).toEqual([]);
    expect(problem?.field).toBe('password');
    expect(problem?.message).toContain('LUCY_SECRET_KEYS');
  });
});
