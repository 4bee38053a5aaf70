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
  /** Settings to carry over, with their value and where they go in Lucy Tasks. */
  importado: { campo: string; valor: string; destino: string }[];
  /** Fields pylucy stores but never used. */
  ignorado: { campo: string; motivo: string }[];
  /** Secrets never copied: whether pylucy had one, and where to enter it. */
  secretos: { campo: string; estado: string; destino: string }[];
  /** Other findings (templates with unknown variables...). */
  otros: string[];
}

const PLACEHOLDER = /^(YOUR-|your-)|^(usuario|contrasena)$|mock-api-uti|mailhog/;
const str = (v: unknown): string =>
  v === null || v === undefined
    ? ''
    : typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean'
      ? String(v)
      : JSON.stringify(v);
const whenOf = (v: unknown): string =>
  v instanceof Date ? localTime(v) : typeof v === 'string' && v ? localTime(new Date(v)) : '—';

/** The variables each e-mail of pylucy could use (facts §6): others are reported, never silently changed. */
const TEMPLATE_VARS: Record<string, string[]> = {
  email_plantilla_bienvenida: ['nombre', 'apellido', 'dni', 'email'],
  email_plantilla_credenciales: ['nombre', 'apellido', 'dni', 'email', 'upn', 'password'],
  email_plantilla_enrollamiento: [
    'nombre',
    'apellido',
    'upn',
    'password',
    'moodle_url',
    'cursos_html',
    'cursos_texto',
  ],
  email_asunto_bienvenida: ['nombre', 'apellido', 'dni'],
  email_asunto_credenciales: ['nombre', 'apellido', 'upn'],
  email_asunto_enrollamiento: ['nombre', 'apellido'],
};

/** Reads the Configuración singleton: where each setting goes, which are ignored, which secrets to re-enter. */
export function configReport(row: Record<string, unknown>): ConfigReport {
  const out: ConfigReport = { importado: [], ignorado: [], secretos: [], otros: [] };
  const has = (k: string) => Object.hasOwn(row, k);
  for (const tipo of ['preinscriptos', 'aspirantes', 'ingresantes']) {
    out.importado.push({
      campo: `${tipo}: ventana`,
      valor: `${whenOf(row[`${tipo}_dia_inicio`])} → ${whenOf(row[`${tipo}_dia_fin`])}`,
      destino: `lucy ingest config set ${tipo} --inicio … --fin … (o el admin, Ingesta)`,
    });
    out.importado.push({
      campo: `${tipo}: correo / Teams / Moodle`,
      valor: `${row[`${tipo}_enviar_email`] ? 'sí' : 'no'} / ${row[`${tipo}_activar_teams`] ? 'sí' : 'no'} / ${row[`${tipo}_activar_moodle`] ? 'sí' : 'no'}`,
      destino: 'configuración de ingesta del tipo',
    });
    out.importado.push({
      campo: `ultima_ingesta_${tipo}`,
      valor: whenOf(row[`ultima_ingesta_${tipo}`]),
      destino: 'punto de control: la primera ingesta de Lucy pide desde el inicio de la ventana',
    });
    out.ignorado.push({
      campo: `${tipo}_frecuencia_segundos`,
      motivo:
        'pylucy nunca lo usó (su beat corría cada 5 minutos fijo); en Lucy la frecuencia es la de la tarea periódica.',
    });
    if (has(`${tipo}_forzar_carga_completa`))
      out.ignorado.push({
        campo: `${tipo}_forzar_carga_completa`,
        motivo: 'marca de un solo uso; en Lucy se reemplaza con «lucy ingest reset-checkpoints».',
      });
  }
  out.ignorado.push({
    campo: 'preinscriptos_activar_teams / preinscriptos_activar_moodle',
    motivo: 'pylucy nunca los leyó: los preinscriptos no reciben cuentas.',
  });
  out.importado.push(
    { campo: 'batch_size', valor: str(row.batch_size), destino: 'IDENTITY_BATCH_LIMIT (identity-teams)' },
    {
      campo: 'rate_limit_teams',
      valor: `${str(row.rate_limit_teams)}/min`,
      destino: 'GRAPH_WRITES_PER_WINDOW y GRAPH_WRITE_WINDOW_MS (identity-teams)',
    },
    {
      campo: 'rate_limit_moodle',
      valor: `${str(row.rate_limit_moodle)}/min`,
      destino: 'IDENTITY_CONCURRENCY (identity-teams)',
    },
    {
      campo: 'account_prefix',
      valor: str(row.account_prefix),
      destino: 'IDENTITY_UPN_PREFIX (identity-teams)',
    },
    {
      campo: 'teams_tenant_id',
      valor: str(row.teams_tenant_id),
      destino: 'GRAPH_TENANT_ID (identity-teams)',
    },
    {
      campo: 'teams_client_id',
      valor: str(row.teams_client_id),
      destino: 'GRAPH_CLIENT_ID (identity-teams)',
    },
    { campo: 'sial_base_url', valor: str(row.sial_base_url), destino: 'SIAL_BASE_URL (ingest-sial)' },
    { campo: 'sial_basic_user', valor: str(row.sial_basic_user), destino: 'SIAL_USER (ingest-sial)' },
    { campo: 'moodle_base_url', valor: str(row.moodle_base_url), destino: 'MOODLE_URL (identity-teams)' },
    {
      campo: 'moodle_auth_method',
      valor: str(row.moodle_auth_method),
      destino: 'MOODLE_AUTH (identity-teams)',
    },
    { campo: 'email_from', valor: str(row.email_from), destino: 'SMTP_FROM (notifier)' },
  );
  out.ignorado.push(
    { campo: 'rate_limit_uti', motivo: 'solo lo usaba la cola de pylucy, que Lucy no tiene.' },
    { campo: 'email_usar_microsoft_graph', motivo: 'pylucy nunca lo leyó.' },
    {
      campo: 'email_host / email_port / email_use_tls',
      motivo:
        'pylucy no los usaba (enviaba por Microsoft Graph); el SMTP de Lucy se configura en el notifier.',
    },
    {
      campo: 'email_plantilla_password / email_asunto_password',
      motivo: 'pylucy nunca los usó al enviar (el reseteo usaba la plantilla de credenciales).',
    },
    {
      campo: 'moodle_courses_config',
      motivo: 'solo lo escribían scripts; la inscripción de pylucy no lo leía.',
    },
  );
  const secret = (campo: string, destino: string) => {
    const v = str(row[campo]);
    out.secretos.push({
      campo,
      estado: !v
        ? 'vacío en pylucy'
        : PLACEHOLDER.test(v)
          ? 'marcador de ejemplo en pylucy (no configurado)'
          : 'configurado en pylucy',
      destino,
    });
  };
  secret('teams_client_secret', 'GRAPH_CLIENT_SECRET de identity-teams (Secret del chart / .env de compose)');
  secret('sial_basic_pass', 'SIAL_PASSWORD de ingest-sial');
  secret('moodle_wstoken', 'MOODLE_TOKEN de identity-teams');
  out.secretos.push({
    campo: 'EMAIL_HOST_PASSWORD (entorno de pylucy)',
    estado: 'no está en la base: revíselo en el .env de pylucy',
    destino: 'SMTP_PASSWORD del notifier',
  });
  for (const [campo, vars] of Object.entries(TEMPLATE_VARS)) {
    const text = str(row[campo]);
    if (!text) continue;
    // str.format: {name}; doubled braces are literal.
    const used = [...text.replace(/\{\{|\}\}/g, '').matchAll(/\{([a-zA-Z_][a-zA-Z0-9_]*)\}/g)].map(
      (m) => m[1]!,
    );
    const unknown = [...new Set(used.filter((u) => !vars.includes(u)))];
    out.otros.push(
      unknown.length
        ? `${campo}: usa variables que no existen (${unknown.map((u) => `{${u}}`).join(', ')}); revísela antes de cargarla en el notifier (no se cambia sola).`
        : `${campo}: ${text.length} caracteres, variables ${[...new Set(used)].map((u) => `{${u}}`).join(', ') || 'ninguna'}; cárguela en el notifier (admin, Plantillas).`,
    );
  }
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

  s += '\nConfiguración de pylucy (no se copia sola: cada valor va donde se indica):\n';
  for (const c of r.configuracion.importado) s += `  ${c.campo}: ${c.valor || '—'} → ${c.destino}\n`;
  s += 'Campos que pylucy guarda pero nunca usó (se ignoran):\n';
  for (const c of r.configuracion.ignorado) s += `  ${c.campo}: ${c.motivo}\n`;
  for (const o of r.configuracion.otros) s += `  ${o}\n`;
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
  todo(
    'Cargue la configuración de ingesta (ventanas y opciones de arriba) con «lucy ingest config set» o el admin.',
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
