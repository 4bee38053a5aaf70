/** The report of `lucy adoptar pylucy`, its Spanish rendering and the reading of pylucy's Configuración. */
import { localTime } from '../output.js';

/** Outcomes of one kind of data. */
export interface KindCounts {
  creados: number;
  actualizados: number;
  sin_cambios: number;
  omitidos: number;
  /** Reason → how many were skipped for it. */
  motivos: Record<string, number>;
}

/** What the command found and did (or would do). Never a password or a secret value. */
export interface AdoptionReport {
  modo: 'simulacion' | 'aplicado';
  historialDias: number;
  /** Rows per pylucy table, read in the snapshot. */
  pylucy: Record<string, number>;
  alumnos: KindCounts;
  cuentas: KindCounts;
  tareasPeriodicas: KindCounts;
  tareas: KindCounts;
  logs: KindCounts;
  /** Ingestion settings of the Configuración (windows, flags, checkpoints). */
  configuracionIngesta: KindCounts;
  /** E-mail templates. */
  plantillas: KindCounts;
  /** Alumnos with a temporary password stored in clear in pylucy (the value is never read). */
  passwords: { cantidad: number; alumnos: { tipoDocumento: string; dni: string; nombre: string }[] };
  /** Tareas pending or running in pylucy: imported as failed. */
  tareasInterrumpidas: number;
  /** Tipos pylucy wrote but never defined, with their count (kept as they are). */
  tiposNoDefinidos: Record<string, number>;
  tareasPeriodicasDetalle: {
    nombre: string;
    tarea: string;
    resultado: string;
    motivo: string;
    habilitada: boolean;
  }[];
  configuracion: ConfigReport;
  noImportado: { tabla: string; cantidad: number; que: string }[];
}

/** What of pylucy's Configuración goes where. */
export interface ConfigReport {
  /** Ingestion settings handed to ingest-sial (IngestService.ImportConfiguracion), one line per setting. */
  ingesta: { campo: string; antes: string; despues: string; resultado: string; motivo: string }[];
  /** Identity settings handed to identity-teams (IdentityService.UpdateConfiguracionIdentidad). */
  identidad: { campo: string; antes: string; despues: string; resultado: string; motivo: string }[];
  /** E-mail subjects and templates handed to the notifier (NotifierService.ImportPlantillas). */
  plantillas: {
    tipo: string;
    campos: string;
    resultado: string;
    motivo: string;
    version: number;
    variablesDesconocidas: string[];
  }[];
  /** Settings a service reads from its environment at start (none stores them): the value and the variable. */
  despliegue: { campo: string; valor: string; destino: string }[];
  /** Fields pylucy stores but never used, and settings with no equivalent yet. */
  ignorado: { campo: string; motivo: string }[];
  /** Secrets never copied (never even read): whether pylucy had one, and where to enter it. */
  secretos: { campo: string; estado: string; destino: string }[];
  /** Other findings. */
  otros: string[];
}

/** An empty {@link ConfigReport}. */
const emptyKind = (): KindCounts => ({
  creados: 0,
  actualizados: 0,
  sin_cambios: 0,
  omitidos: 0,
  motivos: {},
});

/** A report with nothing counted yet: what an adoption fills in as it goes. */
export function emptyReport(modo: AdoptionReport['modo'], historialDias: number): AdoptionReport {
  return {
    modo,
    historialDias,
    pylucy: {},
    alumnos: emptyKind(),
    cuentas: emptyKind(),
    tareasPeriodicas: emptyKind(),
    tareas: emptyKind(),
    logs: emptyKind(),
    configuracionIngesta: emptyKind(),
    plantillas: emptyKind(),
    passwords: { cantidad: 0, alumnos: [] },
    tareasInterrumpidas: 0,
    tiposNoDefinidos: {},
    tareasPeriodicasDetalle: [],
    configuracion: emptyConfigReport(),
    noImportado: [],
  };
}

export const emptyConfigReport = (): ConfigReport => ({
  ingesta: [],
  identidad: [],
  plantillas: [],
  despliegue: [],
  ignorado: [],
  secretos: [],
  otros: [],
});

const str = (v: unknown): string =>
  v === null || v === undefined
    ? ''
    : typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'
      ? String(v)
      : JSON.stringify(v);
/** An ISO time as staff read it (Córdoba), other values as they are. */
export const shownValue = (v: string): string => (/^\d{4}-\d{2}-\d{2}T/.test(v) ? localTime(new Date(v)) : v);

const SECRET_STATE: Record<string, string> = {
  vacio: 'vacío en pylucy',
  marcador: 'marcador de ejemplo en pylucy (no configurado)',
  configurado: 'configurado en pylucy',
};

/**
 * The parts of the Configuración that are not imported by a service: settings of the services' environments,
 * ignored fields with why, and the secrets to re-enter (read as `<column>__estado`, never their value).
 */
export function configReport(row: Record<string, unknown>): ConfigReport {
  const out = emptyConfigReport();
  const has = (k: string) => Object.hasOwn(row, k);
  for (const tipo of ['preinscriptos', 'aspirantes', 'ingresantes']) {
    out.ignorado.push({
      campo: `${tipo}_frecuencia_segundos`,
      motivo:
        'pylucy nunca lo usó (su beat corría cada 5 minutos fijo); en Lucy la frecuencia es la de la tarea periódica importada.',
    });
    if (has(`${tipo}_forzar_carga_completa`) && row[`${tipo}_forzar_carga_completa`] === true)
      out.otros.push(
        `${tipo}_forzar_carga_completa estaba marcado: no se importa el punto de control de ${tipo}, así la primera ingesta de Lucy pide desde el inicio de la ventana (lo que pylucy iba a hacer).`,
      );
  }
  out.ignorado.push({
    campo: 'preinscriptos_activar_teams / preinscriptos_activar_moodle',
    motivo: 'pylucy nunca los leyó (los preinscriptos no reciben cuentas): se importan como «no».',
  });
  out.despliegue.push(
    {
      campo: 'rate_limit_teams',
      valor: `${str(row.rate_limit_teams)}/min`,
      destino: 'GRAPH_WRITES_PER_WINDOW y GRAPH_WRITE_WINDOW_MS de identity-teams',
    },
    {
      campo: 'rate_limit_moodle',
      valor: `${str(row.rate_limit_moodle)}/min`,
      destino: 'IDENTITY_CONCURRENCY de identity-teams',
    },
    {
      campo: 'teams_tenant_id',
      valor: str(row.teams_tenant_id),
      destino: 'GRAPH_TENANT_ID de identity-teams',
    },
    {
      campo: 'teams_client_id',
      valor: str(row.teams_client_id),
      destino: 'GRAPH_CLIENT_ID de identity-teams',
    },
    { campo: 'sial_base_url', valor: str(row.sial_base_url), destino: 'SIAL_BASE_URL de ingest-sial' },
    { campo: 'sial_basic_user', valor: str(row.sial_basic_user), destino: 'SIAL_USER de ingest-sial' },
    {
      campo: 'moodle_base_url',
      valor: str(row.moodle_base_url),
      destino: 'MOODLE_URL de identity-teams y MOODLE_PUBLIC_URL del notifier',
    },
    {
      campo: 'moodle_auth_method',
      valor: str(row.moodle_auth_method),
      destino: 'MOODLE_AUTH de identity-teams',
    },
    { campo: 'email_from', valor: str(row.email_from), destino: 'SMTP_FROM del notifier' },
  );
  out.ignorado.push(
    { campo: 'rate_limit_uti', motivo: 'solo lo usaba la cola de pylucy, que Lucy no tiene.' },
    { campo: 'email_usar_microsoft_graph', motivo: 'pylucy nunca lo leyó.' },
    {
      campo: 'email_host / email_port / email_use_tls',
      motivo:
        'pylucy no los usaba (enviaba por Microsoft Graph); el SMTP de Lucy se configura en el notifier (SMTP_HOST, SMTP_PORT, SMTP_SECURE).',
    },
    {
      campo: 'email_plantilla_password / email_asunto_password',
      motivo: 'pylucy nunca los usó al enviar (el reseteo usaba la plantilla de credenciales).',
    },
    {
      campo: 'moodle_courses_config',
      motivo: 'solo lo escribían scripts; la inscripción de pylucy no lo leía.',
    },
    {
      campo: 'moodle_email_type / moodle_student_roleid / deshabilitar_fallback_email_personal',
      motivo: `sin equivalente todavía: Lucy Tasks aún no inscribe en cursos de Moodle (valores en pylucy: ${str(row.moodle_email_type) || '—'} / ${str(row.moodle_student_roleid) || '—'} / ${row.deshabilitar_fallback_email_personal ? 'sí' : 'no'}).`,
    },
  );
  const secret = (campo: string, destino: string) => {
    const estado = str(row[`${campo}__estado`]);
    out.secretos.push({
      campo,
      estado: SECRET_STATE[estado] ?? 'no existe en esta base de pylucy',
      destino,
    });
  };
  secret(
    'teams_client_secret',
    'admin → Configuración → Credenciales, o GRAPH_CLIENT_SECRET de identity-teams (Secret del chart / .env de compose)',
  );
  secret('sial_basic_pass', 'admin → Configuración → Credenciales, o SIAL_PASSWORD de ingest-sial');
  secret('moodle_wstoken', 'admin → Configuración → Credenciales, o MOODLE_TOKEN de identity-teams');
  out.secretos.push({
    campo: 'EMAIL_HOST_PASSWORD (entorno de pylucy)',
    estado: 'no está en la base: revíselo en el .env de pylucy',
    destino: 'admin → Configuración → Credenciales, o SMTP_PASSWORD del notifier',
  });
  return out;
}

const line = (label: string, k: KindCounts, plan: boolean) =>
  `  ${label.padEnd(20)} ${plan ? 'se crearían' : 'creados'} ${k.creados}, ${plan ? 'se actualizarían' : 'actualizados'} ${k.actualizados}, sin cambios ${k.sin_cambios}, omitidos ${k.omitidos}\n` +
  Object.entries(k.motivos)
    .map(([m, n]) => `      · ${n} omitido(s): ${m}\n`)
    .join('');

/** The report as Spanish text, ending with what staff must do next. */
export function renderReport(r: AdoptionReport): string {
  const plan = r.modo === 'simulacion';
  let s = plan
    ? 'Adopción de pylucy — SIMULACIÓN: no se escribió nada. Para importar, repita con --aplicar.\n\n'
    : 'Adopción de pylucy — APLICADA.\n\n';
  s += 'Filas leídas en pylucy (una sola foto, solo lectura):\n';
  for (const [t, n] of Object.entries(r.pylucy)) s += `  ${t.padEnd(34)} ${n}\n`;
  s += '\nResultado por tipo de dato:\n';
  s += line('Alumnos', r.alumnos, plan);
  s += line('Cuentas (adoptadas)', r.cuentas, plan);
  s += line('Tareas periódicas', r.tareasPeriodicas, plan);
  s += line(`Tareas (${r.historialDias} días)`, r.tareas, plan);
  s += line(`Logs (${r.historialDias} días)`, r.logs, plan);
  s += line('Configuración', r.configuracionIngesta, plan);
  s += line('Plantillas de correo', r.plantillas, plan);
  s += '\nLado a lado (pylucy → Lucy Tasks):\n';
  const side = (label: string, n: number | undefined, k: KindCounts) =>
    `  ${label.padEnd(22)} ${String(n ?? 0).padStart(8)} → ${String(k.creados + k.actualizados + k.sin_cambios).padStart(8)} ${plan ? '(tras aplicar)' : 'presentes'}\n`;
  s += side('alumnos_alumno', r.pylucy.alumnos_alumno, r.alumnos);
  s += side('tareas periódicas', r.pylucy.django_celery_beat_periodictask, r.tareasPeriodicas);
  s += side('alumnos_tarea (ventana)', r.pylucy.alumnos_tarea_en_ventana, r.tareas);
  s += side('alumnos_log (ventana)', r.pylucy.alumnos_log_en_ventana, r.logs);

  if (r.tareasPeriodicasDetalle.length) {
    s += '\nTareas periódicas:\n';
    for (const t of r.tareasPeriodicasDetalle)
      s += `  ${t.resultado.padEnd(12)} ${t.nombre} (${t.tarea})${t.resultado !== 'omitida' ? (t.habilitada ? ' — habilitada' : ' — deshabilitada') : ''}${t.motivo ? `: ${t.motivo}` : ''}\n`;
  }
  if (r.tareasInterrumpidas)
    s += `\n${r.tareasInterrumpidas} Tarea(s) pendientes o en ejecución en pylucy se importan como fallidas («interrumpida por la migración desde pylucy»), para reintentarlas a conciencia.\n`;
  const undefinedTipos = Object.entries(r.tiposNoDefinidos);
  if (undefinedTipos.length)
    s += `Tipos de Tarea que pylucy escribió sin definirlos (se conservan tal cual): ${undefinedTipos.map(([t, n]) => `${t} (${n})`).join(', ')}.\n`;

  const cfg = r.configuracion;
  if (cfg.ingesta.length) {
    s += '\nConfiguración de ingesta → ingest-sial (ventanas, opciones por tipo, puntos de control):\n';
    for (const c of cfg.ingesta) {
      const change =
        c.resultado === 'actualizado'
          ? `${shownValue(c.antes) || '—'} → ${shownValue(c.despues) || '—'}`
          : shownValue(c.antes) || '—';
      s += `  ${c.resultado.padEnd(12)} ${c.campo}: ${change}${c.motivo ? ` (${c.motivo})` : ''}\n`;
    }
  }
  if (cfg.identidad.length) {
    s += '\nConfiguración de identidad → identity-teams (lote máximo, prefijo de las cuentas):\n';
    for (const c of cfg.identidad) {
      const change =
        c.resultado === 'actualizado' ? `${c.antes || '—'} → ${c.despues || '—'}` : c.antes || '—';
      s += `  ${c.resultado.padEnd(12)} ${c.campo}: ${change}${c.motivo ? ` (${c.motivo})` : ''}\n`;
    }
  }
  if (cfg.plantillas.length) {
    s += '\nPlantillas de correo → notifier (una versión nueva, atribuida a la adopción):\n';
    for (const p of cfg.plantillas)
      s += `  ${p.resultado.padEnd(12)} ${p.tipo} (${p.campos})${p.motivo ? `: ${p.motivo}` : ''}\n`;
  }
  if (cfg.despliegue.length) {
    s +=
      '\nConfiguración de despliegue (cada servicio la lee de su entorno al arrancar; no hay dónde importarla: cárguela en la variable indicada):\n';
    for (const c of cfg.despliegue) s += `  ${c.campo}: ${c.valor || '—'} → ${c.destino}\n`;
  }
  if (cfg.ignorado.length) {
    s += 'Campos que no se importan:\n';
    for (const c of cfg.ignorado) s += `  ${c.campo}: ${c.motivo}\n`;
  }
  for (const o of cfg.otros) s += `  ${o}\n`;
  if (r.noImportado.length) {
    s += '\nNo se importa:\n';
    for (const n of r.noImportado) s += `  ${n.tabla} (${n.cantidad}): ${n.que}\n`;
  }
  if (r.passwords.cantidad) {
    s += `\nContraseñas en claro en pylucy: ${r.passwords.cantidad} alumno(s). No se copian, no se registran ni se muestran. Recomendación: «🔄 Generar contraseña y enviar correo» para cada uno:\n`;
    for (const a of r.passwords.alumnos.slice(0, 50)) s += `  ${a.tipoDocumento} ${a.dni} — ${a.nombre}\n`;
    if (r.passwords.alumnos.length > 50)
      s += `  … y ${r.passwords.cantidad - 50} más (la lista completa con --json).\n`;
  }

  s += '\nQué hacer ahora:\n';
  let step = 1;
  const todo = (t: string) => {
    s += `  ${step++}. ${t}\n`;
  };
  if (plan)
    todo('Lea este informe; detenga el beat y los workers de Celery de pylucy; repita con --aplicar.');
  for (const sec of r.configuracion.secretos)
    todo(`Cargue el secreto ${sec.campo} (${sec.estado}) en ${sec.destino}; nunca se copia.`);
  if (cfg.despliegue.length)
    todo('Revise la configuración de despliegue de arriba en las variables de cada servicio.');
  const plantillasOmitidas = cfg.plantillas.filter((p) => p.resultado === 'omitida').length;
  if (plantillasOmitidas)
    todo(
      `Adapte a mano las ${plantillasOmitidas} plantilla(s) de correo que no se importaron (admin, Plantillas): ver el motivo de cada una.`,
    );
  const disabled = r.tareasPeriodicasDetalle.filter((t) => t.resultado !== 'omitida' && !t.habilitada).length;
  if (disabled)
    todo(
      `Habilite las ${disabled} tarea(s) periódicas importadas deshabilitadas («lucy schedule enable <nombre>») cuando el beat de pylucy esté detenido: así nunca se ingesta dos veces.`,
    );
  if (r.passwords.cantidad)
    todo(
      `Rote las ${r.passwords.cantidad} contraseña(s) en claro: «🔄 Generar contraseña y enviar correo» (resetear_password).`,
    );
  todo(
    'Borre de pylucy las contraseñas en claro una vez rotadas, y conserve la base de pylucy hasta validar el corte.',
  );
  return s;
}
