import assert from "node:assert/strict";
import { ConfigError, parseConfig } from "../../lib/config.ts";
import type { Envelope } from "../../lib/envelope.ts";
import { Publisher, Subscriber } from "../../lib/messaging/mod.ts";
import { peerMessaging, type TestContext, testContext } from "../../lib/testing/context.ts";
import {
  isolatedConfig,
  type RawConfig,
  sampleValue,
  writeConfig,
} from "../../lib/testing/stack.ts";
import { Proc, waitFor } from "../../lib/testing/tools.ts";
import type { Signal } from "../../lib/types.ts";
import { nowMs } from "../../lib/clock.ts";
import { RulesModel } from "./rules_model.ts";
import { startSignalBridge } from "./service.ts";
import { SMALL_FEATURES } from "./testing/fixtures.ts";
import { sampleQuote } from "./testing/market_data.ts";

async function context(
  dir: string,
  change: (c: RawConfig) => void,
): Promise<TestContext<"signal-bridge">> {
  const raw = isolatedConfig(dir);
  change(raw);
  return await testContext("signal-bridge", parseConfig(raw));
}

Deno.test("startSignalBridge() refuses a missing model file with a ConfigError", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "sb-test-" });
  try {
    await using ctx = await context(dir, (c) => {
      c.signalBridge.model = { kind: "logistic", path: `${dir}/missing.json` };
    });
    await assert.rejects(
      () => startSignalBridge(ctx),
      (e: unknown) => e instanceof ConfigError && e.message.includes("missing.json"),
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("startSignalBridge() turns market data into signals carrying its trace and tickTs", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "sb-test-" });
  // The test plays market-data and risk-manager, with their own CURVE keys.
  const keys = parseConfig(isolatedConfig(dir));
  await using mdPeer = await peerMessaging("market-data", keys);
  await using rmPeer = await peerMessaging("risk-manager", keys);
  const marketData = await Publisher.open("bind:tcp://127.0.0.1:0", {
    ...mdPeer.sender("market_data"),
    heartbeatMs: 200,
  });
  await using ctx = await context(dir, (c) => {
    c.signalBridge.marketData = [marketData.endpoint];
    c.signalBridge.publish = "bind:tcp://127.0.0.1:0";
    c.signalBridge.features = SMALL_FEATURES;
    c.signalBridge.minIntervalMs = 0;
  });
  const service = await startSignalBridge(ctx);
  const subscriber = await Subscriber.open([service.publishEndpoint], rmPeer.receiver("signals"));
  const got: Envelope<Signal>[] = [];
  subscriber.onMessage((envelope) => {
    got.push(envelope as Envelope<Signal>);
  });
  const sent = new Map<string, number>();
  try {
    let i = 0;
    await waitFor("a signal", () => {
      // A steady rise: RSI 100, so the rule model sells once warmed up.
      for (let k = 0; k < 5 && i < 2_000; k++, i++) {
        const receivedTs = nowMs();
        const mid = 100 + i * 0.01;
        const body = sampleQuote(mid, receivedTs, { bidSize: 100, askSize: 100 });
        const envelope = marketData.publish("quote", body);
        sent.set(envelope.trace, receivedTs);
      }
      return got.length > 0;
    }, { timeoutMs: 15_000, everyMs: 20 });
    const signal = got[0];
    assert.equal(signal.type, "signal");
    assert.equal(signal.body.symbol, "AAPL");
    assert.equal(signal.body.model, new RulesModel().name);
    assert.equal(signal.body.action, "sell");
    assert.ok(sent.has(signal.trace), "the signal carries the trace of the quote that caused it");
    assert.equal(signal.body.tickTs, sent.get(signal.trace));
    assert.equal(
      signal.body.expiresAt - signal.body.createdAt,
      ctx.config.signalBridge.signalTtlMs,
    );
    const exposition = await ctx.metrics.registry.metrics();
    assert.ok(
      (sampleValue(exposition, "signal_bridge_signals_generated_total", { signal_type: "sell" }) ??
        0) >=
        1,
    );
    assert.ok((sampleValue(exposition, "signal_bridge_inference_latency_us_count") ?? 0) >= 1);
    assert.ok(
      (sampleValue(exposition, "signal_bridge_signals_suppressed_total", { reason: "warmup" }) ??
        0) >= 1,
    );
    assert.deepEqual(service.ready?.(), { model: true, sockets: true });
    const stats = await (await service.admin!.request("/admin/stats")).json();
    assert.ok(stats.signals >= 1, "the admin API shows the handlers' counts");
  } finally {
    await subscriber.close();
    await service.close?.();
    await marketData.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("the signal-bridge process exits 2 naming a model file with an unknown feature", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "sb-test-" });
  try {
    const modelPath = `${dir}/bad_model.json`;
    Deno.writeTextFileSync(
      modelPath,
      JSON.stringify({
        format: "signal-bridge/logistic",
        formatVersion: 1,
        name: "bad",
        version: "1",
        features: ["rsi", "astrology"],
        weights: [1, 1],
        intercept: 0,
        thresholds: { buy: 0.6, sell: 0.4 },
      }),
    );
    const raw = isolatedConfig(dir);
    raw.signalBridge.model = { kind: "logistic", path: modelPath };
    const path = writeConfig(dir, raw);
    const p = new Proc("services/signal-bridge/main.ts", ["--config", path]);
    const status = await p.done;
    assert.equal(status.code, 2);
    assert.match(p.stderr, /bad_model\.json/);
    assert.match(p.stderr, /astrology/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
