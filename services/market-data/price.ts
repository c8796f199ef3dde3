/**
 * Exact prices: a price travels as a JSON number but is held as an integer count
 * of {@link PRICE_SCALE}ths, so map keys and comparisons never drift
 * (`128.14` stays `128.14`, `0.1 + 0.2` style sums cannot appear in a book key).
 * @module
 */

/** Price units per 1.0 of price: eight decimal places, enough for stocks and crypto. */
export const PRICE_SCALE = 100_000_000;

/** The largest price representable exactly (about 90 million). */
export const MAX_PRICE = Math.floor(Number.MAX_SAFE_INTEGER / PRICE_SCALE);

/**
 * Converts a wire price to integer units; `undefined` when the value is not a
 * finite positive number within {@link MAX_PRICE}.
 *
 * @example
 * ```ts
 * toUnits(128.14); // 12814000000
 * ```
 */
export function toUnits(price: unknown): number | undefined {
  if (typeof price !== "number" || !Number.isFinite(price) || price <= 0 || price > MAX_PRICE) {
    return undefined;
  }
  const units = Math.round(price * PRICE_SCALE);
  return units > 0 ? units : undefined;
}

/**
 * Converts integer units back to the nearest double of the decimal price, the same
 * double a JSON parser produces for that decimal (`fromUnits(toUnits(128.14)!) === 128.14`).
 */
export function fromUnits(units: number): number {
  return units / PRICE_SCALE;
}

/** The number of decimals of a tick size such as 0.01 (2) or 0.5 (1). */
export function decimalsOf(tick: number): number {
  for (let decimals = 0; decimals <= 10; decimals++) {
    const scaled = tick * 10 ** decimals;
    if (Math.abs(scaled - Math.round(scaled)) < 1e-9) return decimals;
  }
  return 10;
}

/** The price of `ticks` ticks of `tickSize`, rounded to the tick's decimals (no float noise). */
export function ticksToPrice(
  ticks: number,
  tickSize: number,
  decimals = decimalsOf(tickSize),
): number {
  const scale = 10 ** decimals;
  return Math.round(ticks * tickSize * scale) / scale;
}
