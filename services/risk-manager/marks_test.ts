import assert from "node:assert/strict";
import { MarkBook, markHasSide } from "./marks.ts";

const quote = (bid: number, ask: number) => ({
  symbol: "AAPL",
  bidPrice: bid,
  bidSize: 1,
  askPrice: ask,
  askSize: 1,
  exchange: "sim",
  exchangeTs: 0,
  receivedTs: 0,
});

Deno.test("MarkBook takes the mid of a quote", () => {
  const m = new MarkBook(5000);
  m.update("quote", quote(99, 101), 10);
  assert.deepEqual(m.get("AAPL"), { price: 100, ts: 10, source: "quote" });
});

Deno.test("MarkBook ignores crossed books and trades while a fresh mid is known", () => {
  const m = new MarkBook(5000);
  m.update("book", { symbol: "AAPL", mid: 100, crossed: false }, 10);
  assert.equal(m.update("book", { symbol: "AAPL", mid: 90, crossed: true }, 11), null);
  assert.equal(m.update("trade", { symbol: "AAPL", price: 105 }, 12), null);
  assert.equal(m.get("AAPL")?.price, 100);
  assert.equal(m.update("trade", { symbol: "AAPL", price: 105 }, 6000)?.price, 105);
});

Deno.test("MarkBook ignores a quote with an inverted spread", () => {
  const m = new MarkBook(5000);
  assert.equal(m.update("quote", quote(101, 99), 10), null);
  assert.equal(m.get("AAPL"), undefined);
});

const oneSided = (bid: number | null, ask: number | null) => ({
  symbol: "AAPL",
  bidPrice: bid,
  bidSize: bid === null ? 0 : 1,
  askPrice: ask,
  askSize: ask === null ? 0 : 1,
  exchange: "alpaca",
  exchangeTs: 0,
  receivedTs: 0,
});

const correction = (lastPrice: number | null) => ({
  symbol: "AAPL",
  action: "cancel",
  tradeId: "1",
  originalPrice: 105,
  originalSize: 100,
  correctedPrice: null,
  correctedSize: null,
  outcome: "applied",
  lastPrice,
  exchange: "alpaca",
  exchangeTs: 0,
  receivedTs: 0,
});

Deno.test("MarkBook takes a one-sided quote as the side that is there and drops the other from the mark", () => {
  const m = new MarkBook(5000);
  m.update("quote", quote(99, 101), 10);
  assert.deepEqual(m.update("one_sided_quote", oneSided(99.5, null), 20), {
    price: 99.5,
    ts: 20,
    source: "one_sided_quote",
    missing: "ask",
  });
  const bidOnly = m.get("AAPL")!;
  assert.equal(markHasSide(bidOnly, "sell"), true);
  assert.equal(markHasSide(bidOnly, "buy"), false, "a buy needs an ask");
  const askOnly = m.update("one_sided_quote", oneSided(null, 101.5), 30)!;
  assert.deepEqual([askOnly.price, askOnly.missing], [101.5, "bid"]);
  assert.equal(markHasSide(askOnly, "buy"), true);
  assert.equal(markHasSide(askOnly, "sell"), false, "a sell needs a bid");
  // A two-sided quote restores the mid.
  assert.equal(m.update("quote", quote(100, 102), 40)?.missing, undefined);
  assert.equal(markHasSide(m.get("AAPL")!, "buy"), true);
});

Deno.test("MarkBook keeps the last price but offers no side when both sides are gone", () => {
  const m = new MarkBook(5000);
  assert.equal(m.update("one_sided_quote", oneSided(null, null), 10), null, "nothing to keep");
  assert.equal(m.get("AAPL"), undefined);
  m.update("quote", quote(99, 101), 20);
  const empty = m.update("one_sided_quote", oneSided(null, null), 30)!;
  assert.deepEqual(empty, { price: 100, ts: 30, source: "one_sided_quote", missing: "both" });
  assert.equal(markHasSide(empty, "buy"), false);
  assert.equal(markHasSide(empty, "sell"), false);
  // A print does not paper over the empty book while it is fresh.
  assert.equal(m.update("trade", { symbol: "AAPL", price: 100 }, 40), null);
  assert.equal(m.get("AAPL")?.missing, "both");
});

Deno.test("MarkBook reads a book with an empty side as one-sided", () => {
  const m = new MarkBook(5000);
  m.update(
    "book",
    { symbol: "AAPL", mid: 100, crossed: false, bids: [[99, 1]], asks: [[101, 1]] },
    10,
  );
  const noAsks = m.update(
    "book",
    { symbol: "AAPL", mid: null, crossed: false, bids: [[98, 1], [97, 2]], asks: [] },
    20,
  )!;
  assert.deepEqual([noAsks.price, noAsks.missing, noAsks.source], [98, "ask", "book"]);
  const none = m.update(
    "book",
    { symbol: "AAPL", mid: null, crossed: false, bids: [], asks: [] },
    30,
  )!;
  assert.equal(none.missing, "both");
});

Deno.test("MarkBook never sets the last price from a print that may not set it", () => {
  const m = new MarkBook(5000);
  assert.equal(m.update("trade", { symbol: "AAPL", price: 90, eligible: false }, 10), null);
  assert.equal(m.get("AAPL"), undefined);
  assert.equal(m.update("trade", { symbol: "AAPL", price: 100, eligible: true }, 20)?.price, 100);
  assert.equal(m.update("trade", { symbol: "AAPL", price: 90, eligible: false }, 30), null);
  assert.equal(m.get("AAPL")?.price, 100);
});

Deno.test("MarkBook replaces a trade mark with a correction's last price, and drops it when none is left", () => {
  const m = new MarkBook(5000);
  m.update("trade", { symbol: "AAPL", price: 105 }, 10);
  const corrected = m.update("trade_correction", correction(101), 20)!;
  assert.deepEqual(corrected, { price: 101, ts: 10, source: "trade" }, "no younger than the print");
  assert.equal(m.update("trade_correction", correction(null), 30), null);
  assert.equal(m.get("AAPL"), undefined, "no eligible print is left");
  // A correction makes no mark where there was none.
  assert.equal(m.update("trade_correction", correction(101), 40), null);
  assert.equal(m.get("AAPL"), undefined);
});

Deno.test("MarkBook leaves a quoted mid alone on a trade correction", () => {
  const m = new MarkBook(5000);
  m.update("quote", quote(99, 101), 10);
  assert.equal(m.update("trade_correction", correction(null), 20), null);
  assert.equal(m.update("trade_correction", correction(80), 30), null);
  assert.deepEqual(m.get("AAPL"), { price: 100, ts: 10, source: "quote" });
});
