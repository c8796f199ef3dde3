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
 * const m = new Macd(12, 26, 9);
 * for (const p of prices) m.update(p);
 * m.value.histogram;
 * ```
 */
export class Macd {
  readonly #fast: Ema;
  readonly #slow: Ema;
  readonly #signal: Ema;
  #value: MacdValue = {
    emaFast: undefined,
    emaSlow: undefined,
    macd: undefined,
    signal: undefined,
    histogram: undefined,
  };

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
    this.#value = { emaFast, emaSlow, macd, signal, histogram };
    return this.#value;
  }

  /** The latest reading. */
  get value(): MacdValue {
    return this.#value;
  }
}
