import assert from "node:assert/strict";
import { type Config, ConfigError, loadConfig } from "../../lib/config.ts";
import { Publisher, ReliableReceiver, ReliableSender } from "../../lib/messaging/mod.ts";
import {
  peerMessaging,
  testConfig,
  type TestContext,
  testContext,
} from "../../lib/testing/context.ts";
import { waitFor } from "../../lib/testing/tools.ts";
import type { Envelope } from "../../lib/envelope.ts";
import type { ExecutionReport, VenuePositionsAnswer } from "../../lib/types.ts";
import { FakeAlpaca } from "./testing/fake_alpaca.ts";
import { Journal } from "./journal.ts";
import { startExecutionEngine } from "./service.ts";
import { makeOrder, makeQuote, tempDir } from "./testing/fixtures.ts";

/** The repository's config, changed by `over`, with test keys. */
function configOf(over: (raw: Config) => void = () => {}): Config {
  const raw = structuredClone(loadConfig()); // an unfrozen copy
  over(raw);
  return testConfig(raw);
}

function context(
  over: (raw: Config) => void,
  secrets = {},
): Promise<TestContext<"execution-engine">> {
  return testContext("execution-engine", configOf(over), { secrets });
}

/** risk-manager's end of the orders and execution reports channels, bound on free ports. */
async function riskManagerEnd() {
  const peer = await peerMessaging("risk-manager", configOf());
  const orders = await ReliableSender.open("bind:tcp://127.0.0.1:0", peer.sender("orders"));
  const reportsIn = await ReliableReceiver.open(
    "bind:tcp://127.0.0.1:0",
    peer.receiver("execution_reports"),
  );
  const got: Envelope[] = [];
  reportsIn.onMessage((envelope) => {
    got.push(envelope);
  });
  const close = async () => {
    await orders.close();
    await reportsIn.close();
    await peer[Symbol.asyncDispose]();
  };
  return { orders, reportsIn, got, close };
}

Deno.test("execution-engine fills orders from risk-manager on the paper exchange and reports back", async () => {
  const dir = await tempDir();
  const riskManager = await riskManagerEnd();
  const { orders, reportsIn, got } = riskManager;
  await using marketData = await peerMessaging("market-data", configOf());
  const md = await Publisher.open("bind:tcp://127.0.0.1:0", marketData.sender("market_data"));
  await using ctx = await context((c) => {
    c.executionEngine.orders = `connect:${orders.endpoint}`;
    c.executionEngine.executionReports = `connect:${reportsIn.endpoint}`;
    c.executionEngine.marketData = [md.endpoint];
    c.executionEngine.journalPath = `${dir.path}/exec.sqlite`;
    c.executionEngine.sim.rejectProbability = 0;
    c.executionEngine.sim.latencyMs = 0;
  });
  const svc = await startExecutionEngine(ctx);
  try {
    const quote = makeQuote({ bidPrice: 99.9, askPrice: 100.1 });
    await waitFor("market data to arrive", () => {
      md.publish("quote", quote);
      return svc.prices.get("AAPL") !== undefined;
    });
    const o = makeOrder({ qty: 7 });
    await orders.send("order", o, "7ace".repeat(8));
    await waitFor(
      "the fill report",
      () => got.some((e) => (e.body as ExecutionReport).state === "filled"),
    );
    const bodies = got.map((e) => e.body as ExecutionReport);
    assert.equal(bodies[0].kind, "ack");
    assert.ok(got.every((e) => e.trace === "7ace".repeat(8)));
    assert.equal(bodies.at(-1)!.cumQty, 7);
    assert.equal(svc.journal.get(o.clientOrderId)?.state, "filled");
    // The paper venue's positions are the journal's net fills, answered on the reports
    // channel behind every report sent before the request arrived.
    await orders.send("positions_request", { requestId: "p-1", at: Date.now() });
    await waitFor("the positions answer", () => got.some((e) => e.type === "venue_positions"));
    const answerAt = got.findIndex((e) => e.type === "venue_positions");
    assert.ok(got.slice(0, answerAt).some((e) => (e.body as ExecutionReport).state === "filled"));
    const answer = got[answerAt].body as VenuePositionsAnswer;
    assert.equal(answer.requestId, "p-1");
    assert.equal(answer.venue, "sim");
    assert.equal(answer.truncated, false);
    assert.ok(answer.readAt > 0);
    assert.deepEqual(answer.positions.map((p) => [p.symbol, p.qty]), [["AAPL", 7]]);
    // The same order again (a replay) is not executed twice.
    await orders.send("order", o, "7ace".repeat(8));
    await svc.core.settle();
    assert.equal(got.filter((e) => (e.body as ExecutionReport).kind === "ack").length, 1);
    const res = await svc.admin.request("/admin/orders");
    assert.equal(res.status, 200);
    assert.deepEqual((await res.json()).open, []);
    const text = await ctx.metrics.registry.metrics();
    assert.match(
      text,
      /execution_engine_orders_submitted_total\{order_type="market",status="success",exchange="sim"\} 1/,
    );
    assert.ok(svc.ready!().journal);
    // A graceful stop lets risk-manager acknowledge the last reports: none left to resend.
    await svc.close();
    const j = new Journal(`${dir.path}/exec.sqlite`);
    assert.equal(j.outbox().length, 0);
    assert.equal(j.get(o.clientOrderId)?.state, "filled");
    j.close();
  } finally {
    await svc.close();
    await riskManager.close();
    await md.close();
    await dir.remove();
  }
});

Deno.test("execution-engine refuses the Alpaca venue without keys", async () => {
  const dir = await tempDir();
  try {
    await using ctx = await context((c) => {
      c.executionEngine.venue = "alpaca";
      c.executionEngine.journalPath = `${dir.path}/exec.sqlite`;
    });
    await assert.rejects(startExecutionEngine(ctx), ConfigError);
  } finally {
    await dir.remove();
  }
});

Deno.test("execution-engine sends orders to Alpaca with the keys from the environment and reports its fills", async () => {
  const dir = await tempDir();
  const fake = FakeAlpaca.start();
  const riskManager = await riskManagerEnd();
  const { orders, reportsIn } = riskManager;
  const reports = () => riskManager.got.map((envelope) => envelope.body as ExecutionReport);
  await using ctx = await context((c) => {
    c.executionEngine.venue = "alpaca";
    c.executionEngine.orders = `connect:${orders.endpoint}`;
    c.executionEngine.executionReports = `connect:${reportsIn.endpoint}`;
    c.executionEngine.journalPath = `${dir.path}/exec.sqlite`;
    c.executionEngine.alpaca.baseUrl = fake.baseUrl;
    c.executionEngine.alpaca.streamUrl = fake.streamUrl;
  }, { alpacaKeyId: "key", alpacaSecretKey: "secret" });
  const svc = await startExecutionEngine(ctx);
  try {
    assert.equal(svc.ready!().venue_stream, true);
    const o = makeOrder({ qty: 2 });
    await orders.send("order", o, "a1ba".repeat(8));
    await waitFor("the order at Alpaca", () => fake.byClient.has(o.clientOrderId));
    fake.fill(o.clientOrderId, 2, 250);
    await waitFor("the fill report", () => reports().some((r) => r.state === "filled"));
    assert.equal(reports().at(-1)!.venue, "alpaca");
    assert.equal(reports().at(-1)!.avgPrice, 250);
    assert.equal(fake.count("POST /v2/orders", o.clientOrderId), 1);
    // Alpaca's positions (read at start, moved by the fill's position_qty) answer a request.
    await orders.send("positions_request", { requestId: "p-alp", at: Date.now() });
    const answer = await waitFor(
      "the positions answer",
      () => riskManager.got.find((e) => e.type === "venue_positions")?.body as VenuePositionsAnswer,
    );
    assert.equal(answer.venue, "alpaca");
    assert.deepEqual(answer.positions.map((p) => [p.symbol, p.qty]), [["AAPL", 2]]);
  } finally {
    await svc.close();
    await riskManager.close();
    await fake.close();
    await dir.remove();
  }
});
