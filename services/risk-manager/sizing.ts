/**
 * Position sizing: how many shares or coins an order for a signal is for.
 * @module
 */

/** Quantities closer than this to zero are zero (float noise from fills and rounding). */
export const QTY_EPSILON = 1e-9;

/** True for crypto pairs (`BTC/USD`), which trade in fractional increments. */
export function isCrypto(symbol: string): boolean {
  return symbol.includes("/");
}

/** Rounds float noise away (to 1e-9), keeping quantities exact enough to compare. */
export function cleanQty(q: number): number {
  const r = Math.round(q * 1e9) / 1e9;
  return Math.abs(r) < QTY_EPSILON ? 0 : r;
}

/**
 * The quantity for a `notional` USD order at `price`: whole shares for stocks (no "/"),
 * whole multiples of `minQty` for crypto, always rounded down so the notional is never
 * exceeded. Returns 0 when not even one unit fits.
 *
 * @example
 * ```ts
 * sizeOrder("AAPL", 5000, 228.14, 0.001); // 21
 * sizeOrder("BTC/USD", 5000, 97250, 0.001); // 0.051
 * ```
 */
export function sizeOrder(symbol: string, notional: number, price: number, minQty: number): number {
  if (!(price > 0) || !(notional > 0)) return 0;
  const raw = notional / price;
  if (!isCrypto(symbol)) return Math.floor(raw + QTY_EPSILON);
  const steps = Math.floor(raw / minQty + QTY_EPSILON);
  return cleanQty(steps * minQty);
}
