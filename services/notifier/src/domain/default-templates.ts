/**
 * The built-in templates: the original system's built-in e-mails (FCE - UNRC, V.ECO), in the template syntax
 * staff edit (`{variable}`, CSS braces doubled). They are what the notifier sends while staff have not stored
 * a template of a kind, and what the template editor starts from.
 *
 * Differences from the original, on purpose: variables instead of Python attribute access, the credentials
 * e-mail's <title> no longer says "Bienvenida", the reset e-mail is a template staff can edit (the original
 * hard-coded it and ignored the stored one), and the enrolment e-mail lists the courses when they are known.
 */
import { TipoEmail } from '@lucy/proto';
import type { TipoEmailConocido } from './email-kinds.js';

/** A template's source: subject and body (HTML when it contains `<html`). */
export interface PlantillaFuente {
  readonly asunto: string;
  readonly cuerpo: string;
  /** Plain-text part template; empty or absent: generated from the rendered HTML. */
  readonly texto?: string | undefined;
}

const BASE_CSS = `    body {{ margin: 0; padding: 0; background: #f4f6f9; font-family: Arial, sans-serif; line-height: 1.6; color: #1f2937; }}
    .wrapper {{ width: 100%; background: #f4f6f9; padding: 24px 12px; }}
    .container {{ max-width: 640px; margin: 0 auto; background: #ffffff; border-radius: 12px; overflow: hidden; border: 1px solid #e5e7eb; }}
    .header {{ background: #0b2f5b; padding: 26px 20px; text-align: center; color: #fff; }}
    .header h1 {{ margin: 0; font-size: 20px; letter-spacing: 0.2px; }}
    .header p {{ margin: 6px 0 0; font-size: 13px; opacity: 0.9; }}
    .content {{ padding: 22px 20px; }}
    .pill {{ display: inline-block; font-size: 12px; padding: 4px 10px; border-radius: 999px; background: #e8f1ff; color: #0b2f5b; border: 1px solid #cfe1ff; margin-bottom: 10px; }}
    .title {{ margin: 0 0 10px; font-size: 18px; }}
    .muted {{ color: #6b7280; font-size: 13px; margin: 0 0 14px; }}
    .card {{ background: #f8fafc; border: 1px solid #e5e7eb; border-radius: 10px; padding: 14px 14px; margin: 16px 0; }}
    .label {{ font-size: 12px; color: #6b7280; text-transform: uppercase; letter-spacing: .6px; margin: 0 0 6px; }}
    .value {{ margin: 0; font-size: 15px; color: #111827; }}
    .divider {{ height: 1px; background: #e5e7eb; margin: 14px 0; }}
    .btn-wrap {{ text-align: center; margin: 18px 0 8px; }}
    .button {{ display: inline-block; background: #0b2f5b; color: #ffffff !important; text-decoration: none; padding: 12px 18px; border-radius: 10px; font-weight: bold; font-size: 14px; }}
    .warning {{ background: #fff7e6; border: 1px solid #ffe1a6; border-left: 5px solid #f59e0b; border-radius: 10px; padding: 12px 14px; margin: 16px 0; }}
    .warning strong {{ color: #92400e; }}
    .warning ul {{ margin: 8px 0 0 18px; padding: 0; }}
    .list, .steps {{ margin: 8px 0 0 18px; padding: 0; }}
    .help {{ margin-top: 16px; font-size: 13px; color: #374151; }}
    .help b {{ color: #0b2f5b; }}
    .signature {{ font-size: 13px; color: #374151; }}
    .footer {{ padding: 16px 20px; background: #fbfbfb; text-align: center; font-size: 12px; color: #6b7280; border-top: 1px solid #e5e7eb; }}
    a {{ color: #0b2f5b; }}`;

const page = (title: string, header: string, subheader: string, content: string, footer: string): string =>
  `<!DOCTYPE html>
<html lang="es">
<head>
  <meta charset="UTF-8" />
  <meta name="viewport" content="width=device-width, initial-scale=1.0" />
  <title>${title}</title>
  <style>
${BASE_CSS}
  </style>
</head>
<body>
  <div class="wrapper">
    <div class="container">
      <div class="header">
        <h1>${header}</h1>
        <p>${subheader}</p>
      </div>
      <div class="content">
${content}
      </div>
      <div class="footer">
${footer}
      </div>
    </div>
  </div>
</body>
</html>
`;

const SOPORTE_EMAIL = 'v.estudiantes@fce.unrc.edu.ar';
const NO_RESPONDER = '        Este es un mensaje automático, por favor no responder.';

const BIENVENIDA = page(
  'Bienvenida | FCE - UNRC',
  'Bienvenida/o a la Facultad de Ciencias Económicas',
  'Universidad Nacional de Río Cuarto',
  `        <span class="pill">Inscripción recibida</span>
        <h2 class="title">Estimado/a {apellido}, {nombre} <span style="font-weight: normal; color: #6b7280;">(DNI: {dni})</span></h2>
        <p class="muted">
          Es un placer darte la bienvenida a la <b>Facultad de Ciencias Económicas de la UNRC</b>.
          Hemos recibido tu inscripción correctamente.
        </p>
        <div class="card">
          <p class="label">En los próximos días vas a recibir información sobre</p>
          <ul class="list">
            <li><b>Credenciales de acceso a V.ECO</b></li>
          </ul>
          <div class="divider"></div>
          <p class="muted" style="margin: 0;">
            Para ver información y materiales del cursillo de ingreso, ingresá desde el siguiente enlace:
          </p>
          <div class="btn-wrap" style="margin-top: 12px;">
            <a class="button" href="https://www.eco.unrc.edu.ar/ingresantes/" target="_blank" rel="noopener">Ir a Ingresantes</a>
          </div>
          <p class="muted" style="margin: 10px 0 0;">
            Si el botón no funciona, copiá y pegá este enlace en tu navegador:<br />
            <a href="https://www.eco.unrc.edu.ar/ingresantes/" target="_blank" rel="noopener">https://www.eco.unrc.edu.ar/ingresantes/</a>
          </p>
        </div>
        <p style="margin: 0;">¡Bienvenido/a y éxitos en esta nueva etapa!</p>`,
  `        <b>Secretaría de Virtualización Estratégica - Facultad de Ciencias Económicas – UNRC</b><br />
        Ruta Nacional 36 Km 601 – Río Cuarto, Córdoba<br />
        <a href="https://www.eco.unrc.edu.ar" target="_blank" rel="noopener">www.eco.unrc.edu.ar</a>`,
);

const CREDENCIALES = page(
  'Credenciales de acceso | V.ECO',
  'Credenciales de acceso | V.ECO (FCE)',
  'Universidad Nacional de Río Cuarto',
  `        <span class="pill">Bienvenida/o al ecosistema virtual</span>
        <h2 class="title">Hola {nombre} {apellido},</h2>
        <p class="muted">
          Te compartimos tu cuenta institucional para ingresar al <b>Ecosistema Virtual de la FCE (V.ECO)</b>.
        </p>
        <div class="card">
          <p class="label">Usuario</p>
          <p class="value"><b>{upn}</b></p>
          <div class="divider"></div>
          <p class="label">Contraseña temporal</p>
          <p class="value"><b>{password}</b></p>
        </div>
        <div class="warning">
          <strong>⚠️ Importante</strong>
          <ul>
            <li>En tu primer ingreso, el sistema te solicitará <b>cambiar la contraseña</b>.</li>
            <li>Guardá tu nueva contraseña en un lugar seguro y no la compartas.</li>
          </ul>
        </div>
        <p class="muted" style="margin-bottom: 8px;">Para ingresar, seguí estos pasos:</p>
        <ol class="steps">
          <li>Accedé a <b>V.ECO</b> desde el botón de abajo.</li>
          <li>Ingresá y seleccioná el botón <b>MS TEAMS</b> de la FCE.</li>
          <li>Si es tu primera vez, completá el cambio de contraseña.</li>
        </ol>
        <div class="btn-wrap">
          <a class="button" href="https://v.eco.unrc.edu.ar" target="_blank" rel="noopener">Accedé a V.ECO</a>
        </div>
        <p class="help">
          Ante cualquier consulta, escribinos a: <b>${SOPORTE_EMAIL}</b><br />
          Tel.: <b>0358 4676542</b><br />
          También podés consultar al <b>ChatBOT FCE</b> las 24 hs.
        </p>
        <div class="divider"></div>
        <p class="signature">
          Atentamente,<br />
          Secretaría de Virtualización Estratégica<br />
          Facultad de Ciencias Económicas<br />
          Universidad Nacional de Río Cuarto
        </p>`,
  NO_RESPONDER,
);

const PASSWORD_RESET = page(
  'Nueva contraseña temporal | FCE - UNRC',
  'Nueva contraseña temporal',
  'Facultad de Ciencias Económicas · UNRC',
  `        <span class="pill">Recuperación de acceso</span>
        <h2 class="title">Hola {nombre} {apellido},</h2>
        <p class="muted">
          Se ha generado una <b>nueva contraseña temporal</b> para tu cuenta institucional.
          Utilizala para ingresar y completar el cambio de contraseña.
        </p>
        <div class="card">
          <p class="label">Usuario</p>
          <p class="value"><b>{upn}</b></p>
          <div class="divider"></div>
          <p class="label">Nueva contraseña temporal</p>
          <p class="value"><b>{password}</b></p>
        </div>
        <div class="warning">
          <strong>⚠️ Importante</strong>
          <ul>
            <li>Al ingresar con esta contraseña, el sistema te solicitará <b>cambiarla</b>.</li>
            <li>Guardá tu nueva contraseña en un lugar seguro y no la compartas.</li>
            <li>Si no solicitaste este cambio, contactate con soporte técnico <b>de inmediato</b>.</li>
          </ul>
        </div>
        <p class="help">
          Ante cualquier consulta, escribinos a: <b><a href="mailto:${SOPORTE_EMAIL}">${SOPORTE_EMAIL}</a></b>
        </p>
        <p class="help" style="margin-top: 12px;">
          Saludos,<br />
          <b>Facultad de Ciencias Económicas</b><br />
          Universidad Nacional de Río Cuarto
        </p>`,
  `${NO_RESPONDER}<br />
        <b>Facultad de Ciencias Económicas – UNRC</b>`,
);

const ENROLAMIENTO = page(
  'Ecosistema Virtual FCE - V.ECO',
  'Ecosistema Virtual FCE - V.ECO',
  'Facultad de Ciencias Económicas · UNRC',
  `        <span class="pill">Cursillo de ingreso</span>
        <h2 class="title">Hola {nombre} {apellido},</h2>
        <p class="muted">
          ¡Bienvenido/a al <b>Ecosistema Virtual</b> de la Facultad de Ciencias Económicas (<b>V.ECO</b>)!
          Has sido matriculado/a a los siguientes módulos del cursillo de ingreso:
        </p>
        <div class="card">
          <p class="label">Módulos matriculados</p>
          {cursos}
        </div>
        <div class="card">
          <p class="label">🌐 Acceso al ecosistema virtual</p>
          <p style="margin: 0; font-size: 14px;">
            URL: <a href="{moodle_url}" target="_blank" rel="noopener">{moodle_url}</a>
          </p>
          <div class="divider"></div>
          <p class="muted" style="margin: 0;">
            🔑 Ingresá con el <b>nombre de usuario</b> y la <b>contraseña</b> que recibiste en el correo anterior.
            Guardá estas credenciales en un lugar seguro.
          </p>
          <div class="btn-wrap">
            <a class="button" href="{moodle_url}" target="_blank" rel="noopener">Ingresar a V.ECO</a>
          </div>
          <p class="muted" style="margin: 8px 0 0;">
            Si el botón no funciona, copiá y pegá este enlace en tu navegador:<br />
            <a href="{moodle_url}" target="_blank" rel="noopener">{moodle_url}</a>
          </p>
        </div>
        <div class="warning">
          <strong>📩 Soporte</strong><br />
          Si tenés alguna consulta, escribinos a
          <b><a href="mailto:${SOPORTE_EMAIL}">${SOPORTE_EMAIL}</a></b>
          o consultá el <b>CHATBOT</b> de la FCE desde la página de la Facultad (24 hs).
        </div>`,
  `${NO_RESPONDER}<br />
        <b>Facultad de Ciencias Económicas – UNRC</b>`,
);

/**
 * The built-in template of each kind. Subjects are the original's defaults; the reset subject is the one the
 * original actually sent.
 */
export const PLANTILLAS_POR_DEFECTO: Readonly<Record<TipoEmailConocido, PlantillaFuente>> = Object.freeze({
  [TipoEmail.BIENVENIDA]: { asunto: 'Bienvenido/a a la UNRC', cuerpo: BIENVENIDA },
  [TipoEmail.CREDENCIALES]: { asunto: 'Credenciales de acceso - UNRC', cuerpo: CREDENCIALES },
  [TipoEmail.PASSWORD_RESET]: {
    asunto: 'Nueva contraseña temporal - FCE UNRC',
    cuerpo: PASSWORD_RESET,
  },
  [TipoEmail.ENROLAMIENTO]: { asunto: 'Acceso al Ecosistema Virtual - UNRC', cuerpo: ENROLAMIENTO },
});

/** The text shown instead of the course list while no course is known (the original's wording). */
export const CURSOS_PENDIENTES = 'Serás notificado cuando los cursos estén disponibles.';
