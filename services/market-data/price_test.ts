import assert from "node:assert/strict";
import { decimalsOf, fromUnits, MAX_PRICE, ticksToPrice, toUnits } from "./price.ts";

Deno.test("toUnits() and fromUnits() round-trip 128.14 exactly", () => {
  assert.equal(fromUnits(toUnits(128.14)!), 128.14);
  assert.equal(toUnits(128.14), 12_814_000_000);
});

Deno.test("toUnits() round-trips every cent price up to 10,000 exactly", () => {
  for (let c = 1; c <= 1_000_000; c += 7) {
    const p = Number((c / 100).toFixed(2));
    assert.equal(fromUnits(toUnits(p)!), p);
  }
});

Deno.test("toUnits() refuses non-numbers, zero, negatives, NaN, infinities and huge prices", () => {
  for (const bad of [0, -1, NaN, Infinity, "1", null, undefined, MAX_PRICE * 2, 1e-12]) {
    assert.equal(toUnits(bad), undefined, String(bad));
  }
});

Deno.test("ticksToPrice() gives clean decimals for cent and half ticks", () => {
  assert.equal(decimalsOf(0.01), 2);
  assert.equal(decimalsOf(0.5), 1);
  assert.equal(ticksToPrice(22814, 0.01), 228.14);
  assert.equal(ticksToPrice(194501, 0.5), 97250.5);
  assert.equal(ticksToPrice(3, 0.1), 0.3);
});
