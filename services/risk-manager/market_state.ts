/**
 * Each symbol's market as the pre-trade checks see it: its session (open, extended,
 * closed), whether it is halted, and its current Limit Up-Limit Down band, learnt from
 * market-data's `trading_status` and `luld_band` messages. Plain class, no I/O.
 *
 * Where a symbol's state comes from, first that applies:
 * 1. a `halted` status: in force until market-data reports the symbol otherwise, however
 *    old (a halt lasts until its resumption, and a lost resumption must not be guessed);
 * 2. crypto (a symbol with a `/`): open around the clock;
 * 3. the latest `trading_status`, while it is younger than `statusMaxAgeMs` (age counted
 *    from its arrival here, not from its `at`, so a replay's recorded clock or another
 *    host's clock does not matter). market-data's `closed` with reason `session_unknown`
 *    is `unknown` here;
 * 4. the configured schedule (`session.hoursUtc`, or always open), for the sim and replay
 *    feeds only: market-data computes their statuses from the same config, so it is the
 *    same answer before the first status arrives (PUB/SUB loses what was published before
 *    risk-manager subscribed; market-data republishes every `session.publishMs`);
 * 5. otherwise `unknown` (Alpaca's feed before its first status, or a status gone stale).
 *
 * A band is kept until the next one for the symbol, or until a status says the session
 * ended (`closed` or `extended`: LULD bands apply in the regular session, and a new
 * session gets new ones).
 *
 * @example
 * ```ts
 * const states = new MarketStates({ schedule: ALWAYS_OPEN, statusMaxAgeMs: 15_000 });
 * states.onStatus(tradingStatus, Date.now());
 * states.of("AAPL", Date.now()).state; // "open" | "extended" | "closed" | "halted" | "unknown"
 * ```
 * @module
 */
import { isCrypto, type Schedule } from "../../lib/market_session.ts";
import type { LuldBand, MarketState, TradingStatus } from "../../lib/types.ts";

/** What the checks know about one symbol's market now. */
export interface SymbolMarket {
  readonly state: MarketState | "unknown";
  /**
   * Why: market-data's reason (`regular_session`, `trading_halt`, ...) for a status,
   * `always_open` for crypto, `schedule` for the configured hours, `no_status` or
   * `stale_status` when unknown.
   */
  readonly reason: string;
  /** `status` (market-data's), `crypto`, `schedule` (the configured hours) or `none`. */
  readonly source: "status" | "crypto" | "schedule" | "none";
  /** How long ago the status it rests on arrived, ms (a status only). */
  readonly ageMs?: number;
}

/** A symbol's current LULD band (USD) and when it arrived (epoch ms). */
export interface Band {
  readonly limitUp: number;
  readonly limitDown: number;
  readonly receivedAt: number;
}

/** Options of {@link MarketStates}. */
export interface MarketStatesOptions {
  /** The configured hours while no fresh status is known (sim and replay); none: unknown. */
  readonly schedule?: Schedule;
  /** A status older than this (ms since it arrived) no longer counts. */
  readonly statusMaxAgeMs: number;
}

/** Default {@link MarketStatesOptions.statusMaxAgeMs} factor: three of market-data's republish periods. */
export const STATUS_MAX_AGE_PERIODS = 3;

interface Held {
  readonly status: TradingStatus;
  readonly receivedAt: number;
}

/** The markets of the symbols risk-manager trades or holds. */
export class MarketStates {
  readonly #options: MarketStatesOptions;
  readonly #statuses = new Map<string, Held>();
  readonly #bands = new Map<string, Band>();

  constructor(options: MarketStatesOptions) {
    this.#options = options;
  }

  /**
   * Takes a `trading_status` received at `now` (epoch ms). Returns the symbol's state
   * before and after when it changed, else null.
   */
  onStatus(
    status: TradingStatus,
    now: number,
  ): { readonly before: SymbolMarket; readonly after: SymbolMarket } | null {
    const before = this.of(status.symbol, now);
    this.#statuses.set(status.symbol, { status, receivedAt: now });
    if (status.state === "closed" || status.state === "extended") {
      this.#bands.delete(status.symbol);
    }
    const after = this.of(status.symbol, now);
    return before.state === after.state && before.reason === after.reason
      ? null
      : { before, after };
  }

  /** Takes a `luld_band` received at `now` (epoch ms): the symbol's current band. */
  onBand(band: LuldBand, now: number): Band {
    const held: Band = { limitUp: band.limitUp, limitDown: band.limitDown, receivedAt: now };
    this.#bands.set(band.symbol, held);
    return held;
  }

  /** The current LULD band of `symbol`, if one is known. */
  band(symbol: string): Band | undefined {
    return this.#bands.get(symbol);
  }

  /** The market of `symbol` at `now` (epoch ms); see the module comment for the order. */
  of(symbol: string, now: number): SymbolMarket {
    const held = this.#statuses.get(symbol);
    const ageMs = held === undefined ? undefined : now - held.receivedAt;
    if (held?.status.state === "halted") {
      return { state: "halted", reason: held.status.reason, source: "status", ageMs };
    }
    if (isCrypto(symbol)) return { state: "open", reason: "always_open", source: "crypto" };
    if (held !== undefined && ageMs! <= this.#options.statusMaxAgeMs) {
      const { state, reason } = held.status;
      if (state === "closed" && reason === "session_unknown") {
        return { state: "unknown", reason, source: "status", ageMs };
      }
      return { state, reason, source: "status", ageMs };
    }
    const schedule = this.#options.schedule;
    if (schedule !== undefined) {
      const session = schedule.at(now).state;
      return { state: session, reason: "schedule", source: "schedule" };
    }
    return held === undefined
      ? { state: "unknown", reason: "no_status", source: "none" }
      : { state: "unknown", reason: "stale_status", source: "none", ageMs };
  }

  /** Every symbol with a status or a band, for the admin API. */
  view(now: number): { symbol: string; market: SymbolMarket; band: Band | null }[] {
    const symbols = new Set([...this.#statuses.keys(), ...this.#bands.keys()]);
    return [...symbols].sort().map((symbol) => ({
      symbol,
      market: this.of(symbol, now),
      band: this.#bands.get(symbol) ?? null,
    }));
  }
}
