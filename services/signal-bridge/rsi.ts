import { requirePositiveInteger } from "./positive_integer.ts";

/**
 * Relative Strength Index with Wilder's smoothing, O(1) per update and exact after
 * every price (not only at bar closes).
 * @module
 */

/**
 * A streaming RSI over `period` price changes.
 *
 * The first average gain and loss are the simple means of the first `period`
 * changes (so `period + 1` prices are needed); after that each change gives
 * `avg = (avg * (period - 1) + part) / period`. `RSI = 100 - 100 / (1 + gain / loss)`,
 * 100 when there were no losses, and 50 when the price did not move at all.
 *
 * @example
 * ```ts
 * const rsi = new WilderRsi(14);
 * for (const p of prices) rsi.update(p);
 * rsi.value; // 0..100, or undefined before 15 prices
 * ```
 */
export class WilderRsi {
  #last: number | undefined;
  #changes = 0;
  #avgGain = 0;
  #avgLoss = 0;
  #value: number | undefined;

  /** Throws a RangeError unless `period` is a positive integer. */
  constructor(readonly period: number) {
    requirePositiveInteger("RSI period", period);
  }

  /** Adds one price; returns the RSI after it (undefined while warming up). */
  update(price: number): number | undefined {
    const last = this.#last;
    this.#last = price;
    if (last === undefined) return undefined;
    const change = price - last;
    const gain = change > 0 ? change : 0;
    const loss = change < 0 ? -change : 0;
    this.#changes++;
    const period = this.period;
    if (this.#changes <= period) {
      // Accumulate the simple means of the first `period` changes.
      this.#avgGain += gain / period;
      this.#avgLoss += loss / period;
      if (this.#changes < period) return undefined;
    } else {
      this.#avgGain = (this.#avgGain * (period - 1) + gain) / period;
      this.#avgLoss = (this.#avgLoss * (period - 1) + loss) / period;
    }
    this.#value = rsiOf(this.#avgGain, this.#avgLoss);
    return this.#value;
  }

  /** The current RSI (0..100), or undefined before `period + 1` prices. */
  get value(): number | undefined {
    return this.#value;
  }
}

/** RSI from average gain and loss: 100 with no losses, 50 with neither. */
export function rsiOf(avgGain: number, avgLoss: number): number {
  if (avgLoss === 0) return avgGain === 0 ? 50 : 100;
  return 100 - 100 / (1 + avgGain / avgLoss);
}
