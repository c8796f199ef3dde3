import assert from "node:assert/strict";
import { RateLimiter } from "./rate_limiter.ts";

function fakeClock() {
  let t = 0;
  const sleeps: number[] = [];
  return {
    now: () => t,
    sleep: (ms: number) => {
      sleeps.push(ms);
      t += ms;
      return Promise.resolve();
    },
    advance: (ms: number) => (t += ms),
    sleeps,
  };
}

Deno.test("RateLimiter grants 200 requests a minute and makes the 201st wait for the window", async () => {
  const c = fakeClock();
  const rl = new RateLimiter({ limit: 200, windowMs: 60_000, now: c.now, sleep: c.sleep });
  for (let i = 0; i < 200; i++) {
    await rl.acquire();
    c.advance(10);
  }
  assert.deepEqual(c.sleeps, []);
  await rl.acquire();
  // The first request was at t=0, so the 201st may go at t=60 000 (now is 2 000).
  assert.deepEqual(c.sleeps, [58_000]);
  assert.equal(c.now(), 60_000);
  // The window is full again: the second request (t=10) leaves it at 60 010.
  assert.equal(rl.delay(), 10);
});

Deno.test("RateLimiter never lets more than the limit through in any window", async () => {
  const c = fakeClock();
  const rl = new RateLimiter({ limit: 5, windowMs: 1000, now: c.now, sleep: c.sleep });
  const times: number[] = [];
  for (let i = 0; i < 23; i++) {
    await rl.acquire();
    times.push(c.now());
    c.advance(37);
  }
  for (const t of times) {
    assert.ok(times.filter((x) => x > t - 1000 && x <= t).length <= 5);
  }
});

Deno.test("RateLimiter.delay() tells how long a request made now would wait", async () => {
  const c = fakeClock();
  const rl = new RateLimiter({ limit: 2, windowMs: 1000, now: c.now, sleep: c.sleep });
  assert.equal(rl.delay(), 0);
  await rl.acquire();
  await rl.acquire();
  assert.equal(rl.delay(), 1000);
  c.advance(1000);
  assert.equal(rl.delay(), 0);
  assert.deepEqual(c.sleeps, []);
});

Deno.test("RateLimiter serves waiting requests in arrival order", async () => {
  const c = fakeClock();
  const rl = new RateLimiter({ limit: 1, windowMs: 100, now: c.now, sleep: c.sleep });
  const order: number[] = [];
  await Promise.all([0, 1, 2, 3].map((i) => rl.acquire().then(() => order.push(i))));
  assert.deepEqual(order, [0, 1, 2, 3]);
  assert.equal(c.now(), 300);
});

Deno.test("RateLimiter refuses a limit that is not positive", () => {
  assert.throws(() => new RateLimiter({ limit: 0 }), RangeError);
});

Deno.test("RateLimiter.pauseFor() holds every request until the venue's reset, and never shortens a pause", async () => {
  let t = 0;
  const waits: number[] = [];
  const limiter = new RateLimiter({
    limit: 200,
    now: () => t,
    sleep: (ms) => {
      waits.push(ms);
      t += ms;
      return Promise.resolve();
    },
  });
  limiter.pauseFor(5000);
  limiter.pauseFor(1000);
  assert.equal(limiter.delay(), 5000);
  await limiter.acquire();
  await limiter.acquire();
  assert.deepEqual(waits, [5000], "the second request goes at once after the pause");
  limiter.pauseFor(-1);
  assert.equal(limiter.delay(), 0);
});
