import assert from "node:assert/strict";
import { BarSchema } from "../../lib/types.ts";
import { BarBuilder, barTrade } from "./bar_builder.ts";

const T0 = 1_700_000_000_000; // a whole minute

Deno.test("BarBuilder closes a bar on the timer with no later trade", () => {
  const b = new BarBuilder(["1s"], 100);
  b.addTrade("AAPL", 128.14, 10, T0 + 100);
  b.addTrade("AAPL", 128.2, 5, T0 + 500);
  b.addTrade("AAPL", 128.1, 5, T0 + 900);
  assert.deepEqual(b.closeDue(T0 + 1050), [], "still within the grace period");
  const bars = b.closeDue(T0 + 1100);
  assert.equal(bars.length, 1);
  const bar = BarSchema.parse(bars[0]);
  assert.deepEqual(
    { ...bar, vwap: Math.round(bar.vwap * 1e6) / 1e6 },
    {
      symbol: "AAPL",
      interval: "1s",
      start: T0,
      end: T0 + 1000,
      open: 128.14,
      high: 128.2,
      low: 128.1,
      close: 128.1,
      volume: 20,
      trades: 3,
      vwap: Math.round(((128.14 * 10 + 128.2 * 5 + 128.1 * 5) / 20) * 1e6) / 1e6,
    },
  );
  assert.deepEqual(b.closeDue(T0 + 5000), [], "a closed bar is not emitted twice");
});

Deno.test("BarBuilder emits no bar for a window without trades", () => {
  const b = new BarBuilder(["1s", "1m"], 0);
  assert.deepEqual(b.closeDue(T0 + 120_000), []);
});

Deno.test("BarBuilder builds 1s and 1m bars from the same trades", () => {
  const b = new BarBuilder(["1s", "1m"], 0);
  b.addTrade("X", 10, 1, T0 + 10);
  b.addTrade("X", 11, 1, T0 + 1010);
  const first = b.closeDue(T0 + 2000);
  assert.deepEqual(first.map((x) => [x.interval, x.start, x.trades]), [
    ["1s", T0, 1],
    ["1s", T0 + 1000, 1],
  ]);
  const minute = b.closeDue(T0 + 60_000);
  assert.deepEqual(minute.map((x) => [x.interval, x.open, x.close, x.trades]), [["1m", 10, 11, 2]]);
});

Deno.test("BarBuilder reports a trade for a closed window as late and leaves it out", () => {
  const b = new BarBuilder(["1s"], 100);
  b.addTrade("X", 10, 1, T0 + 10);
  assert.equal(b.closeDue(T0 + 1200).length, 1);
  assert.equal(b.addTrade("X", 99, 1, T0 + 500), "late");
  assert.equal(b.addTrade("X", 12, 1, T0 + 1500), "added");
  const bars = b.closeDue(T0 + 2200);
  assert.deepEqual(bars.map((x) => [x.start, x.high]), [[T0 + 1000, 12]]);
});

Deno.test("BarBuilder keeps symbols apart and flush() closes everything", () => {
  const b = new BarBuilder(["1m"], 0);
  b.addTrade("A", 1, 1, T0);
  b.addTrade("B", 2, 1, T0);
  const bars = b.flush();
  assert.deepEqual(bars.map((x) => x.symbol).sort(), ["A", "B"]);
  assert.deepEqual(b.flush(), []);
});

Deno.test("BarBuilder counts a price-ineligible trade in volume only and needs a priced trade for a bar", () => {
  const b = new BarBuilder(["1s"], 0);
  b.addTrade("X", 50, 7, T0 + 10, { price: false, volume: true });
  assert.deepEqual(b.closeDue(T0 + 1000), [], "an odd lot alone makes no bar");
  b.addTrade("X", 50, 7, T0 + 1010, { price: false, volume: true });
  b.addTrade("X", 10, 1, T0 + 1020);
  b.addTrade("X", 99, 5, T0 + 1030, { price: false, volume: false });
  const [bar] = b.closeDue(T0 + 2000);
  assert.deepEqual([bar.open, bar.high, bar.low, bar.close, bar.volume, bar.trades, bar.vwap], [
    10,
    10,
    10,
    10,
    8,
    1,
    10,
  ]);
});

Deno.test("BarBuilder.removeTrade() takes a trade out of its open bar and reports a closed one late", () => {
  const b = new BarBuilder(["1s", "1m"], 0);
  const high = barTrade(12, 2);
  b.addTrade("X", 10, 1, T0 + 10);
  b.add("X", high, T0 + 20);
  b.addTrade("X", 11, 1, T0 + 30);
  assert.equal(b.removeTrade("X", high, T0 + 20), "applied");
  const [second] = b.closeDue(T0 + 1000);
  assert.deepEqual([second.high, second.close, second.volume, second.trades], [11, 11, 2, 2]);
  const late = barTrade(13, 1);
  b.add("X", late, T0 + 1500);
  b.closeDue(T0 + 2000);
  assert.equal(b.removeTrade("X", late, T0 + 1500), "late", "its 1s bar is published");
  const [minute] = b.closeDue(T0 + 60_000);
  assert.deepEqual([minute.high, minute.volume, minute.trades], [11, 2, 2], "the 1m bar mended");
});

Deno.test("BarBuilder.closedBefore() is the earliest time a window of some interval still holds", () => {
  const bars = new BarBuilder(["1s", "1m"], 0);
  assert.equal(bars.closedBefore(), -Infinity, "nothing closed yet");
  bars.closeDue(125_500);
  assert.equal(bars.closedBefore(), 120_000, "the minute from 120 000 is open");
  bars.closeDue(180_000);
  assert.equal(bars.closedBefore(), 180_000);
});
