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

class Side {
  /** Price units -> size. */
  readonly sizes = new Map<number, number>();
  /** Price units, best first. */
  readonly order: number[] = [];
  constructor(private readonly descending: boolean) {}

  #better(a: number, b: number): boolean {
    return this.descending ? a > b : a < b;
  }

  set(units: number, size: number): void {
    if (size === 0) {
      if (!this.sizes.delete(units)) return;
      const i = this.#find(units);
      if (i < this.order.length && this.order[i] === units) this.order.splice(i, 1);
      return;
    }
    if (!this.sizes.has(units)) {
      const i = this.#find(units);
      this.order.splice(i, 0, units);
    }
    this.sizes.set(units, size);
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
    this.sizes.clear();
    this.order.length = 0;
  }

  top(n: number): [number, number][] {
    const out: [number, number][] = [];
    const k = Math.min(n, this.order.length);
    for (let i = 0; i < k; i++) {
      const u = this.order[i];
      out.push([fromUnits(u), this.sizes.get(u)!]);
    }
    return out;
  }

  sizeOfTop(n: number): number {
    let s = 0;
    const k = Math.min(n, this.order.length);
    for (let i = 0; i < k; i++) s += this.sizes.get(this.order[i])!;
    return s;
  }
}

function validSize(s: unknown): s is number {
  return typeof s === "number" && Number.isFinite(s) && s >= 0;
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
    const b = this.#convert(bids);
    if (typeof b === "string") return { code: "INVALID_LEVEL", message: `bid ${b}` };
    const a = this.#convert(asks);
    if (typeof a === "string") return { code: "INVALID_LEVEL", message: `ask ${a}` };
    if (reset) {
      this.#bids.clear();
      this.#asks.clear();
    }
    for (let i = 0; i < b.length; i += 2) this.#bids.set(b[i], b[i + 1]);
    for (let i = 0; i < a.length; i += 2) this.#asks.set(a[i], a[i + 1]);
    return undefined;
  }

  #convert(levels: readonly LevelUpdate[]): number[] | string {
    const out: number[] = new Array(levels.length * 2);
    for (let i = 0; i < levels.length; i++) {
      const l = levels[i];
      const u = toUnits(l?.price);
      if (u === undefined) return `price ${String(l?.price)} is not a positive finite number`;
      if (!validSize(l.size)) return `size ${String(l.size)} is not a finite number >= 0`;
      out[2 * i] = u;
      out[2 * i + 1] = l.size;
    }
    return out;
  }

  /** Number of price levels on each side. */
  depth(): { bids: number; asks: number } {
    return { bids: this.#bids.order.length, asks: this.#asks.order.length };
  }

  /** The size at a price, 0 when there is no level (exact lookup by units). */
  sizeAt(side: "bid" | "ask", price: number): number {
    const u = toUnits(price);
    if (u === undefined) return 0;
    return (side === "bid" ? this.#bids : this.#asks).sizes.get(u) ?? 0;
  }

  /** The best `n` levels of each side as `[price, size]`, best first. */
  levels(n: number): { bids: [number, number][]; asks: [number, number][] } {
    return { bids: this.#bids.top(n), asks: this.#asks.top(n) };
  }

  /** Best bid/ask, mid, spread (bps), imbalance over the top `n` levels, and crossed/locked state. */
  top(n = 10): BookTop {
    const bu = this.#bids.order[0];
    const au = this.#asks.order[0];
    const bestBid = bu === undefined ? null : fromUnits(bu);
    const bestAsk = au === undefined ? null : fromUnits(au);
    let mid: number | null = null;
    let spreadBps: number | null = null;
    let state: BookState = "ok";
    if (bu !== undefined && au !== undefined) {
      // Sum of units is exact; halving is exact in binary.
      mid = fromUnits(bu + au) / 2;
      spreadBps = ((au - bu) / ((bu + au) / 2)) * 10_000;
      state = bu > au ? "crossed" : bu === au ? "locked" : "ok";
    }
    const bs = this.#bids.sizeOfTop(n);
    const as = this.#asks.sizeOfTop(n);
    const imbalance = bs + as > 0 ? (bs - as) / (bs + as) : null;
    return { bestBid, bestAsk, mid, spreadBps, imbalance, state };
  }
}
