/** Seeded randomness, so a fake's data and its `ratio` faults repeat run after run. */

/** A uniform random source in [0, 1). */
export type Random = () => number;

/**
 * mulberry32: a tiny, fast 32-bit generator seeded with an integer (taken modulo 2^32). Good for fake data and
 * fault draws; never for anything secret.
 */
export function mulberry32(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
