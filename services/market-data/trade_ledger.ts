/**
 * The recent trades of every symbol, by exchange and trade id, so that a later
 * correction (`c`) or cancel/error (`x`) can find the print it names: its time, its bar
 * entry, and whether it set the last price. Plain class, no I/O, bounded memory: at
 * most `capacity` trades in all (the oldest go first) and `recentPerSymbol` priced
 * trades per symbol for the last price.
 *
 * The trades are held in a ring of columns (typed arrays for the numbers), not as one
 * object each, and a trade's bar entry only while a bar it is in may still be open
 * ({@link TradeLedger.releaseBars}): a full ledger holds 100 000 trades for minutes, long
 * enough for each to reach V8's old generation and die there. As objects (the record, its
 * bar entry, its key, their boxed numbers, its map entry) a trade took ~340 bytes of heap;
 * in the ring ~140, of which only its key string and map entry are allocated per trade
 * (README "Memory, `--soak`").
 * @module
 */
import { type BarTrade, barTrade } from "./bar_builder.ts";

/** One trade, as recorded. */
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

/** A trade found in the ledger (by {@link TradeLedger.find}), to remove or replace. */
export interface HeldTrade extends LedgerTrade {
  /** Its place in the order of recording (the ledger's own). */
  readonly seq: number;
  /**
   * Its entry in the open bars; once {@link TradeLedger.releaseBars} let go of it (every bar
   * it is in is closed), a stand-in with its price and size that no open bar holds.
   */
  readonly bar: BarTrade;
}

/** The ledger key of a trade: symbol, exchange code and trade id. */
export function tradeKey(symbol: string, venue: string | undefined, tradeId: string): string {
  return `${symbol}|${venue ?? ""}|${tradeId}`;
}

/** A symbol's latest priced trades, oldest first: their prices and their `seq`. */
interface Recent {
  readonly prices: number[];
  readonly seqs: number[];
}

/** Slots allocated at first; the columns double up to the capacity. */
const INITIAL_SLOTS = 1024;

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
  /** key -> its slot in the ring. */
  readonly #byKey = new Map<string, number>();
  readonly #recent = new Map<string, Recent>();
  readonly #capacity: number;
  readonly #recentPerSymbol: number;
  // The ring's columns, one slot per keyed trade, the oldest overwritten first.
  #keys: (string | undefined)[] = [];
  #symbols: string[] = [];
  #bars: (BarTrade | undefined)[] = [];
  #prices = new Float64Array(0);
  #sizes = new Float64Array(0);
  #times = new Float64Array(0);
  #seqs = new Float64Array(0);
  #priced = new Uint8Array(0);
  /** Keyed trades stored so far (the next slot is this modulo the capacity). */
  #stored = 0;
  /** Trades recorded so far, keyed or not: the next `seq`. */
  #seq = 0;
  /** Stored trades (counted as `#stored`) whose bar entries were let go of, oldest first. */
  #released = 0;

  /** Keeps at most `capacity` trades and `recentPerSymbol` priced trades per symbol. */
  constructor(capacity = 100_000, recentPerSymbol = 32) {
    if (!(Number.isInteger(capacity) && capacity > 0)) {
      throw new RangeError(`Cannot create a trade ledger: capacity ${capacity} is not > 0`);
    }
    this.#capacity = capacity;
    this.#recentPerSymbol = recentPerSymbol;
    this.#grow(Math.min(capacity, INITIAL_SLOTS));
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
    const seq = this.#seq++;
    if (trade.key !== "") this.#store(trade, seq);
    if (trade.priced) this.#pushRecent(trade.symbol, trade.price, seq);
  }

  /** The trade recorded under `key`, if still held and not removed. */
  find(key: string): HeldTrade | undefined {
    const slot = this.#byKey.get(key);
    if (slot === undefined) return undefined;
    return {
      symbol: this.#symbols[slot],
      key,
      price: this.#prices[slot],
      size: this.#sizes[slot],
      exchangeTs: this.#times[slot],
      priced: this.#priced[slot] === 1,
      bar: this.#bars[slot] ??
        barTrade(this.#prices[slot], this.#sizes[slot], {
          price: this.#priced[slot] === 1,
          volume: true,
        }),
      removed: false,
      seq: this.#seqs[slot],
    };
  }

  /** Marks a trade removed (cancelled, or replaced by its correction). */
  remove(trade: HeldTrade): void {
    trade.removed = true;
    this.#forget(trade);
    const recent = this.#recent.get(trade.symbol);
    const i = recent ? recent.seqs.indexOf(trade.seq) : -1;
    if (i >= 0) {
      recent!.prices.splice(i, 1);
      recent!.seqs.splice(i, 1);
    }
  }

  /**
   * Replaces `original` by its correction: `corrected` takes its place in the last-price
   * history (it is no later a trade than the one it corrects), or leaves it when the
   * corrected conditions keep it out of prices.
   */
  replace(original: HeldTrade, corrected: LedgerTrade): void {
    original.removed = true;
    this.#forget(original);
    const seq = this.#seq++;
    if (corrected.key !== "") this.#store(corrected, seq);
    const recent = this.#recent.get(original.symbol);
    const i = recent ? recent.seqs.indexOf(original.seq) : -1;
    if (i < 0) return;
    if (corrected.priced) {
      recent!.prices[i] = corrected.price;
      recent!.seqs[i] = seq;
    } else {
      recent!.prices.splice(i, 1);
      recent!.seqs.splice(i, 1);
    }
  }

  /**
   * Lets go of the bar entries of the trades older than `before` (epoch ms: every bar
   * holding a time before it is closed, BarBuilder's `closedBefore()`), oldest recorded
   * first, up to the first trade not that old (one recorded late waits for the next).
   */
  releaseBars(before: number): void {
    // Slots overwritten since were let go of with their trades.
    if (this.#stored - this.#released > this.#capacity) {
      this.#released = this.#stored - this.#capacity;
    }
    while (this.#released < this.#stored) {
      const slot = this.#released % this.#capacity;
      if (!(this.#times[slot] < before)) return;
      this.#bars[slot] = undefined;
      this.#released++;
    }
  }

  /** The latest priced trade's price of `symbol` still standing; null when none is known. */
  lastPrice(symbol: string): number | null {
    const recent = this.#recent.get(symbol);
    return recent && recent.prices.length > 0 ? recent.prices[recent.prices.length - 1] : null;
  }

  /** Puts a keyed trade in the next slot, evicting the oldest once the ring is full. */
  #store(trade: LedgerTrade, seq: number): void {
    const slot = this.#stored % this.#capacity;
    this.#stored++;
    if (slot >= this.#prices.length) this.#grow(Math.min(this.#capacity, this.#prices.length * 2));
    const evicted = this.#keys[slot];
    // The key may have moved to a later slot since (recorded again, or corrected).
    if (evicted !== undefined && this.#byKey.get(evicted) === slot) this.#byKey.delete(evicted);
    this.#keys[slot] = trade.key;
    this.#symbols[slot] = trade.symbol;
    this.#bars[slot] = trade.bar;
    this.#prices[slot] = trade.price;
    this.#sizes[slot] = trade.size;
    this.#times[slot] = trade.exchangeTs;
    this.#seqs[slot] = seq;
    this.#priced[slot] = trade.priced ? 1 : 0;
    this.#byKey.set(trade.key, slot);
  }

  /** Takes a held trade out of the index and lets go of its slot's references. */
  #forget(trade: HeldTrade): void {
    const slot = this.#byKey.get(trade.key);
    if (slot === undefined || this.#seqs[slot] !== trade.seq) return;
    this.#byKey.delete(trade.key);
    this.#keys[slot] = undefined;
    this.#bars[slot] = undefined;
  }

  #pushRecent(symbol: string, price: number, seq: number): void {
    let recent = this.#recent.get(symbol);
    if (!recent) this.#recent.set(symbol, recent = { prices: [], seqs: [] });
    recent.prices.push(price);
    recent.seqs.push(seq);
    if (recent.prices.length > this.#recentPerSymbol) {
      recent.prices.shift();
      recent.seqs.shift();
    }
  }

  /** Widens the columns to `slots` (the ring has not wrapped yet). */
  #grow(slots: number): void {
    const widen = <T extends Float64Array | Uint8Array>(old: T, make: (n: number) => T): T => {
      const next = make(slots);
      next.set(old);
      return next;
    };
    this.#prices = widen(this.#prices, (n) => new Float64Array(n));
    this.#sizes = widen(this.#sizes, (n) => new Float64Array(n));
    this.#times = widen(this.#times, (n) => new Float64Array(n));
    this.#seqs = widen(this.#seqs, (n) => new Float64Array(n));
    this.#priced = widen(this.#priced, (n) => new Uint8Array(n));
  }
}
