/**
 * The order rate throttle: a token bucket holding up to `max(1, perSecond)` orders,
 * refilled at `perSecond`. A burst of `perSecond` orders passes, the next waits.
 * @module
 */

/**
 * A token bucket on an injected clock (milliseconds), so tests drive time directly.
 *
 * @example
 * ```ts
 * const rate = new OrderRateLimiter(10);
 * rate.available(0) >= 1; // true
 * rate.take(0);
 * ```
 */
export class OrderRateLimiter {
  readonly capacity: number;
  #tokens: number;
  #refilledAt: number | null = null;

  constructor(readonly perSecond: number) {
    if (!(perSecond > 0)) throw new RangeError(`perSecond must be > 0, got ${perSecond}`);
    this.capacity = Math.max(1, perSecond);
    this.#tokens = this.capacity;
  }

  /** Tokens available at `nowMs` (fractional while refilling). */
  available(nowMs: number): number {
    this.#refill(nowMs);
    return this.#tokens;
  }

  /**
   * {@link available} without refilling: the tokens there would be at `nowMs`, the bucket left as
   * it is. The check context reads this, so that building a context (a warm-up, a prime) changes
   * nothing, whatever clock it runs on.
   */
  peek(nowMs: number): number {
    if (this.#refilledAt === null || !(nowMs > this.#refilledAt)) return this.#tokens;
    return Math.min(
      this.capacity,
      this.#tokens + ((nowMs - this.#refilledAt) / 1000) * this.perSecond,
    );
  }

  /** Spends one token at `nowMs`; call only after {@link available} was >= 1. */
  take(nowMs: number): void {
    this.#refill(nowMs);
    this.#tokens = Math.max(0, this.#tokens - 1);
  }

  #refill(nowMs: number): void {
    this.#tokens = this.peek(nowMs);
    if (this.#refilledAt === null || nowMs > this.#refilledAt) this.#refilledAt = nowMs;
  }
}
