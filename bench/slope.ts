/**
 * Memory growth as a slope: the least-squares line through `(minute, MB)` samples, so a
 * soak reports how fast memory grows, not where one noisy sample landed.
 *
 * @example
 * ```ts
 * slopePerMinute([{ atMs: 0, mb: 100 }, { atMs: 60_000, mb: 102 }]); // 2 (MB/min)
 * ```
 * @module
 */

/** One memory sample: when (ms, any origin) and how much (MB). */
export interface MemorySample {
  readonly atMs: number;
  readonly mb: number;
}

/**
 * The least-squares slope of `samples` in MB per minute; NaN with fewer than two
 * samples or no spread in time.
 */
export function slopePerMinute(samples: readonly MemorySample[]): number {
  const n = samples.length;
  if (n < 2) return NaN;
  let sx = 0, sy = 0;
  for (const s of samples) {
    sx += s.atMs / 60_000;
    sy += s.mb;
  }
  const mx = sx / n, my = sy / n;
  let sxx = 0, sxy = 0;
  for (const s of samples) {
    const dx = s.atMs / 60_000 - mx;
    sxx += dx * dx;
    sxy += dx * (s.mb - my);
  }
  return sxx === 0 ? NaN : sxy / sxx;
}
