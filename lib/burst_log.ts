/**
 * Rate-limited logging for events that can come in floods (malformed frames from a
 * hostile peer, a dead receiver, a disk that refuses writes): the first event of a
 * burst is logged at once, then at most one summary a second with the count of events
 * suppressed meanwhile and the fields of the last one. Counting every event is the
 * metrics' job; the log only has to say that it happens and what it looks like.
 *
 * @example
 * ```ts
 * import { getLogger } from "@logtape/logtape";
 * const decodeLog = new BurstLog(getLogger(["trading", "messaging"]), "warn",
 *   "Cannot decode a frame on {channel}: {reason}",
 *   "Cannot decode {suppressed} more frames on {channel}");
 * decodeLog.report({ channel: "orders", reason: "not_json" });
 * decodeLog.close(); // flushes the last summary
 * ```
 * @module
 */
import type { Logger } from "@logtape/logtape";

/** Logs the first event of a burst, then at most one summary a second. */
export class BurstLog {
  #suppressed = 0;
  #lastProps: Record<string, unknown> = {};
  #timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * @param logger Where the lines go.
   * @param level The level of every line.
   * @param message The first event's message template (LogTape `{field}` placeholders).
   * @param summary The summary's template; `{suppressed}` is the count since the last line.
   */
  constructor(
    readonly logger: Logger,
    readonly level: "warn" | "error",
    readonly message: string,
    readonly summary: string,
  ) {}

  /** Reports one event with its fields. */
  report(props: Record<string, unknown>): void {
    if (this.#timer === undefined) {
      this.logger[this.level](this.message, props);
      this.#arm();
      return;
    }
    this.#suppressed++;
    this.#lastProps = props;
  }

  /** Stops the timer and writes the pending summary, if any. Idempotent. */
  close(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#flush();
  }

  #arm(): void {
    const timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#flush()) this.#arm();
    }, 1000);
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  #flush(): boolean {
    if (this.#suppressed === 0) return false;
    this.logger[this.level](this.summary, { ...this.#lastProps, suppressed: this.#suppressed });
    this.#suppressed = 0;
    return true;
  }
}

/** `"Name: message"` of an error, or the value as text: for log fields, never for labels. */
export function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
