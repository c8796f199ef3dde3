import assert from "node:assert/strict";
import { ORDER_STATES } from "../../lib/types.ts";
import { TRANSITIONS } from "./order_state.ts";
import { testMetrics } from "./testing/metrics.ts";
import { REJECTION_REASONS } from "./venue.ts";

/** The label sets of the samples of `name` in `text`, with their values. */
function samples(text: string, name: string): { labels: string; value: number }[] {
  return text.split("\n").flatMap((line) => {
    const m = line.match(/^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)$/);
    return m && m[1] === name ? [{ labels: m[2] ?? "", value: Number(m[3]) }] : [];
  });
}

Deno.test("ExecutionEngineMetrics creates every counter series at 0 before the first record", async () => {
  const metrics = testMetrics("sim", ["AAPL"]);
  const text = await metrics.registry.metrics();
  const zeros = (name: string) => {
    const s = samples(text, name);
    assert.ok(s.every((x) => x.value === 0), `${name} not all 0`);
    return s.length;
  };
  assert.equal(zeros("execution_engine_orders_submitted_total"), 3 * 2);
  assert.equal(zeros("execution_engine_order_rejections_total"), REJECTION_REASONS.length * 2);
  assert.equal(zeros("execution_engine_fills_total"), 2 * 2);
  const illegal = ORDER_STATES.length * (ORDER_STATES.length - 1) -
    Object.entries(TRANSITIONS).reduce(
      (n, [from, to]) => n + to.filter((t) => t !== from).length,
      0,
    );
  assert.equal(zeros("execution_engine_illegal_transitions_total"), illegal);
  assert.equal(
    await metrics.value("execution_engine_illegal_transitions_total", {
      from: "filled",
      to: "canceled",
    }),
    0,
  );
  assert.ok(
    !samples(text, "execution_engine_illegal_transitions_total").some((s) =>
      s.labels.includes('from="new"') && s.labels.includes('to="accepted"')
    ),
    "a legal transition has no illegal-transition series",
  );
  assert.equal(zeros("execution_engine_tick_to_trade_latency_seconds_count"), 1);
  assert.equal(zeros("execution_engine_order_submission_latency_seconds_count"), 3);
  assert.equal(zeros("execution_engine_oldest_open_order_age_seconds"), 1);
});

Deno.test("ExecutionEngineMetrics records latency in seconds beside the seed's microseconds, past the seed's top bucket", async () => {
  const { recorder, value } = testMetrics("sim");
  recorder.submissionLatency("market", 7_000);
  recorder.tickToTrade(150_000);
  const us = { exchange: "sim", order_type: "market" };
  // The seed's histogram stops at 5000 µs: 7 ms lands in +Inf only.
  assert.equal(
    await value("execution_engine_order_submission_latency_us_bucket", { ...us, le: "5000" }),
    0,
  );
  assert.equal(await value("execution_engine_order_submission_latency_us_count", us), 1);
  const s = "execution_engine_order_submission_latency_seconds_bucket";
  assert.equal(await value(s, { ...us, le: "0.005" }), 0);
  assert.equal(await value(s, { ...us, le: "0.01" }), 1);
  assert.equal(await value("execution_engine_order_submission_latency_seconds_sum", us), 0.007);
  const t = "execution_engine_tick_to_trade_latency_seconds_bucket";
  assert.equal(await value(t, { exchange: "sim", le: "0.1" }), 0);
  assert.equal(await value(t, { exchange: "sim", le: "0.25" }), 1);
});

Deno.test("ExecutionEngineMetrics counts fills as partial or full, folding unconfigured symbols into other", async () => {
  const { recorder, value } = testMetrics("sim", ["AAPL"]);
  recorder.filled("AAPL", false);
  recorder.filled("AAPL", true);
  recorder.filled("ZZZZ", true);
  const fills = "execution_engine_fills_total";
  assert.equal(await value(fills, { symbol: "AAPL", fill: "partial", exchange: "sim" }), 1);
  assert.equal(await value(fills, { symbol: "AAPL", fill: "full" }), 1);
  assert.equal(await value(fills, { symbol: "other", fill: "full" }), 1);
});

Deno.test("ExecutionEngineMetrics reads the oldest open order's age at every scrape, 0 when none is open", async () => {
  const { recorder, value } = testMetrics("sim");
  let oldest: number | undefined = 1_000;
  let now = 31_000;
  recorder.oldestOpenOrderFrom(() => oldest, () => now);
  const age = "execution_engine_oldest_open_order_age_seconds";
  assert.equal(await value(age, { exchange: "sim" }), 30);
  now = 61_000;
  assert.equal(await value(age, { exchange: "sim" }), 60);
  oldest = undefined;
  assert.equal(await value(age, { exchange: "sim" }), 0);
  oldest = 70_000; // clocks disagree: never negative
  assert.equal(await value(age, { exchange: "sim" }), 0);
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
