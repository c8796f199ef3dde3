/**
 * Seeded randomness for the simulated exchange (market and paper venue), so a run is
 * reproducible from its seed.
 * @module
 */

/**
 * A 32-bit seeded PRNG (mulberry32): the same seed gives the same sequence, uniform
 * in [0, 1). Not for anything secret.
 *
 * @example
 * ```ts
 * const rnd = mulberry32(42);
 * rnd(); // the same first number on every run
 * ```
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
