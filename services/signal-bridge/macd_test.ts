import assert from "node:assert/strict";
import { Macd } from "./macd.ts";
import { assertSeriesClose, batchEma, batchMacd, fixedSeries } from "./testing/fixtures.ts";

Deno.test("Macd matches a batch recomputation of line, signal and histogram on a fixed series", () => {
  const ps = fixedSeries();
  const m = new Macd(12, 26, 9);
  const got = ps.map((p) => m.update(p));
  const want = batchMacd(ps, 12, 26, 9);
  assertSeriesClose(got.map((g) => g.emaFast), batchEma(ps, 12), "ema fast");
  assertSeriesClose(got.map((g) => g.emaSlow), batchEma(ps, 26), "ema slow");
  assertSeriesClose(got.map((g) => g.macd), want.macd, "macd");
  assertSeriesClose(got.map((g) => g.signal), want.signal, "signal");
  assertSeriesClose(got.map((g) => g.histogram), want.hist, "histogram");
});

Deno.test("Macd defines its signal line after slow + signal - 1 prices", () => {
  const m = new Macd(2, 4, 3);
  const got = [1, 2, 3, 4, 5, 6, 7].map((p) => m.update(p));
  assert.equal(got[2].macd, undefined);
  assert.notEqual(got[3].macd, undefined);
  assert.equal(got[4].signal, undefined);
  assert.notEqual(got[5].signal, undefined);
});

Deno.test("Macd refuses a fast period that is not below the slow one", () => {
  assert.throws(() => new Macd(26, 12, 9), RangeError);
});
