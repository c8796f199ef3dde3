import assert from "node:assert/strict";
import { testMetrics } from "./testing/metrics.ts";

Deno.test("ExecutionEngineMetrics creates no series before the first record", async () => {
  const metrics = testMetrics("sim");
  const text = await metrics.registry.metrics();
  assert.doesNotMatch(text, /^execution_engine_\w+\{/m);
});

Deno.test("ExecutionEngineMetrics labels per-order records with the venue as exchange", async () => {
  const { recorder, value } = testMetrics("sim");
  recorder.submitted("market", "success");
  recorder.submitted("limit", "failure");
  recorder.submissionLatency("market", 40);
  recorder.tickToTrade(1500);
  recorder.openOrders(3);
  const submitted = "execution_engine_orders_submitted_total";
  assert.equal(
    await value(submitted, { order_type: "market", status: "success", exchange: "sim" }),
    1,
  );
  assert.equal(
    await value(submitted, { order_type: "limit", status: "failure", exchange: "sim" }),
    1,
  );
  assert.equal(
    await value("execution_engine_order_submission_latency_us_count", {
      exchange: "sim",
      order_type: "market",
    }),
    1,
  );
  assert.equal(
    await value("execution_engine_tick_to_trade_latency_us_sum", { exchange: "sim" }),
    1500,
  );
  assert.equal(await value("execution_engine_open_orders", { exchange: "sim" }), 3);
});

Deno.test("ExecutionEngineMetrics folds unknown order types and unconfigured symbols into other", async () => {
  const { recorder, value } = testMetrics("alpaca", ["AAPL"]);
  recorder.submitted("stop", "failure");
  recorder.rejected("unknown_symbol", "ZZZZ");
  recorder.rejected("market_closed", "AAPL");
  assert.equal(
    await value("execution_engine_orders_submitted_total", { order_type: "other" }),
    1,
  );
  assert.equal(
    await value("execution_engine_order_rejections_total", {
      rejection_reason: "unknown_symbol",
      symbol: "other",
    }),
    1,
  );
  assert.equal(
    await value("execution_engine_order_rejections_total", {
      rejection_reason: "market_closed",
      symbol: "AAPL",
    }),
    1,
  );
});

Deno.test("ExecutionEngineMetrics records API calls, failures and illegal transitions", async () => {
  const { recorder, value } = testMetrics("alpaca");
  recorder.apiCall({ endpoint: "/v2/orders", method: "POST", statusCode: "429", ms: 12 });
  recorder.apiFailure({ endpoint: "/v2/orders", statusCode: "429", errorMessage: "http_429" });
  recorder.illegalTransition("filled", "canceled");
  assert.equal(
    await value("execution_engine_api_call_latency_ms_count", {
      endpoint: "/v2/orders",
      method: "POST",
      status_code: "429",
    }),
    1,
  );
  assert.equal(
    await value("execution_engine_api_failures_total", {
      endpoint: "/v2/orders",
      status_code: "429",
      error_message: "http_429",
    }),
    1,
  );
  assert.equal(
    await value("execution_engine_illegal_transitions_total", { from: "filled", to: "canceled" }),
    1,
  );
});

// The W3C Trace Context spec's example ids (section 3.2).
const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN = "00f067aa0ba902b7";

/** The exemplar on the bucket line of `name` with `le`, or undefined. */
function exemplarOn(text: string, name: string, le: string): string | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${name}_bucket{le="${le}"`));
  return line?.match(/ # (\{[^}]*\})/)?.[1];
}

Deno.test("tickToTrade() and submissionLatency() put a sampled order's trace on the bucket as its exemplar", async () => {
  const { recorder, registry, value } = testMetrics("sim");
  recorder.tickToTrade(1500, { traceId: TRACE, spanId: SPAN, traceFlags: 1 });
  recorder.submissionLatency("limit", 40, { traceId: TRACE, spanId: SPAN, traceFlags: 1 });
  const text = await registry.metrics();
  const want = `{trace_id="${TRACE}",span_id="${SPAN}"}`;
  assert.equal(exemplarOn(text, "execution_engine_tick_to_trade_latency_us", "2000"), want);
  assert.equal(exemplarOn(text, "execution_engine_order_submission_latency_us", "50"), want);
  assert.equal(
    await value("execution_engine_order_submission_latency_us_count", { order_type: "limit" }),
    1,
  );
  assert.equal(await value("execution_engine_tick_to_trade_latency_us_count"), 1);
});

Deno.test("tickToTrade() and submissionLatency() count an unsampled order but give it no exemplar", async () => {
  const { recorder, registry, value } = testMetrics("sim");
  recorder.tickToTrade(1500, { traceId: TRACE, spanId: SPAN, traceFlags: 0 });
  recorder.submissionLatency("market", 40, { traceId: TRACE, spanId: SPAN, traceFlags: 0 });
  recorder.tickToTrade(1600);
  const text = await registry.metrics();
  assert.doesNotMatch(text, /trace_id/);
  assert.equal(await value("execution_engine_tick_to_trade_latency_us_count"), 2);
  assert.equal(await value("execution_engine_order_submission_latency_us_count"), 1);
});
