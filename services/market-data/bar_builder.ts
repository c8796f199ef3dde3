/**
 * Time bars (OHLC, volume, trade count, VWAP) built from trades and closed by a
 * timer, not by the next trade. Plain class, no I/O: the caller passes the clock.
 *
 * Policy (README-worthy):
 * - A trade belongs to the window `[start, end)` of its exchange timestamp.
 * - A window is closed once the clock passes `end + graceMs`; the grace lets trades
 *   in flight from the last moments of the window arrive.
 * - A trade for a window that is already closed is *late*: it is not added to any
 *   bar (a published bar is never revised), and it is reported so it can be counted.
 * - A window with no trades produces no bar (a bar without a price would be invented).
 * - A trade whose conditions keep it out of prices (`trade_conditions.ts`) adds only its
 *   volume, and a bar needs at least one price-eligible trade; one kept out of volume
 *   adds nothing.
 * - A cancelled or corrected trade is taken out of its open bars again
 *   ({@link BarBuilder.removeTrade}); for a bar already closed it is late (not revised).
 * @module
 */
import type { Bar } from "../../lib/types.ts";
import type { Eligibility } from "./trade_conditions.ts";

/** A bar interval of the config. */
export type BarInterval = Bar["interval"];

/** Length of each interval in milliseconds. */
export const INTERVAL_MS: Readonly<Record<BarInterval, number>> = {
  "1s": 1_000,
  "5s": 5_000,
  "1m": 60_000,
  "5m": 300_000,
};

/** One trade as the open bars hold it, so that a cancel or correction can take it out. */
export interface BarTrade {
  readonly price: number;
  readonly size: number;
  /** It may set the bar's prices (and counts as one of its trades). */
  readonly priced: boolean;
  /** Its size counts in the bar's volume. */
  readonly counted: boolean;
  /** Set once a cancel or correction took it out. */
  removed: boolean;
}

interface OpenBar {
  start: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  /** Volume of the priced trades, for the VWAP. */
  pricedVolume: number;
  notional: number;
  trades: number;
  /** Every trade of the window, in arrival order. */
  readonly entries: BarTrade[];
}

/** What {@link BarBuilder.addTrade} did with a trade. */
export type AddResult = "added" | "late";

/** A new {@link BarTrade} with the given eligibility (default: eligible for everything). */
export function barTrade(price: number, size: number, eligible?: Eligibility): BarTrade {
  return {
    price,
    size,
    priced: eligible?.price ?? true,
    counted: eligible?.volume ?? true,
    removed: false,
  };
}

function emptyBar(start: number): OpenBar {
  return {
    start,
    open: 0,
    high: 0,
    low: 0,
    close: 0,
    volume: 0,
    pricedVolume: 0,
    notional: 0,
    trades: 0,
    entries: [],
  };
}

function accumulate(bar: OpenBar, trade: BarTrade): void {
  if (trade.counted) bar.volume += trade.size;
  if (!trade.priced) return;
  const price = trade.price;
  if (bar.trades === 0) {
    bar.open = bar.high = bar.low = price;
  } else {
    if (price > bar.high) bar.high = price;
    if (price < bar.low) bar.low = price;
  }
  bar.close = price;
  bar.pricedVolume += trade.size;
  bar.notional += price * trade.size;
  bar.trades++;
}

/**
 * Builds bars for every configured interval and symbol.
 *
 * @example
 * ```ts
 * const bars = new BarBuilder(["1s"], 100);
 * bars.addTrade("AAPL", 128.14, 10, 1_000_200);
 * bars.closeDue(1_001_100); // [{ symbol: "AAPL", interval: "1s", start: 1_000_000, ... }]
 * ```
 */
export class BarBuilder {
  /** interval -> symbol -> window start -> the open bar of that window */
  readonly #open = new Map<BarInterval, Map<string, Map<number, OpenBar>>>();
  /** interval -> every window ending at or before this is closed. */
  readonly #closedUntil = new Map<BarInterval, number>();

  /** Bars for each of `intervals`, each closed `graceMs` (ms) after its end. */
  constructor(readonly intervals: readonly BarInterval[], readonly graceMs = 250) {
    for (const i of intervals) {
      this.#open.set(i, new Map());
      this.#closedUntil.set(i, -Infinity);
    }
  }

  /**
   * Adds a trade to the open window of each interval. Returns `"late"` when the
   * trade's window is already closed for some interval (it is then left out of
   * that interval's bars), else `"added"`.
   */
  addTrade(
    symbol: string,
    price: number,
    size: number,
    exchangeTs: number,
    eligible?: Eligibility,
  ): AddResult {
    return this.add(symbol, barTrade(price, size, eligible), exchangeTs);
  }

  /**
   * Adds `trade` (keep it to {@link removeTrade} it later) to the open window of each
   * interval at `exchangeTs`. Returns `"late"` when that window is already closed for some
   * interval, else `"added"`. A trade eligible for neither prices nor volume changes nothing.
   */
  add(symbol: string, trade: BarTrade, exchangeTs: number): AddResult {
    let result: AddResult = "added";
    for (const interval of this.intervals) {
      const intervalMs = INTERVAL_MS[interval];
      const start = Math.floor(exchangeTs / intervalMs) * intervalMs;
      if (start + intervalMs <= this.#closedUntil.get(interval)!) {
        result = "late";
        continue;
      }
      if (!trade.priced && !trade.counted) continue;
      const bySymbol = this.#open.get(interval)!;
      let windows = bySymbol.get(symbol);
      if (!windows) bySymbol.set(symbol, windows = new Map());
      let openBar = windows.get(start);
      if (!openBar) windows.set(start, openBar = emptyBar(start));
      openBar.entries.push(trade);
      accumulate(openBar, trade);
    }
    return result;
  }

  /**
   * Takes `trade` (added at `exchangeTs`) out of its open windows and recomputes them.
   * Returns `"late"` when a window of some interval was already closed (that bar was
   * published and stays as it was), else `"applied"`.
   */
  removeTrade(symbol: string, trade: BarTrade, exchangeTs: number): "applied" | "late" {
    return this.replaceTrade(symbol, trade, undefined, exchangeTs);
  }

  /**
   * Puts `corrected` in the place of `trade` (added at `exchangeTs`) in its open windows
   * (taking `trade` out when `corrected` is undefined) and recomputes them. Returns `"late"`
   * when a window of some interval was already closed (that bar was published and stays
   * as it was), else `"applied"`.
   */
  replaceTrade(
    symbol: string,
    trade: BarTrade,
    corrected: BarTrade | undefined,
    exchangeTs: number,
  ): "applied" | "late" {
    trade.removed = true;
    let result: "applied" | "late" = "applied";
    for (const interval of this.intervals) {
      const intervalMs = INTERVAL_MS[interval];
      const start = Math.floor(exchangeTs / intervalMs) * intervalMs;
      if (start + intervalMs <= this.#closedUntil.get(interval)!) {
        result = "late";
        continue;
      }
      const windows = this.#open.get(interval)!;
      let bySymbol = windows.get(symbol);
      const openBar = bySymbol?.get(start);
      const entries = openBar ? [...openBar.entries] : [];
      const at = entries.indexOf(trade);
      if (corrected && (corrected.priced || corrected.counted)) {
        if (at >= 0) entries[at] = corrected;
        else entries.push(corrected);
      }
      const fresh = emptyBar(start);
      for (const entry of entries) {
        if (entry.removed) continue;
        fresh.entries.push(entry);
        accumulate(fresh, entry);
      }
      if (!bySymbol) windows.set(symbol, bySymbol = new Map());
      bySymbol.set(start, fresh);
    }
    return result;
  }

  /** Closes every window whose end is at or before `nowMs - graceMs`; returns their bars, oldest first. */
  closeDue(nowMs: number): Bar[] {
    const out: Bar[] = [];
    for (const interval of this.intervals) {
      const intervalMs = INTERVAL_MS[interval];
      const until = Math.floor((nowMs - this.graceMs) / intervalMs) * intervalMs;
      if (until <= this.#closedUntil.get(interval)!) continue;
      this.#closedUntil.set(interval, until);
      this.#collect(interval, (start) => start + intervalMs <= until, out);
    }
    return out;
  }

  /**
   * Every window holding a time (epoch ms) before this one is closed, for every interval
   * (-Infinity before the first close): a trade older than this can change no bar, so its
   * entry need not be kept (the TradeLedger lets go of it).
   */
  closedBefore(): number {
    return Math.min(...this.#closedUntil.values());
  }

  /** Closes every open window (end of a replay, shut-down). */
  flush(): Bar[] {
    const out: Bar[] = [];
    for (const interval of this.intervals) this.#collect(interval, () => true, out);
    return out;
  }

  #collect(interval: BarInterval, due: (start: number) => boolean, out: Bar[]): void {
    const intervalMs = INTERVAL_MS[interval];
    for (const [symbol, windows] of this.#open.get(interval)!) {
      const starts = [...windows.keys()].filter(due).sort((a, b) => a - b);
      for (const start of starts) {
        const openBar = windows.get(start)!;
        windows.delete(start);
        // A window of volume-only trades (odd lots...) has no price: no bar.
        if (openBar.trades > 0) out.push(toBar(symbol, interval, intervalMs, openBar));
      }
      if (windows.size === 0) this.#open.get(interval)!.delete(symbol);
    }
  }
}

function toBar(
  symbol: string,
  interval: BarInterval,
  intervalMs: number,
  openBar: OpenBar,
): Bar {
  let vwap = openBar.pricedVolume > 0 ? openBar.notional / openBar.pricedVolume : openBar.close;
  // Rounding can put the VWAP a hair outside [low, high]; clamp it.
  if (vwap < openBar.low) vwap = openBar.low;
  if (vwap > openBar.high) vwap = openBar.high;
  return {
    symbol,
    interval,
    start: openBar.start,
    end: openBar.start + intervalMs,
    open: openBar.open,
    high: openBar.high,
    low: openBar.low,
    close: openBar.close,
    volume: openBar.volume,
    trades: openBar.trades,
    vwap,
  };
}
