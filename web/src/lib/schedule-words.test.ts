import { describe, expect, it } from 'vitest';
import { scheduleWords } from './schedule-words.js';

describe('a schedule in words, as the issue writes them', () => {
  it('says the seed’s three examples exactly', () => {
    expect(scheduleWords('Cada 1 hora')).toEqual({ texto: 'cada 1 hora', zona: '' });
    expect(scheduleWords('Todos los días a las 02:00 (America/Argentina/Cordoba)')).toEqual({
      texto: 'a las 02:00 todos los días',
      zona: 'America/Argentina/Cordoba',
    });
    expect(scheduleWords('Cada 30 minutos, de lunes a viernes (America/Argentina/Cordoba)')).toEqual({
      texto: 'cada 30 minutos de lunes a viernes',
      zona: 'America/Argentina/Cordoba',
    });
  });

  it('keeps other phrases, only lower-cased and without the zone', () => {
    expect(scheduleWords('Cada 30 minutos (UTC)')).toEqual({ texto: 'cada 30 minutos', zona: 'UTC' });
    expect(scheduleWords('Los sábados a las 03:00 (America/Argentina/Cordoba)').texto).toBe(
      'los sábados a las 03:00',
    );
    expect(scheduleWords('Cada hora en punto, los sábados y domingos (UTC)').texto).toBe(
      'cada hora en punto los sábados y domingos',
    );
    expect(scheduleWords('Cada hora, a los 5 minutos, de 08:00 a 17:00 (UTC)').texto).toBe(
      'cada hora, a los 5 minutos, de 08:00 a 17:00',
    );
  });

  it('keeps django-celery-beat’s raw crontab text as written', () => {
    expect(scheduleWords('0 2 1-7 * 1 (m/h/dM/MY/d) America/Argentina/Cordoba')).toEqual({
      texto: '0 2 1-7 * 1 (m/h/dM/MY/d) America/Argentina/Cordoba',
      zona: '',
    });
  });
});
