/**
 * MACD: the fast EMA minus the slow EMA of the price, its signal line (an EMA of
 * the MACD line) and the histogram (MACD minus signal), O(1) per update.
 * @module
 */
import { Ema } from "./ema.ts";

/** One MACD reading; fields are undefined while warming up. */
export interface MacdValue {
  readonly emaFast: number | undefined;
  readonly emaSlow: number | undefined;
  /** emaFast - emaSlow, defined with the slow EMA (after `slow` prices). */
  readonly macd: number | undefined;
  /** EMA of the MACD line, defined after `slow + signal - 1` prices. */
  readonly signal: number | undefined;
  /** macd - signal. */
  readonly histogram: number | undefined;
}

/**
 * A streaming MACD (12/26/9 by convention). Throws a RangeError unless
 * `fast < slow` and all periods are positive integers.
 *
 * @example
 * ```ts
 * const macd = new Macd(12, 26, 9);
 * let reading = macd.update(prices[0]);
 * for (const price of prices.slice(1)) reading = macd.update(price);
 * reading.histogram; // undefined until 26 + 9 - 1 prices
 * ```
 */
export class Macd {
  readonly #fast: Ema;
  readonly #slow: Ema;
  readonly #signal: Ema;

  /** Throws a RangeError unless `fast < slow` and every period is a positive integer. */
  constructor(fast: number, slow: number, signal: number) {
    if (!(fast < slow)) throw new RangeError(`MACD fast period ${fast} must be below slow ${slow}`);
    this.#fast = new Ema(fast);
    this.#slow = new Ema(slow);
    this.#signal = new Ema(signal);
  }

  /** Adds one price; returns the reading after it. */
  update(price: number): MacdValue {
    const emaFast = this.#fast.update(price);
    const emaSlow = this.#slow.update(price);
    const macd = emaFast !== undefined && emaSlow !== undefined ? emaFast - emaSlow : undefined;
    const signal = macd !== undefined ? this.#signal.update(macd) : undefined;
    const histogram = macd !== undefined && signal !== undefined ? macd - signal : undefined;
    return { emaFast, emaSlow, macd, signal, histogram };
  }
}
