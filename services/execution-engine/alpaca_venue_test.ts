import assert from "node:assert/strict";
import { waitFor } from "../../lib/testing/tools.ts";
import type { ExecutionReport } from "../../lib/types.ts";
import { AlpacaClient } from "./alpaca_client.ts";
import { parseTradeUpdate } from "./alpaca_stream.ts";
import { AlpacaAuthError } from "./alpaca_venue.ts";
import { ExecutionEngineCore } from "./core.ts";
import { FakeAlpaca } from "./testing/fake_alpaca.ts";
import { ACCOUNT, STREAM_ERROR_INFERRED } from "./testing/alpaca_fixtures.ts";
import {
  CALENDAR_2022_05_16,
  CLOCK_AFTER_CLOSE,
  CLOCK_OPEN,
} from "../../lib/testing/alpaca_session_fixtures.ts";
import { type FakeAlpacaVenueOptions, makeFakeAlpacaVenue } from "./testing/fake_alpaca_venue.ts";
import { Journal } from "./journal.ts";
import { makeOrder } from "./testing/fixtures.ts";
import { testMetrics } from "./testing/metrics.ts";
import { handleOrder } from "./testing/handle_order.ts";

function setup(fake: FakeAlpaca, keyId = "key", over: FakeAlpacaVenueOptions = {}) {
  const metrics = testMetrics("alpaca", ["AAPL", "BTC/USD"]);
  const venue = makeFakeAlpacaVenue(fake, metrics.recorder, {
    keyId,
    timeoutMs: 1000,
    retryBaseMs: 1,
    reconnectMinMs: 20,
    reconnectMaxMs: 100,
    accountMetrics: metrics.recorder,
    ...over,
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
  over: FakeAlpacaVenueOptions = {},
  prepare: (fake: FakeAlpaca) => void = () => {},
): Promise<void> {
  const fake = FakeAlpaca.start();
  prepare(fake);
  const s = setup(fake, "key", over);
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
  assert.equal(
    parseTradeUpdate({ event: "replaced", order: { ...order, status: "replaced" } })?.state,
    "partially_filled",
    "a replaced order is not canceled",
  );
  assert.equal(parseTradeUpdate({ event: "canceled", order })?.state, "canceled");
  assert.throws(() => parseTradeUpdate({ event: "fill" }), TypeError);
  assert.throws(() => parseTradeUpdate(null), TypeError);
});

const AFTER_CLOSE_NOW = Date.parse(CLOCK_AFTER_CLOSE.timestamp);

/** The fake's clock and calendar after the close (Alpaca's own fixtures), the venue at that time. */
const afterClose = (fake: FakeAlpaca) => {
  fake.clock = CLOCK_AFTER_CLOSE;
  fake.calendar = CALENDAR_2022_05_16;
};

Deno.test("AlpacaVenue never sends a market order after the close, which Alpaca would queue for the open", () =>
  run(
    async (fake, { core, reports, metrics }) => {
      const o = makeOrder({ type: "market", timeInForce: "day" });
      await handleOrder(core, o, "t");
      assert.deepEqual(reports.map((r) => [r.state, r.reason]), [["rejected", "market_closed"]]);
      assert.equal(fake.count("POST /v2/orders"), 0);
      assert.deepEqual(fake.queued, []);
      assert.equal(
        await metrics.value("execution_engine_order_rejections_total", {
          rejection_reason: "market_closed",
        }),
        1,
      );
      // What the venue protects against: the fake, like Alpaca, takes such an order and queues it.
      const res = await fetch(`${fake.baseUrl}/v2/orders`, {
        method: "POST",
        headers: { "APCA-API-KEY-ID": "key", "APCA-API-SECRET-KEY": "secret" },
        body: JSON.stringify(AlpacaClient.orderBody(makeOrder({ clientOrderId: "direct" }))),
      });
      assert.equal(res.status, 200);
      assert.equal((await res.json()).status, "accepted");
      assert.deepEqual(fake.queued, ["direct"]);
    },
    { now: () => AFTER_CLOSE_NOW },
    afterClose,
  ));

Deno.test("AlpacaVenue sends a limit day order in after-hours with extended_hours only when allowed", async () => {
  for (const extendedHours of [false, true]) {
    await run(
      async (fake, { core, reports }) => {
        const limit = makeOrder({ type: "limit", limitPrice: 100.004, timeInForce: "day" });
        const gtc = makeOrder({ type: "limit", limitPrice: 100, timeInForce: "gtc" });
        await handleOrder(core, limit, "t");
        await handleOrder(core, gtc, "t");
        const held = fake.orders.get(fake.byClient.get(limit.clientOrderId) ?? "");
        if (extendedHours) {
          assert.equal(held?.extended_hours, true);
          assert.equal(held?.limit_price, "100.00", "rounded down to the tick before sending");
        } else {
          assert.equal(held, undefined);
        }
        assert.equal(
          fake.byClient.has(gtc.clientOrderId),
          false,
          "gtc is not extended-hours eligible",
        );
        assert.equal(
          reports.filter((r) => r.reason === "market_closed").length,
          extendedHours ? 1 : 2,
        );
      },
      { now: () => AFTER_CLOSE_NOW, extendedHours },
      afterClose,
    );
  }
});

Deno.test("AlpacaVenue refuses a stock order while the session is unknown, and trades crypto around the clock", () =>
  run(
    async (_fake, { core, reports }) => {
      await handleOrder(core, makeOrder({ symbol: "AAPL" }), "t");
      const crypto = makeOrder({ symbol: "BTC/USD", timeInForce: "gtc", qty: 1 });
      await handleOrder(core, crypto, "t");
      assert.deepEqual(reports.map((r) => [r.symbol, r.state, r.reason]), [
        ["AAPL", "rejected", "session_unknown"],
        ["BTC/USD", "accepted", undefined],
      ]);
    },
    { now: () => Date.parse("2030-01-01T15:00:00Z") },
    (fake) => (fake.clock = CLOCK_OPEN),
  ));

Deno.test("AlpacaVenue refuses a crypto day order with a clear reason and never rewrites it", () =>
  run(async (fake, { core, reports }) => {
    const o = makeOrder({ symbol: "BTC/USD", timeInForce: "day", qty: 1 });
    await handleOrder(core, o, "t");
    assert.deepEqual(reports.map((r) => [r.state, r.reason]), [[
      "rejected",
      "invalid_time_in_force",
    ]]);
    assert.equal(fake.count("POST /v2/orders"), 0);
  }));

Deno.test("AlpacaVenue stays not ready and rejects orders while the account may not trade", async () => {
  for (
    const blocked of [{ trading_blocked: true }, { account_blocked: true }, {
      status: "ACCOUNT_CLOSED",
    }]
  ) {
    await run(
      async (fake, { venue, core, reports, metrics }) => {
        assert.equal(venue.ready().venue_account, false, JSON.stringify(blocked));
        assert.equal(await metrics.value("execution_engine_venue_account_tradable"), 0);
        await handleOrder(core, makeOrder(), "t");
        assert.deepEqual(reports.map((r) => r.reason), ["account_blocked"]);
        assert.equal(fake.count("POST /v2/orders"), 0);
        fake.account = { ...ACCOUNT };
        await venue.refreshAccount();
        assert.equal(venue.ready().venue_account, true);
        assert.equal(await metrics.value("execution_engine_venue_account_tradable"), 1);
      },
      {},
      (fake) => (fake.account = { ...ACCOUNT, ...blocked }),
    );
  }
});

Deno.test("AlpacaVenue reads the venue's positions and follows them with each fill's position_qty", () =>
  run(
    async (fake, { venue, core, metrics }) => {
      assert.deepEqual(venue.positions().positions.map((p) => [p.symbol, p.qty]), [
        ["AAPL", 5],
        ["BTC/USD", -0.5],
      ]);
      assert.equal(
        await metrics.value("execution_engine_venue_position_qty", { symbol: "BTC/USD" }),
        -0.5,
      );
      const o = makeOrder({ qty: 3 });
      await handleOrder(core, o, "t");
      fake.fill(o.clientOrderId, 3, 101);
      await waitFor(
        "position 8",
        () => venue.positions().positions.find((p) => p.symbol === "AAPL")?.qty === 8,
      );
      assert.equal(
        await metrics.value("execution_engine_venue_position_qty", { symbol: "AAPL" }),
        8,
      );
    },
    {},
    (fake) => {
      fake.positions.set("AAPL", 5);
      fake.positions.set("BTC/USD", -0.5);
    },
  ));

Deno.test("AlpacaVenue follows a replaced order to its new id instead of canceling it", () =>
  run(async (fake, { core, reports, journal }) => {
    const o = makeOrder({ qty: 10 });
    await handleOrder(core, o, "t");
    fake.fill(o.clientOrderId, 4, 100);
    await waitFor("the partial fill", () => reports.some((r) => r.state === "partially_filled"));
    const next = fake.replace(o.clientOrderId, { qty: "6" });
    fake.fill(next.client_order_id, 6, 110);
    await waitFor("the fill of the replacement", () => reports.some((r) => r.state === "filled"));
    assert.equal(reports.some((r) => r.state === "canceled"), false);
    const last = reports.at(-1)!;
    assert.deepEqual([last.clientOrderId, last.cumQty, last.avgPrice], [o.clientOrderId, 10, 106]);
    assert.equal(journal.get(o.clientOrderId)!.state, "filled");
    // A cancel of a replaced, still open order goes to the replacement.
    const p = makeOrder({ qty: 2 });
    await handleOrder(core, p, "t");
    const q = fake.replace(p.clientOrderId);
    assert.equal(await core.cancel(p.clientOrderId), true);
    await waitFor(
      "canceled",
      () => reports.some((r) => r.clientOrderId === p.clientOrderId && r.state === "canceled"),
    );
    assert.equal(fake.orders.get(q.id)!.status, "canceled");
  }));

Deno.test("AlpacaClient.lookup() follows a replaced order and adds up its fills", () =>
  run(async (fake, { venue }) => {
    const o = makeOrder({ qty: 10 });
    await venue.submit(o);
    fake.fill(o.clientOrderId, 4, 100);
    const next = fake.replace(o.clientOrderId, { qty: "6" });
    fake.fill(next.client_order_id, 2, 110);
    const found = await venue.lookup(o.clientOrderId);
    assert.equal(found.kind, "found");
    if (found.kind !== "found") return;
    assert.deepEqual(
      [
        found.status.venueOrderId,
        found.status.clientOrderId,
        found.status.state,
        found.status.cumQty,
        found.status.avgPrice,
      ],
      [next.id, o.clientOrderId, "partially_filled", 6, 620 / 6],
    );
  }));

Deno.test("AlpacaVenue drops a repeated fill by its execution_id", () =>
  run(async (fake, { core, reports }) => {
    const o = makeOrder({ qty: 10 });
    await handleOrder(core, o, "t");
    const held = fake.orders.get(fake.byClient.get(o.clientOrderId)!)!;
    held.filled_qty = "4";
    held.filled_avg_price = "100";
    held.status = "partially_filled";
    const last = {
      price: 100,
      qty: 4,
      execution_id: "2f63ea93-423d-4169-b3f6-3fdafc10c418",
      position_qty: "4",
    };
    fake.push("partial_fill", held, last);
    fake.push("partial_fill", held, last);
    fake.fill(o.clientOrderId, 6, 100);
    await waitFor("filled", () => reports.some((r) => r.state === "filled"));
    assert.deepEqual(reports.map((r) => r.state), ["accepted", "partially_filled", "filled"]);
  }));

Deno.test("TradeUpdatesStream sends the documented authenticate message and skips heartbeats", () =>
  run(async (fake, { core, reports, metrics }) => {
    fake.heartbeat();
    const o = makeOrder({ qty: 1 });
    await handleOrder(core, o, "t");
    fake.fill(o.clientOrderId, 1);
    await waitFor("filled", () => reports.some((r) => r.state === "filled"));
    assert.equal(
      await metrics.value("execution_engine_api_failures_total", { endpoint: "/stream" }),
      0,
    );
  }));

Deno.test("TradeUpdatesStream reconnects and resyncs on an error frame, orders already sent included", () =>
  run(async (fake, { core, reports, metrics }) => {
    const o = makeOrder({ qty: 5 });
    await handleOrder(core, o, "t");
    const held = fake.orders.get(fake.byClient.get(o.clientOrderId)!)!;
    fake.sendError(STREAM_ERROR_INFERRED);
    // Filled while the stream was down: only the resync can tell.
    held.filled_qty = "5";
    held.filled_avg_price = "98";
    held.status = "filled";
    await waitFor("the resynced fill", () => reports.some((r) => r.state === "filled"), {
      timeoutMs: 5000,
    });
    assert.equal(
      await metrics.value("execution_engine_api_failures_total", { error_message: "stream_error" }),
      1,
    );
  }));

Deno.test("TradeUpdatesStream authenticates again when a listen is answered unauthorized", () =>
  run(async (fake, { venue, metrics }) => {
    fake.forgetAuth();
    await waitFor(
      "the probe's listen refused, then listening again",
      async () =>
        await metrics.value("execution_engine_api_failures_total", {
            status_code: "unauthorized",
          }) === 1 &&
        venue.ready().venue_stream && fake.listeners === 1,
    );
  }, { streamIdleMs: 50, streamProbeTimeoutMs: 2000 }));

Deno.test("TradeUpdatesStream finds a half-open stream, reconnects and resyncs orders in sent", () =>
  run(async (fake, { core, reports, metrics, journal }) => {
    const o = makeOrder({ qty: 5 });
    await handleOrder(core, o, "t");
    assert.equal(journal.get(o.clientOrderId)!.phase, "sent");
    fake.freeze();
    fake.fill(o.clientOrderId, 5, 97); // pushed into the frozen socket: never arrives
    await waitFor(
      "half-open counted",
      async () =>
        await metrics.value("execution_engine_api_failures_total", {
          error_message: "half_open",
        }) === 1,
      {
        timeoutMs: 5000,
      },
    );
    await waitFor("the resynced fill", () => reports.some((r) => r.state === "filled"), {
      timeoutMs: 5000,
    });
    assert.equal(reports.at(-1)!.avgPrice, 97);
  }, { streamIdleMs: 100, streamProbeTimeoutMs: 200 }));
