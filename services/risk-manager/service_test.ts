import assert from "node:assert/strict";
import { Registry } from "prom-client";
import type { Config } from "../../lib/config.ts";
import type { Envelope } from "../../lib/envelope.ts";
import {
  Publisher,
  ReliableReceiver,
  ReliableSender,
  Subscriber,
} from "../../lib/messaging/mod.ts";
import { createServiceMetrics } from "../../lib/metrics.ts";
import { removeDir, waitFor } from "../../lib/testing/tools.ts";
import { peerMessaging, testConfig, testContext } from "../../lib/testing/context.ts";
import type { ExecutionReport, Order, Signal } from "../../lib/types.ts";
import { OutboxJournal } from "../../lib/messaging/outbox_journal.ts";
import { startRiskManager } from "./service.ts";

const TOKEN = "test-token";
const RAW = JSON.parse(
  Deno.readTextFileSync(new URL("../../config/system.json", import.meta.url)),
);

function configFor(
  dir: string,
  signals: string,
  md: string,
  over: (raw: typeof RAW) => void = () => {},
): Config {
  const raw = structuredClone(RAW);
  for (const s of ["marketData", "signalBridge", "riskManager", "executionEngine"]) {
    raw[s].http.port = 0;
  }
  Object.assign(raw.riskManager, {
    signals: [signals],
    marketData: [md],
    orders: "bind:tcp://127.0.0.1:0",
    executionReports: "bind:tcp://127.0.0.1:0",
    publish: "bind:tcp://127.0.0.1:0",
    statePath: `${dir}/risk.sqlite`,
  });
  over(raw);
  return testConfig(raw);
}

async function start(config: Config) {
  const metrics = createServiceMetrics("risk-manager", {
    defaultMetrics: false,
    sampleMs: 60_000,
    instrumented: true,
  });
  const ctx = await testContext("risk-manager", config, {
    secrets: { riskAdminToken: TOKEN },
    metrics,
  });
  const rm = await startRiskManager(ctx);
  return { rm, metrics, ctx };
}

async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}) {
  const m = await registry.getSingleMetric(name)?.get();
  return m?.values.find((v) =>
    Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want)
  )?.value;
}

function quoteOf(symbol: string, mid: number) {
  return {
    symbol,
    bidPrice: mid - 0.01,
    bidSize: 100,
    askPrice: mid + 0.01,
    askSize: 100,
    exchange: "sim",
    exchangeTs: Date.now(),
    receivedTs: Date.now(),
  };
}

function signalOf(id: string, action: Signal["action"] = "buy", symbol = "AAPL"): Signal {
  const now = Date.now();
  return {
    id,
    symbol,
    action,
    confidence: 0.9,
    model: "rules",
    modelVersion: "1",
    features: {},
    price: 200,
    createdAt: now,
    expiresAt: now + 60_000,
    tickTs: now - 1,
  };
}

function reportOf(o: Order, qty: number, price: number): ExecutionReport {
  return {
    clientOrderId: o.clientOrderId,
    symbol: o.symbol,
    side: o.side,
    kind: "fill",
    state: "filled",
    orderQty: o.qty,
    lastQty: qty,
    lastPrice: price,
    cumQty: qty,
    avgPrice: price,
    leavesQty: 0,
    venue: "sim",
    strategy: o.strategy,
    ts: Date.now(),
  };
}

Deno.test({
  name: "risk-manager approves, denies, applies fills and recovers over real sockets",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    // The test plays the other three services, each with its own CURVE identity.
    const keys = testConfig(RAW);
    const registry = new Registry();
    const signalBridge = await peerMessaging("signal-bridge", keys, registry);
    const marketData = await peerMessaging("market-data", keys, registry);
    const engine = await peerMessaging("execution-engine", keys, registry);
    const operator = await peerMessaging("operator", keys, registry);
    const sigPub = await Publisher.open("bind:tcp://127.0.0.1:0", {
      ...signalBridge.sender("signals"),
      heartbeatMs: 100,
    });
    const mdPub = await Publisher.open("bind:tcp://127.0.0.1:0", {
      ...marketData.sender("market_data"),
      heartbeatMs: 100,
    });
    const config = configFor(dir, sigPub.endpoint, mdPub.endpoint);
    let { rm, metrics, ctx } = await start(config);
    const cleanup: { close(): Promise<void> }[] = [];
    try {
      // The execution-engine's side: orders in, reports out.
      const orders: Envelope<Order>[] = [];
      assert.equal(rm.ready!().orders_channel, false, "no consumer of orders yet: not ready");
      const ee = await ReliableReceiver.open(
        `connect:${rm.endpoints.orders}`,
        engine.receiver("orders"),
      );
      ee.onMessage((env) => {
        if (env.type === "order") orders.push(env as Envelope<Order>);
      });
      await waitFor("a live consumer of orders", () => rm.ready!().orders_channel);
      const reports = await ReliableSender.open(
        `connect:${rm.endpoints.executionReports}`,
        engine.sender("execution_reports"),
      );
      const events: Envelope[] = [];
      const eventsSub = await Subscriber.open(
        [rm.endpoints.publish],
        operator.receiver("risk_events"),
      );
      eventsSub.onMessage((env) => void events.push(env));
      cleanup.push(eventsSub, reports, ee);

      // Marks arrive once the subscriber has joined (PUB/SUB slow joiner): republish.
      await waitFor("a mark for AAPL", () => {
        mdPub.publish("quote", quoteOf("AAPL", 200));
        return rm.core.mark("AAPL");
      });
      mdPub.publish("quote", { symbol: "AAPL", bidPrice: "bad" }); // malformed: skipped

      // A malformed signal is counted and skipped; the valid one after it is approved.
      await waitFor("the signal subscriber to join", async () => {
        sigPub.publish("signal", { id: "broken" });
        return (await metricValue(metrics.registry, "messaging_decode_errors_total", {
          channel: "signals",
          reason: "schema",
        }) ?? 0) > 0;
      });
      sigPub.publish("signal", signalOf("s-1"), "0123456789abcdef0123456789abcdef");
      await waitFor("the approved order", () => orders.length === 1);
      const order = orders[0].body;
      assert.equal(order.clientOrderId, "rm-s-1");
      assert.equal(order.qty, 25); // 5000 / 200
      assert.equal(orders[0].trace, "0123456789abcdef0123456789abcdef");

      // A replayed signal never becomes a second order; the denial is an event.
      sigPub.publish("signal", signalOf("s-1"));
      await waitFor(
        "the duplicate denial event",
        () =>
          events.find((e) =>
            e.type === "risk_denial" && (e.body as { code: string }).code === "DUPLICATE_SIGNAL"
          ),
      );
      assert.equal(
        await metricValue(metrics.registry, "risk_manager_risk_failures_total", {
          failure_type: "duplicate_signal",
          symbol: "AAPL",
        }),
        1,
      );

      // A malformed report is acknowledged and skipped; the fill after it is applied once.
      await reports.send("execution_report", { clientOrderId: "rm-s-1", kind: "fill" });
      const r = reportOf(order, 25, 200.5);
      await reports.send("execution_report", r);
      await reports.send("execution_report", r); // a duplicate fill (resent by the venue side)
      const aapl = () => rm.core.positions().find((p) => p.symbol === "AAPL");
      await waitFor("the fill", () => aapl()?.qty === 25);
      assert.equal(aapl()?.avgPrice, 200.5);
      await waitFor(
        "the position gauge",
        async () =>
          await metricValue(metrics.registry, "trading_position_value_usd", {
            symbol: "AAPL",
            side: "long",
          }) === 25 * 200,
      );
      assert.equal(await metricValue(metrics.registry, "trading_open_positions_count"), 1);
      assert.equal(
        await metricValue(metrics.registry, "trading_unrealized_pnl_usd", { symbol: "AAPL" }),
        -12.5,
      );

      // The admin API trips and resets the breaker; the gauge and the events follow.
      const post = (path: string) =>
        rm.admin.request(path, { method: "POST", headers: { Authorization: `Bearer ${TOKEN}` } });
      assert.equal((await post("/admin/breaker/trip")).status, 200);
      assert.equal(await metricValue(metrics.registry, "risk_manager_circuit_breaker_tripped"), 1);
      assert.equal(await metricValue(metrics.registry, "risk_manager_trading_state"), 2);
      await waitFor(
        "the HALTED event",
        () =>
          events.find((e) =>
            e.type === "trading_state" && (e.body as { state: string }).state === "HALTED"
          ),
      );
      sigPub.publish("signal", signalOf("s-2"));
      await waitFor(
        "the breaker denial",
        async () =>
          await metricValue(metrics.registry, "risk_manager_risk_failures_total", {
            failure_type: "circuit_breaker_triggered",
            symbol: "AAPL",
          }) === 1,
      );
      assert.equal((await post("/admin/breaker/reset")).status, 200);
      assert.equal(await metricValue(metrics.registry, "risk_manager_circuit_breaker_tripped"), 0);
      assert.equal(orders.length, 1);

      // Restart: positions, the daily P&L and the used ids survive.
      await rm.close();
      await ctx[Symbol.asyncDispose]();
      ({ rm, metrics, ctx } = await start(config));
      assert.equal(aapl()?.qty, 25);
      assert.equal(rm.core.positions().find((p) => p.symbol === "AAPL")?.avgPrice, 200.5);
      assert.equal(rm.core.status.state, "ACTIVE");
      assert.equal(await metricValue(metrics.registry, "trading_open_positions_count"), 1);
    } finally {
      for (const c of cleanup) await c.close().catch(() => {});
      await rm.close();
      await ctx[Symbol.asyncDispose]();
      await sigPub.close();
      await mdPub.close();
      for (const p of [signalBridge, marketData, engine, operator]) await p.close();
      await removeDir(dir);
    }
  },
});

Deno.test({
  name:
    "risk-manager on Alpaca's feed denies SESSION_UNKNOWN until market-data's first status, and halts when the engine's positions answers show a mismatch",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const keys = testConfig(RAW);
    const registry = new Registry();
    const signalBridge = await peerMessaging("signal-bridge", keys, registry);
    const marketData = await peerMessaging("market-data", keys, registry);
    const engine = await peerMessaging("execution-engine", keys, registry);
    const sigPub = await Publisher.open("bind:tcp://127.0.0.1:0", {
      ...signalBridge.sender("signals"),
      heartbeatMs: 100,
    });
    const mdPub = await Publisher.open("bind:tcp://127.0.0.1:0", {
      ...marketData.sender("market_data"),
      heartbeatMs: 100,
    });
    const config = configFor(dir, sigPub.endpoint, mdPub.endpoint, (raw) => {
      raw.marketData.feed = "alpaca"; // no fallback schedule: the session comes from market-data
      raw.riskManager.reconcileMs = 200;
    });
    const { rm, metrics, ctx } = await start(config);
    const cleanup: { close(): Promise<void> }[] = [];
    try {
      // The engine's end: it answers every positions request with what `venueHolds` says.
      let venueHolds: { symbol: string; qty: number }[] = [];
      const orders: Order[] = [];
      const reports = await ReliableSender.open(
        `connect:${rm.endpoints.executionReports}`,
        engine.sender("execution_reports"),
      );
      const ee = await ReliableReceiver.open(
        `connect:${rm.endpoints.orders}`,
        engine.receiver("orders"),
      );
      let requests = 0;
      ee.onMessage((env) => {
        if (env.type === "order") orders.push(env.body as Order);
        if (env.type !== "positions_request") return;
        requests++;
        const { requestId } = env.body as { requestId: string };
        void reports.send("venue_positions", {
          requestId,
          venue: "alpaca",
          readAt: Date.now(),
          positions: venueHolds.map((p) => ({ ...p, avgEntryPrice: 0, updatedAt: Date.now() })),
          truncated: false,
          at: Date.now(),
        });
      });
      cleanup.push(ee, reports);
      await waitFor("a live consumer of orders", () => rm.ready!().orders_channel);
      await waitFor("positions reconciled", () => requests >= 2 && rm.core.lastReconciliation);
      assert.deepEqual(rm.core.lastReconciliation?.differences, []);

      await waitFor("a mark for AAPL", () => {
        mdPub.publish("quote", quoteOf("AAPL", 200));
        return rm.core.mark("AAPL");
      });
      const failures = (type: string, symbol: string) =>
        metricValue(metrics.registry, "risk_manager_risk_failures_total", {
          failure_type: type,
          symbol,
        });
      // The probes are MSFT's, which gets no status here: one still in flight when AAPL's status
      // arrives (signals and market data come on different sockets, in no set order) is denied
      // too, instead of becoming a second order that no fill below would close.
      await waitFor("the signal subscriber to join", async () => {
        sigPub.publish("signal", signalOf(`s-${crypto.randomUUID()}`, "buy", "MSFT"));
        return (await failures("session_unknown", "MSFT") ?? 0) > 0;
      });
      sigPub.publish("signal", signalOf("s-closed"));
      await waitFor(
        "AAPL denied too",
        async () => (await failures("session_unknown", "AAPL") ?? 0) > 0,
      );
      assert.equal(orders.length, 0, "no status yet: nothing leaves");
      mdPub.publish("trading_status", {
        symbol: "AAPL",
        state: "open",
        reason: "regular_session",
        nextOpen: null,
        nextClose: Date.now() + 3_600_000,
        exchange: "alpaca",
        at: Date.now(),
      });
      await waitFor("AAPL open", () => rm.core.market("AAPL", Date.now()).state === "open");
      sigPub.publish("signal", signalOf("s-open"));
      await waitFor("the approved order", () => orders.length === 1);

      // The venue holds AAPL the book does not: after two quiet answers, HALTED.
      reports.send("execution_report", reportOf(orders[0], orders[0].qty, 200));
      // The report rides a reliable channel that may still be dialling under load: a wide bound.
      await waitFor("the fill", () => rm.core.openOrders().length === 0, { timeoutMs: 30_000 });
      venueHolds = [{ symbol: "AAPL", qty: orders[0].qty + 3 }];
      await waitFor(
        "the mismatch",
        async () =>
          await metricValue(metrics.registry, "risk_manager_position_mismatches_total", {
            symbol: "AAPL",
          }) === 1,
      );
      assert.equal(rm.core.status.state, "HALTED");
      assert.equal(
        await metricValue(metrics.registry, "risk_manager_position_mismatched_symbols"),
        1,
      );
      const shown = await (await rm.admin.request("/admin/positions")).json();
      assert.equal(shown.reconciliation.policy, "halt");
      assert.deepEqual(
        shown.reconciliation.mismatched.map((
          d: { symbol: string; diff: number },
        ) => [d.symbol, d.diff]),
        [["AAPL", 3]],
      );
    } finally {
      for (const c of cleanup) await c.close().catch(() => {});
      await rm.close();
      await ctx[Symbol.asyncDispose]();
      await sigPub.close();
      await mdPub.close();
      for (const p of [signalBridge, marketData, engine]) await p.close();
      await removeDir(dir);
    }
  },
});

Deno.test({
  name:
    "risk-manager started over the previous release's outbox file sends its unacknowledged orders on the same stream, and moves the file away",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const keys = testConfig(RAW);
    const registry = new Registry();
    const signalBridge = await peerMessaging("signal-bridge", keys, registry);
    const marketData = await peerMessaging("market-data", keys, registry);
    const engine = await peerMessaging("execution-engine", keys, registry);
    const sigPub = await Publisher.open("bind:tcp://127.0.0.1:0", signalBridge.sender("signals"));
    const mdPub = await Publisher.open("bind:tcp://127.0.0.1:0", marketData.sender("market_data"));
    const config = configFor(dir, sigPub.endpoint, mdPub.endpoint);
    // What the previous release left: its own outbox file, JSON frames (format 1).
    const oldPath = `${dir}/risk-outbox.sqlite`;
    const old = await OutboxJournal.open(oldPath, "risk-manager/orders");
    const epoch = old.restored.epoch;
    const bodies = [1, 2].map((i) => ({ ...signalOf(`old-${i}`), clientOrderId: `rm-old-${i}` }));
    const orderBody = (i: number) => bodies[i - 1];
    old.journal.append(
      [1, 2].map((seq) => ({
        seq,
        frame: JSON.stringify({
          v: 1,
          type: "order",
          seq,
          pub: "risk-manager/orders",
          epoch,
          ts: Date.now(),
          trace: "ab".repeat(16),
          body: orderBody(seq),
        }),
      })),
      2,
    );
    old.journal.close();
    const { rm, ctx } = await start(config);
    let ee: ReliableReceiver | undefined;
    try {
      const got: Envelope[] = [];
      ee = await ReliableReceiver.open(`connect:${rm.endpoints.orders}`, {
        ...engine.receiver("orders"),
        schemas: {},
      });
      ee.onMessage((env) => void got.push(env));
      await waitFor("the two old orders", () => got.length === 2);
      assert.deepEqual(got.map((e) => [e.epoch, e.seq]), [[epoch, 1], [epoch, 2]]);
      assert.deepEqual(got.map((e) => e.body), [orderBody(1), orderBody(2)]);
      assert.throws(() => Deno.statSync(oldPath), Deno.errors.NotFound);
      Deno.statSync(`${oldPath}.migrated`);
    } finally {
      await ee?.close();
      await rm.close();
      await ctx[Symbol.asyncDispose]();
      await sigPub.close();
      await mdPub.close();
      for (const p of [signalBridge, marketData, engine]) await p.close();
      await removeDir(dir);
    }
  },
});
