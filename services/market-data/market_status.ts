/**
 * Each configured symbol's trading status: the session (from a {@link Schedule}: Alpaca's
 * clock and calendar, the sim's hours, or always open) and the halts its listing market
 * reports in Alpaca's status messages (`s`). Plain class, no I/O.
 *
 * Status codes (docs.alpaca.markets/docs/real-time-stock-pricing-data, "Status Codes"):
 * CTA (tapes A, B) `2` Trading Halt, `3` Resume; UTP (tapes C, O) `H` Trading Halt, `P`
 * Volatility Trading Pause, `Q` Quotation Resumption, `T` Trading Resumption.
 * - `2`, `H`: halted (`trading_halt`; `volatility_pause` when the reason is a LULD pause:
 *   CTA `M`, UTP `LUDP`/`LUDS`); `P`: halted (`volatility_pause`).
 * - `Q`: still halted (`quotation_only`): quotes resumed, trades not yet (our reading of
 *   the code's name; the docs give no more).
 * - `3`, `T`: the halt ends.
 * - Every other code (imbalance, price and range indications, short sale restriction,
 *   `F` LULD) is informational and changes nothing.
 * A halt lasts until its resumption arrives, across sessions. A session that cannot be
 * told (`unknown`) is reported `closed` with reason `session_unknown`: fail closed.
 * @module
 */
import { ALWAYS_OPEN, isCrypto, type Schedule, sessionOf } from "../../lib/market_session.ts";
import type { MarketStateReason, TradingStatus } from "../../lib/types.ts";
import type { StatusMsg } from "./alpaca_protocol.ts";

/** What a status message did to a symbol. */
export type StatusEffect = "halt" | "resume" | "none";

interface Halt {
  readonly reason: "trading_halt" | "volatility_pause" | "quotation_only";
  readonly statusCode: string;
  readonly reasonCode: string;
}

const HALT_CODES = new Set(["2", "H"]);
const RESUME_CODES = new Set(["3", "T"]);
const LULD_REASONS = new Set(["M", "LUDP", "LUDS"]);

/** Reads a status message: whether it halts, resumes, or changes nothing. */
export function statusEffect(statusCode: string): StatusEffect {
  if (HALT_CODES.has(statusCode) || statusCode === "P" || statusCode === "Q") return "halt";
  if (RESUME_CODES.has(statusCode)) return "resume";
  return "none";
}

/**
 * The statuses of the configured symbols.
 *
 * @example
 * ```ts
 * const status = new MarketStatus(["AAPL"], "alpaca");
 * status.onStatus(haltMessage); // true: AAPL is now halted
 * status.of("AAPL", Date.now()).state; // "halted"
 * ```
 */
export class MarketStatus {
  readonly #symbols: readonly string[];
  readonly #exchange: string;
  readonly #halts = new Map<string, Halt>();
  /** symbol -> `state|reason` last reported by {@link changed}. */
  readonly #reported = new Map<string, string>();
  #schedule: Schedule = ALWAYS_OPEN;

  /** Tracks `symbols`; statuses of other symbols are ignored. */
  constructor(symbols: readonly string[], exchange: string) {
    this.#symbols = symbols;
    this.#exchange = exchange;
  }

  /** Replaces the session schedule (a new clock or calendar read). */
  setSchedule(schedule: Schedule): void {
    this.#schedule = schedule;
  }

  /** Applies a status message; true when it changed the symbol's halt. */
  onStatus(message: StatusMsg): boolean {
    if (!this.#symbols.includes(message.symbol)) return false;
    const effect = statusEffect(message.statusCode);
    const current = this.#halts.get(message.symbol);
    if (effect === "resume") return this.#halts.delete(message.symbol);
    if (effect === "none") return false;
    const reason = message.statusCode === "Q"
      ? "quotation_only"
      : message.statusCode === "P" || LULD_REASONS.has(message.reasonCode)
      ? "volatility_pause"
      : "trading_halt";
    this.#halts.set(message.symbol, {
      reason,
      statusCode: message.statusCode,
      reasonCode: message.reasonCode,
    });
    return current?.reason !== reason || current.statusCode !== message.statusCode;
  }

  /** True while `symbol` is halted. */
  halted(symbol: string): boolean {
    return this.#halts.has(symbol);
  }

  /** The status of `symbol` at `now` (epoch ms). */
  of(symbol: string, now: number): TradingStatus {
    const session = sessionOf(symbol, this.#schedule, now);
    const halt = this.#halts.get(symbol);
    let state: TradingStatus["state"];
    let reason: MarketStateReason;
    if (halt) {
      state = "halted";
      reason = halt.reason;
    } else {
      switch (session.state) {
        case "open":
          state = "open";
          reason = isCrypto(symbol) || this.#schedule === ALWAYS_OPEN
            ? "always_open"
            : "regular_session";
          break;
        case "extended":
          state = "extended";
          reason = "extended_session";
          break;
        case "closed":
          state = "closed";
          reason = "outside_session";
          break;
        case "unknown":
          state = "closed";
          reason = "session_unknown";
          break;
      }
    }
    return {
      symbol,
      state,
      reason,
      ...(halt ? { haltCode: halt.statusCode, haltReasonCode: halt.reasonCode } : {}),
      nextOpen: session.nextOpen,
      nextClose: session.nextClose,
      exchange: this.#exchange,
      at: now,
    };
  }

  /** Every symbol's status at `now`; remembers them as reported. */
  all(now: number): TradingStatus[] {
    return this.#symbols.map((symbol) => this.#report(this.of(symbol, now)));
  }

  /** The statuses whose state or reason changed since last reported; remembers them. */
  changed(now: number): TradingStatus[] {
    const out: TradingStatus[] = [];
    for (const symbol of this.#symbols) {
      const status = this.of(symbol, now);
      if (this.#reported.get(symbol) !== status.state + "|" + status.reason) {
        out.push(this.#report(status));
      }
    }
    return out;
  }

  #report(status: TradingStatus): TradingStatus {
    this.#reported.set(status.symbol, status.state + "|" + status.reason);
    return status;
  }
}
