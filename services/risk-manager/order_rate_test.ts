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

Deno.test("OrderRateLimiter.peek() tells the tokens at a time without refilling the bucket", () => {
  const rate = new OrderRateLimiter(10);
  for (let i = 0; i < 10; i++) rate.take(0);
  assert.equal(rate.peek(50), 0.5);
  assert.equal(rate.peek(5000), 10, "never above capacity");
  assert.equal(rate.peek(-1), 0, "a time before the last refill: the tokens as they are");
  // Peeking changed nothing: a token is back at 100 ms exactly, as if no one had looked.
  assert.equal(rate.available(8), 0.08);
  const fresh = new OrderRateLimiter(10);
  for (let i = 0; i < 10; i++) fresh.take(0);
  fresh.peek(8);
  assert.equal(fresh.available(100), 1);
});
