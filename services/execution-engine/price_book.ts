/**
 * The latest market prices per symbol (best bid, best ask, last trade), fed from
 * market-data's quotes, books, one-sided quotes, trades and trade corrections; the paper
 * exchange fills against them.
 *
 * A side is `undefined` while nothing quoted it (a trades-only feed: the paper exchange
 * then fills at the last trade) and `null` once a quote or book said it is empty (a
 * `one_sided_quote`, a book with an empty side): the paper exchange never fills against
 * it, nor falls back to the last trade, until the side is quoted again. A trade whose
 * conditions keep it out of prices (`eligible: false`) does not set the last price; a
 * `trade_correction` replaces it with the corrected last price.
 * @module
 */
import type { Book, OneSidedQuote, Quote, Trade, TradeCorrection } from "../../lib/types.ts";

/** The latest prices of one symbol: undefined when never quoted, null when quoted empty. */
export interface Prices {
  readonly bid?: number | null;
  readonly ask?: number | null;
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

  /** Applies a top-of-book quote (both sides present). */
  quote(quote: Quote): void {
    this.#set(quote.symbol, { bid: quote.bidPrice, ask: quote.askPrice }, quote.receivedTs);
  }

  /** Applies a quote with a side missing: that side becomes empty (null). */
  oneSidedQuote(quote: OneSidedQuote): void {
    this.#set(quote.symbol, { bid: quote.bidPrice, ask: quote.askPrice }, quote.receivedTs);
  }

  /** Applies a book's best levels; an empty side becomes empty (null). Ignored when crossed. */
  book(book: Book): void {
    if (book.crossed) return;
    this.#set(
      book.symbol,
      { bid: book.bids[0]?.[0] ?? null, ask: book.asks[0]?.[0] ?? null },
      book.receivedTs,
    );
  }

  /** Applies a trade print (one kept out of prices by its conditions moves nothing). */
  trade(trade: Trade): void {
    if (trade.eligible === false) return;
    this.#set(trade.symbol, { last: trade.price }, trade.receivedTs);
  }

  /** Applies a trade correction or cancel: the last price becomes the corrected one. */
  correction(correction: TradeCorrection): void {
    const previous = this.#prices.get(correction.symbol);
    if (!previous) return;
    this.#prices.set(correction.symbol, {
      ...previous,
      last: correction.lastPrice ?? undefined,
      ts: correction.receivedTs,
    });
    for (const listener of this.#listeners) listener(correction.symbol);
  }

  #set(
    symbol: string,
    update: { bid?: number | null; ask?: number | null; last?: number },
    ts: number,
  ): void {
    const previous = this.#prices.get(symbol);
    this.#prices.set(symbol, {
      bid: "bid" in update ? update.bid : previous?.bid,
      ask: "ask" in update ? update.ask : previous?.ask,
      last: update.last ?? previous?.last,
      ts,
    });
    for (const listener of this.#listeners) listener(symbol);
  }
}
