import assert from "node:assert/strict";
import { PriceBook } from "./price_book.ts";
import { makeBook, makeQuote, makeTrade } from "./testing/fixtures.ts";

Deno.test("PriceBook keeps the other side when only one changes and skips crossed books", () => {
  const prices = new PriceBook();
  prices.quote(makeQuote({ bidPrice: 1, askPrice: 2, receivedTs: 1 }));
  prices.trade(makeTrade({ price: 1.5, receivedTs: 1 }));
  assert.deepEqual({ ...prices.get("AAPL"), ts: 0 }, { bid: 1, ask: 2, last: 1.5, ts: 0 });
  prices.book(makeBook({ bids: [[3, 1]], asks: [[2.5, 1]], crossed: true, receivedTs: 2 }));
  assert.equal(prices.get("AAPL")?.bid, 1);
});

Deno.test("PriceBook takes a book's best levels as bid and ask", () => {
  const prices = new PriceBook();
  prices.book(makeBook({ bids: [[10, 1], [9, 1]], asks: [[11, 1], [12, 1]], receivedTs: 5 }));
  assert.deepEqual(prices.get("AAPL"), { bid: 10, ask: 11, last: undefined, ts: 5 });
});

Deno.test("PriceBook empties a side a one-sided quote or a book leaves out, instead of keeping it stale", () => {
  const prices = new PriceBook();
  prices.quote(makeQuote({ bidPrice: 99, askPrice: 101 }));
  prices.oneSidedQuote({ ...makeQuote(), bidPrice: 99, askPrice: null, askSize: 0 });
  assert.deepEqual([prices.get("AAPL")?.bid, prices.get("AAPL")?.ask], [99, null]);
  prices.book(makeBook({ bids: [], asks: [[101, 1]], mid: null, spreadBps: null }));
  assert.deepEqual([prices.get("AAPL")?.bid, prices.get("AAPL")?.ask], [null, 101]);
});

Deno.test("PriceBook ignores an ineligible print for the last price and takes a correction's", () => {
  const prices = new PriceBook();
  prices.trade(makeTrade({ price: 100 }));
  prices.trade(makeTrade({ price: 150, eligible: false }));
  assert.equal(prices.get("AAPL")?.last, 100);
  prices.trade(makeTrade({ price: 101 }));
  const correction = {
    symbol: "AAPL",
    action: "cancel",
    tradeId: "1",
    originalPrice: 101,
    originalSize: 1,
    correctedPrice: null,
    correctedSize: null,
    outcome: "applied",
    lastPrice: 100,
    exchange: "alpaca",
    exchangeTs: 1,
    receivedTs: 2,
  } as const;
  prices.correction(correction);
  assert.equal(prices.get("AAPL")?.last, 100);
  prices.correction({ ...correction, lastPrice: null });
  assert.equal(prices.get("AAPL")?.last, undefined);
});

Deno.test("PriceBook tells listeners which symbol changed", () => {
  const prices = new PriceBook();
  const seen: string[] = [];
  prices.onUpdate((symbol) => seen.push(symbol));
  prices.quote(makeQuote({ symbol: "MSFT", bidPrice: 1, askPrice: 2 }));
  assert.deepEqual(seen, ["MSFT"]);
  assert.equal(prices.get("MSFT")?.ask, 2);
  assert.equal(prices.get("AAPL"), undefined);
});
