import assert from "node:assert/strict";
import { OrderBook } from "./order_book.ts";

const level = (price: number, size: number) => ({ price, size });

Deno.test("OrderBook.apply() with a snapshot gives best bid, ask, mid and spread", () => {
  const b = new OrderBook("AAPL");
  assert.equal(
    b.apply([level(128.13, 200), level(128.14, 100)], [level(128.16, 50), level(128.15, 70)], true),
    undefined,
  );
  const t = b.top();
  assert.equal(t.bestBid, 128.14);
  assert.equal(t.bestAsk, 128.15);
  assert.equal(t.mid, 128.145);
  assert.ok(Math.abs(t.spreadBps! - (0.01 / 128.145) * 1e4) < 1e-9);
  assert.equal(t.state, "ok");
  assert.deepEqual(b.depth(), { bids: 2, asks: 2 });
});

Deno.test("OrderBook keeps 128.14 exact after arithmetic-derived prices hit the same level", () => {
  const b = new OrderBook("AAPL");
  b.apply([level(128.14, 100)], [], true);
  // 128.13 + 0.01 is 128.14000000000001 in floating point: it must land on the same level.
  b.apply([level(128.13 + 0.01, 300)], [], false);
  assert.deepEqual(b.depth(), { bids: 1, asks: 0 });
  assert.equal(b.sizeAt("bid", 128.14), 300);
  assert.deepEqual(b.levels(5).bids, [[128.14, 300]]);
  assert.equal(b.top().bestBid, 128.14);
});

Deno.test("OrderBook.apply() removes a level when its size is zero", () => {
  const b = new OrderBook("X");
  b.apply([level(10, 1), level(9.99, 2)], [level(10.01, 3)], true);
  b.apply([level(10, 0)], [], false);
  assert.equal(b.top().bestBid, 9.99);
  b.apply([level(5, 0)], [], false); // removing an absent level is harmless
  assert.deepEqual(b.depth(), { bids: 1, asks: 1 });
});

Deno.test("OrderBook.apply() with reset replaces the whole book", () => {
  const b = new OrderBook("X");
  b.apply([level(10, 1), level(9, 1)], [level(11, 1)], true);
  b.apply([level(20, 5)], [level(21, 5)], true);
  assert.deepEqual(b.levels(10), { bids: [[20, 5]], asks: [[21, 5]] });
});

Deno.test("OrderBook.top() reports a crossed and a locked book", () => {
  const b = new OrderBook("X");
  b.apply([level(10.02, 1)], [level(10.01, 1)], true);
  assert.equal(b.top().state, "crossed");
  assert.ok(b.top().spreadBps! < 0);
  b.apply([level(10.02, 0), level(10.01, 1)], [], false);
  assert.equal(b.top().state, "locked");
  assert.equal(b.top().spreadBps, 0);
});

Deno.test("OrderBook.top() computes imbalance over the top levels only", () => {
  const b = new OrderBook("X");
  b.apply([level(10, 3), level(9, 100)], [level(11, 1)], true);
  assert.equal(b.top(1).imbalance, (3 - 1) / 4);
  assert.equal(b.top(2).imbalance, (103 - 1) / 104);
});

Deno.test("OrderBook.top() gives nulls for an empty side", () => {
  const b = new OrderBook("X");
  b.apply([level(10, 3)], [], true);
  const t = b.top();
  assert.equal(t.bestAsk, null);
  assert.equal(t.mid, null);
  assert.equal(t.spreadBps, null);
  assert.equal(t.imbalance, 1);
});

Deno.test("OrderBook.apply() refuses a bad level and leaves the book unchanged", () => {
  const b = new OrderBook("X");
  b.apply([level(10, 1)], [level(11, 1)], true);
  for (
    const bad of [level(-1, 1), level(NaN, 1), level(10, -1), level(10, Infinity), {
      price: "10",
      size: 1,
    }]
  ) {
    const err = b.apply([level(9, 1), bad as never], [], true);
    assert.equal(err?.code, "INVALID_LEVEL");
  }
  assert.deepEqual(b.levels(10), { bids: [[10, 1]], asks: [[11, 1]] });
});

Deno.test("OrderBook keeps levels sorted under random updates", () => {
  const b = new OrderBook("X");
  let seed = 1;
  const rnd = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const ref = new Map<number, number>();
  for (let i = 0; i < 5000; i++) {
    const cents = 10000 + Math.floor(rnd() * 200);
    const size = rnd() < 0.3 ? 0 : Math.floor(rnd() * 100) + 1;
    b.apply([level(cents / 100, size)], [], false);
    if (size === 0) ref.delete(cents);
    else ref.set(cents, size);
  }
  const expected = [...ref.entries()].sort((a, c) => c[0] - a[0]).map(([c, s]) => [c / 100, s]);
  assert.deepEqual(b.levels(1000).bids, expected);
});

Deno.test("OrderBook's sides agree with a reference map throughout random deltas and snapshots", () => {
  const b = new OrderBook("X");
  let seed = 7;
  const rnd = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const ref = { bid: new Map<number, number>(), ask: new Map<number, number>() };
  for (let i = 1; i <= 6000; i++) {
    const side = rnd() < 0.5 ? "bid" : "ask";
    const cents = (side === "bid" ? 9_900 : 10_001) + Math.floor(rnd() * 100);
    const size = rnd() < 0.3 ? 0 : Math.floor(rnd() * 100) + 1;
    const reset = rnd() < 0.002;
    const update = [level(cents / 100, size)];
    b.apply(side === "bid" ? update : [], side === "ask" ? update : [], reset);
    if (reset) {
      ref.bid.clear();
      ref.ask.clear();
    }
    if (size === 0) ref[side].delete(cents);
    else ref[side].set(cents, size);
    if (i % 500 !== 0) continue;
    const sorted = (m: Map<number, number>, dir: 1 | -1) =>
      [...m.entries()].sort((x, y) => dir * (x[0] - y[0])).map(([c, s]) => [c / 100, s]);
    const levels = b.levels(1000);
    assert.deepEqual(levels.bids, sorted(ref.bid, -1), `bids after ${i}`);
    assert.deepEqual(levels.asks, sorted(ref.ask, 1), `asks after ${i}`);
    assert.deepEqual(b.depth(), { bids: ref.bid.size, asks: ref.ask.size });
    for (let c = 9_890; c < 10_110; c++) {
      assert.equal(b.sizeAt("bid", c / 100), ref.bid.get(c) ?? 0, `bid size at ${c}`);
      assert.equal(b.sizeAt("ask", c / 100), ref.ask.get(c) ?? 0, `ask size at ${c}`);
    }
    const top5 = (m: Map<number, number>, dir: 1 | -1) =>
      sorted(m, dir).slice(0, 5).reduce((t, [, s]) => t + s, 0);
    const bidSize = top5(ref.bid, -1);
    const askSize = top5(ref.ask, 1);
    const imbalance = b.top(5).imbalance;
    if (bidSize + askSize === 0) assert.equal(imbalance, null);
    else assert.ok(Math.abs(imbalance! - (bidSize - askSize) / (bidSize + askSize)) < 1e-12);
  }
});

Deno.test("OrderBook keeps more than 1,000 levels a side", () => {
  const b = new OrderBook("X");
  b.apply(Array.from({ length: 1500 }, (_, i) => level(1 + i / 100, i + 1)), [], true);
  assert.deepEqual(b.depth(), { bids: 1500, asks: 0 });
  assert.equal(b.sizeAt("bid", 1), 1);
  assert.equal(b.levels(2000).bids.length, 1500);
});

Deno.test("OrderBook.levels() takes any count: none for a negative or NaN one, rounded up otherwise", () => {
  const b = new OrderBook("X");
  b.apply([level(10, 1), level(9.99, 2), level(9.98, 3), level(9.97, 4)], [level(10.01, 5)], true);
  assert.deepEqual(b.levels(-1), { bids: [], asks: [] });
  assert.deepEqual(b.levels(Number.NaN), { bids: [], asks: [] });
  assert.deepEqual(b.levels(2.5).bids, [[10, 1], [9.99, 2], [9.98, 3]]);
  assert.deepEqual(b.levels(2.5).asks, [[10.01, 5]]);
});
