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
  quote(quote: Quote): void {
    this.#set(quote.symbol, { bid: quote.bidPrice, ask: quote.askPrice, ts: quote.receivedTs });
  }

  /** Applies a book snapshot's best levels (ignored when crossed). */
  book(book: Book): void {
    if (book.crossed) return;
    this.#set(book.symbol, { bid: book.bids[0]?.[0], ask: book.asks[0]?.[0], ts: book.receivedTs });
  }

  /** Applies a trade print. */
  trade(trade: Trade): void {
    this.#set(trade.symbol, { last: trade.price, ts: trade.receivedTs });
  }

  #set(symbol: string, update: Prices): void {
    const previous = this.#prices.get(symbol);
    this.#prices.set(symbol, {
      bid: update.bid ?? previous?.bid,
      ask: update.ask ?? previous?.ask,
      last: update.last ?? previous?.last,
      ts: update.ts,
    });
    for (const listener of this.#listeners) listener(symbol);
  }
}
