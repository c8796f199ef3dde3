import assert from "node:assert/strict";
import { OrderRateLimiter } from "./order_rate.ts";

Deno.test("OrderRateLimiter lets a burst of perSecond orders through and refuses the next", () => {
  const r = new OrderRateLimiter(10);
  for (let i = 0; i < 10; i++) {
    assert.ok(r.available(1000) >= 1, `order ${i}`);
    r.take(1000);
  }
  assert.ok(r.available(1000) < 1);
});

Deno.test("OrderRateLimiter refills at perSecond", () => {
  const r = new OrderRateLimiter(10);
  for (let i = 0; i < 10; i++) r.take(0);
  assert.ok(r.available(99) < 1);
  assert.ok(r.available(100) >= 1);
  assert.equal(r.available(5000), 10);
});

Deno.test("OrderRateLimiter allows one order per period for rates below one a second", () => {
  const r = new OrderRateLimiter(0.5);
  assert.ok(r.available(0) >= 1);
  r.take(0);
  assert.ok(r.available(1999) < 1);
  assert.ok(r.available(2000) >= 1);
});

Deno.test("OrderRateLimiter refuses a rate that is not positive", () => {
  assert.throws(() => new OrderRateLimiter(0), RangeError);
});
