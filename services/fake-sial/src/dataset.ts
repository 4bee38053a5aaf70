/**
 * The population plus its mutable "changes" layer: records touched (modified now, with a changed field) and
 * records appended at run time. Only the changed records are kept, as numbers, so the layer stays small.
 */
import { FakeInputError, nonNegativeInt } from '@lucy/fake-kit';
import {
  FAKE_TIPOS,
  MAX_RECORDS_PER_TIPO,
  createPopulation,
  type FakeListRecord,
  type FakePersonalRecord,
  type FakeSizes,
  type FakeTipo,
  type Population,
  type PopulationOptions,
} from './population.js';
import { randomFor } from './prng.js';

/**
 * What a touch changes: the list entry (`comisiones`), the personal data (`telefono`), both, or nothing (the
 * record is only marked modified, e.g. after a patch).
 */
export type TouchChange = 'list' | 'personal' | 'both' | 'none';

/** Which records to touch: how many (picked pseudo-randomly) or which DNIs. */
export type TouchTarget = number | readonly (number | string)[];

/** Bad input to the fake's controls, answered 400; the kit's class, as its body readers throw it. */
export { FakeInputError };

interface Touch {
  at: number;
  revision: number;
}

const TIPO_CODE: Record<FakeTipo, number> = { preinscriptos: 0, aspirantes: 1, ingresantes: 2 };

/** The fake's data: deterministic base records plus what changed since. */
export interface Dataset {
  readonly population: Population;
  /** Current number of records of a tipo (base + added). */
  size(tipo: FakeTipo): number;
  /** Current sizes of every tipo. */
  sizes(): FakeSizes;
  /** Modification instant of a record (UTC epoch ms). */
  modifiedAt(tipo: FakeTipo, index: number): number;
  listRecord(tipo: FakeTipo, index: number): FakeListRecord;
  /** Personal data of a DNI present in any tipo, else undefined. */
  personalByDni(dni: number): FakePersonalRecord | undefined;
  /** Index of a DNI within a tipo's current list, else undefined. */
  indexOfDni(tipo: FakeTipo, dni: number): number | undefined;
  /** Marks records modified at `nowMs` and changes them; returns the touched DNIs. */
  touch(tipo: FakeTipo, target: TouchTarget, change: TouchChange, nowMs: number): number[];
  /** Appends `count` new people to a tipo, modified at `nowMs`; returns their DNIs. */
  addRecords(tipo: FakeTipo, count: number, nowMs: number): number[];
  /** Number of records touched per tipo and added per tipo. */
  changeCounts(): { touched: FakeSizes; added: FakeSizes };
  /** Forgets every touch and added record. */
  reset(): void;
}

/** Creates the dataset over a fresh population. */
export function createDataset(options: PopulationOptions): Dataset {
  const population = createPopulation(options);
  const added: Record<FakeTipo, { from: number; at: number }[]> = {
    preinscriptos: [],
    aspirantes: [],
    ingresantes: [],
  };
  const extra: FakeSizes = { preinscriptos: 0, aspirantes: 0, ingresantes: 0 };
  const touched = new Map<number, Touch>();
  const personalRevisions = new Map<number, number>();
  let touchSequence = 0;

  const key = (tipo: FakeTipo, index: number): number => TIPO_CODE[tipo] * MAX_RECORDS_PER_TIPO + index;
  const size = (tipo: FakeTipo): number => population.baseSizes[tipo] + extra[tipo];

  const indexOfDni = (tipo: FakeTipo, dni: number): number | undefined => {
    const k = population.personOfDni(dni);
    if (k === undefined) return undefined;
    const index = population.indexOfPerson(tipo, k);
    return index !== undefined && index < size(tipo) ? index : undefined;
  };

  /** `count` distinct indexes of [0, n), by a partial Fisher–Yates shuffle over a sparse swap map. */
  const pickIndexes = (n: number, count: number, random: () => number): number[] => {
    const swaps = new Map<number, number>();
    const out: number[] = [];
    for (let i = 0; i < Math.min(count, n); i++) {
      const j = i + Math.floor(random() * (n - i));
      const vi = swaps.get(i) ?? i;
      const vj = swaps.get(j) ?? j;
      swaps.set(j, vi);
      out.push(vj);
    }
    return out;
  };

  return {
    population,
    size,
    sizes: () => ({
      preinscriptos: size('preinscriptos'),
      aspirantes: size('aspirantes'),
      ingresantes: size('ingresantes'),
    }),
    modifiedAt(tipo, index) {
      const touch = touched.get(key(tipo, index));
      if (touch) return touch.at;
      if (index >= population.baseSizes[tipo]) {
        const ranges = added[tipo];
        for (let i = ranges.length - 1; i >= 0; i--) {
          const range = ranges[i];
          if (range && index >= range.from) return range.at;
        }
      }
      return population.baseModifiedAt(tipo, index);
    },
    listRecord(tipo, index) {
      return population.listRecord(tipo, index, touched.get(key(tipo, index))?.revision ?? 0);
    },
    personalByDni(dni) {
      const k = population.personOfDni(dni);
      if (k === undefined) return undefined;
      const present = FAKE_TIPOS.some((tipo) => {
        const index = population.indexOfPerson(tipo, k);
        return index !== undefined && index < size(tipo);
      });
      return present ? population.personalRecord(k, personalRevisions.get(k) ?? 0) : undefined;
    },
    indexOfDni,
    touch(tipo, target, change, nowMs) {
      let indexes: number[];
      if (typeof target === 'number') {
        const count = nonNegativeInt(target, 'count');
        indexes = pickIndexes(size(tipo), count, randomFor(population.seed, 0x544f, touchSequence++));
      } else {
        indexes = target.map((raw) => {
          const dni = Number(raw);
          const index = indexOfDni(tipo, dni);
          if (index === undefined) throw new FakeInputError(`DNI ${String(raw)} is not in ${tipo}`);
          return index;
        });
      }
      return indexes.map((index) => {
        const k = key(tipo, index);
        const previous = touched.get(k);
        const listChanged = change === 'list' || change === 'both';
        touched.set(k, { at: nowMs, revision: (previous?.revision ?? 0) + (listChanged ? 1 : 0) });
        const person = population.personOf(tipo, index);
        if (change === 'personal' || change === 'both')
          personalRevisions.set(person, (personalRevisions.get(person) ?? 0) + 1);
        return population.dniOfPerson(person);
      });
    },
    addRecords(tipo, count, nowMs) {
      nonNegativeInt(count, 'n');
      const from = size(tipo);
      if (from + count > MAX_RECORDS_PER_TIPO) {
        throw new FakeInputError(`${tipo} cannot hold more than ${MAX_RECORDS_PER_TIPO} records`);
      }
      if (count === 0) return [];
      added[tipo].push({ from, at: nowMs });
      extra[tipo] += count;
      return Array.from({ length: count }, (_, i) =>
        population.dniOfPerson(population.personOf(tipo, from + i)),
      );
    },
    changeCounts() {
      const touchedCounts: FakeSizes = { preinscriptos: 0, aspirantes: 0, ingresantes: 0 };
      for (const k of touched.keys()) {
        const tipo = FAKE_TIPOS[Math.floor(k / MAX_RECORDS_PER_TIPO)];
        if (tipo) touchedCounts[tipo]++;
      }
      return { touched: touchedCounts, added: { ...extra } };
    },
    reset() {
      touched.clear();
      personalRevisions.clear();
      for (const tipo of FAKE_TIPOS) {
        added[tipo] = [];
        extra[tipo] = 0;
      }
      touchSequence = 0;
    },
  };
}
