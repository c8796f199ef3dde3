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
 * @module
 */
import type { Bar } from "../../lib/types.ts";

/** A bar interval of the config. */
export type BarInterval = Bar["interval"];

/** Length of each interval in milliseconds. */
export const INTERVAL_MS: Readonly<Record<BarInterval, number>> = {
  "1s": 1_000,
  "5s": 5_000,
  "1m": 60_000,
  "5m": 300_000,
};

interface OpenBar {
  start: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  notional: number;
  trades: number;
}

/** What {@link BarBuilder.addTrade} did with a trade. */
export type AddResult = "added" | "late";

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
  addTrade(symbol: string, price: number, size: number, exchangeTs: number): AddResult {
    let result: AddResult = "added";
    for (const interval of this.intervals) {
      const intervalMs = INTERVAL_MS[interval];
      const start = Math.floor(exchangeTs / intervalMs) * intervalMs;
      if (start + intervalMs <= this.#closedUntil.get(interval)!) {
        result = "late";
        continue;
      }
      const bySymbol = this.#open.get(interval)!;
      let windows = bySymbol.get(symbol);
      if (!windows) bySymbol.set(symbol, windows = new Map());
      const openBar = windows.get(start);
      if (!openBar) {
        windows.set(start, {
          start,
          open: price,
          high: price,
          low: price,
          close: price,
          volume: size,
          notional: price * size,
          trades: 1,
        });
      } else {
        if (price > openBar.high) openBar.high = price;
        if (price < openBar.low) openBar.low = price;
        openBar.close = price;
        openBar.volume += size;
        openBar.notional += price * size;
        openBar.trades++;
      }
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
        out.push(toBar(symbol, interval, intervalMs, openBar));
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
  let vwap = openBar.volume > 0 ? openBar.notional / openBar.volume : openBar.close;
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
