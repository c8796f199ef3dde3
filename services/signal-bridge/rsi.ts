/**
 * Relative Strength Index with Wilder's smoothing, O(1) per update and exact after
 * every price (not only at bar closes).
 * @module
 */

/**
 * A streaming RSI over `period` price changes.
 *
 * The first average gain and loss are the simple means of the first `period`
 * changes (so `period + 1` prices are needed); after that each change `d` gives
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
    if (!Number.isInteger(period) || period < 1) {
      throw new RangeError(`RSI period must be a positive integer, got ${period}`);
    }
  }

  /** Adds one price; returns the RSI after it (undefined while warming up). */
  update(price: number): number | undefined {
    const last = this.#last;
    this.#last = price;
    if (last === undefined) return undefined;
    const d = price - last;
    const gain = d > 0 ? d : 0;
    const loss = d < 0 ? -d : 0;
    this.#changes++;
    const n = this.period;
    if (this.#changes <= n) {
      // Accumulate the simple means of the first `period` changes.
      this.#avgGain += gain / n;
      this.#avgLoss += loss / n;
      if (this.#changes < n) return undefined;
    } else {
      this.#avgGain = (this.#avgGain * (n - 1) + gain) / n;
      this.#avgLoss = (this.#avgLoss * (n - 1) + loss) / n;
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
