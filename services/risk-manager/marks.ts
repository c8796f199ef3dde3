/**
 * Reference prices (mids) from market data, for the price collar and marking to market.
 * @module
 */
import type { Book, Quote, Trade } from "../../lib/types.ts";

/** A reference price and when it was received (epoch ms). */
export interface Mark {
  readonly price: number;
  readonly ts: number;
  readonly source: "quote" | "book" | "trade";
}

/**
 * The latest mid per symbol. Quotes and books give the mid; a trade price is used only
 * while no quote or book mid younger than `maxAgeMs` is known, so prints do not jitter
 * a quoted mid.
 */
export class MarkBook {
  #marks = new Map<string, Mark>();
  constructor(readonly maxAgeMs: number) {}

  /** The mark of `symbol`, if any. */
  get(symbol: string): Mark | undefined {
    return this.#marks.get(symbol);
  }

  /** Updates from a market data message; returns the new mark or null when ignored. */
  update(type: string, body: unknown, now: number): Mark | null {
    let symbol: string;
    let price: number | null;
    let source: Mark["source"];
    if (type === "quote") {
      const quote = body as Quote;
      symbol = quote.symbol;
      price = quote.bidPrice > 0 && quote.askPrice >= quote.bidPrice
        ? (quote.bidPrice + quote.askPrice) / 2
        : null;
      source = "quote";
    } else if (type === "book") {
      const book = body as Book;
      symbol = book.symbol;
      price = book.crossed ? null : book.mid;
      source = "book";
    } else if (type === "trade") {
      const trade = body as Trade;
      symbol = trade.symbol;
      price = trade.price;
      source = "trade";
      const previous = this.#marks.get(symbol);
      if (previous && previous.source !== "trade" && now - previous.ts <= this.maxAgeMs) {
        return null;
      }
    } else return null;
    if (price === null || !(price > 0) || !Number.isFinite(price)) return null;
    const mark: Mark = { price, ts: now, source };
    this.#marks.set(symbol, mark);
    return mark;
  }
}
