/**
 * Realised volatility: the root mean square of the last `window` one-step log
 * returns, O(1) per update (running sum of squares, recomputed exactly each time
 * the window turns over so rounding cannot drift).
 * @module
 */
import { RingBuffer } from "./ring_buffer.ts";

/**
 * A streaming realised volatility over a window of log returns.
 *
 * `value = sqrt(sum(r_i^2) / window)` over the last `window` returns
 * `r_i = ln(p_i / p_{i-1})`, so it is defined after `window + 1` prices. It is a
 * per-update figure (not annualised).
 *
 * @example
 * ```ts
 * const vol = new RealizedVolatility(50);
 * for (const p of prices) vol.update(p);
 * vol.value; // e.g. 0.0001 (1 bp per update)
 * ```
 */
export class RealizedVolatility {
  readonly #returns: RingBuffer;
  #last: number | undefined;
  #sumSq = 0;
  #sinceExact = 0;

  /** Throws a RangeError unless `window` is a positive integer. */
  constructor(readonly window: number) {
    this.#returns = new RingBuffer(window);
  }

  /** Adds one price (must be > 0); returns the volatility after it. */
  update(price: number): number | undefined {
    const last = this.#last;
    this.#last = price;
    if (last === undefined) return undefined;
    const logReturn = Math.log(price / last);
    const evicted = this.#returns.push(logReturn);
    this.#sumSq += logReturn * logReturn - (evicted === undefined ? 0 : evicted * evicted);
    if (++this.#sinceExact >= this.window) {
      this.#sumSq = this.#returns.sum((value) => value * value);
      this.#sinceExact = 0;
    }
    return this.value;
  }

  /** The volatility, or undefined before `window + 1` prices. */
  get value(): number | undefined {
    if (!this.#returns.full) return undefined;
    return Math.sqrt(Math.max(0, this.#sumSq) / this.window);
  }
}
