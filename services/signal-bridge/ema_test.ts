import assert from "node:assert/strict";
import { Ema } from "./ema.ts";
import { assertSeriesClose, batchEma, fixedSeries } from "./testing/fixtures.ts";

Deno.test("Ema is undefined until period values, then seeded with their mean", () => {
  const ema = new Ema(3);
  assert.equal(ema.update(1), undefined);
  assert.equal(ema.update(2), undefined);
  assert.equal(ema.update(3), 2);
  assert.equal(ema.update(4), 3);
});

Deno.test("Ema matches a batch recomputation on a fixed series", () => {
  const ps = fixedSeries();
  for (const n of [1, 5, 12, 26]) {
    const ema = new Ema(n);
    assertSeriesClose(ps.map((p) => ema.update(p)), batchEma(ps, n), `ema(${n})`);
  }
});

Deno.test("Ema refuses a period that is not a positive integer", () => {
  assert.throws(() => new Ema(0), RangeError);
  assert.throws(() => new Ema(2.5), RangeError);
});
