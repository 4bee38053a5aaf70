/**
 * Small deterministic PRNG helpers. Every generated value derives from (seed, tipo, index, salt), so a record can be
 * rebuilt on demand instead of being kept in memory. The generator is fake-kit's mulberry32.
 */
import { mulberry32, type Random } from '@lucy/fake-kit';

/** Mixes the given 32-bit integers into one well-distributed unsigned 32-bit hash (murmur3 finaliser). */
export function hash32(...parts: readonly number[]): number {
  let h = 0x811c9dc5 ^ parts.length;
  for (const part of parts) {
    h = Math.imul(h ^ (part >>> 0), 0x9e3779b1);
    h ^= h >>> 15;
    h = Math.imul(h, 0x85ebca77);
    h ^= h >>> 13;
  }
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A generator seeded from the given parts. */
export function randomFor(...parts: readonly number[]): Random {
  return mulberry32(hash32(...parts));
}

/** Integer in [min, max] (both inclusive). */
export function intBetween(random: Random, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

/** One element of a non-empty list. */
export function pick<T>(random: Random, items: readonly T[]): T {
  const item = items[Math.floor(random() * items.length)];
  if (item === undefined) throw new Error('pick() needs a non-empty list');
  return item;
}

/** One element chosen by weight; `weights` and `items` have the same length. */
export function pickWeighted<T>(random: Random, items: readonly T[], weights: readonly number[]): T {
  const total = weights.reduce((sum, w) => sum + w, 0);
  let r = random() * total;
  for (let i = 0; i < items.length; i++) {
    r -= weights[i] ?? 0;
    if (r < 0) return items[i] as T;
  }
  return items[items.length - 1] as T;
}
