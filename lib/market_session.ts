/**
 * Market sessions: whether a symbol's market is open at a moment, and when it next opens
 * and closes. Shared by market-data (which publishes each symbol's state) and
 * execution-engine (which refuses orders the session would not take). Pure: the callers
 * read Alpaca's clock and calendar and pass them in.
 *
 * - Crypto (a symbol with a `/`) trades around the clock: always `open`.
 * - {@link UtcHours}: the sim's configured regular session (`session.hoursUtc`), Monday to
 *   Friday, no extended hours; null hours: always open.
 * - {@link AlpacaSchedule}: Alpaca's `GET /v2/clock` (`is_open`, `next_open`,
 *   `next_close`) and `GET /v2/calendar` (`date`, `open`, `close`, `session_open`,
 *   `session_close`, all America/New_York wall times). The clock decides the regular
 *   session until its next boundary passes; after that the calendar decides (a weekday
 *   missing from the calendar is a holiday). Between `session_open` and `open`, and between
 *   `close` and `session_close`, the state is `extended` (Alpaca's pre-market and
 *   after-hours). Alpaca's overnight session (BOATS, 8 pm to 4 am) is not traded here: it
 *   is `closed`. With neither a current clock nor a calendar day covering the moment, the
 *   state is `unknown`.
 *
 * @example
 * ```ts
 * const schedule = new AlpacaSchedule(parseAlpacaClock(clockBody), parseAlpacaCalendar(days));
 * schedule.at(Date.now()).state; // "open" | "extended" | "closed" | "unknown"
 * ```
 * @module
 */

/** The session state of a market at a moment. */
export type SessionState = "open" | "extended" | "closed" | "unknown";

/** A market's session at a moment (times in epoch ms; null when not known). */
export interface SessionAt {
  readonly state: SessionState;
  readonly nextOpen: number | null;
  readonly nextClose: number | null;
}

/** Anything that can tell the session at a moment. */
export interface Schedule {
  /** The session at `now` (epoch ms). */
  at(now: number): SessionAt;
}

/** True for a crypto symbol (`BTC/USD`): crypto trades around the clock. */
export function isCrypto(symbol: string): boolean {
  return symbol.includes("/");
}

/** Always open (crypto, or no hours configured). */
export const ALWAYS_OPEN: Schedule = Object.freeze({
  at: (): SessionAt => ({ state: "open", nextOpen: null, nextClose: null }),
});

/** The session of `symbol` under `schedule`: crypto is always open. */
export function sessionOf(symbol: string, schedule: Schedule, now: number): SessionAt {
  return isCrypto(symbol) ? ALWAYS_OPEN.at(now) : schedule.at(now);
}

const DAY_MS = 86_400_000;

function minutesOf(hhmm: string): number {
  const digits = hhmm.replace(":", "");
  return Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4));
}

/**
 * A regular session from `open` to `close` ("HH:MM", UTC), Monday to Friday.
 *
 * @throws {RangeError} When a time is not "HH:MM" or `open` is not before `close`.
 */
export class UtcHours implements Schedule {
  readonly #open: number;
  readonly #close: number;

  constructor(hours: { readonly open: string; readonly close: string }) {
    for (const t of [hours.open, hours.close]) {
      if (!/^\d{2}:\d{2}$/.test(t) || minutesOf(t) > 24 * 60) {
        throw new RangeError(`Cannot build session hours: "${t}" is not "HH:MM"`);
      }
    }
    this.#open = minutesOf(hours.open) * 60_000;
    this.#close = minutesOf(hours.close) * 60_000;
    if (this.#open >= this.#close) {
      throw new RangeError(
        `Cannot build session hours: open ${hours.open} must be before close ${hours.close}`,
      );
    }
  }

  at(now: number): SessionAt {
    const today = Math.floor(now / DAY_MS) * DAY_MS;
    let nextOpen: number | null = null;
    let nextClose: number | null = null;
    let open = false;
    for (let day = 0; day < 8 && (nextOpen === null || nextClose === null); day++) {
      const midnight = today + day * DAY_MS;
      const weekday = new Date(midnight).getUTCDay();
      if (weekday === 0 || weekday === 6) continue;
      const opensAt = midnight + this.#open;
      const closesAt = midnight + this.#close;
      if (day === 0 && now >= opensAt && now < closesAt) open = true;
      if (nextOpen === null && opensAt > now) nextOpen = opensAt;
      if (nextClose === null && closesAt > now) nextClose = closesAt;
    }
    return { state: open ? "open" : "closed", nextOpen, nextClose };
  }
}

/** Alpaca's `GET /v2/clock`, read. */
export interface AlpacaClock {
  /** The server time of the answer (epoch ms). */
  readonly timestamp: number;
  readonly isOpen: boolean;
  readonly nextOpen: number;
  readonly nextClose: number;
}

/** One day of Alpaca's `GET /v2/calendar`, in epoch ms. */
export interface CalendarDay {
  /** `YYYY-MM-DD`. */
  readonly date: string;
  readonly open: number;
  readonly close: number;
  /** Start of the pre-market (`session_open`); equal to `open` when not given. */
  readonly sessionOpen: number;
  /** End of the after-hours (`session_close`); equal to `close` when not given. */
  readonly sessionClose: number;
}

/**
 * Reads a `GET /v2/clock` body (`{"timestamp":"2022-04-28T14:07:04.451420928-04:00",
 * "is_open":true,"next_open":"…","next_close":"…"}`); undefined when malformed.
 */
export function parseAlpacaClock(body: unknown): AlpacaClock | undefined {
  const b = body as Record<string, unknown> | null;
  if (typeof b !== "object" || b === null || typeof b.is_open !== "boolean") return undefined;
  const timestamp = parseTime(b.timestamp);
  const nextOpen = parseTime(b.next_open);
  const nextClose = parseTime(b.next_close);
  if (timestamp === undefined || nextOpen === undefined || nextClose === undefined) {
    return undefined;
  }
  return { timestamp, isOpen: b.is_open, nextOpen, nextClose };
}

/** An RFC 3339 time with any offset (nanoseconds are cut to ms); undefined when not one. */
function parseTime(v: unknown): number | undefined {
  if (typeof v !== "string" || v.length > 40) return undefined;
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.exec(v);
  if (!m) return undefined;
  const ms = Date.parse(m[1] + (m[2] ? m[2].slice(0, 4) : "") + m[3]);
  return Number.isFinite(ms) ? ms : undefined;
}

const EASTERN = new Intl.DateTimeFormat("en-US", {
  timeZone: "America/New_York",
  hourCycle: "h23",
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});

/** America/New_York wall time minus UTC at `utcMs`, in ms (-4 h in summer, -5 h in winter). */
function easternOffset(utcMs: number): number {
  const parts: Record<string, number> = {};
  for (const p of EASTERN.formatToParts(new Date(utcMs))) {
    if (p.type !== "literal") parts[p.type] = Number(p.value);
  }
  const wall = Date.UTC(
    parts.year,
    parts.month - 1,
    parts.day,
    parts.hour,
    parts.minute,
    parts.second,
  );
  return wall - Math.floor(utcMs / 1000) * 1000;
}

/**
 * The epoch ms of an America/New_York wall time: `date` "YYYY-MM-DD", `time` "HH:MM" or
 * "HHMM" (Alpaca's calendar uses both).
 *
 * @example
 * ```ts
 * easternTime("2025-01-02", "09:30"); // Date.parse("2025-01-02T14:30:00Z")
 * ```
 */
export function easternTime(date: string, time: string): number {
  const [y, m, d] = date.split("-").map(Number);
  const minutes = minutesOf(time);
  const wall = Date.UTC(y, m - 1, d, Math.floor(minutes / 60), minutes % 60);
  let utc = wall - easternOffset(wall);
  utc = wall - easternOffset(utc);
  return utc;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const TIME = /^(\d{2}:\d{2}|\d{4})$/;

/**
 * Reads a `GET /v2/calendar` body (an array of `{"date":"2025-01-02","open":"09:30",
 * "close":"16:00","session_open":"0400","session_close":"2000"}`), sorted by date;
 * undefined when malformed.
 */
export function parseAlpacaCalendar(body: unknown): CalendarDay[] | undefined {
  if (!Array.isArray(body) || body.length > 1000) return undefined;
  const days: CalendarDay[] = [];
  for (const item of body) {
    const d = item as Record<string, unknown> | null;
    if (typeof d !== "object" || d === null) return undefined;
    const { date, open, close } = d;
    if (typeof date !== "string" || !DATE.test(date)) return undefined;
    if (typeof open !== "string" || !TIME.test(open)) return undefined;
    if (typeof close !== "string" || !TIME.test(close)) return undefined;
    const sessionOpen = typeof d.session_open === "string" && TIME.test(d.session_open)
      ? d.session_open
      : open;
    const sessionClose = typeof d.session_close === "string" && TIME.test(d.session_close)
      ? d.session_close
      : close;
    days.push({
      date,
      open: easternTime(date, open),
      close: easternTime(date, close),
      sessionOpen: easternTime(date, sessionOpen),
      sessionClose: easternTime(date, sessionClose),
    });
  }
  return days.sort((a, b) => a.open - b.open);
}

/** The session from Alpaca's clock and calendar (see the module comment). */
export class AlpacaSchedule implements Schedule {
  readonly #clock: AlpacaClock | undefined;
  readonly #days: readonly CalendarDay[];
  readonly #from: number;
  readonly #until: number;

  /** From the latest clock read (if any) and the calendar days read (any order). */
  constructor(clock: AlpacaClock | undefined, days: readonly CalendarDay[]) {
    this.#clock = clock;
    this.#days = [...days].sort((a, b) => a.open - b.open);
    const first = this.#days[0];
    const last = this.#days[this.#days.length - 1];
    this.#from = first ? easternTime(first.date, "00:00") : Infinity;
    this.#until = last ? easternTime(last.date, "00:00") + DAY_MS : -Infinity;
  }

  /** True when neither a clock nor a calendar was read. */
  get empty(): boolean {
    return this.#clock === undefined && this.#days.length === 0;
  }

  at(now: number): SessionAt {
    const clock = this.#clock;
    const clockCurrent = clock !== undefined &&
      now < Math.min(clock.nextOpen, clock.nextClose);
    const covered = now >= this.#from && now < this.#until;
    let regular: boolean | undefined;
    if (clockCurrent) regular = clock.isOpen;
    else if (covered) regular = this.#days.some((d) => d.open <= now && now < d.close);
    const nextOpen = clockCurrent && clock.nextOpen > now
      ? clock.nextOpen
      : this.#days.find((d) => d.open > now)?.open ?? null;
    const nextClose = clockCurrent && clock.nextClose > now
      ? clock.nextClose
      : this.#days.find((d) => d.close > now)?.close ?? null;
    if (regular === undefined) return { state: "unknown", nextOpen, nextClose };
    if (regular) return { state: "open", nextOpen, nextClose };
    const extended = covered &&
      this.#days.some((d) => d.sessionOpen <= now && now < d.sessionClose);
    return { state: extended ? "extended" : "closed", nextOpen, nextClose };
  }
}
