/**
 * A client-side request rate limit: at most `limit` requests in any `windowMs`
 * (Alpaca allows 200 a minute), as a sliding log of request times. A request over the
 * limit waits for the oldest to leave the window instead of being sent and refused.
 * @module
 */

/** Options of {@link RateLimiter}. */
export interface RateLimiterOptions {
  /** Requests allowed per window. */
  limit: number;
  /** Window length in ms; default 60 000. */
  windowMs?: number;
  /** Clock in ms; default `performance.now`. */
  now?: () => number;
  /** Sleeps `ms`; default a timer. */
  sleep?: (ms: number) => Promise<void>;
}

/** The sliding-window rate limiter. */
export class RateLimiter {
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  /** Times of the requests granted in the current window, oldest first. */
  readonly #granted: number[] = [];
  #queue: Promise<void> = Promise.resolve();
  /** No request before this (the limiter's clock, ms). */
  #pausedUntil = -Infinity;

  constructor(options: RateLimiterOptions) {
    if (!(options.limit > 0)) {
      throw new RangeError(`Cannot build rate limiter: limit must be > 0, got ${options.limit}`);
    }
    this.#limit = options.limit;
    this.#windowMs = options.windowMs ?? 60_000;
    this.#now = options.now ?? (() => performance.now());
    this.#sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  /** How long (ms) a request made now would wait; 0 when it may go at once. */
  delay(): number {
    const now = this.#now();
    while (this.#granted.length > 0 && this.#granted[0] <= now - this.#windowMs) {
      this.#granted.shift();
    }
    const paused = Math.max(0, this.#pausedUntil - now);
    if (this.#granted.length < this.#limit) return paused;
    return Math.max(paused, this.#granted[0] + this.#windowMs - now);
  }

  /**
   * Holds every request for `ms` from now (the venue said its budget is spent until then).
   * A shorter pause than one already in force changes nothing.
   */
  pauseFor(ms: number): void {
    if (!(ms > 0)) return;
    this.#pausedUntil = Math.max(this.#pausedUntil, this.#now() + ms);
  }

  /** Waits (in FIFO order) until a slot is free, then takes it. */
  acquire(): Promise<void> {
    const turn = this.#queue.then(async () => {
      for (let i = 0; i < 1_000_000; i++) {
        const wait = this.delay();
        if (wait <= 0) break;
        await this.#sleep(wait);
      }
      this.#granted.push(this.#now());
    });
    this.#queue = turn.catch(() => {});
    return turn;
  }
}
