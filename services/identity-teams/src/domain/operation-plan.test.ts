import { describe, expect, it } from 'vitest';
import { forbiddenMessage, pendingSteps, planSteps, tipoDeEstado } from './operation-plan.js';

const flags = { activarTeams: true, activarMoodle: true, enviarEmail: true, moodleConfigurado: true };

describe('planSteps', () => {
  it('activates Teams, licence, Moodle and the e-mail when every flag is on', () => {
    expect(planSteps({ tipo: 'activar', ...flags })).toEqual([
      'usuario_graph',
      'licencia',
      'moodle',
      'email',
    ]);
  });
  it('leaves out Moodle and the e-mail when their flags are off', () => {
    expect(planSteps({ tipo: 'activar', ...flags, activarMoodle: false, enviarEmail: false })).toEqual([
      'usuario_graph',
      'licencia',
    ]);
  });
  it('does no Teams step when activar_teams is off', () => {
    expect(planSteps({ tipo: 'activar', ...flags, activarTeams: false })).toEqual(['moodle']);
    expect(planSteps({ tipo: 'activar', ...flags, activarTeams: false, activarMoodle: false })).toEqual([]);
  });
  it('resets then e-mails, or only resets without e-mail', () => {
    expect(planSteps({ tipo: 'resetear', ...flags })).toEqual(['password', 'email']);
    expect(planSteps({ tipo: 'resetear', ...flags, enviarEmail: false })).toEqual(['password']);
  });
  it('deletes Graph, and Moodle only where Moodle is configured', () => {
    expect(planSteps({ tipo: 'eliminar', ...flags })).toEqual(['eliminar_graph', 'eliminar_moodle']);
    expect(planSteps({ tipo: 'eliminar', ...flags, moodleConfigurado: false })).toEqual(['eliminar_graph']);
  });
});

describe('pendingSteps', () => {
  it('keeps the order and drops what is done, so a redelivery resumes where it stopped', () => {
    expect(pendingSteps(['usuario_graph', 'licencia', 'email'], ['usuario_graph'])).toEqual([
      'licencia',
      'email',
    ]);
    expect(pendingSteps(['usuario_graph'], ['usuario_graph'])).toEqual([]);
  });
});

describe('messages and tipos', () => {
  it('names the missing Graph permission of a 403', () => {
    expect(forbiddenMessage('licencia', 'test-a1@x.edu')).toBe(
      'Error 403: falta el permiso LicenseAssignment.ReadWrite.All en Azure AD (al asignar la licencia test-a1@x.edu).',
    );
  });
  it('maps estados to the tipo of their configuration', () => {
    expect(tipoDeEstado('preinscripto')).toBe('preinscriptos');
    expect(tipoDeEstado('aspirante')).toBe('aspirantes');
    expect(tipoDeEstado('ingresante')).toBe('ingresantes');
    expect(tipoDeEstado('alumno')).toBe('ingresantes');
  });
});
