/**
 * Reference prices (mids) from market data, for the price collar, sizing and marking to
 * market.
 *
 * - `quote`, `book`: the mid. A `one_sided_quote` (a side Alpaca sent as 0/0), or a book
 *   with one side empty, leaves the mark one-sided: its price is the side that is there
 *   and {@link Mark.missing} names the other, so nothing buys against a missing ask or
 *   sells against a missing bid (the collar denies them). Both sides missing: the mark
 *   keeps its last price for P&L but offers neither side.
 * - `trade`: its price, only while no quote or book mark younger than `maxAgeMs` is known
 *   (prints do not jitter a quoted mid), and only when the print may set the last price
 *   (`eligible` is not false: odd lots, average-price prints and the other excluded
 *   conditions never do).
 * - `trade_correction`: a mark that came from a trade takes the corrected `lastPrice`
 *   (the last eligible print left after the cancel or correction), or is dropped when
 *   none is left; a quoted mark is left alone (the last print is not in use).
 * @module
 */
import type { Book, OneSidedQuote, Quote, Trade, TradeCorrection } from "../../lib/types.ts";

/** A reference price and when it was received (epoch ms). */
export interface Mark {
  /** USD: the mid, the one side a one-sided market shows, or a trade price. */
  readonly price: number;
  readonly ts: number;
  readonly source: "quote" | "book" | "trade" | "one_sided_quote";
  /** The side(s) the book lacks now (a one-sided market); absent when both are there. */
  readonly missing?: "bid" | "ask" | "both";
}

/** True when a `side` order has something to trade against in `mark`: a buy needs an ask, a sell a bid. */
export function markHasSide(mark: Mark, side: "buy" | "sell"): boolean {
  const missing = mark.missing;
  if (missing === undefined) return true;
  if (missing === "both") return false;
  return side === "buy" ? missing !== "ask" : missing !== "bid";
}

const validPrice = (p: unknown): p is number =>
  typeof p === "number" && Number.isFinite(p) && p > 0;

/**
 * The latest reference price per symbol (see the module comment for each message).
 *
 * @example
 * ```ts
 * const marks = new MarkBook(5000);
 * marks.update("quote", quote, Date.now());
 * marks.get("AAPL")?.price; // the mid
 * ```
 */
export class MarkBook {
  #marks = new Map<string, Mark>();
  constructor(readonly maxAgeMs: number) {}

  /** The mark of `symbol`, if any. */
  get(symbol: string): Mark | undefined {
    return this.#marks.get(symbol);
  }

  /**
   * Updates from a market data message of `type` received at `now` (epoch ms); returns
   * the new mark, or null when the message changed nothing.
   */
  update(type: string, body: unknown, now: number): Mark | null {
    switch (type) {
      case "quote": {
        const quote = body as Quote;
        if (!(quote.bidPrice > 0 && quote.askPrice >= quote.bidPrice)) return null;
        return this.#set(quote.symbol, (quote.bidPrice + quote.askPrice) / 2, now, "quote");
      }
      case "one_sided_quote": {
        const quote = body as OneSidedQuote;
        return this.#oneSided(quote.symbol, quote.bidPrice, quote.askPrice, now, type);
      }
      case "book": {
        const book = body as Book;
        if (book.crossed) return null;
        if (book.mid !== null) return this.#set(book.symbol, book.mid, now, "book");
        return this.#oneSided(
          book.symbol,
          book.bids?.[0]?.[0] ?? null,
          book.asks?.[0]?.[0] ?? null,
          now,
          "book",
        );
      }
      case "trade": {
        const trade = body as Trade;
        if (trade.eligible === false) return null;
        const previous = this.#marks.get(trade.symbol);
        if (previous && previous.source !== "trade" && now - previous.ts <= this.maxAgeMs) {
          return null;
        }
        return this.#set(trade.symbol, trade.price, now, "trade");
      }
      case "trade_correction": {
        const correction = body as TradeCorrection;
        const previous = this.#marks.get(correction.symbol);
        if (previous?.source !== "trade") return null;
        if (correction.lastPrice === null) {
          this.#marks.delete(correction.symbol);
          return null;
        }
        if (!validPrice(correction.lastPrice)) return null;
        // The corrected last price is an older print's: the mark does not get younger.
        const mark: Mark = { ...previous, price: correction.lastPrice };
        this.#marks.set(correction.symbol, mark);
        return mark;
      }
      default:
        return null;
    }
  }

  #oneSided(
    symbol: string,
    bid: number | null,
    ask: number | null,
    now: number,
    source: "book" | "one_sided_quote",
  ): Mark | null {
    const hasBid = validPrice(bid);
    const hasAsk = validPrice(ask);
    if (hasBid && hasAsk) {
      // Both present after all (a book whose mid was left out): the mid.
      return ask >= bid ? this.#set(symbol, (bid + ask) / 2, now, source) : null;
    }
    if (hasBid) return this.#set(symbol, bid, now, source, "ask");
    if (hasAsk) return this.#set(symbol, ask, now, source, "bid");
    const previous = this.#marks.get(symbol);
    if (previous === undefined) return null;
    const mark: Mark = { price: previous.price, ts: now, source, missing: "both" };
    this.#marks.set(symbol, mark);
    return mark;
  }

  #set(
    symbol: string,
    price: number,
    now: number,
    source: Mark["source"],
    missing?: Mark["missing"],
  ): Mark | null {
    if (!validPrice(price)) return null;
    const mark: Mark = missing === undefined
      ? { price, ts: now, source }
      : { price, ts: now, source, missing };
    this.#marks.set(symbol, mark);
    return mark;
  }
}
