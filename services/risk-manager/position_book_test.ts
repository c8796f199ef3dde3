import assert from "node:assert/strict";
import { PositionBook } from "./position_book.ts";

const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-9, `${a} != ${b}`);

Deno.test("PositionBook.applyFill() averages the cost of buys", () => {
  const b = new PositionBook();
  b.applyFill("AAPL", "buy", 10, 100);
  b.applyFill("AAPL", "buy", 30, 104);
  assert.equal(b.qty("AAPL"), 40);
  close(b.get("AAPL").avgPrice, 103);
  assert.equal(b.get("AAPL").realized, 0);
});

Deno.test("PositionBook.applyFill() realises P&L through partial fills of a closing order", () => {
  const b = new PositionBook();
  b.applyFill("AAPL", "buy", 10, 100);
  assert.equal(b.applyFill("AAPL", "sell", 4, 105).realized, 20);
  assert.equal(b.applyFill("AAPL", "sell", 6, 98).realized, -12);
  const p = b.get("AAPL");
  assert.equal(p.qty, 0);
  assert.equal(p.avgPrice, 0);
  assert.equal(p.realized, 8);
});

Deno.test("PositionBook.applyFill() reverses a long into a short at the fill price", () => {
  const b = new PositionBook();
  b.applyFill("AAPL", "buy", 10, 100);
  const e = b.applyFill("AAPL", "sell", 15, 110);
  assert.equal(e.realized, 100);
  assert.equal(b.qty("AAPL"), -5);
  assert.equal(b.get("AAPL").avgPrice, 110);
  // Covering the short below its cost is a gain.
  assert.equal(b.applyFill("AAPL", "buy", 5, 100).realized, 50);
  assert.equal(b.get("AAPL").realized, 150);
});

Deno.test("PositionBook.applyFill() keeps short positions and their average cost", () => {
  const b = new PositionBook();
  b.applyFill("MSFT", "sell", 2, 400);
  b.applyFill("MSFT", "sell", 2, 410);
  assert.equal(b.qty("MSFT"), -4);
  assert.equal(b.get("MSFT").avgPrice, 405);
  b.mark("MSFT", 395);
  assert.equal(PositionBook.unrealized(b.get("MSFT")), 40);
  assert.deepEqual(b.exposure(), { gross: 1580, net: -1580 });
});

Deno.test("PositionBook handles crypto fractions without float residue", () => {
  const b = new PositionBook();
  b.applyFill("BTC/USD", "buy", 0.1, 100000);
  b.applyFill("BTC/USD", "buy", 0.2, 100000);
  b.applyFill("BTC/USD", "sell", 0.3, 101000);
  assert.equal(b.qty("BTC/USD"), 0);
  close(b.get("BTC/USD").realized, 300);
  assert.equal(b.openCount(), 0);
});

Deno.test("PositionBook marks positions to market for unrealised P&L and exposure", () => {
  const b = new PositionBook();
  b.applyFill("AAPL", "buy", 10, 100);
  b.applyFill("SPY", "sell", 1, 500);
  b.mark("AAPL", 103);
  b.mark("SPY", 490);
  assert.equal(b.totalUnrealized(), 30 + 10);
  assert.deepEqual(b.exposure(), { gross: 1030 + 490, net: 1030 - 490 });
  assert.equal(b.openCount(), 2);
});

Deno.test("PositionBook.adopt() takes a quantity and average from outside, keeping realised P&L and the mark", () => {
  const b = new PositionBook();
  b.applyFill("AAPL", "buy", 10, 100);
  b.applyFill("AAPL", "sell", 4, 110); // realised 40
  b.mark("AAPL", 120);
  const { before, after } = b.adopt("AAPL", -3, 115);
  assert.equal(before.qty, 6);
  assert.deepEqual(after, { symbol: "AAPL", qty: -3, avgPrice: 115, realized: 40, mark: 120 });
  assert.deepEqual(b.heldSymbols(), ["AAPL"]);
  assert.equal(b.adopt("AAPL", 1e-12, 115).after.avgPrice, 0, "flat: no average");
  assert.deepEqual(b.heldSymbols(), []);
});
