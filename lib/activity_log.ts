/**
 * A periodic summary line for events too frequent to log one by one on the latency path
 * (a signal published, an order approved): each event only adds to a count (no clock
 * read, no formatting, no write), and one line at info every `everyMs` says how many of
 * each happened since the last line, with the fields of the last event. The line of
 * each event is still written at debug for whoever turns that on (`LOG_LEVEL=debug`),
 * through {@link ActivityLog.detail}, which costs nothing when debug is off.
 *
 * Counting every event exactly is the metrics' job; this line says what the process is
 * doing, in a volume that does not depend on the rate.
 *
 * @example
 * ```ts
 * import { getLogger } from "@logtape/logtape";
 * const activity = new ActivityLog(getLogger(["trading", "risk"]), "Signals decided");
 * activity.count("approved", { symbol: "AAPL" });
 * activity.close(); // writes the last summary
 * ```
 * @module
 */
import type { Logger } from "@logtape/logtape";

/** Default period of the summary line, ms. */
export const ACTIVITY_EVERY_MS = 10_000;

/** Counts events and writes one summary line per period (nothing when none happened). */
export class ActivityLog {
  readonly #logger: Logger;
  readonly #message: string;
  readonly #everyMs: number;
  readonly #counts = new Map<string, number>();
  #last: Record<string, unknown> | undefined;
  #since = Date.now();
  #timer: ReturnType<typeof setInterval> | undefined;
  #debug: boolean | undefined;

  /**
   * @param logger Where the lines go.
   * @param message The summary's message (its fields: a count per event kind, `seconds`
   *   since the last line, and `last`, the fields of the last event).
   * @param everyMs The period, ms (default {@link ACTIVITY_EVERY_MS}).
   */
  constructor(logger: Logger, message: string, everyMs = ACTIVITY_EVERY_MS) {
    this.#logger = logger;
    this.#message = message;
    this.#everyMs = everyMs;
  }

  /** Counts one event of `kind` (a value of a closed set); `fields` become the `last`. */
  count(kind: string, fields?: Record<string, unknown>): void {
    this.#counts.set(kind, (this.#counts.get(kind) ?? 0) + 1);
    if (fields !== undefined) this.#last = fields;
    if (this.#timer === undefined) this.#arm();
  }

  /**
   * True when the event's own line would be written (debug is on): build its fields only
   * then. Read once (the level is set at start-up).
   */
  get detailed(): boolean {
    return this.#debug ??= this.#logger.isEnabledFor("debug");
  }

  /** Writes the event's own line at debug, when on ({@link ActivityLog.detailed}). */
  detail(message: string, fields: () => Record<string, unknown>): void {
    if (this.detailed) this.#logger.debug(message, fields());
  }

  /** Writes the pending summary now, if any event happened since the last one. */
  flush(): void {
    if (this.#counts.size === 0) return;
    const now = Date.now();
    const fields: Record<string, unknown> = Object.fromEntries(this.#counts);
    fields.seconds = Math.round((now - this.#since) / 100) / 10;
    if (this.#last !== undefined) fields.last = this.#last;
    this.#logger.info(this.#message, fields);
    this.#counts.clear();
    this.#last = undefined;
    this.#since = now;
  }

  /** Stops the timer and writes the pending summary. Idempotent. */
  close(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.flush();
  }

  #arm(): void {
    this.#since = Date.now();
    const timer = setInterval(() => {
      if (this.#counts.size === 0) {
        // Quiet: stop until the next event.
        clearInterval(timer);
        this.#timer = undefined;
        return;
      }
      this.flush();
    }, this.#everyMs);
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }
}
