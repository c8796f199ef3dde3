/**
 * The latest market prices per symbol (best bid, best ask, last trade), fed from
 * market-data's quotes, books and trades; the paper exchange fills against them.
 * @module
 */
import type { Book, Quote, Trade } from "../../lib/types.ts";

/** The latest prices of one symbol. Absent sides are undefined. */
export interface Prices {
  readonly bid?: number;
  readonly ask?: number;
  readonly last?: number;
  /** Epoch ms of the latest update. */
  readonly ts: number;
}

/** Latest prices by symbol. */
export class PriceBook {
  readonly #prices = new Map<string, Prices>();
  readonly #listeners: ((symbol: string) => void)[] = [];

  /** Calls `fn` after each update of a symbol's prices. */
  onUpdate(fn: (symbol: string) => void): void {
    this.#listeners.push(fn);
  }

  /** The latest prices of `symbol`, if any arrived. */
  get(symbol: string): Prices | undefined {
    return this.#prices.get(symbol);
  }

  /** Applies a top-of-book quote. */
  quote(q: Quote): void {
    this.#set(q.symbol, { bid: q.bidPrice, ask: q.askPrice, ts: q.receivedTs });
  }

  /** Applies a book snapshot's best levels (ignored when crossed). */
  book(b: Book): void {
    if (b.crossed) return;
    this.#set(b.symbol, { bid: b.bids[0]?.[0], ask: b.asks[0]?.[0], ts: b.receivedTs });
  }

  /** Applies a trade print. */
  trade(t: Trade): void {
    this.#set(t.symbol, { last: t.price, ts: t.receivedTs });
  }

  #set(symbol: string, p: Prices): void {
    const prev = this.#prices.get(symbol);
    this.#prices.set(symbol, {
      bid: p.bid ?? prev?.bid,
      ask: p.ask ?? prev?.ask,
      last: p.last ?? prev?.last,
      ts: p.ts,
    });
    for (const fn of this.#listeners) fn(symbol);
  }
}
