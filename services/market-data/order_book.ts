/**
 * An L2 order book for one symbol: snapshot and delta application on exact
 * integer price units (see `price.ts`), best bid/ask, mid, spread in basis points,
 * depth, imbalance, and crossed/locked detection. Plain class, no I/O.
 * @module
 */
import { fromUnits, toUnits } from "./price.ts";

/** One price level update: a wire price and the new size at it (0 removes the level). */
export interface LevelUpdate {
  readonly price: number;
  readonly size: number;
}

/** The state of the top of the book: `ok`, `crossed` (bid > ask) or `locked` (bid = ask). */
export type BookState = "ok" | "crossed" | "locked";

/** Derived figures of a book. Prices are wire numbers; null when a side is empty. */
export interface BookTop {
  readonly bestBid: number | null;
  readonly bestAsk: number | null;
  readonly mid: number | null;
  /** (ask - bid) / mid in basis points; negative when crossed. */
  readonly spreadBps: number | null;
  /** (bid size - ask size) / (bid size + ask size) over the top levels, in [-1, 1]. */
  readonly imbalance: number | null;
  readonly state: BookState;
}

/** Why {@link OrderBook.apply} refused an update: a level had a bad price or size. */
export interface BookUpdateError {
  readonly code: "INVALID_LEVEL";
  readonly message: string;
}

/**
 * One side of a book: its levels best first, as two aligned arrays (price units, size). A book
 * has tens of levels, so a binary search and a splice beat a map: the top levels and their sizes
 * are read by index, which is what every published book does.
 */
class Side {
  /** Price units, best first. */
  readonly order: number[] = [];
  /** The size at `order[i]`. */
  readonly sizes: number[] = [];
  constructor(private readonly descending: boolean) {}

  #better(a: number, b: number): boolean {
    return this.descending ? a > b : a < b;
  }

  set(units: number, size: number): void {
    const i = this.#find(units);
    const present = i < this.order.length && this.order[i] === units;
    if (size === 0) {
      if (!present) return;
      this.order.splice(i, 1);
      this.sizes.splice(i, 1);
      return;
    }
    if (present) {
      this.sizes[i] = size;
      return;
    }
    this.order.splice(i, 0, units);
    this.sizes.splice(i, 0, size);
  }

  /** The size at `units`, 0 when there is no level. */
  sizeAt(units: number): number {
    const i = this.#find(units);
    return i < this.order.length && this.order[i] === units ? this.sizes[i] : 0;
  }

  /** Index of the first entry not better than `units` (binary search). */
  #find(units: number): number {
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#better(this.order[mid], units)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  clear(): void {
    this.order.length = 0;
    this.sizes.length = 0;
  }

  top(n: number): [number, number][] {
    // As many levels as a loop `i < n` takes: none for a negative or NaN `n`, 3 for 2.5.
    const count = n > 0 ? Math.min(Math.ceil(n), this.order.length) : 0;
    const out: [number, number][] = new Array(count);
    for (let i = 0; i < count; i++) out[i] = [fromUnits(this.order[i]), this.sizes[i]];
    return out;
  }

  sizeOfTop(n: number): number {
    let total = 0;
    const count = Math.min(n, this.order.length);
    for (let i = 0; i < count; i++) total += this.sizes[i];
    return total;
  }
}

function validSize(size: unknown): size is number {
  return typeof size === "number" && Number.isFinite(size) && size >= 0;
}

/**
 * An order book. Updates are validated as a whole before any level changes, so a
 * bad update leaves the book as it was.
 *
 * @example
 * ```ts
 * const book = new OrderBook("AAPL");
 * book.apply([{ price: 128.14, size: 100 }], [{ price: 128.15, size: 50 }], true);
 * book.top().mid; // 128.145
 * ```
 */
export class OrderBook {
  readonly #bids = new Side(true);
  readonly #asks = new Side(false);

  constructor(readonly symbol: string) {}

  /**
   * Applies a snapshot (`reset` true: the book is replaced) or a delta (levels set;
   * size 0 removes a level). Returns an error value, changing nothing, when any
   * level has a price that is not a positive finite number or a negative/non-finite size.
   */
  apply(
    bids: readonly LevelUpdate[],
    asks: readonly LevelUpdate[],
    reset: boolean,
  ): BookUpdateError | undefined {
    const bidPairs = this.#convert(bids);
    if (typeof bidPairs === "string") {
      return { code: "INVALID_LEVEL", message: `bid ${bidPairs}` };
    }
    const askPairs = this.#convert(asks);
    if (typeof askPairs === "string") {
      return { code: "INVALID_LEVEL", message: `ask ${askPairs}` };
    }
    if (reset) {
      this.#bids.clear();
      this.#asks.clear();
    }
    for (let i = 0; i < bidPairs.length; i += 2) this.#bids.set(bidPairs[i], bidPairs[i + 1]);
    for (let i = 0; i < askPairs.length; i += 2) this.#asks.set(askPairs[i], askPairs[i + 1]);
    return undefined;
  }

  /** Levels as flat `[units, size, units, size, ...]`, or why one is invalid. */
  #convert(levels: readonly LevelUpdate[]): number[] | string {
    const out: number[] = new Array(levels.length * 2);
    for (let i = 0; i < levels.length; i++) {
      const level = levels[i];
      const units = toUnits(level?.price);
      if (units === undefined) {
        return `price ${String(level?.price)} is not a positive finite number`;
      }
      if (!validSize(level.size)) return `size ${String(level.size)} is not a finite number >= 0`;
      out[2 * i] = units;
      out[2 * i + 1] = level.size;
    }
    return out;
  }

  /** Number of price levels on each side. */
  depth(): { bids: number; asks: number } {
    return { bids: this.#bids.order.length, asks: this.#asks.order.length };
  }

  /** The size at a price, 0 when there is no level (exact lookup by units). */
  sizeAt(side: "bid" | "ask", price: number): number {
    const units = toUnits(price);
    if (units === undefined) return 0;
    return (side === "bid" ? this.#bids : this.#asks).sizeAt(units);
  }

  /** The best `n` levels of each side as `[price, size]`, best first. */
  levels(n: number): { bids: [number, number][]; asks: [number, number][] } {
    return { bids: this.#bids.top(n), asks: this.#asks.top(n) };
  }

  /** Best bid/ask, mid, spread (bps), imbalance over the top `n` levels, and crossed/locked state. */
  top(n = 10): BookTop {
    const bidUnits = this.#bids.order[0];
    const askUnits = this.#asks.order[0];
    const bestBid = bidUnits === undefined ? null : fromUnits(bidUnits);
    const bestAsk = askUnits === undefined ? null : fromUnits(askUnits);
    let mid: number | null = null;
    let spreadBps: number | null = null;
    let state: BookState = "ok";
    if (bidUnits !== undefined && askUnits !== undefined) {
      // Sum of units is exact; halving is exact in binary.
      mid = fromUnits(bidUnits + askUnits) / 2;
      spreadBps = ((askUnits - bidUnits) / ((bidUnits + askUnits) / 2)) * 10_000;
      state = bidUnits > askUnits ? "crossed" : bidUnits === askUnits ? "locked" : "ok";
    }
    const bidSize = this.#bids.sizeOfTop(n);
    const askSize = this.#asks.sizeOfTop(n);
    const imbalance = bidSize + askSize > 0 ? (bidSize - askSize) / (bidSize + askSize) : null;
    return { bestBid, bestAsk, mid, spreadBps, imbalance, state };
  }
}
