import assert from "node:assert/strict";
import { createServiceMetrics } from "../../lib/metrics.ts";
import { sampleValue } from "../../lib/testing/stack.ts";
import { CONFIDENCE_BUCKETS } from "./confidence_bucket.ts";
import { SUPPRESS_REASONS } from "./core.ts";
import { SignalBridgeMetrics } from "./metrics.ts";
import { ACTIONS } from "./model.ts";

function setup() {
  const serviceMetrics = createServiceMetrics("signal-bridge", { defaultMetrics: false });
  serviceMetrics.stop();
  const metrics = new SignalBridgeMetrics(serviceMetrics.families, {
    symbols: ["AAPL", "MSFT"],
    modelName: "rules",
  });
  return { metrics, text: () => serviceMetrics.registry.metrics() };
}

Deno.test("SignalBridgeMetrics shows the inference histogram and every counter series at zero before any signal", async () => {
  const { text } = setup();
  const metrics = await text();
  assert.equal(
    sampleValue(metrics, "signal_bridge_inference_latency_us_count", { model_name: "rules" }),
    0,
  );
  for (const symbol of ["AAPL", "MSFT", "other"]) {
    for (const signal_type of ACTIONS) {
      for (const confidence_bucket of CONFIDENCE_BUCKETS) {
        const labels = { signal_type, symbol, confidence_bucket };
        assert.equal(
          sampleValue(metrics, "signal_bridge_signals_generated_total", labels),
          0,
          JSON.stringify(labels),
        );
      }
    }
    for (const reason of SUPPRESS_REASONS) {
      assert.equal(
        sampleValue(metrics, "signal_bridge_signals_suppressed_total", { reason, symbol }),
        0,
        `${reason} ${symbol}`,
      );
    }
  }
});

Deno.test("SignalBridgeMetrics.inference() observes microseconds under the model's name", async () => {
  const { metrics, text } = setup();
  metrics.inference(12);
  metrics.inference(30);
  const exposition = await text();
  const labels = { model_name: "rules" };
  assert.equal(sampleValue(exposition, "signal_bridge_inference_latency_us_count", labels), 2);
  assert.equal(sampleValue(exposition, "signal_bridge_inference_latency_us_sum", labels), 42);
});

Deno.test("SignalBridgeMetrics.signalGenerated() counts by action, symbol and confidence bucket", async () => {
  const { metrics, text } = setup();
  metrics.signalGenerated({ action: "sell", symbol: "MSFT", confidence: 0.61 });
  metrics.signalGenerated({ action: "sell", symbol: "MSFT", confidence: 0.69 });
  metrics.signalGenerated({ action: "buy", symbol: "DOGE", confidence: 1 });
  const exposition = await text();
  const generated = "signal_bridge_signals_generated_total";
  assert.equal(
    sampleValue(exposition, generated, {
      signal_type: "sell",
      symbol: "MSFT",
      confidence_bucket: "0.6-0.7",
    }),
    2,
  );
  assert.equal(
    sampleValue(exposition, generated, {
      signal_type: "buy",
      symbol: "other",
      confidence_bucket: "0.9-1.0",
    }),
    1,
  );
});

Deno.test("SignalBridgeMetrics.signalSuppressed() folds unknown and missing symbols into other", async () => {
  const { metrics, text } = setup();
  metrics.signalSuppressed("warmup", "AAPL");
  metrics.signalSuppressed("unknown_symbol", "DOGE");
  metrics.signalSuppressed("error", undefined);
  const exposition = await text();
  const suppressed = "signal_bridge_signals_suppressed_total";
  assert.equal(sampleValue(exposition, suppressed, { reason: "warmup", symbol: "AAPL" }), 1);
  assert.equal(
    sampleValue(exposition, suppressed, { reason: "unknown_symbol", symbol: "other" }),
    1,
  );
  assert.equal(sampleValue(exposition, suppressed, { reason: "error", symbol: "other" }), 1);
});
