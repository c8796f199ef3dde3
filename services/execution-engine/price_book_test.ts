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

Deno.test("PriceBook tells listeners which symbol changed", () => {
  const prices = new PriceBook();
  const seen: string[] = [];
  prices.onUpdate((symbol) => seen.push(symbol));
  prices.quote(makeQuote({ symbol: "MSFT", bidPrice: 1, askPrice: 2 }));
  assert.deepEqual(seen, ["MSFT"]);
  assert.equal(prices.get("MSFT")?.ask, 2);
  assert.equal(prices.get("AAPL"), undefined);
});
