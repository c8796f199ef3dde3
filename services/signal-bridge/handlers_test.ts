import assert from "node:assert/strict";
import { createServiceMetrics } from "../../lib/metrics.ts";
import type { Signal } from "../../lib/types.ts";
import { SignalBridgeCore } from "./core.ts";
import { SignalBridgeHandlers } from "./handlers.ts";
import { SignalBridgeMetrics } from "./metrics.ts";
import { FixedModel } from "./testing/fixed_model.ts";
import { marketDataEnvelope, sampleQuote } from "./testing/market_data.ts";

/** Handlers over a core of AAPL only, at a fixed clock of `now` (epoch ms). */
function setup(model: FixedModel, now = 1_000) {
  const serviceMetrics = createServiceMetrics("signal-bridge", { defaultMetrics: false });
  serviceMetrics.stop();
  const published: { signal: Signal; trace: string }[] = [];
  const core = new SignalBridgeCore({
    symbols: ["AAPL"],
    model,
    maxDataAgeMs: 500,
    signalTtlMs: 5000,
    minIntervalMs: 1000,
    minConfidence: 0.55,
  });
  const handlers = new SignalBridgeHandlers({
    core,
    metrics: new SignalBridgeMetrics(serviceMetrics.families, {
      symbols: ["AAPL"],
      modelName: model.name,
    }),
    publish: (signal, trace) => published.push({ signal, trace: trace.trace }),
    now: () => now,
  });
  return { handlers, published, text: () => serviceMetrics.registry.metrics() };
}

function quoteEnvelope(symbol: string, mid: number, receivedTs: number, trace?: string) {
  return marketDataEnvelope("quote", sampleQuote(mid, receivedTs, { symbol }), trace);
}

Deno.test("SignalBridgeHandlers.onMarketData() publishes a signal with the incoming trace and counts it by bucket", async () => {
  const { handlers, published, text } = setup(new FixedModel({ action: "buy", confidence: 0.72 }));
  using _ = handlers;
  handlers.onMarketData(quoteEnvelope("AAPL", 100, 900, "a".repeat(32)));
  assert.equal(published.length, 1);
  assert.equal(published[0].trace, "a".repeat(32));
  assert.equal(published[0].signal.tickTs, 900);
  const metrics = await text();
  assert.match(
    metrics,
    /signal_bridge_signals_generated_total\{signal_type="buy",symbol="AAPL",confidence_bucket="0\.7-0\.8"\} 1/,
  );
  assert.match(metrics, /signal_bridge_inference_latency_us_count\{model_name="fixed"\} 1/);
});

Deno.test("SignalBridgeHandlers.onMarketData() counts suppressions by reason, with unknown symbols as other", async () => {
  const { handlers, published, text } = setup(new FixedModel({ action: "buy", confidence: 0.9 }));
  using _ = handlers;
  handlers.onMarketData(quoteEnvelope("AAPL", 100, 0)); // stale: 1000 ms old
  handlers.onMarketData(quoteEnvelope("DOGE", 1, 1_000));
  handlers.onMarketData(quoteEnvelope("AAPL", 100, 1_000));
  handlers.onMarketData(quoteEnvelope("AAPL", 101, 1_000)); // within minIntervalMs
  assert.equal(published.length, 1);
  const metrics = await text();
  assert.match(
    metrics,
    /signal_bridge_signals_suppressed_total\{reason="stale_data",symbol="AAPL"\} 1/,
  );
  assert.match(
    metrics,
    /signal_bridge_signals_suppressed_total\{reason="unknown_symbol",symbol="other"\} 1/,
  );
  assert.match(
    metrics,
    /signal_bridge_signals_suppressed_total\{reason="min_interval",symbol="AAPL"\} 1/,
  );
  assert.equal(handlers.stats.suppressed, 3);
});

Deno.test("SignalBridgeHandlers.onMarketData() survives a failing model and counts the error", async () => {
  const model = new FixedModel({ action: "buy", confidence: 0.9 });
  model.fail = true;
  const { handlers, published, text } = setup(model);
  using _ = handlers;
  handlers.onMarketData(quoteEnvelope("AAPL", 100, 1_000));
  assert.equal(published.length, 0);
  assert.equal(handlers.stats.errors, 1);
  assert.match(
    await text(),
    /signal_bridge_signals_suppressed_total\{reason="error",symbol="AAPL"\} 1/,
  );
  model.fail = false;
  handlers.onMarketData(quoteEnvelope("AAPL", 101, 1_000));
  assert.equal(published.length, 1);
});

Deno.test("SignalBridgeHandlers.onMarketData() ignores heartbeats, bars and bodies without a symbol", () => {
  const { handlers, published } = setup(new FixedModel({ action: "buy", confidence: 0.9 }));
  using _ = handlers;
  handlers.onMarketData(marketDataEnvelope("heartbeat", {}));
  handlers.onMarketData(marketDataEnvelope("bar", { symbol: "AAPL" }));
  handlers.onMarketData(marketDataEnvelope("quote", null));
  assert.equal(published.length, 0);
  assert.equal(handlers.stats.ignored, 3);
});
