/**
 * Reads Alpaca's market clock (`GET /v2/clock`) and calendar (`GET /v2/calendar`, from
 * yesterday to ten days ahead) from the trading API every `pollMs`, and hands each
 * successful read to `onSchedule` as an {@link AlpacaSchedule}. A failed read is logged
 * (the first of a burst, then a summary) and the previous schedule stays: the calendar
 * read last still covers the days ahead. Until the first read the session is unknown, and
 * market-data reports stocks `closed` (`session_unknown`).
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { BurstLog } from "../../lib/burst_log.ts";
import {
  type AlpacaClock,
  AlpacaSchedule,
  type CalendarDay,
  parseAlpacaCalendar,
  parseAlpacaClock,
} from "../../lib/market_session.ts";

/** Options of {@link AlpacaSessionSource}. */
export interface AlpacaSessionOptions {
  /** The trading API base, e.g. `https://paper-api.alpaca.markets`. */
  readonly tradingUrl: string;
  readonly keyId: string;
  readonly secretKey: string;
  /** Time between two reads (ms). */
  readonly pollMs: number;
  /** Per-request timeout (ms); default 5000. */
  readonly timeoutMs?: number;
  /** Receives every schedule read. */
  readonly onSchedule: (schedule: AlpacaSchedule) => void;
  readonly log: Logger;
  /** Epoch ms; default Date.now. */
  readonly now?: () => number;
}

const DAY_MS = 86_400_000;

/** `YYYY-MM-DD` of an epoch ms (UTC). */
function isoDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Polls Alpaca's clock and calendar. */
export class AlpacaSessionSource {
  readonly #options: AlpacaSessionOptions;
  readonly #base: string;
  readonly #failures: BurstLog;
  readonly #now: () => number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #days: CalendarDay[] = [];
  #clock: AlpacaClock | undefined;
  #reads = 0;

  constructor(options: AlpacaSessionOptions) {
    this.#options = options;
    this.#base = options.tradingUrl.replace(/\/+$/, "");
    this.#now = options.now ?? Date.now;
    this.#failures = new BurstLog(
      options.log,
      "warn",
      "Cannot read Alpaca's market clock; keeping the last schedule",
      "Cannot read Alpaca's market clock {suppressed} more times",
    );
  }

  /** Successful reads so far. */
  get reads(): number {
    return this.#reads;
  }

  /** Reads at once, then every `pollMs`. Resolves after the first attempt. */
  async start(): Promise<void> {
    this.#timer = setInterval(() => void this.read(), this.#options.pollMs);
    Deno.unrefTimer(this.#timer);
    await this.read();
  }

  /** One read of the clock and the calendar; true when both were read. */
  async read(): Promise<boolean> {
    const now = this.#now();
    const clockBody = await this.#get("/v2/clock");
    const calendarBody = await this.#get(
      `/v2/calendar?start=${isoDate(now - DAY_MS)}&end=${isoDate(now + 10 * DAY_MS)}`,
    );
    const clock = clockBody === undefined ? undefined : parseAlpacaClock(clockBody);
    const days = calendarBody === undefined ? undefined : parseAlpacaCalendar(calendarBody);
    if (clockBody !== undefined && clock === undefined) {
      this.#failures.report({ endpoint: "/v2/clock", error: "malformed clock", suppressed: 0 });
    }
    if (calendarBody !== undefined && days === undefined) {
      this.#failures.report({
        endpoint: "/v2/calendar",
        error: "malformed calendar",
        suppressed: 0,
      });
    }
    if (days !== undefined) this.#days = days;
    if (clock !== undefined) this.#clock = clock;
    if (clock === undefined && days === undefined) return false;
    this.#options.onSchedule(new AlpacaSchedule(this.#clock, this.#days));
    if (clock !== undefined && days !== undefined) this.#reads++;
    return clock !== undefined && days !== undefined;
  }

  async #get(path: string): Promise<unknown> {
    try {
      const res = await fetch(this.#base + path, {
        headers: {
          "APCA-API-KEY-ID": this.#options.keyId,
          "APCA-API-SECRET-KEY": this.#options.secretKey,
        },
        signal: AbortSignal.timeout(this.#options.timeoutMs ?? 5000),
      });
      const text = await res.text();
      if (!res.ok) {
        this.#failures.report({
          endpoint: path.split("?")[0],
          status: res.status,
          error: text.slice(0, 200),
          suppressed: 0,
        });
        return undefined;
      }
      return JSON.parse(text);
    } catch (error) {
      this.#failures.report({ endpoint: path.split("?")[0], error, suppressed: 0 });
      return undefined;
    }
  }

  /** Stops polling and writes the pending summary line. */
  close(): void {
    clearInterval(this.#timer);
    this.#failures.close();
  }
}
