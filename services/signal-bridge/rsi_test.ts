import assert from "node:assert/strict";
import { rsiOf, WilderRsi } from "./rsi.ts";
import { assertSeriesClose, batchRsi, fixedSeries } from "./testing/fixtures.ts";

Deno.test("WilderRsi follows Wilder's smoothing on a hand-worked example", () => {
  const rsi = new WilderRsi(2);
  // changes +1, +1, -1, -1: averages (1, 0), then (0.5, 0.5), then (0.25, 0.75)
  assert.deepEqual([1, 2, 3, 2, 1].map((p) => rsi.update(p)), [
    undefined,
    undefined,
    100,
    50,
    25,
  ]);
});

Deno.test("WilderRsi matches a batch recomputation after every update on a fixed series", () => {
  const ps = fixedSeries();
  for (const n of [2, 14, 30]) {
    const rsi = new WilderRsi(n);
    assertSeriesClose(ps.map((p) => rsi.update(p)), batchRsi(ps, n), `rsi(${n})`);
  }
});

Deno.test("WilderRsi reads 50 when the price never moves and 100 when it only rises", () => {
  const flat = new WilderRsi(3);
  for (const p of [5, 5, 5, 5, 5]) flat.update(p);
  assert.equal(flat.value, 50);
  const up = new WilderRsi(3);
  for (const p of [1, 2, 3, 4, 5]) up.update(p);
  assert.equal(up.value, 100);
  assert.equal(rsiOf(1, 3), 25);
});
