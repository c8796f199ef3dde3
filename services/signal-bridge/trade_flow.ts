/**
 * Trade flow: the signed share of traded volume over the last `window` trades,
 * from -1 (all sells) to +1 (all buys), O(1) per trade.
 * @module
 */
import { RingBuffer } from "./ring_buffer.ts";

/**
 * The aggressor side of a trade, by the quote rule then the tick rule: above the
 * mid is a buy (+1), below a sell (-1); at the mid (or with no mid), an uptick from
 * the previous trade price is a buy, a downtick a sell, and no change is unsigned (0).
 */
export function tradeSign(
  price: number,
  mid: number | undefined,
  previousPrice: number | undefined,
): -1 | 0 | 1 {
  if (mid !== undefined && price !== mid) return price > mid ? 1 : -1;
  if (previousPrice !== undefined && price !== previousPrice) return price > previousPrice ? 1 : -1;
  return 0;
}

/**
 * A streaming trade-flow imbalance: `sum(sign_i * size_i) / sum(size_i)` over the
 * last `window` trades; defined after `window` trades (0 when their volume is 0).
 *
 * @example
 * ```ts
 * const flow = new TradeFlow(3);
 * flow.update(1, 10); flow.update(-1, 5); flow.update(1, 5);
 * flow.value; // 0.5
 * ```
 */
export class TradeFlow {
  readonly #signed: RingBuffer;
  readonly #sizes: RingBuffer;
  #signedSum = 0;
  #sizeSum = 0;
  #sinceExact = 0;

  /** Throws a RangeError unless `window` is a positive integer. */
  constructor(readonly window: number) {
    this.#signed = new RingBuffer(window);
    this.#sizes = new RingBuffer(window);
  }

  /** Adds one trade of `sign` (-1, 0, +1) and `size` (>= 0); returns the flow after it. */
  update(sign: -1 | 0 | 1, size: number): number | undefined {
    const signedEvicted = this.#signed.push(sign * size) ?? 0;
    const sizeEvicted = this.#sizes.push(size) ?? 0;
    this.#signedSum += sign * size - signedEvicted;
    this.#sizeSum += size - sizeEvicted;
    if (++this.#sinceExact >= this.window) {
      this.#signedSum = this.#signed.sum();
      this.#sizeSum = this.#sizes.sum();
      this.#sinceExact = 0;
    }
    return this.value;
  }

  /** The flow in [-1, 1], or undefined before `window` trades. */
  get value(): number | undefined {
    if (!this.#sizes.full) return undefined;
    if (this.#sizeSum <= 0) return 0;
    return Math.max(-1, Math.min(1, this.#signedSum / this.#sizeSum));
  }
}
