import assert from "node:assert/strict";
import { PriceBook } from "./price_book.ts";

Deno.test("PriceBook keeps the other side when only one changes and skips crossed books", () => {
  const p = new PriceBook();
  p.set("AAPL", { bid: 1, ask: 2 });
  p.trade({ symbol: "AAPL", price: 1.5, size: 1, exchange: "sim", exchangeTs: 1, receivedTs: 1 });
  assert.deepEqual({ ...p.get("AAPL"), ts: 0 }, { bid: 1, ask: 2, last: 1.5, ts: 0 });
  p.book({
    symbol: "AAPL",
    bids: [[3, 1]],
    asks: [[2.5, 1]],
    mid: null,
    spreadBps: null,
    imbalance: null,
    crossed: true,
    exchange: "sim",
    exchangeTs: 2,
    receivedTs: 2,
  });
  assert.equal(p.get("AAPL")?.bid, 1);
});

Deno.test("PriceBook tells listeners which symbol changed", () => {
  const p = new PriceBook();
  const seen: string[] = [];
  p.onUpdate((s) => seen.push(s));
  p.quote({
    symbol: "MSFT",
    bidPrice: 1,
    bidSize: 1,
    askPrice: 2,
    askSize: 1,
    exchange: "sim",
    exchangeTs: 1,
    receivedTs: 1,
  });
  assert.deepEqual(seen, ["MSFT"]);
  assert.equal(p.get("MSFT")?.ask, 2);
  assert.equal(p.get("AAPL"), undefined);
});
