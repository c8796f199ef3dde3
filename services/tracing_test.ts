/**
 * One order, one trace, with the four real services: each runs with `OTEL_DENO=true` and
 * exports over OTLP/HTTP to lib/testing/otlp_receiver.ts, which decodes with the official
 * OpenTelemetry protobuf definitions. For an order in the execution journal, its trace is read
 * back span by span: which services, which parents, in which order; at head ratio 0, only the
 * order's spans (the rule of lib/tracing.ts).
 *
 * Bounded: each run waits at most a minute for orders and 30 s for their spans.
 */
import assert from "node:assert/strict";
import type { ServiceName } from "../lib/metrics.ts";
import { type ReceivedSpan, startOtlpReceiver } from "../lib/testing/otlp_receiver.ts";
import type { Stack } from "../lib/testing/stack.ts";
import { journalOrders, type JournalRow, startTracedStack } from "../lib/testing/traced_stack.ts";
import { removeDir, waitFor } from "../lib/testing/tools.ts";

// OpenTelemetry's SpanKind in the OTLP protobuf (opentelemetry/proto/trace/v1/trace.proto).
const INTERNAL = 1;
const CLIENT = 3;
const PRODUCER = 4;
const CONSUMER = 5;

/**
 * A filled order of the journal whose fill report is in `spans` from both ends, with every span
 * of its trace received so far.
 */
async function filledOrder(
  stack: Stack,
  spans: () => ReceivedSpan[],
): Promise<{ order: JournalRow; trace: ReceivedSpan[] }> {
  const path = stack.config.executionEngine.journalPath;
  const found = await waitFor(
    "a filled order whose fill report reached risk-manager's tracer",
    async () => {
      const filled = (await journalOrders(path)).filter((o) => o.state === "filled");
      const all = spans();
      for (const order of filled) {
        const trace = all.filter((s) => s.traceId === order.trace);
        // The fill's report span (execution-engine) and its receipt (risk-manager) are both in:
        // the four processes export on their own schedules.
        const fill = trace.find((s) =>
          s.name === "execution-engine report" && s.attributes["trading.state"] === "filled"
        );
        if (
          fill !== undefined &&
          trace.some((s) => s.name === "risk-manager report" && s.parentSpanId === fill.spanId)
        ) return { order, trace };
      }
      return undefined;
    },
    { timeoutMs: 60_000, everyMs: 500 },
  );
  // Five export periods more, so that a span a slower process still held has arrived too.
  await new Promise((r) => setTimeout(r, 1000));
  return { order: found.order, trace: spans().filter((s) => s.traceId === found.order.trace) };
}

/** The one span of `trace` named `name` whose parent is `parent` (asserts there is one). */
function child(trace: ReceivedSpan[], name: string, parent: ReceivedSpan): ReceivedSpan {
  const found = trace.filter((s) => s.name === name && s.parentSpanId === parent.spanId);
  assert.equal(
    found.length,
    1,
    `one ${name} under ${parent.name}; the trace has: ${trace.map((s) => s.name).join(", ")}`,
  );
  return found[0];
}

/** `span`'s parent in `trace` (asserts it is there). */
function parentOf(trace: ReceivedSpan[], span: ReceivedSpan): ReceivedSpan {
  const parent = trace.find((s) => s.spanId === span.parentSpanId);
  assert.ok(parent, `${span.service}: ${span.name} has its parent in the trace`);
  return parent;
}

function assertService(span: ReceivedSpan, service: ServiceName): void {
  assert.equal(span.service, service, `${span.name} comes from ${service}`);
  assert.equal(span.scope, service, "the tracer is named for the service");
}

/** Every span in `chain` starts no earlier than the one before it. */
function assertCausal(chain: ReceivedSpan[]): void {
  for (let i = 1; i < chain.length; i++) {
    assert.ok(
      chain[i].startNs >= chain[i - 1].startNs,
      `${chain[i].name} starts after ${chain[i - 1].name}`,
    );
    assert.ok(chain[i].endNs >= chain[i].startNs, `${chain[i].name} ends after it starts`);
  }
}

Deno.test({
  name:
    "at head ratio 1, an order's trace covers all four services from the tick to the fill report, in causal order with correct parents",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await using receiver = startOtlpReceiver();
    const stack = startTracedStack(receiver.url, "1");
    try {
      await stack.waitReady(60_000);
      const { order, trace } = await filledOrder(stack, () => receiver.spans());
      // The chain that made the order, from the ZeroMQ hop back to the tick.
      const eeReceive = trace.find((s) =>
        s.name === "execution-engine receive" &&
        trace.some((c) => c.parentSpanId === s.spanId && c.name === "execution-engine journal")
      );
      assert.ok(eeReceive, "execution-engine received the order in a span");
      assertService(eeReceive, "execution-engine");
      assert.equal(eeReceive.kind, CONSUMER);
      const rmOrder = parentOf(trace, eeReceive);
      assert.equal(rmOrder.name, "risk-manager order");
      assertService(rmOrder, "risk-manager");
      assert.equal(rmOrder.attributes["trading.client_order_id"], order.clientOrderId);
      const rmReceive = parentOf(trace, rmOrder);
      assert.equal(rmReceive.name, "risk-manager receive");
      assertService(rmReceive, "risk-manager");
      const sbReceive = parentOf(trace, rmReceive);
      assert.equal(sbReceive.name, "signal-bridge receive");
      assertService(sbReceive, "signal-bridge");
      const mdPublish = parentOf(trace, sbReceive);
      assert.equal(mdPublish.name, "market-data publish");
      assertService(mdPublish, "market-data");
      const mdUpdate = parentOf(trace, mdPublish);
      assert.equal(mdUpdate.name, "market-data update");
      const mdTick = parentOf(trace, mdUpdate);
      assert.equal(mdTick.name, "market-data tick");
      assert.equal(mdTick.parentSpanId, "", "the tick is the trace's root");

      // The stages of each service, under their own span.
      const features = child(trace, "signal-bridge features", sbReceive);
      const inference = child(trace, "signal-bridge inference", sbReceive);
      const checks = child(trace, "risk-manager checks", rmOrder);
      const record = child(trace, "risk-manager record", rmOrder);
      const journal = child(trace, "execution-engine journal", eeReceive);
      const venue = child(trace, "execution-engine venue", eeReceive);
      assert.equal(venue.attributes["trading.venue"], "sim");
      const reports = trace.filter((s) =>
        s.name === "execution-engine report" && s.parentSpanId === eeReceive.spanId
      );
      const filled = reports.find((s) => s.attributes["trading.state"] === "filled");
      assert.ok(
        filled,
        `a report span for the fill: ${reports.map((s) => s.attributes["trading.state"])}`,
      );
      const rmReport = child(trace, "risk-manager report", filled);
      assertService(rmReport, "risk-manager");

      assertCausal([
        mdTick,
        mdUpdate,
        mdPublish,
        sbReceive,
        features,
        inference,
        rmReceive,
        rmOrder,
        checks,
        record,
        eeReceive,
        journal,
        venue,
        filled,
        rmReport,
      ]);
      assert.ok(checks.endNs <= record.startNs + 1000n, "the record follows the checks");
      // The durable record ends at its commit, and only a durable order leaves: the record and
      // the order span end before execution-engine receives it (one host, one clock); the
      // journal's commit ends before the venue call starts.
      assert.ok(record.endNs <= eeReceive.startNs, "the order left once its record was durable");
      assert.equal(rmOrder.endNs, record.endNs, "the order span ends with its durable record");
      assert.ok(journal.endNs <= venue.startNs, "the venue call follows the journal's commit");
      // Span kinds: a span whose context a message carries is a producer, its receipt a
      // consumer, the venue call a client.
      const kinds = Object.fromEntries(
        [mdTick, mdUpdate, mdPublish, sbReceive, rmReceive, rmOrder, checks, record, eeReceive]
          .concat([journal, venue, filled, rmReport]).map((s) => [s.name, s.kind]),
      );
      assert.deepEqual(kinds, {
        "market-data tick": INTERNAL,
        "market-data update": INTERNAL,
        "market-data publish": PRODUCER,
        "signal-bridge receive": CONSUMER,
        "risk-manager receive": CONSUMER,
        "risk-manager order": PRODUCER,
        "risk-manager checks": INTERNAL,
        "risk-manager record": INTERNAL,
        "execution-engine receive": CONSUMER,
        "execution-engine journal": INTERNAL,
        "execution-engine venue": CLIENT,
        "execution-engine report": PRODUCER,
        "risk-manager report": CONSUMER,
      });

      // One trace, and every span's parent in it: nothing of the order's path is missing.
      assert.equal(mdTick.traceId, order.trace, "the journal's trace id is the tick's");
      for (const s of trace) {
        if (s !== mdTick) parentOf(trace, s);
      }
      assert.deepEqual(
        [...new Set(trace.map((s) => s.service))].sort(),
        ["execution-engine", "market-data", "risk-manager", "signal-bridge"],
      );
      assert.equal(receiver.refused[400], undefined, "every export decoded");
    } finally {
      await stack.stop();
      await removeDir(stack.dir);
    }
  },
});

Deno.test({
  name:
    "at head ratio 0, market-data and signal-bridge export nothing, and an order's spans exist from the approval on",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await using receiver = startOtlpReceiver();
    const stack = startTracedStack(receiver.url, "0");
    try {
      await stack.waitReady(60_000);
      const { order, trace } = await filledOrder(stack, () => receiver.spans());
      const rmOrder = trace.find((s) => s.name === "risk-manager order");
      assert.ok(rmOrder, trace.map((s) => s.name).join(", "));
      assert.equal(rmOrder.attributes["trading.client_order_id"], order.clientOrderId);
      assert.ok(rmOrder.parentSpanId !== "", "the order continues the tick's trace");
      assert.ok(
        !trace.some((s) => s.spanId === rmOrder.parentSpanId),
        "its parent (signal-bridge's, not sampled) was never exported",
      );
      child(trace, "risk-manager checks", rmOrder);
      child(trace, "risk-manager record", rmOrder);
      const eeReceive = child(trace, "execution-engine receive", rmOrder);
      child(trace, "execution-engine journal", eeReceive);
      child(trace, "execution-engine venue", eeReceive);
      const filled = trace.find((s) =>
        s.name === "execution-engine report" && s.attributes["trading.state"] === "filled"
      );
      assert.ok(filled);
      child(trace, "risk-manager report", filled);
      for (const s of trace) if (s !== rmOrder) parentOf(trace, s);

      // A moment more for late exports, then: nothing before an approval, from anyone.
      await new Promise((r) => setTimeout(r, 1000));
      const all = receiver.spans();
      const services = new Set(all.map((s) => s.service));
      assert.ok(!services.has("market-data"), "no span from market-data");
      assert.ok(!services.has("signal-bridge"), "no span from signal-bridge");
      const names = new Set(all.map((s) => s.name));
      for (const name of ["risk-manager receive", "risk-manager market data"]) {
        assert.ok(!names.has(name), `no ${name} span: nothing before an approval is kept`);
      }
      // Every span exported belongs to an order's trace, and each order's trace is the one its
      // journal row names.
      const orderTraces = new Set(
        all.filter((s) => s.name === "risk-manager order").map((s) => s.traceId),
      );
      for (const s of all) {
        assert.ok(orderTraces.has(s.traceId), `${s.service}: ${s.name} is in an order's trace`);
      }
      const journal = await journalOrders(stack.config.executionEngine.journalPath);
      for (const row of journal) {
        const span = all.find((s) =>
          s.name === "risk-manager order" &&
          s.attributes["trading.client_order_id"] === row.clientOrderId
        );
        if (span !== undefined) assert.equal(span.traceId, row.trace, row.clientOrderId);
      }
    } finally {
      await stack.stop();
      await removeDir(stack.dir);
    }
  },
});
