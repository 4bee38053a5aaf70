import { describe, expect, it } from 'vitest';
import { planActivation, type ActivationInput, type GraphAccountState } from './activation-plan.js';

const UPN = 'test-a40111222@eco.unrc.edu.ar';
const SKU = '314c4481-f395-4525-be8b-2ec4bb1e9d91';

const account = (over: Partial<GraphAccountState> = {}): GraphAccountState => ({
  id: 'u1',
  userPrincipalName: UPN,
  employeeId: '40111222',
  skuIds: [SKU],
  ...over,
});

const input = (over: Partial<ActivationInput> = {}): ActivationInput => ({
  alumno: { dni: '40111222', estado: 'aspirante' },
  upn: UPN,
  studentSkuId: SKU,
  graph: { byUpn: null, byEmployeeId: [] },
  moodle: { byUsername: null, byIdnumber: [] },
  ...over,
});

describe('planActivation', () => {
  it('does everything for an alumno with no account', () => {
    expect(planActivation(input())).toEqual({
      steps: [
        { kind: 'crear_cuenta_graph', upn: UPN },
        { kind: 'asignar_licencia', upn: UPN, userId: null, skuId: SKU },
        { kind: 'crear_usuario_moodle', username: UPN, idnumber: '40111222' },
      ],
      conflicts: [],
    });
  });

  it('does nothing when every account exists', () => {
    const moodleUser = { id: 7, username: UPN, idnumber: '40111222' };
    const plan = planActivation(
      input({
        graph: { byUpn: account(), byEmployeeId: [account()] },
        moodle: { byUsername: moodleUser, byIdnumber: [moodleUser] },
      }),
    );
    expect(plan).toEqual({ steps: [], conflicts: [] });
  });

  it('only assigns the licence to an existing unlicensed account', () => {
    const plan = planActivation(
      input({ graph: { byUpn: account({ skuIds: ['other'] }), byEmployeeId: [] }, moodle: undefined }),
    );
    expect(plan.steps).toEqual([{ kind: 'asignar_licencia', upn: UPN, userId: 'u1', skuId: SKU }]);
  });

  it('adopts an account under its UPN without employeeId (made by the original system)', () => {
    const plan = planActivation(input({ graph: { byUpn: account({ employeeId: null }), byEmployeeId: [] } }));
    expect(plan.conflicts).toEqual([]);
    expect(plan.steps.map((s) => s.kind)).toEqual(['crear_usuario_moodle']);
  });

  it('leaves Graph and Moodle alone when the UPN belongs to another person', () => {
    const plan = planActivation(input({ graph: { byUpn: account({ employeeId: '99' }), byEmployeeId: [] } }));
    expect(plan.steps).toEqual([]);
    expect(plan.conflicts).toEqual([
      `La cuenta ${UPN} ya existe en Microsoft 365 y pertenece a otra persona (employeeId 99).`,
    ]);
  });

  it('does not create a second account for a DNI that has one under another UPN', () => {
    const other = account({ userPrincipalName: 'a40111222@eco.unrc.edu.ar' });
    const plan = planActivation(input({ graph: { byUpn: null, byEmployeeId: [other] } }));
    expect(plan.steps).toEqual([]);
    expect(plan.conflicts[0]).toContain(
      'ya tiene cuenta en Microsoft 365 con otro UPN (a40111222@eco.unrc.edu.ar)',
    );
  });

  it('reports a Moodle username that belongs to another person, still doing the Graph steps', () => {
    const plan = planActivation(
      input({ moodle: { byUsername: { id: 9, username: UPN, idnumber: '1' }, byIdnumber: [] } }),
    );
    expect(plan.steps.map((s) => s.kind)).toEqual(['crear_cuenta_graph', 'asignar_licencia']);
    expect(plan.conflicts).toEqual([
      `El usuario ${UPN} ya existe en Moodle y pertenece a otra persona (idnumber 1).`,
    ]);
  });

  it('does not create a second Moodle user for a DNI that has one under another username', () => {
    const plan = planActivation(
      input({
        moodle: {
          byUsername: null,
          byIdnumber: [{ id: 9, username: 'viejo@eco.unrc.edu.ar', idnumber: '40111222' }],
        },
      }),
    );
    expect(plan.steps.map((s) => s.kind)).toEqual(['crear_cuenta_graph', 'asignar_licencia']);
    expect(plan.conflicts[0]).toContain('(viejo@eco.unrc.edu.ar)');
  });

  it('gives a preinscripto no account at all', () => {
    const plan = planActivation(input({ alumno: { dni: '40111222', estado: 'preinscripto' } }));
    expect(plan.steps).toEqual([]);
    expect(plan.notApplicable).toContain('preinscriptos no reciben cuentas');
  });

  it('plans the same for ingresantes and alumnos, and skips Moodle when it is not configured', () => {
    for (const estado of ['ingresante', 'alumno'] as const) {
      const plan = planActivation(input({ alumno: { dni: '40111222', estado }, moodle: undefined }));
      expect(plan.steps.map((s) => s.kind)).toEqual(['crear_cuenta_graph', 'asignar_licencia']);
    }
  });
});
