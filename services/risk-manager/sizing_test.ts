import assert from "node:assert/strict";
import { cleanQty, isCrypto, sizeOrder } from "./sizing.ts";

Deno.test("sizeOrder() rounds stocks down to whole shares", () => {
  assert.equal(sizeOrder("AAPL", 5000, 228.14, 0.001), 21);
  assert.equal(sizeOrder("AAPL", 5000, 250, 0.001), 20);
  assert.equal(sizeOrder("AAPL", 5000, 5001, 0.001), 0);
});

Deno.test("sizeOrder() rounds crypto down to minQty increments", () => {
  assert.equal(sizeOrder("BTC/USD", 5000, 97250, 0.001), 0.051);
  assert.equal(sizeOrder("BTC/USD", 5000, 100000, 0.01), 0.05);
  assert.equal(sizeOrder("BTC/USD", 5, 100000, 0.001), 0);
});

Deno.test("sizeOrder() returns 0 for a price that is not positive", () => {
  assert.equal(sizeOrder("AAPL", 5000, 0, 0.001), 0);
  assert.equal(sizeOrder("AAPL", 5000, Number.NaN, 0.001), 0);
});

Deno.test("isCrypto() and cleanQty() treat pairs and float noise as expected", () => {
  assert.ok(isCrypto("BTC/USD"));
  assert.ok(!isCrypto("AAPL"));
  assert.equal(cleanQty(0.1 + 0.2), 0.3);
  assert.equal(cleanQty(1e-12), 0);
});
