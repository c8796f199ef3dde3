import assert from "node:assert/strict";
import type { Envelope } from "../../lib/envelope.ts";
import { createServiceMetrics } from "../../lib/metrics.ts";
import type { Quote, Signal } from "../../lib/types.ts";
import type { Model, Prediction } from "./model.ts";
import { SignalBridge } from "./handlers.ts";
import { SignalBridgeCore } from "./core.ts";

class FixedModel implements Model {
  readonly kind = "rules" as const;
  readonly name = "fixed";
  readonly version = "1";
  readonly features = ["mid"] as const;
  constructor(public next: Prediction, public fail = false) {}
  predict(): Prediction {
    if (this.fail) throw new Error("boom");
    return this.next;
  }
}

let seq = 0;
function env(type: string, body: unknown, trace = "t".repeat(32)): Envelope {
  return { v: 1, type, seq: ++seq, pub: "market-data/market_data", epoch: 1, ts: 0, trace, body };
}

function quote(symbol: string, mid: number, receivedTs: number): Quote {
  return {
    symbol,
    bidPrice: mid - 0.01,
    bidSize: 1,
    askPrice: mid + 0.01,
    askSize: 1,
    exchange: "sim",
    exchangeTs: ++seq,
    receivedTs,
  };
}

function setup(model: FixedModel, now = 1_000) {
  const metrics = createServiceMetrics("signal-bridge", { defaultMetrics: false });
  metrics.stop();
  const published: { signal: Signal; trace: string }[] = [];
  const engine = new SignalBridgeCore({
    symbols: ["AAPL"],
    model,
    maxDataAgeMs: 500,
    signalTtlMs: 5000,
    minIntervalMs: 1000,
    minConfidence: 0.55,
  });
  const bridge = new SignalBridge({
    engine,
    metrics: metrics.families,
    symbols: ["AAPL"],
    publish: (signal, trace) => published.push({ signal, trace }),
    now: () => now,
  });
  return { bridge, published, text: () => metrics.registry.metrics() };
}

Deno.test("SignalBridge publishes a signal with the incoming trace and counts it by bucket", async () => {
  const { bridge, published, text } = setup(new FixedModel({ action: "buy", confidence: 0.72 }));
  bridge.handle(env("quote", quote("AAPL", 100, 900), "a".repeat(32)));
  assert.equal(published.length, 1);
  assert.equal(published[0].trace, "a".repeat(32));
  assert.equal(published[0].signal.tickTs, 900);
  const t = await text();
  assert.match(
    t,
    /signal_bridge_signals_generated_total\{signal_type="buy",symbol="AAPL",confidence_bucket="0\.7-0\.8"\} 1/,
  );
  assert.match(t, /signal_bridge_inference_latency_us_count\{model_name="fixed"\} 1/);
});

Deno.test("SignalBridge counts suppressions by reason, with unknown symbols as other", async () => {
  const { bridge, published, text } = setup(new FixedModel({ action: "buy", confidence: 0.9 }));
  bridge.handle(env("quote", quote("AAPL", 100, 0))); // stale: 1000 ms old
  bridge.handle(env("quote", quote("DOGE", 1, 1_000)));
  bridge.handle(env("quote", quote("AAPL", 100, 1_000)));
  bridge.handle(env("quote", quote("AAPL", 101, 1_000))); // within minIntervalMs
  assert.equal(published.length, 1);
  const t = await text();
  assert.match(t, /signal_bridge_signals_suppressed_total\{reason="stale_data",symbol="AAPL"\} 1/);
  assert.match(
    t,
    /signal_bridge_signals_suppressed_total\{reason="unknown_symbol",symbol="other"\} 1/,
  );
  assert.match(
    t,
    /signal_bridge_signals_suppressed_total\{reason="min_interval",symbol="AAPL"\} 1/,
  );
  assert.equal(bridge.stats.suppressed, 3);
});

Deno.test("SignalBridge survives a failing model and counts the error", async () => {
  const model = new FixedModel({ action: "buy", confidence: 0.9 }, true);
  const { bridge, published, text } = setup(model);
  bridge.handle(env("quote", quote("AAPL", 100, 1_000)));
  assert.equal(published.length, 0);
  assert.equal(bridge.stats.errors, 1);
  assert.match(
    await text(),
    /signal_bridge_signals_suppressed_total\{reason="error",symbol="AAPL"\} 1/,
  );
  model.fail = false;
  bridge.handle(env("quote", quote("AAPL", 101, 1_000)));
  assert.equal(published.length, 1);
});

Deno.test("SignalBridge ignores heartbeats, bars and bodies without a symbol", () => {
  const { bridge, published } = setup(new FixedModel({ action: "buy", confidence: 0.9 }));
  bridge.handle(env("heartbeat", {}));
  bridge.handle(env("bar", { symbol: "AAPL" }));
  bridge.handle(env("quote", null));
  assert.equal(published.length, 0);
  assert.equal(bridge.stats.ignored, 3);
});
