/**
 * A receiving channel's transit latency (`messaging_transit_latency_seconds{service,channel}`):
 * for every message it accepts, the time from the envelope's `ts` (the sender's `nowMs()`
 * when it stamped the message, lib/envelope.ts) to the receiver's `nowMs()` when it read the
 * message's batch off the socket (lib/messaging/receive_loop.ts reads the clock once per
 * batch). That is the sender's side after the stamp (a publisher's batch waits for the end of
 * its synchronous run; a reliable sender's outbox waits for its journal commit, its window
 * and any resend), ZeroMQ's queues and the wire, and the receiving loop's wake-up; not the
 * receiver's handling, nor its wait behind earlier messages of the same batch.
 *
 * The stamp and the receipt are read from two processes' clocks: on one host they agree
 * within a few µs (`performance.timeOrigin` is read from the wall clock at start); across
 * hosts the difference carries their clocks' offset, and a negative one (the receiver's clock
 * behind the sender's) counts as 0, in the first bucket.
 *
 * The hot path is a subtraction, a walk over the bounds and one add into a typed array; the
 * tally is merged into the family when it is read (a scrape: {@link TransitTally.flush},
 * called through `beforeCollect()` of lib/bound_metrics.ts).
 *
 * @example
 * ```ts
 * const tally = new TransitTally(family, { service: "signal-bridge", channel: "market_data" });
 * tally.observe(env.ts, nowMs());
 * tally.flush(); // before the family is read
 * ```
 * @module
 */
import type { Histogram } from "prom-client";
import {
  type BoundHistogram,
  boundHistogram,
  type SeriesLabels,
  upperBounds,
} from "../bound_metrics.ts";

/** One channel's transit observations, tallied per bucket until the family is read. */
export class TransitTally {
  /** The family's upper bounds, in seconds. */
  readonly #bounds: Float64Array;
  /** Observations per bucket since the last flush (the last cell: over the last bound). */
  readonly #counts: Float64Array;
  /** Their sum, in seconds. */
  #sum = 0;
  readonly #series: BoundHistogram;

  /**
   * @param family `messaging_transit_latency_seconds` on the channel's registry.
   * @param labels The channel's `{service, channel}`.
   */
  constructor(family: Histogram<string>, labels: SeriesLabels) {
    this.#bounds = Float64Array.from(upperBounds(family));
    this.#counts = new Float64Array(this.#bounds.length + 1);
    this.#series = boundHistogram(family, labels);
  }

  /**
   * Observes one message stamped `sentMs` and read at `receivedMs` (both epoch ms,
   * `nowMs()`), as `receivedMs - sentMs` in seconds; a negative (or not a number) difference
   * counts as 0.
   */
  observe(sentMs: number, receivedMs: number): void {
    const s = (receivedMs - sentMs) / 1000;
    let i = 0;
    if (s > 0) {
      this.#sum += s;
      const bounds = this.#bounds;
      while (i < bounds.length && s > bounds[i]) i++;
    }
    this.#counts[i]++;
  }

  /** Adds what was observed since the last flush into the family's series, and starts again. */
  flush(): void {
    this.#series.merge(this.#counts, this.#sum);
    this.#counts.fill(0);
    this.#sum = 0;
  }
}
