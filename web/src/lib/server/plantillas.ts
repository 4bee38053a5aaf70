// The e-mail kinds as the admin's addresses name them, and plain views of the notifier's templates.
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { TipoEmail, type Plantilla, type PlantillaVersion, type VariablePlantilla } from '@lucy/proto';

export const TIPOS_EMAIL = ['bienvenida', 'credenciales', 'password_reset', 'enrolamiento'] as const;
export type TipoEmailSlug = (typeof TIPOS_EMAIL)[number];

export const TIPO_EMAIL_LABEL: Record<TipoEmailSlug, string> = {
  bienvenida: 'Bienvenida',
  credenciales: 'Credenciales de acceso',
  password_reset: 'Nueva contraseña',
  enrolamiento: 'Acceso al Ecosistema Virtual (Moodle)',
};

export const TIPO_EMAIL_PB: Record<TipoEmailSlug, TipoEmail> = {
  bienvenida: TipoEmail.BIENVENIDA,
  credenciales: TipoEmail.CREDENCIALES,
  password_reset: TipoEmail.PASSWORD_RESET,
  enrolamiento: TipoEmail.ENROLAMIENTO,
};

export function slugOf(t: TipoEmail): TipoEmailSlug | undefined {
  return TIPOS_EMAIL.find((s) => TIPO_EMAIL_PB[s] === t);
}

export function isTipoEmail(v: string): v is TipoEmailSlug {
  return (TIPOS_EMAIL as readonly string[]).includes(v);
}

const iso = (t: Parameters<typeof timestampDate>[0] | undefined) =>
  t ? timestampDate(t).toISOString() : null;

export function plantillaView(p: Plantilla) {
  const tipo = slugOf(p.tipo) ?? 'bienvenida';
  return {
    tipo,
    label: TIPO_EMAIL_LABEL[tipo],
    asunto: p.asunto,
    cuerpo: p.cuerpo,
    cuerpoTexto: p.cuerpoTexto,
    version: p.version,
    actualizadaEn: iso(p.actualizadaEn),
    actualizadaPor: p.actualizadaPor,
  };
}

export function variableView(v: VariablePlantilla) {
  return { nombre: v.nombre, descripcion: v.descripcion, enAsunto: v.enAsunto, obligatoria: v.obligatoria };
}

export function versionView(v: PlantillaVersion) {
  return {
    version: v.version,
    asunto: v.asunto,
    creadaEn: iso(v.creadaEn),
    creadaPor: v.creadaPor,
    origen: v.origen,
  };
}
