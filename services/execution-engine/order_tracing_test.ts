import assert from "node:assert/strict";
import { context, ROOT_CONTEXT, trace } from "@opentelemetry/api";
import { withContextManager } from "../../lib/testing/context_manager.ts";
import { RecordingTracer, spansWritten } from "../../lib/testing/recording_tracer.ts";
import { ServiceTracer } from "../../lib/tracing.ts";
import type { ExecutionReport } from "../../lib/types.ts";
import type { OrderMetrics } from "./metrics.ts";
import { OrderTraces, TracedOrderMetrics, TracedVenue } from "./order_tracing.ts";
import { FakeVenue } from "./testing/fake_venue.ts";
import { makeOrder } from "./testing/fixtures.ts";

// The W3C Trace Context spec's example ids (section 3.2).
const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN = "00f067aa0ba902b7";
const sampled = trace.setSpanContext(ROOT_CONTEXT, {
  traceId: TRACE,
  spanId: SPAN,
  traceFlags: 1,
  isRemote: true,
});
const unsampled = trace.setSpanContext(ROOT_CONTEXT, {
  traceId: TRACE,
  spanId: SPAN,
  traceFlags: 0,
  isRemote: true,
});

function report(over: Partial<ExecutionReport> = {}): ExecutionReport {
  return {
    clientOrderId: "c-1",
    symbol: "AAPL",
    side: "buy",
    kind: "fill",
    state: "partially_filled",
    orderQty: 2,
    lastQty: 1,
    lastPrice: 100,
    cumQty: 1,
    avgPrice: 100,
    leavesQty: 1,
    venue: "sim",
    strategy: "default",
    ts: 1,
    ...over,
  };
}

Deno.test("TracedVenue records a venue span under the order's context, ended with the venue's answer, and none outside a sampled one", async () => {
  await withContextManager(async () => {
    const tracer = new RecordingTracer();
    const venue = new TracedVenue(new FakeVenue(), new ServiceTracer("execution-engine", tracer));
    const answer = await context.with(sampled, () => venue.submit(makeOrder()));
    assert.equal(answer.kind, "accepted");
    assert.equal(tracer.spans.length, 1);
    const [span] = tracer.spans;
    assert.equal(span.name, "execution-engine venue");
    assert.equal(span.parent?.spanId, SPAN);
    assert.equal(span.options.attributes?.["trading.venue"], "alpaca");
    await spansWritten();
    assert.notEqual(span.endTime, undefined, "ended once the venue answered");
    await context.with(unsampled, () => venue.submit(makeOrder({ clientOrderId: "c-2" })));
    await venue.submit(makeOrder({ clientOrderId: "c-3" }));
    assert.equal(tracer.spans.length, 1, "no span for an unsampled or absent context");
  });
});

Deno.test("TracedVenue ends its span when the venue call fails, and the failure reaches the core", async () => {
  await withContextManager(async () => {
    const tracer = new RecordingTracer();
    const inner = new FakeVenue();
    inner.submit = () => Promise.reject(new Error("connection reset"));
    const venue = new TracedVenue(inner, new ServiceTracer("execution-engine", tracer));
    await assert.rejects(context.with(sampled, () => venue.submit(makeOrder())), /reset/);
    await spansWritten();
    assert.notEqual(tracer.spans[0].endTime, undefined);
  });
});

Deno.test("TracedOrderMetrics gives tick-to-trade and submission latency the active sampled context as their exemplar", async () => {
  await withContextManager(() => {
    const seen: unknown[] = [];
    const inner = {
      tickToTrade: (_us: number, t?: unknown) => void seen.push(t),
      submissionLatency: (_type: string, _us: number, t?: unknown) => void seen.push(t),
    } as unknown as OrderMetrics;
    const metrics = new TracedOrderMetrics(inner);
    context.with(sampled, () => {
      metrics.tickToTrade(3700);
      metrics.submissionLatency("market", 40);
    });
    context.with(unsampled, () => metrics.tickToTrade(3700));
    metrics.tickToTrade(3700);
    assert.deepEqual(
      seen.map((t) => (t as { traceId?: string } | undefined)?.traceId),
      [TRACE, TRACE, undefined, undefined],
    );
  });
});

Deno.test("OrderTraces sends each report of a remembered order in a report span of its trace, and forgets the order at its final report", async () => {
  const tracer = new RecordingTracer();
  const traces = new OrderTraces(new ServiceTracer("execution-engine", tracer));
  traces.remember("c-1", sampled);
  traces.remember("c-2", unsampled);
  assert.equal(traces.size, 1, "an unsampled order is not kept");
  const sent: unknown[] = [];
  traces.report(report(), "ignored", (fields) => sent.push(fields));
  const [span] = tracer.spans;
  assert.equal(span.name, "execution-engine report");
  assert.equal(span.parent?.spanId, SPAN);
  assert.equal(span.endTime, undefined, "it ends after the report left");
  await spansWritten();
  assert.notEqual(span.endTime, undefined);
  assert.deepEqual(sent[0], { trace: TRACE, span: span.context.spanId, flags: 1 });
  traces.report(report({ state: "filled" }), TRACE, (fields) => sent.push(fields));
  assert.equal(traces.size, 0, "the final report forgets the order");
  traces.report(report({ state: "filled" }), TRACE, (fields) => sent.push(fields));
  assert.deepEqual(sent[2], { trace: TRACE }, "an order not remembered: its trace id only");
  assert.equal(tracer.spans.length, 2);
});

Deno.test("OrderTraces keeps at most its bound, forgetting the oldest order first", () => {
  const traces = new OrderTraces(new ServiceTracer("execution-engine", new RecordingTracer()), 3);
  for (let i = 0; i < 5; i++) traces.remember(`c-${i}`, sampled);
  assert.equal(traces.size, 3);
  const sent: unknown[] = [];
  traces.report(report({ clientOrderId: "c-0" }), TRACE, (f) => sent.push(f));
  traces.report(report({ clientOrderId: "c-4" }), TRACE, (f) => sent.push(f));
  assert.deepEqual(sent[0], { trace: TRACE }, "the oldest was forgotten");
  assert.equal((sent[1] as { flags?: number }).flags, 1);
});
