/** Realistic vocabulary for the Facultad de Ciencias Económicas (UNRC) population. */

/** A career as SIAL names it. */
export interface CatalogCarrera {
  readonly id: number;
  readonly nombre: string;
  /** Whether the distance modality ("2") exists for the career. */
  readonly distancia: boolean;
}

export const CARRERAS: readonly CatalogCarrera[] = [
  { id: 2, nombre: 'LICENCIATURA EN ECONOMÍA', distancia: true },
  { id: 3, nombre: 'CONTADOR PÚBLICO', distancia: true },
  { id: 4, nombre: 'LICENCIATURA EN ADMINISTRACIÓN', distancia: true },
  { id: 7, nombre: 'TECNICATURA EN GESTIÓN AGROPECUARIA Y AGROALIMENTARIA', distancia: false },
  { id: 8, nombre: 'TECNICATURA UNIVERSITARIA EN GESTIÓN EMPRESARIAL', distancia: false },
];

/** Relative weight of each career in CARRERAS order (Contador is the largest). */
export const CARRERA_WEIGHTS: readonly number[] = [20, 35, 25, 10, 10];

/** A localidad and its telephone area code. */
export interface CatalogLocalidad {
  readonly nombre: string;
  readonly area: string;
}

export const LOCALIDADES: readonly CatalogLocalidad[] = [
  { nombre: 'Río Cuarto', area: '358' },
  { nombre: 'General Deheza', area: '358' },
  { nombre: 'Córdoba', area: '351' },
  { nombre: 'Villa María', area: '353' },
  { nombre: 'San Luis', area: '266' },
  { nombre: 'Moldes', area: '358' },
];

export const LOCALIDAD_WEIGHTS: readonly number[] = [50, 8, 12, 12, 8, 10];

// prettier-ignore
export const NOMBRES: readonly string[] = [
  'MARÍA', 'SOFÍA', 'VALENTINA', 'MARTINA', 'CAMILA', 'LUCÍA', 'FLORENCIA', 'AGUSTINA', 'MICAELA', 'JULIETA',
  'VIRGINIA', 'SOLEDAD', 'CAROLINA', 'PAULA', 'ANTONELLA', 'ROCÍO', 'MILAGROS', 'BRENDA', 'AYELÉN', 'NATALIA',
  'JUAN', 'SANTIAGO', 'MATEO', 'TOMÁS', 'FACUNDO', 'NICOLÁS', 'LUCAS', 'FRANCO', 'AGUSTÍN', 'JOAQUÍN',
  'MARTÍN', 'GONZALO', 'IGNACIO', 'EZEQUIEL', 'MATÍAS', 'LAUTARO', 'BRUNO', 'GASTÓN', 'PABLO', 'JOSÉ',
];

// prettier-ignore
export const APELLIDOS: readonly string[] = [
  'GONZÁLEZ', 'RODRÍGUEZ', 'GÓMEZ', 'FERNÁNDEZ', 'LÓPEZ', 'DÍAZ', 'MARTÍNEZ', 'PÉREZ', 'GARCÍA', 'SÁNCHEZ',
  'ROMERO', 'SOSA', 'ÁLVAREZ', 'TORRES', 'RUIZ', 'RAMÍREZ', 'FLORES', 'BENÍTEZ', 'ACOSTA', 'MEDINA',
  'HERRERA', 'AGUIRRE', 'PEREYRA', 'GIMÉNEZ', 'MOLINA', 'CASTRO', 'ORTIZ', 'SILVA', 'NÚÑEZ', 'LUNA',
  'JUÁREZ', 'CABRERA', 'RÍOS', 'FERREYRA', 'GODOY', 'MORALES', 'DOMÍNGUEZ', 'PERALTA', 'VEGA', 'CARRIZO',
  'QUIROGA', 'LEDESMA', 'OJEDA', 'PONCE', 'VERA', 'VILLALBA', 'CORREA', 'LUCERO', 'AGÜERO', 'BRUSASCA',
  'BERTOLA', 'BOERO', 'MAINERO', 'DE LA FUENTE', 'DEL BOCA',
];

export const EMAIL_DOMAINS: readonly string[] = [
  'gmail.com',
  'gmail.com',
  'gmail.com',
  'hotmail.com',
  'yahoo.com.ar',
  'outlook.com',
];
