/**
 * The recent trades of every symbol, by exchange and trade id, so that a later
 * correction (`c`) or cancel/error (`x`) can find the print it names: its time, its bar
 * entry, and whether it set the last price. Plain class, no I/O, bounded memory: at
 * most `capacity` trades in all (the oldest go first) and `recentPerSymbol` priced
 * trades per symbol for the last price.
 * @module
 */
import type { BarTrade } from "./bar_builder.ts";

/** One recorded trade. */
export interface LedgerTrade {
  readonly symbol: string;
  readonly key: string;
  readonly price: number;
  readonly size: number;
  readonly exchangeTs: number;
  /** It may set the last price (its conditions allow it). */
  readonly priced: boolean;
  /** Its entry in the open bars. */
  readonly bar: BarTrade;
  /** Set once cancelled or corrected. */
  removed: boolean;
}

/** The ledger key of a trade: symbol, exchange code and trade id. */
export function tradeKey(symbol: string, venue: string | undefined, tradeId: string): string {
  return `${symbol}|${venue ?? ""}|${tradeId}`;
}

/**
 * Recent trades and the last price per symbol.
 *
 * @example
 * ```ts
 * const ledger = new TradeLedger();
 * ledger.record({ symbol: "AAPL", key: tradeKey("AAPL", "D", "465"), price: 105.31, ... });
 * ledger.remove(ledger.find(tradeKey("AAPL", "D", "465"))!); // lastPrice("AAPL") falls back
 * ```
 */
export class TradeLedger {
  readonly #byKey = new Map<string, LedgerTrade>();
  /** symbol -> its latest priced trades, oldest first. */
  readonly #recent = new Map<string, LedgerTrade[]>();
  readonly #capacity: number;
  readonly #recentPerSymbol: number;

  /** Keeps at most `capacity` trades and `recentPerSymbol` priced trades per symbol. */
  constructor(capacity = 100_000, recentPerSymbol = 32) {
    this.#capacity = capacity;
    this.#recentPerSymbol = recentPerSymbol;
  }

  /** Number of trades held. */
  get size(): number {
    return this.#byKey.size;
  }

  /**
   * Records a trade (a repeated key replaces the older one). A trade without an id (key
   * `""`) cannot be corrected: it only counts for the last price.
   */
  record(trade: LedgerTrade): void {
    if (trade.key !== "") {
      this.#byKey.set(trade.key, trade);
      if (this.#byKey.size > this.#capacity) {
        this.#byKey.delete(this.#byKey.keys().next().value!);
      }
    }
    if (!trade.priced) return;
    let recent = this.#recent.get(trade.symbol);
    if (!recent) this.#recent.set(trade.symbol, recent = []);
    recent.push(trade);
    if (recent.length > this.#recentPerSymbol) recent.shift();
  }

  /** The trade recorded under `key`, if still held and not removed. */
  find(key: string): LedgerTrade | undefined {
    const trade = this.#byKey.get(key);
    return trade && !trade.removed ? trade : undefined;
  }

  /** Marks a trade removed (cancelled, or replaced by its correction). */
  remove(trade: LedgerTrade): void {
    trade.removed = true;
    this.#byKey.delete(trade.key);
    const recent = this.#recent.get(trade.symbol);
    if (recent) {
      const i = recent.indexOf(trade);
      if (i >= 0) recent.splice(i, 1);
    }
  }

  /**
   * Replaces `original` by its correction: `corrected` takes its place in the last-price
   * history (it is no later a trade than the one it corrects), or leaves it when the
   * corrected conditions keep it out of prices.
   */
  replace(original: LedgerTrade, corrected: LedgerTrade): void {
    original.removed = true;
    this.#byKey.delete(original.key);
    if (corrected.key !== "") this.#byKey.set(corrected.key, corrected);
    const recent = this.#recent.get(original.symbol);
    const i = recent ? recent.indexOf(original) : -1;
    if (i < 0) return;
    if (corrected.priced) recent![i] = corrected;
    else recent!.splice(i, 1);
  }

  /** The latest priced trade's price of `symbol` still standing; null when none is known. */
  lastPrice(symbol: string): number | null {
    const recent = this.#recent.get(symbol);
    return recent && recent.length > 0 ? recent[recent.length - 1].price : null;
  }
}
