import assert from "node:assert/strict";
import { RealizedVolatility } from "./realized_volatility.ts";
import { assertSeriesClose, batchVolatility, fixedSeries } from "./testing/fixtures.ts";

Deno.test("RealizedVolatility matches a batch recomputation on a fixed series", () => {
  const ps = fixedSeries(1000);
  for (const w of [2, 20, 50]) {
    const vol = new RealizedVolatility(w);
    assertSeriesClose(ps.map((p) => vol.update(p)), batchVolatility(ps, w), `vol(${w})`, 1e-9);
  }
});

Deno.test("RealizedVolatility is 0 over a window where the price did not move", () => {
  const vol = new RealizedVolatility(3);
  for (const p of [10, 11, 11, 11, 11]) vol.update(p);
  assert.equal(vol.value, 0);
});
