// The schedule of a periodic task in words as the issue and staff say them ("cada 1 hora", "a las 02:00 todos los
// días", "cada 30 minutos de lunes a viernes"), from the scheduler's description (`Todos los días a las 02:00
// (America/Argentina/Cordoba)`, `Cada 30 minutos, de lunes a viernes (…)`): the time of day first, no comma before
// the weekdays, lower case, and the time zone apart.

/** A trailing ` (Area/Place)` or ` (UTC)` of a crontab's description. */
const ZONE = /\s+\(((?:[A-Za-z_]+\/)+[A-Za-z_+\-0-9]+|UTC)\)$/;
/** "Todos los días a las 02:00" and "Todos los días a las 02:00 y a las 14:00". */
const DAILY_AT = /^todos los días (a las? .+)$/;
/** The weekday phrases the scheduler puts after a comma. */
const WEEKDAYS = /, (de lunes a viernes|los sábados y domingos|de [a-zé]+ a [a-zé]+)$/;

export interface ScheduleWords {
  /** The words, e.g. `a las 02:00 todos los días`. */
  texto: string;
  /** The time zone the crontab runs in; empty for intervals, solar events and clocked times. */
  zona: string;
}

export function scheduleWords(descripcion: string): ScheduleWords {
  let text = descripcion.trim();
  let zona = '';
  const zone = ZONE.exec(text);
  if (zone) {
    zona = zone[1]!;
    text = text.slice(0, zone.index);
  }
  // Django's raw fallback (`0 2 * * * (m/h/dM/MY/d)`) is kept as written.
  if (/\(m\/h\/dM\/MY\/d\)/.test(text)) return { texto: text, zona };
  text = text.charAt(0).toLowerCase() + text.slice(1);
  const daily = DAILY_AT.exec(text);
  if (daily) text = `${daily[1]} todos los días`;
  else if (/^cada /.test(text)) text = text.replace(WEEKDAYS, ' $1');
  return { texto: text, zona };
}
