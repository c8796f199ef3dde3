import assert from "node:assert/strict";
import { MarkBook } from "./marks.ts";

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
