// es-AR formatting in America/Argentina/Cordoba, shared by server and browser, and the Spanish labels.

export const TZ = 'America/Argentina/Cordoba';

const dateTime = new Intl.DateTimeFormat('es-AR', {
  timeZone: TZ,
  day: '2-digit',
  month: '2-digit',
  year: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hour12: false,
});
const dayFmt = new Intl.DateTimeFormat('es-AR', { timeZone: TZ, day: '2-digit', month: '2-digit' });
const numberFmt = new Intl.NumberFormat('es-AR');
const secondsFmt = new Intl.NumberFormat('es-AR', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

/** "07/12/2026, 14:05:09" in Córdoba, or "—" when there is no time. */
export function fecha(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '—' : dateTime.format(d);
}

/** "07/12" for a local day "2026-12-07" (already a Córdoba day). */
export function dia(day: string): string {
  return dayFmt.format(new Date(`${day}T12:00:00-03:00`));
}

export function numero(n: number | bigint | string): string {
  return numberFmt.format(typeof n === 'string' ? Number(n) : n);
}

/** The seed's "Duración": "1,25 seg", "En progreso..." while running, "—" when it never started. */
export function duracion(t: {
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number;
}): string {
  if (t.finishedAt) return `${secondsFmt.format(t.durationMs / 1000)} seg`;
  if (t.startedAt) return 'En progreso...';
  return '—';
}

/** A Córdoba local day `YYYY-MM-DD` as the instant it starts (Argentina has no daylight saving time). */
export function inicioDelDia(day: string): Date | undefined {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return undefined;
  const d = new Date(`${day}T00:00:00-03:00`);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

export const ESTADOS = ['pending', 'running', 'completed', 'failed', 'skipped', 'cancelled'] as const;
export type Estado = (typeof ESTADOS)[number];

export const ESTADO_LABEL: Record<string, string> = {
  pending: 'Pendiente',
  running: 'Ejecutando',
  completed: 'Completada',
  failed: 'Fallida',
  skipped: 'Omitida',
  cancelled: 'Cancelada',
};

export const TIPOS = [
  'ingesta_preinscriptos',
  'ingesta_aspirantes',
  'ingesta_ingresantes',
  'activar_servicios',
  'crear_usuario_teams',
  'resetear_password',
  'enviar_email',
  'eliminar_cuenta',
  'mantenimiento',
] as const;

export const TIPO_LABEL: Record<string, string> = {
  ingesta_preinscriptos: 'Ingesta de Preinscriptos',
  ingesta_aspirantes: 'Ingesta de Aspirantes',
  ingesta_ingresantes: 'Ingesta de Ingresantes',
  activar_servicios: 'Activar Servicios (Teams + Email)',
  crear_usuario_teams: 'Crear usuario en Teams',
  resetear_password: 'Resetear contraseña',
  enviar_email: 'Enviar email',
  eliminar_cuenta: 'Eliminar cuenta externa',
  mantenimiento: 'Mantenimiento',
  '': 'Sin tipo',
};

export const TRIGGER_LABEL: Record<string, string> = {
  admin: 'Admin',
  schedule: 'Programada',
  external: 'Externa',
  retry: 'Reintento',
  ingest: 'Ingesta',
  '': '—',
};

export const NIVELES = ['debug', 'info', 'success', 'warning', 'error'] as const;
export const NIVEL_LABEL: Record<string, string> = {
  debug: 'DEBUG',
  info: 'INFO',
  success: 'SUCCESS',
  warning: 'WARNING',
  error: 'ERROR',
};

export const TIMELINE_LABEL: Record<string, string> = {
  published: 'Publicada',
  started: 'Iniciada',
  progress: 'Progreso',
  succeeded: 'Completada',
  failed: 'Falló',
  skipped: 'Omitida',
  cancelled: 'Cancelada',
  stuck: 'Atascada',
  retried: 'Reintentada',
};

/** Pretty-printed JSON for parametros / detalles. */
export function json(value: unknown): string {
  if (value === null || value === undefined) return '—';
  return JSON.stringify(value, null, 2);
}
