import { requirePositiveInteger } from "./positive_integer.ts";

/**
 * Exponential moving average, O(1) per update, seeded with the simple mean of the
 * first `period` values (the usual convention, so it matches charting packages).
 * @module
 */

/**
 * A streaming EMA with smoothing `alpha = 2 / (period + 1)`.
 *
 * Undefined (`value` is undefined) until `period` values have been seen; the
 * `period`-th value makes it the simple mean of the first `period` values, and each
 * later value `x` gives `ema += alpha * (x - ema)`.
 *
 * @example
 * ```ts
 * const ema = new Ema(3);
 * [1, 2, 3].map((x) => ema.update(x)); // [undefined, undefined, 2] (the seed: their mean)
 * ema.update(4); // 3 (2 + 0.5 * (4 - 2))
 * ```
 */
export class Ema {
  readonly alpha: number;
  #count = 0;
  #seedSum = 0;
  #value: number | undefined;

  /** Throws a RangeError unless `period` is a positive integer. */
  constructor(readonly period: number) {
    requirePositiveInteger("EMA period", period);
    this.alpha = 2 / (period + 1);
  }

  /** Adds one value; returns the EMA after it (undefined while warming up). */
  update(value: number): number | undefined {
    this.#count++;
    if (this.#value === undefined) {
      this.#seedSum += value;
      if (this.#count === this.period) this.#value = this.#seedSum / this.period;
    } else {
      this.#value += this.alpha * (value - this.#value);
    }
    return this.#value;
  }
}
