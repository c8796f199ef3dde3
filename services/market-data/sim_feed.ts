/**
 * The embedded default feed: drives a {@link SimMarket} from a timer that emits,
 * on each tick of the event loop, every message due since the last tick as one
 * frame (no timer per message, so 10k messages/s costs ~200 timer callbacks/s).
 * @module
 */
import { nowMs } from "../../lib/clock.ts";
import type { Feed, FeedHandler } from "./feed.ts";
import { SimMarket, type SimMarketOptions } from "./sim_market.ts";

/** Options of {@link SimFeed}. */
export interface SimFeedOptions extends SimMarketOptions {
  /** Timer period in ms; default 5. */
  readonly periodMs?: number;
  /** A backlog older than this (after a stall) is skipped rather than burst out; default 1000 ms. */
  readonly maxLagMs?: number;
}

/**
 * The simulated feed.
 *
 * @example
 * ```ts
 * const feed = new SimFeed({ seed: 42, symbols: ["AAPL"], ticksPerSecond: 40, bookDepth: 10,
 *   startPrices: { AAPL: 228.14 }, tickSize: {} });
 * await feed.start((event) => core.handle(event));
 * ```
 */
export class SimFeed implements Feed {
  readonly exchange = "sim" as const;
  readonly #market: SimMarket;
  readonly #periodMs: number;
  readonly #maxLagMs: number;
  readonly #maxBatch: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #startedAt = 0;
  #running = false;

  constructor(options: SimFeedOptions) {
    this.#market = new SimMarket(options);
    this.#periodMs = options.periodMs ?? 5;
    this.#maxLagMs = options.maxLagMs ?? 1000;
    this.#maxBatch = Math.max(100, Math.ceil(options.ticksPerSecond * 0.05));
  }

  /** Starts the timer; every frame due goes to `onEvent`. Resolves at once. */
  start(onEvent: FeedHandler): Promise<void> {
    if (this.#running) return Promise.resolve();
    this.#running = true;
    this.#startedAt = performance.now();
    const tick = () => {
      if (!this.#running) return;
      const elapsed = performance.now() - this.#startedAt;
      if (elapsed - this.#market.nextAt > this.#maxLagMs) this.#market.skipTo(elapsed);
      // Several bounded frames per tick when the rate is high.
      for (let i = 0; i < 20; i++) {
        const messages = this.#market.due(elapsed, Date.now(), this.#maxBatch);
        if (messages.length === 0) break;
        onEvent({ receivedTs: nowMs(), frame: messages });
        if (messages.length < this.#maxBatch) break;
      }
      this.#timer = setTimeout(tick, this.#periodMs);
    };
    tick();
    return Promise.resolve();
  }

  /** True between start and close. */
  connected(): boolean {
    return this.#running;
  }

  /** Stops the timer. */
  close(): Promise<void> {
    this.#running = false;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    return Promise.resolve();
  }
}
