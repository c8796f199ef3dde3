/**
 * The daily loss bookkeeping: the trading day's P&L (realised today plus the change of
 * unrealised P&L since the UTC day began), the roll-over at midnight UTC, and the loss
 * latch that decides when the circuit breaker trips. Plain data, no I/O: the core
 * persists {@link DailyLoss.record} when a method says it changed.
 * @module
 */
import { round2 } from "./denial.ts";
import type { DailyPnl } from "./state_store.ts";

/** A day in epoch ms. */
export const DAY_MS = 86_400_000;

/** The stored bookkeeping: the day's P&L figures and the loss latch. */
export interface DailyLossRecord extends DailyPnl {
  /** True while the daily loss is at or beyond the limit, as last seen. */
  readonly lossLatched: boolean;
}

/** Where the total unrealised P&L comes from (the position book). */
export interface UnrealizedSource {
  /** Total unrealised P&L of every position, USD. */
  totalUnrealized(): number;
}

/**
 * What a new daily P&L figure did to the latch: `"reached"` when the loss just reached
 * the limit (the breaker trips now), `"recovered"` when P&L just came back above it, null
 * when nothing changed.
 */
export type LatchChange = "reached" | "recovered" | null;

/** True when a daily P&L of `pnlUsd` is a loss at or beyond `limitUsd`. */
export function lossReached(pnlUsd: number, limitUsd: number): boolean {
  return pnlUsd <= -limitUsd;
}

/**
 * The trading day's P&L and the loss latch. The latch is edge-triggered: the breaker
 * trips when the loss first reaches the limit, and after a manual reset it trips again
 * only once P&L has recovered and fallen back.
 *
 * @example
 * ```ts
 * const daily = new DailyLoss(5000, store.load().daily, book);
 * if (daily.rollDay(Date.now())) store.putDaily(daily.record);
 * if (daily.latch(daily.pnl()) === "reached") breaker.trip(daily.tripReason(daily.pnl()));
 * ```
 */
export class DailyLoss {
  readonly #limitUsd: number;
  readonly #unrealized: UnrealizedSource;
  #record: DailyLossRecord;
  /** Epoch ms at which the recorded day ends (0: no day yet). */
  #dayEnd = 0;

  /**
   * @param limitUsd The daily loss limit, USD (positive).
   * @param saved The stored bookkeeping, if any (a record without a latch reads as unlatched).
   * @param unrealized The source of the total unrealised P&L.
   */
  constructor(
    limitUsd: number,
    saved: (DailyPnl & { readonly lossLatched?: boolean }) | null,
    unrealized: UnrealizedSource,
  ) {
    this.#limitUsd = limitUsd;
    this.#unrealized = unrealized;
    this.#record = saved
      ? { ...saved, lossLatched: saved.lossLatched ?? false }
      : { day: "", realized: 0, unrealizedAtStart: 0, lossLatched: false };
    if (this.#record.day) this.#dayEnd = Date.parse(this.#record.day + "T00:00:00Z") + DAY_MS;
  }

  /** The current bookkeeping (immutable; replaced on every change). */
  get record(): DailyLossRecord {
    return this.#record;
  }

  /** Daily P&L: realised today plus the change of unrealised P&L since the day began, USD. */
  pnl(): number {
    return this.#record.realized + this.#unrealized.totalUnrealized() -
      this.#record.unrealizedAtStart;
  }

  /**
   * Starts a new day when `now` (epoch ms) is past the recorded one: realised P&L 0, the
   * current unrealised P&L as the baseline, the latch released. True when it did (persist
   * {@link record}).
   */
  rollDay(now: number): boolean {
    if (now < this.#dayEnd) return false;
    const start = Math.floor(now / DAY_MS) * DAY_MS;
    this.#dayEnd = start + DAY_MS;
    this.#record = {
      day: new Date(start).toISOString().slice(0, 10),
      realized: 0,
      unrealizedAtStart: this.#unrealized.totalUnrealized(),
      lossLatched: false,
    };
    return true;
  }

  /** Adds P&L realised by a fill, USD. */
  addRealized(usd: number): void {
    this.#record = { ...this.#record, realized: this.#record.realized + usd };
  }

  /**
   * Moves the day's unrealised baseline by `usd`: a change of unrealised P&L that no trade
   * or price made (a position adopted from the venue) then leaves the daily P&L as it was.
   */
  shiftBaseline(usd: number): void {
    this.#record = { ...this.#record, unrealizedAtStart: this.#record.unrealizedAtStart + usd };
  }

  /** Puts back a record taken from {@link record} (when a write failed). */
  restore(record: DailyLossRecord): void {
    this.#record = record;
  }

  /**
   * Updates the latch from the daily P&L `pnlUsd` (normally {@link pnl}). On a change the
   * record changes too (persist it); `"reached"` means the breaker trips now.
   */
  latch(pnlUsd: number): LatchChange {
    const reached = lossReached(pnlUsd, this.#limitUsd);
    if (reached === this.#record.lossLatched) return null;
    this.#record = { ...this.#record, lossLatched: reached };
    return reached ? "reached" : "recovered";
  }

  /** The breaker's reason when the loss reached the limit at `pnlUsd`. */
  tripReason(pnlUsd: number): string {
    return `daily loss ${round2(-pnlUsd)} reached the limit ${this.#limitUsd}`;
  }
}
