import assert from "node:assert/strict";
import { AlpacaClient, errorCode, mapAlpacaOrder, tickPrice } from "./alpaca_client.ts";
import { FakeAlpaca } from "./testing/fake_alpaca.ts";
import { RateLimiter } from "./rate_limiter.ts";
import { makeOrder } from "./testing/fixtures.ts";
import { testMetrics } from "./testing/metrics.ts";

function setup(
  fake: FakeAlpaca,
  over: { limit?: number; maxRetries?: number; keyId?: string; rateLimitMaxWaitMs?: number } = {},
) {
  const metrics = testMetrics("alpaca");
  const sleeps: number[] = [];
  /** Time the test skipped (every sleep, the client's and the limiter's, moves it on). */
  let skipped = 0;
  const sleep = (ms: number) => {
    sleeps.push(ms);
    skipped += ms;
    return Promise.resolve();
  };
  const limiter = new RateLimiter({
    limit: over.limit ?? 1000,
    now: () => performance.now() + skipped,
    sleep,
  });
  const client = new AlpacaClient({
    baseUrl: fake.baseUrl,
    keyId: over.keyId ?? "key",
    secretKey: "secret",
    timeoutMs: 300,
    maxRetries: over.maxRetries ?? 3,
    retryBaseMs: 1,
    limiter,
    metrics: metrics.recorder,
    rateLimitMaxWaitMs: over.rateLimitMaxWaitMs,
    now: () => Date.now() + skipped,
    sleep,
  });
  fake.now = () => Date.now() + skipped;
  return { client, metrics, sleeps, limiter };
}

function failures(metrics: ReturnType<typeof setup>["metrics"], error: string): Promise<number> {
  return metrics.value("execution_engine_api_failures_total", { error_message: error });
}

async function withFake(fn: (fake: FakeAlpaca) => Promise<void>): Promise<void> {
  const fake = FakeAlpaca.start();
  try {
    await fn(fake);
  } finally {
    await fake.close();
  }
}

Deno.test("AlpacaClient.submitOrder() posts the order with its client order id and the key headers", () =>
  withFake(async (fake) => {
    const { client, metrics } = setup(fake);
    const o = makeOrder({ qty: 3 });
    const r = await client.submitOrder(o);
    assert.equal(r.kind, "accepted");
    assert.equal(fake.count("POST /v2/orders", o.clientOrderId), 1);
    const held = fake.orders.get(fake.byClient.get(o.clientOrderId)!)!;
    assert.equal(held.qty, "3");
    assert.equal(held.time_in_force, "day");
    const lat = await metrics.registry.getSingleMetric("execution_engine_api_call_latency_ms")!
      .get();
    assert.ok(
      lat.values.some((v) =>
        v.labels.endpoint === "/v2/orders" && v.labels.method === "POST" &&
        v.labels.status_code === "200"
      ),
    );
  }));

Deno.test("AlpacaClient maps 403 insufficient buying power to a rejection without retrying", () =>
  withFake(async (fake) => {
    fake.buyingPower = 10;
    const { client, metrics } = setup(fake);
    const o = makeOrder({ qty: 5 });
    const r = await client.submitOrder(o);
    assert.deepEqual(r.kind === "rejected" && r.reason, "insufficient_buying_power");
    assert.equal(fake.count("POST /v2/orders"), 1);
    assert.equal(await failures(metrics, "http_403"), 1);
  }));

Deno.test("AlpacaClient maps 401 and 403 for wrong keys to forbidden without retrying", () =>
  withFake(async (fake) => {
    for (const status of [401, 403] as const) {
      fake.authFailureStatus = status;
      const { client, metrics } = setup(fake, { keyId: "wrong" });
      const r = await client.submitOrder(makeOrder());
      assert.deepEqual(r.kind === "rejected" && r.reason, "forbidden");
      assert.equal(await failures(metrics, `http_${status}`), 1);
    }
    assert.equal(fake.count("POST /v2/orders"), 2);
  }));

Deno.test("AlpacaClient maps 422 unknown asset to unknown_symbol without retrying", () =>
  withFake(async (fake) => {
    const { client, metrics } = setup(fake);
    const r = await client.submitOrder(makeOrder({ symbol: "NOPE" }));
    assert.deepEqual(r.kind === "rejected" && r.reason, "unknown_symbol");
    assert.equal(fake.count("POST /v2/orders"), 1);
    assert.equal(await failures(metrics, "http_422"), 1);
  }));

Deno.test("AlpacaClient maps other 422 errors to invalid_order", () =>
  withFake(async (fake) => {
    const { client } = setup(fake);
    fake.faults.push({
      route: "POST /v2/orders",
      action: { status: 422, message: "qty must be > 0" },
    });
    const r = await client.submitOrder(makeOrder());
    assert.deepEqual(r.kind === "rejected" && r.reason, "invalid_order");
    assert.equal(fake.count("POST /v2/orders"), 1);
  }));

const epochSeconds = (ms: number) => Math.ceil(ms / 1000);

Deno.test("AlpacaClient waits out a 429 until X-RateLimit-Reset and sends again without a look-up", () =>
  withFake(async (fake) => {
    const { client, metrics, sleeps } = setup(fake);
    const reset = epochSeconds(fake.now() + 3000);
    fake.faults.push({ route: "POST /v2/orders", action: { status: 429, reset } });
    const o = makeOrder();
    const r = await client.submitOrder(o);
    assert.equal(r.kind, "accepted");
    assert.equal(fake.count("POST /v2/orders", o.clientOrderId), 2);
    assert.equal(
      fake.count("GET /v2/orders:by_client_order_id", o.clientOrderId),
      0,
      "a 429 is a refusal: the order is not there to look up",
    );
    const waited = sleeps.reduce((a, b) => Math.max(a, b), 0);
    assert.ok(waited >= 1900, `waited ${waited} ms for the reset`);
    assert.equal(await failures(metrics, "http_429"), 1);
  }));

Deno.test("AlpacaClient rejects an order that only ever got 429 as rate_limited, never unknown", () =>
  withFake(async (fake) => {
    const { client, sleeps } = setup(fake, { maxRetries: 1, rateLimitMaxWaitMs: 130_000 });
    fake.rateLimit = 0; // every request: 429 until the window's reset, a minute on
    const r = await client.submitOrder(makeOrder());
    assert.deepEqual(r.kind === "rejected" && r.reason, "rate_limited");
    const posts = fake.count("POST /v2/orders");
    assert.ok(posts > 2, `more 429s than maxRetries allows (${posts})`);
    assert.ok(posts < 10, `the waits follow the reset, not a hot loop (${posts})`);
    const waited = sleeps.reduce((a, b) => a + b, 0);
    assert.ok(waited >= 129_000, `waited ${waited} ms before giving up`);
  }));

Deno.test("AlpacaClient exports X-RateLimit-Remaining and pauses every request when it reaches 0", () =>
  withFake(async (fake) => {
    fake.rateLimit = 3;
    const { client, metrics, limiter } = setup(fake);
    await client.getAccount();
    assert.equal(await metrics.value("execution_engine_api_rate_limit_remaining"), 2);
    await client.getAccount();
    await client.getAccount();
    assert.equal(await metrics.value("execution_engine_api_rate_limit_remaining"), 0);
    assert.ok(limiter.delay() > 0, "the budget is spent: requests wait for the reset");
    const read = await client.getAccount();
    assert.equal(read.ok, true, "the next request waited for the window instead of a 429");
  }));

Deno.test("AlpacaClient retries a 500 and adopts the order when the failed attempt got through", () =>
  withFake(async (fake) => {
    const { client, metrics } = setup(fake);
    fake.faults.push({ route: "POST /v2/orders", action: { status: 500 }, commit: true });
    const o = makeOrder();
    const r = await client.submitOrder(o);
    assert.equal(r.kind, "accepted");
    assert.equal(fake.count("POST /v2/orders", o.clientOrderId), 1);
    assert.equal(fake.byClient.size, 1);
    assert.equal(await failures(metrics, "http_5xx"), 1);
  }));

Deno.test("AlpacaClient recovers from a timeout without sending the order twice", () =>
  withFake(async (fake) => {
    const { client, metrics } = setup(fake);
    fake.faults.push({ route: "POST /v2/orders", action: "timeout", delayMs: 600, commit: true });
    const o = makeOrder();
    const r = await client.submitOrder(o);
    assert.equal(r.kind, "accepted");
    assert.equal(fake.count("POST /v2/orders", o.clientOrderId), 1);
    assert.equal(fake.byClient.size, 1);
    assert.equal(await failures(metrics, "timeout"), 1);
  }));

Deno.test("AlpacaClient re-sends after a dropped connection when the venue never got the order", () =>
  withFake(async (fake) => {
    const { client, metrics } = setup(fake);
    fake.faults.push({ route: "POST /v2/orders", action: "drop" });
    const o = makeOrder();
    const r = await client.submitOrder(o);
    assert.equal(r.kind, "accepted");
    assert.equal(fake.count("POST /v2/orders", o.clientOrderId), 2);
    assert.equal(fake.count("GET /v2/orders:by_client_order_id", o.clientOrderId), 1);
    assert.equal(fake.byClient.size, 1);
    assert.equal(await failures(metrics, "network_error"), 1);
  }));

Deno.test("AlpacaClient gives up as unknown when the venue keeps failing", () =>
  withFake(async (fake) => {
    const { client } = setup(fake, { maxRetries: 2 });
    for (let i = 0; i < 3; i++) {
      fake.faults.push({ route: "POST /v2/orders", action: { status: 503 } });
    }
    const o = makeOrder();
    const r = await client.submitOrder(o);
    assert.equal(r.kind, "unknown");
    assert.equal(fake.count("POST /v2/orders", o.clientOrderId), 3);
  }));

Deno.test("AlpacaClient does not re-send while the look-up itself fails", () =>
  withFake(async (fake) => {
    const { client } = setup(fake, { maxRetries: 1 });
    fake.faults.push({ route: "POST /v2/orders", action: { status: 500 } });
    fake.faults.push({ route: "GET /v2/orders:by_client_order_id", action: { status: 500 } });
    fake.faults.push({ route: "GET /v2/orders:by_client_order_id", action: { status: 500 } });
    const o = makeOrder();
    const r = await client.submitOrder(o);
    assert.equal(r.kind, "unknown");
    assert.equal(fake.count("POST /v2/orders", o.clientOrderId), 1);
  }));

Deno.test("AlpacaClient adopts the order when Alpaca says the client order id is taken", () =>
  withFake(async (fake) => {
    const { client } = setup(fake);
    const o = makeOrder();
    await client.submitOrder(o);
    const again = await client.submitOrder(o);
    assert.equal(again.kind, "accepted");
    assert.equal(fake.byClient.size, 1);
  }));

Deno.test("AlpacaClient.lookup() answers not_found on 404 without counting a failure", () =>
  withFake(async (fake) => {
    const { client, metrics } = setup(fake);
    assert.deepEqual(await client.lookup("nope"), { kind: "not_found" });
    const got = await metrics.registry.getSingleMetric("execution_engine_api_failures_total")!
      .get();
    assert.equal(got.values.length, 0);
  }));

Deno.test("AlpacaClient.cancelOrder() deletes an open order and refuses a filled one", () =>
  withFake(async (fake) => {
    const { client } = setup(fake);
    const a = makeOrder({ qty: 1 });
    const b = makeOrder({ qty: 1 });
    const ra = await client.submitOrder(a);
    const rb = await client.submitOrder(b);
    fake.fill(b.clientOrderId, 1);
    assert.equal(await client.cancelOrder(ra.kind === "accepted" ? ra.venueOrderId : ""), true);
    assert.equal(await client.cancelOrder(rb.kind === "accepted" ? rb.venueOrderId : ""), false);
    const got = await client.getOrder(ra.kind === "accepted" ? ra.venueOrderId : "");
    assert.equal(got.kind === "found" && got.status.state, "canceled");
  }));

Deno.test("AlpacaClient never sends more than the rate limit allows in a window", () =>
  withFake(async (fake) => {
    let t = 0;
    const waits: number[] = [];
    const limiter = new RateLimiter({
      limit: 3,
      windowMs: 60_000,
      now: () => t,
      sleep: (ms) => {
        waits.push(ms);
        t += ms;
        return Promise.resolve();
      },
    });
    const metrics = testMetrics("alpaca");
    const client = new AlpacaClient({
      baseUrl: fake.baseUrl,
      keyId: "key",
      secretKey: "secret",
      timeoutMs: 1000,
      maxRetries: 0,
      retryBaseMs: 1,
      limiter,
      metrics: metrics.recorder,
    });
    for (let i = 0; i < 5; i++) await client.submitOrder(makeOrder());
    assert.equal(fake.count("POST /v2/orders"), 5);
    // Three go at t=0; the fourth waits for the window to pass, then the fifth goes too.
    assert.deepEqual(waits, [60_000]);
    assert.equal(limiter.delay(), 0); // two of the three slots used since the wait
  }));

Deno.test("errorCode() maps statuses onto the closed set", () => {
  assert.equal(errorCode(503), "http_5xx");
  assert.equal(errorCode(429), "http_429");
  assert.equal(errorCode(418), "http_4xx");
});

Deno.test("mapAlpacaOrder() maps Alpaca statuses onto venue states", () => {
  const base = { id: "1", client_order_id: "c", filled_avg_price: null };
  assert.equal(
    mapAlpacaOrder({ ...base, status: "pending_new", filled_qty: "0" }).state,
    "accepted",
  );
  assert.equal(
    mapAlpacaOrder({ ...base, status: "new", filled_qty: "2" }).state,
    "partially_filled",
  );
  assert.equal(mapAlpacaOrder({ ...base, status: "filled", filled_qty: "5" }).state, "filled");
  assert.equal(
    mapAlpacaOrder({ ...base, status: "done_for_day", filled_qty: "0" }).state,
    "accepted",
  );
  assert.equal(mapAlpacaOrder({ ...base, status: "expired", filled_qty: "0" }).state, "expired");
  assert.equal(mapAlpacaOrder({ ...base, status: "rejected", filled_qty: "0" }).state, "rejected");
  assert.equal(
    mapAlpacaOrder({ ...base, status: "replaced", filled_qty: "0" }).state,
    "accepted",
    "a replaced order lives on under a new id: not canceled",
  );
});

Deno.test("tickPrice() rounds to 2 decimals at or above $1 and 4 below, never past the limit", () => {
  assert.equal(tickPrice(290.123, "buy"), "290.12");
  assert.equal(tickPrice(290.123, "sell"), "290.13");
  assert.equal(tickPrice(290.12, "buy"), "290.12", "290.12 is not rounded down by float noise");
  assert.equal(tickPrice(0.60131, "buy"), "0.6013");
  assert.equal(tickPrice(0.60131, "sell"), "0.6014");
  assert.equal(tickPrice(11.055, "sell"), "11.06");
  assert.equal(tickPrice(0.99999, "sell"), "1.00");
});

Deno.test("AlpacaClient sends a sub-penny stock limit rounded, so Alpaca does not refuse it", () =>
  withFake(async (fake) => {
    const { client } = setup(fake);
    const o = makeOrder({ type: "limit", limitPrice: 290.123, side: "buy" });
    const r = await client.submitOrder(o);
    assert.equal(r.kind, "accepted");
    assert.equal(fake.orders.get(fake.byClient.get(o.clientOrderId)!)!.limit_price, "290.12");
    // Sent as is, the fake answers as Alpaca does.
    const raw = await fetch(`${fake.baseUrl}/v2/orders`, {
      method: "POST",
      headers: { "APCA-API-KEY-ID": "key", "APCA-API-SECRET-KEY": "secret" },
      body: JSON.stringify({
        ...AlpacaClient.orderBody(makeOrder()),
        type: "limit",
        limit_price: "290.123",
      }),
    });
    assert.equal(raw.status, 422);
    assert.match((await raw.json()).message, /sub-penny increment/);
  }));

Deno.test("AlpacaClient refuses a crypto day order before sending it, and orderBody() never rewrites it", () =>
  withFake(async (fake) => {
    const { client } = setup(fake);
    const o = makeOrder({ symbol: "BTC/USD", timeInForce: "day" });
    const r = await client.submitOrder(o);
    assert.deepEqual(r.kind === "rejected" && r.reason, "invalid_time_in_force");
    assert.equal(fake.count("POST /v2/orders"), 0);
    assert.throws(
      () => AlpacaClient.orderBody(o),
      /crypto time in force must be gtc or ioc, got day/,
    );
    assert.equal(AlpacaClient.orderBody({ ...o, timeInForce: "gtc" }).time_in_force, "gtc");
    assert.equal(
      AlpacaClient.orderBody({ ...o, symbol: "AAPL" }, { extendedHours: true }).extended_hours,
      true,
    );
  }));

Deno.test("AlpacaClient reads the documented account and positions", () =>
  withFake(async (fake) => {
    const { client } = setup(fake);
    fake.positions.set("AAPL", 5);
    fake.positions.set("BTC/USD", -2);
    const account = await client.getAccount();
    assert.equal(account.ok && account.account.status, "ACTIVE");
    assert.deepEqual(await client.getPositions(), [
      { symbol: "AAPL", qty: 5, avgEntryPrice: 100 },
      { symbol: "BTCUSD", qty: -2, avgEntryPrice: 100 },
    ]);
  }));
