import assert from "node:assert/strict";
import { waitFor } from "../../lib/testing/tools.ts";
import type { ExecutionReport } from "../../lib/types.ts";
import { parseTradeUpdate } from "./alpaca_stream.ts";
import { AlpacaAuthError } from "./alpaca_venue.ts";
import { ExecutionEngineCore } from "./core.ts";
import { FakeAlpaca } from "./testing/fake_alpaca.ts";
import { makeFakeAlpacaVenue } from "./testing/fake_alpaca_venue.ts";
import { Journal } from "./journal.ts";
import { makeOrder } from "./testing/fixtures.ts";
import { testMetrics } from "./testing/metrics.ts";
import { handleOrder } from "./testing/handle_order.ts";

function setup(fake: FakeAlpaca, keyId = "key") {
  const metrics = testMetrics("alpaca");
  const venue = makeFakeAlpacaVenue(fake, metrics.recorder, {
    keyId,
    timeoutMs: 1000,
    retryBaseMs: 1,
    reconnectMinMs: 20,
    reconnectMaxMs: 100,
  });
  const journal = new Journal(":memory:");
  const reports: ExecutionReport[] = [];
  const core = new ExecutionEngineCore({
    journal,
    venue,
    metrics: metrics.recorder,
    sink: (r) => {
      reports.push(r);
      return Promise.resolve();
    },
  });
  return { venue, core, journal, reports, metrics };
}

async function run(
  fn: (fake: FakeAlpaca, s: ReturnType<typeof setup>) => Promise<void>,
): Promise<void> {
  const fake = FakeAlpaca.start();
  const s = setup(fake);
  try {
    await s.venue.start();
    await fn(fake, s);
  } finally {
    s.core.close();
    await s.venue.close();
    s.journal.close();
    await fake.close();
  }
}

Deno.test("AlpacaVenue reports fills that arrive on the trade_updates stream", () =>
  run(async (fake, { core, reports }) => {
    assert.equal(fake.listeners, 1);
    const o = makeOrder({ qty: 10 });
    await handleOrder(core, o, "t");
    fake.fill(o.clientOrderId, 4, 101);
    fake.fill(o.clientOrderId, 6, 102);
    await waitFor("the fill report", () => reports.some((r) => r.state === "filled"));
    assert.deepEqual(reports.map((r) => r.state), ["accepted", "partially_filled", "filled"]);
    assert.equal(reports[1].lastQty, 4);
    assert.equal(reports[1].lastPrice, 101);
    assert.equal(reports[2].lastQty, 6);
    assert.equal(reports[2].lastPrice, 102);
    assert.equal(reports[2].avgPrice, 101.6);
  }));

Deno.test("AlpacaVenue reconciles open orders after the stream reconnects", () =>
  run(async (fake, { core, reports }) => {
    const o = makeOrder({ qty: 5 });
    await handleOrder(core, o, "t");
    fake.dropStreams();
    fake.fill(o.clientOrderId, 5, 99); // pushed to nobody: missed
    await waitFor("the reconciled fill", () => reports.some((r) => r.state === "filled"), {
      timeoutMs: 5000,
    });
    assert.equal(reports.at(-1)!.avgPrice, 99);
  }));

Deno.test("AlpacaVenue reports a cancel requested through the core", () =>
  run(async (fake, { core, reports }) => {
    const o = makeOrder();
    await handleOrder(core, o, "t");
    assert.equal(await core.cancel(o.clientOrderId), true);
    await waitFor("the cancel report", () => reports.some((r) => r.state === "canceled"));
    assert.equal(fake.count("DELETE /v2/orders/{id}"), 1);
  }));

Deno.test("AlpacaVenue skips and counts a malformed stream message and keeps going", () =>
  run(async (fake, { core, reports, metrics }) => {
    fake.sendRaw("{not json");
    fake.sendRaw(JSON.stringify({ stream: "trade_updates", data: { event: "fill" } }));
    const o = makeOrder({ qty: 1 });
    await handleOrder(core, o, "t");
    fake.fill(o.clientOrderId, 1);
    await waitFor("the fill report", () => reports.some((r) => r.state === "filled"));
    const got = await metrics.registry.getSingleMetric("execution_engine_api_failures_total")!
      .get();
    const invalid = got.values.find((v) =>
      v.labels.endpoint === "/stream" && v.labels.error_message === "invalid_response"
    );
    assert.equal(invalid?.value, 2);
  }));

Deno.test("AlpacaVenue.start() refuses keys Alpaca does not accept", async () => {
  const fake = FakeAlpaca.start();
  const s = setup(fake, "wrong");
  try {
    await assert.rejects(s.venue.start(), AlpacaAuthError);
  } finally {
    s.core.close();
    await s.venue.close();
    s.journal.close();
    await fake.close();
  }
});

Deno.test("parseTradeUpdate() maps events and refuses malformed updates", () => {
  const order = {
    id: "a1",
    client_order_id: "c1",
    status: "partially_filled",
    filled_qty: "2",
    filled_avg_price: "10.5",
  };
  const ev = parseTradeUpdate({ event: "partial_fill", order, price: "10.5", qty: "2" });
  assert.equal(ev?.state, "partially_filled");
  assert.equal(ev?.cumQty, 2);
  assert.equal(ev?.lastPrice, 10.5);
  assert.equal(parseTradeUpdate({ event: "pending_cancel", order }), undefined);
  assert.equal(parseTradeUpdate({ event: "canceled", order })?.state, "canceled");
  assert.throws(() => parseTradeUpdate({ event: "fill" }), TypeError);
  assert.throws(() => parseTradeUpdate(null), TypeError);
});
