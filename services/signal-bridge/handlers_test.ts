import assert from "node:assert/strict";
import { createServiceMetrics } from "../../lib/metrics.ts";
import type { Signal } from "../../lib/types.ts";
import { SignalBridgeCore } from "./core.ts";
import { SignalBridgeHandlers } from "./handlers.ts";
import { SignalBridgeMetrics } from "./metrics.ts";
import { FixedModel } from "./testing/fixed_model.ts";
import { withContextManager } from "../../lib/testing/context_manager.ts";
import { RecordingTracer, spansWritten } from "../../lib/testing/recording_tracer.ts";
import { ServiceTracer, type TraceFields } from "../../lib/tracing.ts";
import { marketDataEnvelope, sampleQuote } from "./testing/market_data.ts";

/** Handlers over a core of AAPL only, at a fixed clock of `now` (epoch ms). */
function setup(model: FixedModel, now = 1_000, tracer?: ServiceTracer) {
  const serviceMetrics = createServiceMetrics("signal-bridge", { defaultMetrics: false });
  serviceMetrics.stop();
  const published: { signal: Signal; trace: string; fields: TraceFields }[] = [];
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
    publish: (signal, trace) => published.push({ signal, trace: trace.trace, fields: trace }),
    now: () => now,
    tracer,
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

// The W3C Trace Context spec's example ids (section 3.2): market-data's publish span.
const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const MD_SPAN = "00f067aa0ba902b7";

Deno.test("a sampled quote is received in a span with its features and inference stages, and its signal carries the receive span", async () => {
  await withContextManager(async () => {
    const tracer = new RecordingTracer();
    const { handlers, published } = setup(
      new FixedModel({ action: "buy", confidence: 0.72 }),
      1_000,
      new ServiceTracer("signal-bridge", tracer),
    );
    using _ = handlers;
    handlers.onMarketData({
      ...quoteEnvelope("AAPL", 100, 900, TRACE),
      span: MD_SPAN,
      flags: 1,
    });
    assert.deepEqual(
      tracer.spans.map((s) => s.name),
      ["signal-bridge receive"],
      "the stages are written after the signal left",
    );
    await spansWritten();
    assert.deepEqual(tracer.spans.map((s) => s.name), [
      "signal-bridge receive",
      "signal-bridge features",
      "signal-bridge inference",
    ]);
    const [receive, features, inference] = tracer.spans;
    assert.equal(receive.parent?.spanId, MD_SPAN);
    for (const s of [features, inference]) assert.equal(s.parent?.spanId, receive.context.spanId);
    assert.equal(features.endTime, inference.options.startTime, "inference follows the features");
    assert.ok((inference.endTime as number) >= (inference.options.startTime as number));
    assert.equal(inference.options.attributes?.["trading.model"], "fixed");
    assert.notEqual(receive.endTime, undefined);
    assert.deepEqual(published[0].fields, { trace: TRACE, span: receive.context.spanId, flags: 1 });
  });
});

Deno.test("an unsampled quote records no span, and its signal carries the incoming context unchanged", async () => {
  await withContextManager(async () => {
    const tracer = new RecordingTracer();
    const { handlers, published } = setup(
      new FixedModel({ action: "buy", confidence: 0.72 }),
      1_000,
      new ServiceTracer("signal-bridge", tracer),
    );
    using _ = handlers;
    handlers.onMarketData({ ...quoteEnvelope("AAPL", 100, 900, TRACE), span: MD_SPAN, flags: 0 });
    await spansWritten();
    assert.equal(tracer.spans.length, 0);
    assert.deepEqual(published[0].fields, { trace: TRACE, span: MD_SPAN, flags: 0 });
  });
});
