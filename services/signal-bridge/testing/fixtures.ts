/**
 * Test fixtures for the features: small feature periods that warm up in a few
 * prices, a seeded random source, a fixed price series, and straightforward batch
 * recomputations of each feature over the whole series, written independently of the
 * streaming code (slices and plain loops, no shared helpers) so the tests compare two
 * methods.
 * @module
 */
import assert from "node:assert/strict";
import type { FeatureParams } from "../symbol_features.ts";

/** Feature periods so short that every feature is defined after a few prices. */
export const SMALL_FEATURES: FeatureParams = Object.freeze({
  emaFast: 2,
  emaSlow: 3,
  macdSignal: 2,
  rsiPeriod: 2,
  returnsWindow: 1,
  volatilityWindow: 2,
  tradeFlowWindow: 2,
  imbalanceLevels: 1,
});

/** A seeded linear congruential generator: the same numbers in [0, 1) for the same seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** A fixed, reproducible series: a seeded random walk with flat stretches and jumps. */
export function fixedSeries(n = 300, start = 100, seed = 12345): number[] {
  const rand = seededRandom(seed);
  const out: number[] = [];
  let p = start;
  for (let i = 0; i < n; i++) {
    if (i % 37 >= 30) {
      // a flat stretch: the price does not move
    } else if (i % 53 === 0 && i > 0) {
      p *= rand() < 0.5 ? 0.98 : 1.02;
    } else {
      p = Math.max(1, p + (rand() - 0.5) * 0.4);
    }
    out.push(Math.round(p * 100) / 100);
  }
  return out;
}

/** Batch EMA: undefined before `n` values, the mean of the first `n`, then `k x + (1 - k) prev`. */
export function batchEma(xs: readonly number[], n: number): (number | undefined)[] {
  const k = 2 / (n + 1);
  const out: (number | undefined)[] = new Array(xs.length).fill(undefined);
  if (xs.length < n) return out;
  out[n - 1] = xs.slice(0, n).reduce((a, b) => a + b, 0) / n;
  for (let i = n; i < xs.length; i++) out[i] = xs[i] * k + (out[i - 1] as number) * (1 - k);
  return out;
}

/** Batch Wilder RSI, via RSI = 100 * gain / (gain + loss). */
export function batchRsi(ps: readonly number[], n: number): (number | undefined)[] {
  const out: (number | undefined)[] = new Array(ps.length).fill(undefined);
  const gains = ps.slice(1).map((p, i) => Math.max(0, p - ps[i]));
  const losses = ps.slice(1).map((p, i) => Math.max(0, ps[i] - p));
  if (gains.length < n) return out;
  let g = gains.slice(0, n).reduce((a, b) => a + b, 0) / n;
  let l = losses.slice(0, n).reduce((a, b) => a + b, 0) / n;
  const rsi = () => (g + l === 0 ? 50 : (100 * g) / (g + l));
  out[n] = rsi();
  for (let j = n; j < gains.length; j++) {
    g = (g * (n - 1) + gains[j]) / n;
    l = (l * (n - 1) + losses[j]) / n;
    out[j + 1] = rsi();
  }
  return out;
}

/** Batch MACD line, signal and histogram from batch EMAs. */
export function batchMacd(
  ps: readonly number[],
  fast: number,
  slow: number,
  signal: number,
): { macd: (number | undefined)[]; signal: (number | undefined)[]; hist: (number | undefined)[] } {
  const f = batchEma(ps, fast);
  const s = batchEma(ps, slow);
  const macd = ps.map((_, i) => (s[i] === undefined ? undefined : (f[i] as number) - s[i]!));
  const first = slow - 1;
  const sig = [
    ...new Array(first).fill(undefined),
    ...batchEma(macd.slice(first) as number[], signal),
  ];
  const hist = macd.map((m, i) => (sig[i] === undefined ? undefined : m! - sig[i]!));
  return { macd, signal: sig, hist };
}

/** Batch realised volatility: sqrt(mean r^2) over the `w` log returns ending at each price. */
export function batchVolatility(ps: readonly number[], w: number): (number | undefined)[] {
  return ps.map((_, i) => {
    if (i < w) return undefined;
    const window = ps.slice(i - w, i + 1);
    const rs = window.slice(1).map((p, j) => Math.log(p / window[j]));
    return Math.sqrt(rs.reduce((a, r) => a + r * r, 0) / w);
  });
}

/** Batch n-update log return. */
export function batchReturn(ps: readonly number[], n: number): (number | undefined)[] {
  return ps.map((p, i) => (i < n ? undefined : Math.log(p / ps[i - n])));
}

/** Batch trade flow over the `w` trades ending at each trade. */
export function batchFlow(
  trades: readonly { sign: number; size: number }[],
  w: number,
): (number | undefined)[] {
  return trades.map((_, i) => {
    if (i < w - 1) return undefined;
    const win = trades.slice(i - w + 1, i + 1);
    const vol = win.reduce((a, t) => a + t.size, 0);
    return vol === 0 ? 0 : win.reduce((a, t) => a + t.sign * t.size, 0) / vol;
  });
}

/** Asserts two series agree: both undefined, or within `tol` relative (absolute near 0). */
export function assertSeriesClose(
  actual: readonly (number | undefined)[],
  expected: readonly (number | undefined)[],
  what: string,
  tol = 1e-9,
): void {
  assert.equal(actual.length, expected.length, `${what}: lengths differ`);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (e === undefined || a === undefined) {
      assert.equal(a, e, `${what}[${i}]: expected ${e}, got ${a}`);
      continue;
    }
    const scale = Math.max(1, Math.abs(e));
    assert.ok(Math.abs(a - e) <= tol * scale, `${what}[${i}]: expected ${e}, got ${a}`);
  }
}
