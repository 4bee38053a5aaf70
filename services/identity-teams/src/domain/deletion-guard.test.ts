import { describe, expect, it } from 'vitest';
import {
  checkDeletionAllowed,
  decideMassDeletion,
  DEFAULT_MASS_DELETION_LIMITS,
  type MassDeletionInput,
} from './deletion-guard.js';

describe('checkDeletionAllowed', () => {
  it('allows a UPN with the default test- prefix, in any case', () => {
    expect(checkDeletionAllowed('test-a40111222@eco.unrc.edu.ar')).toEqual({ allowed: true });
    expect(checkDeletionAllowed(' TEST-a1@eco.unrc.edu.ar')).toEqual({ allowed: true });
  });

  it('refuses a production UPN with a Spanish reason naming it and the prefix', () => {
    const verdict = checkDeletionAllowed('a40111222@eco.unrc.edu.ar');
    expect(verdict).toEqual({
      allowed: false,
      reason:
        'SEGURIDAD: no se elimina la cuenta «a40111222@eco.unrc.edu.ar»: solo se eliminan cuentas cuyo UPN empieza con «test-».',
    });
  });

  it('uses the configured prefix, and an empty one allows nothing', () => {
    expect(checkDeletionAllowed('a1@x.edu', 'a').allowed).toBe(true);
    expect(checkDeletionAllowed('test-a1@x.edu', 'prueba-').allowed).toBe(false);
    const empty = checkDeletionAllowed('a1@x.edu', '  ');
    expect(empty.allowed).toBe(false);
    expect(!empty.allowed && empty.reason).toMatch(/no hay un prefijo/);
  });

  it('refuses something that is not a UPN, such as an object id', () => {
    expect(checkDeletionAllowed('test-').allowed).toBe(false);
    expect(checkDeletionAllowed('0b7e1a3c-6f2d-4e11-9a8b-1c2d3e4f5a6b').allowed).toBe(false);
  });
});

describe('decideMassDeletion', () => {
  const HOUR = 3_600_000;
  const now = Date.UTC(2026, 2, 1, 12);
  const input = (over: Partial<MassDeletionInput>): MassDeletionInput => ({
    requested: 1,
    knownAccounts: 1000,
    recentDeletions: [],
    now,
    limits: DEFAULT_MASS_DELETION_LIMITS,
    ...over,
  });

  it('allows an ordinary removal and reports its figures', () => {
    expect(decideMassDeletion(input({ requested: 3 }))).toEqual({
      allowed: true,
      inWindow: 0,
      total: 3,
      percent: 0.3,
    });
  });

  it('allows up to the count limit and stops one above it', () => {
    expect(decideMassDeletion(input({ requested: 20 })).allowed).toBe(true);
    const stopped = decideMassDeletion(input({ requested: 21 }));
    expect(stopped.allowed).toBe(false);
    expect(stopped.reason).toBe(
      'Se detuvo la eliminación de 21 cuentas para revisión: sumaría 21 eliminaciones en 24 h y el máximo es 20.',
    );
  });

  it('counts deletions already made inside the window, not older ones', () => {
    const recent = [now - 23 * HOUR, now - HOUR, now - 1];
    const old = [now - 25 * HOUR, now - 48 * HOUR];
    const d = decideMassDeletion(input({ requested: 17, recentDeletions: [...recent, ...old] }));
    expect(d).toMatchObject({ allowed: true, inWindow: 3, total: 20 });
    expect(decideMassDeletion(input({ requested: 18, recentDeletions: recent })).allowed).toBe(false);
  });

  it('stops a run that would remove too large a share of a small population', () => {
    const limits = { ...DEFAULT_MASS_DELETION_LIMITS, maxPercent: 10 };
    expect(decideMassDeletion(input({ requested: 3, knownAccounts: 30, limits })).allowed).toBe(true);
    const d = decideMassDeletion(input({ requested: 4, knownAccounts: 30, limits }));
    expect(d.allowed).toBe(false);
    expect(d.reason).toContain('el 13.3 % de 30 cuentas, y el máximo es 10 %');
  });

  it('takes the share over the accounts at the start of the window', () => {
    const d = decideMassDeletion(
      input({
        requested: 1,
        knownAccounts: 96,
        recentDeletions: [now - HOUR, now - 2 * HOUR, now - 3 * HOUR, now - 4 * HOUR],
      }),
    );
    expect(d).toEqual({ allowed: true, inWindow: 4, total: 5, percent: 5 });
  });

  it('stops deletions when no account is known (the source looks empty)', () => {
    const d = decideMassDeletion(input({ requested: 1, knownAccounts: 0 }));
    expect(d.allowed).toBe(false);
    expect(d.reason).toContain('no se conoce ninguna cuenta existente');
    expect(decideMassDeletion(input({ requested: 0, knownAccounts: 0 }))).toMatchObject({
      allowed: true,
      percent: 0,
    });
  });

  it('refuses nonsense input', () => {
    expect(() => decideMassDeletion(input({ requested: -1 }))).toThrow(RangeError);
    expect(() => decideMassDeletion(input({ knownAccounts: 1.5 }))).toThrow(RangeError);
    expect(() =>
      decideMassDeletion(input({ limits: { ...DEFAULT_MASS_DELETION_LIMITS, maxPercent: 101 } })),
    ).toThrow(RangeError);
    expect(() =>
      decideMassDeletion(input({ limits: { ...DEFAULT_MASS_DELETION_LIMITS, windowMs: 0 } })),
    ).toThrow(RangeError);
  });
});
