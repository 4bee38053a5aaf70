import { describe, expect, it } from 'vitest';
import { FRECUENCIA_AVISO, frequencyWarning, shortestGapMs } from './frequency.js';

const at = (...hhmm: string[]) => hhmm.map((t) => `2026-03-02T${t}:00-03:00`);

describe('the ingestion frequency warning', () => {
  it('warns when an ingestion runs more often than every 30 minutes', () => {
    expect(frequencyWarning('alumnos.tasks.ingestar_ingresantes', at('10:00', '10:15', '10:30'))).toBe(
      FRECUENCIA_AVISO,
    );
  });

  it('allows every 30 minutes exactly, the seed’s Ejemplo 3', () => {
    expect(frequencyWarning('alumnos.tasks.ingestar_ingresantes', at('10:00', '10:30', '11:00'))).toBe('');
  });

  it('finds a short gap anywhere in the runs, not only the first one', () => {
    expect(frequencyWarning('alumnos.tasks.ingestar_aspirantes', at('02:00', '03:00', '03:10'))).not.toBe('');
  });

  it('says nothing for tasks that are not ingestions', () => {
    expect(frequencyWarning('alumnos.tasks.enviar_email_credenciales', at('10:00', '10:01'))).toBe('');
  });

  it('has no gap with fewer than two runs', () => {
    expect(shortestGapMs(at('10:00'))).toBeNull();
    expect(frequencyWarning('alumnos.tasks.ingestar_aspirantes', at('10:00'))).toBe('');
  });
});
