/**
 * The deterministic, lazily generated population behind the fake. Nothing is precomputed per record: a record is
 * rebuilt from (seed, tipo, index, revision) whenever it is served, so 100,000 records per tipo cost no memory.
 *
 * Identity: every person has a key `k`; DNI = 40,000,000 + perm(k), where perm is a seed-dependent bijection on
 * [0, 2^23), so DNI → person is as cheap as person → DNI. Keys are split in blocks of 2^21: block 0 are the
 * preinscriptos, block 1 the aspirantes who never were preinscriptos, block 2 the ingresantes who never were
 * aspirantes. The first 60 % of the aspirantes are the first preinscriptos, and the first 60 % of the ingresantes
 * are the first aspirantes: students move forward through the tipos with the same DNI.
 */
import {
  APELLIDOS,
  CARRERA_WEIGHTS,
  CARRERAS,
  EMAIL_DOMAINS,
  LOCALIDAD_WEIGHTS,
  LOCALIDADES,
  NOMBRES,
  type CatalogCarrera,
} from './catalog.js';
import type { Random } from '@lucy/fake-kit';
import { hash32, intBetween, pick, pickWeighted, randomFor } from './prng.js';
import { formatFechaInscri, formatFechaNatal, localYearMonth } from './sial-time.js';

/** The SIAL list kinds, as they appear in the path (case-sensitive). */
export type FakeTipo = 'preinscriptos' | 'aspirantes' | 'ingresantes';

/** Every tipo, in the order students move through them. */
export const FAKE_TIPOS: readonly FakeTipo[] = ['preinscriptos', 'aspirantes', 'ingresantes'];

/** Records per tipo. */
export type FakeSizes = Record<FakeTipo, number>;

/** One comisión of a carrera, as SIAL sends it. */
export interface FakeComision {
  id_comision: number;
  nombre_comision: string;
}

/** One carrera of a list record, as SIAL sends it. */
export interface FakeCarrera {
  id_carrera: number;
  nombre_carrera: string;
  /** `dd/mm/YYYY HH:MM:SS`, Córdoba time. */
  fecha_inscri: string;
  /** "1" presencial, "2" distancia. */
  modalidad: '1' | '2';
  cohorte: number | null;
  comisiones: FakeComision[];
}

/** A list record: note `nrodoc` is a number here. */
export interface FakeListRecord {
  tipodoc: string;
  nrodoc: number;
  carreras: FakeCarrera[];
}

/** A personal-data record: `nrodoc` is a string here and `apellido` may carry trailing spaces. */
export interface FakePersonalRecord {
  tipodoc: string;
  nrodoc: string;
  nombre: string;
  apellido: string;
  email: string;
  /** `dd/mm/yy`. */
  fecha_natal: string;
  telefono: string;
  localidad: string;
}

const DNI_BASE = 40_000_000;
const PERM_BITS = 23;
const PERM_MASK = (1 << PERM_BITS) - 1;
/** Largest number of records a tipo can hold, including those added at run time. */
export const MAX_RECORDS_PER_TIPO = 1 << 21;
const OVERLAP = 0.6;
const DAY_MS = 86_400_000;

const TIPO_CODE: Record<FakeTipo, number> = { preinscriptos: 0, aspirantes: 1, ingresantes: 2 };

/** Multiplicative inverse of an odd number modulo 2^23 (Newton iteration). */
function inverseMod(a: number): number {
  let inv = a;
  for (let i = 0; i < 5; i++) inv = Math.imul(inv, 2 - Math.imul(a, inv)) & PERM_MASK;
  return inv & PERM_MASK;
}

function unshiftXor(y: number, shift: number): number {
  let x = y;
  for (let s = shift; s < PERM_BITS; s += shift) x ^= y >>> s;
  return x & PERM_MASK;
}

/** A seed-dependent bijection on [0, 2^23) and its inverse. */
function createPermutation(seed: number): { forward: (k: number) => number; inverse: (x: number) => number } {
  const a1 = (hash32(seed, 1) & PERM_MASK) | 1;
  const a2 = (hash32(seed, 2) & PERM_MASK) | 1;
  const c1 = hash32(seed, 3) & PERM_MASK;
  const c2 = hash32(seed, 4) & PERM_MASK;
  const i1 = inverseMod(a1);
  const i2 = inverseMod(a2);
  return {
    forward(k) {
      let x = (Math.imul(k, a1) + c1) & PERM_MASK;
      x ^= x >>> 11;
      x = (Math.imul(x, a2) + c2) & PERM_MASK;
      x ^= x >>> 9;
      return x;
    },
    inverse(y) {
      let x = unshiftXor(y, 9);
      x = Math.imul((x - c2) & PERM_MASK, i2) & PERM_MASK;
      x = unshiftXor(x, 11);
      return Math.imul((x - c1) & PERM_MASK, i1) & PERM_MASK;
    },
  };
}

/** Strips accents and spaces for an e-mail local part: "AGÜERO" → "aguero", "DE LA FUENTE" → "delafuente". */
function emailPart(text: string): string {
  return text
    .normalize('NFD')
    .replace(/\p{Diacritic}/gu, '')
    .replace(/[^A-Za-z]/g, '')
    .toLowerCase();
}

/** Whatever about a person does not depend on the tipo list they appear in. */
interface Person {
  readonly dni: number;
  readonly nombre: string;
  readonly apellido: string;
  readonly email: string;
  readonly fechaNatal: string;
  readonly telefonoPrefix: string;
  readonly telefonoSuffix: number;
  readonly localidad: string;
  readonly inscriptionMs: number;
  readonly carreras: readonly { carrera: CatalogCarrera; modalidad: '1' | '2' }[];
  readonly cohorte: number | null;
}

/** Options of {@link createPopulation}. */
export interface PopulationOptions {
  readonly seed: number;
  /** Initial records per tipo (each ≤ 2^21). */
  readonly sizes: FakeSizes;
  /** Reference instant (UTC epoch ms): base modification times fall in [epoch − history, epoch). */
  readonly epochMs: number;
  /** Length of the past range the base modification times are spread over, in ms. */
  readonly historyMs: number;
}

/** The deterministic population. */
export interface Population {
  readonly seed: number;
  /** Initial sizes (records added later extend a tipo beyond these). */
  readonly baseSizes: Readonly<FakeSizes>;
  /** Person key of the record `index` of `tipo`. */
  personOf(tipo: FakeTipo, index: number): number;
  dniOfPerson(k: number): number;
  /** Person key of a DNI, or undefined when the DNI is outside the fake's DNI space. */
  personOfDni(dni: number): number | undefined;
  /** Index of a person within `tipo`, or undefined when that person is never in that tipo's list. */
  indexOfPerson(tipo: FakeTipo, k: number): number | undefined;
  /** Base modification instant (UTC epoch ms) of a record that was not touched nor added. */
  baseModifiedAt(tipo: FakeTipo, index: number): number;
  /** The list record; `revision` > 0 gives a touched version whose `comisiones` differ from the previous one. */
  listRecord(tipo: FakeTipo, index: number, revision: number): FakeListRecord;
  /** The personal data; `revision` > 0 changes `telefono`. */
  personalRecord(k: number, revision: number): FakePersonalRecord;
}

/** Creates the population for a seed; cheap, allocation-free until records are asked for. */
export function createPopulation(options: PopulationOptions): Population {
  const { seed, sizes, epochMs, historyMs } = options;
  for (const tipo of FAKE_TIPOS) {
    const size = sizes[tipo];
    if (!Number.isInteger(size) || size < 0 || size > MAX_RECORDS_PER_TIPO) {
      throw new RangeError(`size of ${tipo} must be an integer in [0, ${MAX_RECORDS_PER_TIPO}], got ${size}`);
    }
  }
  const perm = createPermutation(seed);
  const overlapAspirantes = Math.floor(Math.min(sizes.aspirantes, sizes.preinscriptos) * OVERLAP);
  const overlapIngresantes = Math.floor(Math.min(sizes.ingresantes, sizes.aspirantes) * OVERLAP);

  const personOf = (tipo: FakeTipo, index: number): number => {
    switch (tipo) {
      case 'preinscriptos':
        return index;
      case 'aspirantes':
        return index < overlapAspirantes ? index : MAX_RECORDS_PER_TIPO + index;
      case 'ingresantes':
        return index < overlapIngresantes ? personOf('aspirantes', index) : 2 * MAX_RECORDS_PER_TIPO + index;
    }
  };

  const indexOfPerson = (tipo: FakeTipo, k: number): number | undefined => {
    const block = Math.floor(k / MAX_RECORDS_PER_TIPO);
    const offset = k % MAX_RECORDS_PER_TIPO;
    switch (tipo) {
      case 'preinscriptos':
        return block === 0 ? offset : undefined;
      case 'aspirantes':
        if (block === 0) return offset < overlapAspirantes ? offset : undefined;
        return block === 1 && offset >= overlapAspirantes ? offset : undefined;
      case 'ingresantes': {
        if (block === 2) return offset >= overlapIngresantes ? offset : undefined;
        const j = indexOfPerson('aspirantes', k);
        return j !== undefined && j < overlapIngresantes ? j : undefined;
      }
    }
  };

  const person = (k: number): Person => {
    const r = randomFor(seed, 0x5045, k);
    const female = r() < 0.5;
    const names = female ? NOMBRES.slice(0, 20) : NOMBRES.slice(20);
    const first = pick(r, names);
    let second = pick(r, names);
    if (second === first) second = names[(names.indexOf(first) + 1) % names.length] ?? first;
    const nombre = r() < 0.6 ? `${first} ${second}` : first;
    const surname = pick(r, APELLIDOS);
    const apellido = (r() < 0.15 ? `${surname} ${pick(r, APELLIDOS)}` : surname) + (r() < 0.25 ? ' ' : '');
    const email =
      r() < 0.03
        ? ''
        : `${emailPart(first)}.${emailPart(surname)}${r() < 0.3 ? intBetween(r, 1, 99) : ''}@${pick(r, EMAIL_DOMAINS)}`;
    const birthYear = r() < 0.8 ? intBetween(r, 2000, 2007) : intBetween(r, 1980, 1999);
    const birthMonth = intBetween(r, 1, 12);
    const birthDay = intBetween(r, 1, new Date(Date.UTC(birthYear, birthMonth, 0)).getUTCDate());
    const localidad = pickWeighted(r, LOCALIDADES, LOCALIDAD_WEIGHTS);
    const telefonoPrefix = `54-${localidad.area}-${intBetween(r, 400, 699)}-`;
    const telefonoSuffix = intBetween(r, 0, 9999);
    const inscriptionMs = epochMs - historyMs - 60_000 - Math.floor(r() * 30 * DAY_MS);
    const primary = pickWeighted(r, CARRERAS, CARRERA_WEIGHTS);
    const modalidadOf = (c: CatalogCarrera): '1' | '2' => (c.distancia && r() < 0.3 ? '2' : '1');
    const carreras = [{ carrera: primary, modalidad: modalidadOf(primary) }];
    if (r() < 0.15) {
      const others = CARRERAS.filter((c) => c.distancia && c.id !== primary.id);
      const other = pick(r, others);
      carreras.push({ carrera: other, modalidad: modalidadOf(other) });
    }
    const { year, month } = localYearMonth(inscriptionMs);
    const cohorte = r() < 0.85 ? year + (month >= 7 ? 1 : 0) : null;
    return {
      dni: DNI_BASE + perm.forward(k),
      nombre,
      apellido,
      email,
      fechaNatal: formatFechaNatal(birthYear, birthMonth, birthDay),
      telefonoPrefix,
      telefonoSuffix,
      localidad: localidad.nombre,
      inscriptionMs,
      carreras,
      cohorte,
    };
  };

  const comisiones = (r: Random, modalidad: '1' | '2', revision: number): FakeComision[] => {
    const baseCount = pickWeighted(r, [0, 1, 2], [20, 65, 15]);
    const baseStart = intBetween(r, 0, 4);
    // Each revision differs from the previous one: the count alternates 2, 1, 2… and the start moves.
    const count = revision === 0 ? baseCount : 1 + (revision % 2);
    const start = (baseStart + revision) % 5;
    const idBase = modalidad === '2' ? 560 : 540;
    return Array.from({ length: count }, (_, i) => {
      const n = ((start + i) % 5) + 1;
      return { id_comision: idBase + n, nombre_comision: `COMISION ${String(n).padStart(2, '0')}` };
    });
  };

  return {
    seed,
    baseSizes: Object.freeze({ ...sizes }),
    personOf,
    dniOfPerson: (k) => DNI_BASE + perm.forward(k),
    personOfDni(dni) {
      const x = dni - DNI_BASE;
      if (!Number.isInteger(x) || x < 0 || x > PERM_MASK) return undefined;
      return perm.inverse(x);
    },
    indexOfPerson,
    baseModifiedAt(tipo, index) {
      const u = hash32(seed, 0x4d4f, TIPO_CODE[tipo], index) / 4294967296;
      return epochMs - 60_000 - Math.floor(u * historyMs);
    },
    listRecord(tipo, index, revision) {
      const p = person(personOf(tipo, index));
      return {
        tipodoc: 'DNI',
        nrodoc: p.dni,
        carreras: p.carreras.map(({ carrera, modalidad }, position) => ({
          id_carrera: carrera.id,
          nombre_carrera: carrera.nombre,
          fecha_inscri: formatFechaInscri(p.inscriptionMs + position * 7 * 60_000),
          modalidad,
          cohorte: p.cohorte,
          comisiones: comisiones(
            randomFor(seed, 0x434f, TIPO_CODE[tipo], index, position),
            modalidad,
            revision,
          ),
        })),
      };
    },
    personalRecord(k, revision) {
      const p = person(k);
      const suffix = revision === 0 ? p.telefonoSuffix : (p.telefonoSuffix + revision * 7919) % 10_000;
      return {
        tipodoc: 'DNI',
        nrodoc: String(p.dni),
        nombre: p.nombre,
        apellido: p.apellido,
        email: p.email,
        fecha_natal: p.fechaNatal,
        telefono: p.telefonoPrefix + String(suffix).padStart(4, '0'),
        localidad: p.localidad,
      };
    },
  };
}
