/**
 * The real export: Deno children with `OTEL_DENO=true` and lib/tracing.ts send their spans over
 * OTLP/HTTP to lib/testing/otlp_receiver.ts, which decodes them with the official protobuf
 * definitions. Each child is one hop; the traceparent goes from one to the next as the envelope
 * carries it between services.
 */
import assert from "node:assert/strict";
import { type OtlpReceiver, spansOf, startOtlpReceiver } from "./testing/otlp_receiver.ts";
import { Proc } from "./testing/tools.ts";
import { parseTraceparent } from "./traceparent.ts";
import { TRACING_DEFAULTS } from "./tracing_config.ts";

const CHILD = new URL("./testing/tracing_child.ts", import.meta.url).pathname;
const CONSUMER = 5;

interface Hop {
  traceparent: string | null;
  /** The child's log lines, parsed. */
  logs: Record<string, unknown>[];
}

/**
 * Runs one hop as `service` exporting to `endpoint` with head ratio `ratio`; `env` adds to or
 * replaces its `OTEL_*` settings.
 */
async function hop(
  endpoint: string,
  service: string,
  ratio: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<Hop> {
  const p = new Proc(CHILD, args, {
    OTEL_DENO: "true",
    OTEL_DENO_METRICS: "false",
    OTEL_DENO_CONSOLE: "ignore",
    OTEL_SERVICE_NAME: service,
    OTEL_RESOURCE_ATTRIBUTES: "service.namespace=trading",
    OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
    OTEL_TRACES_SAMPLER_ARG: ratio,
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    OTEL_EXPORTER_OTLP_TIMEOUT: "2000",
    OTEL_BSP_SCHEDULE_DELAY: "200",
    ...env,
  });
  const guard = setTimeout(() => p.stop(1000), 30_000);
  const status = await p.done;
  clearTimeout(guard);
  assert.equal(status.code, 0, `${service} ${args.join(" ")}: ${p.stderr}`);
  const out = JSON.parse(p.stdout.trim().split("\n").at(-1)!) as { traceparent: string | null };
  const logs = p.stderr.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
  return { traceparent: out.traceparent, logs };
}

Deno.test("a sampled two-hop trace arrives over OTLP with correct parents, and the log lines carry its spans' ids", async () => {
  await using receiver = startOtlpReceiver();
  const md = await hop(receiver.url, "market-data", "1", ["root"]);
  assert.ok(md.traceparent, "a sampled tick has a span to continue");
  const sb = await hop(receiver.url, "signal-bridge", "1", [md.traceparent]);
  // Each child flushes its spans when it exits (Deno's exporter), so all four are in.
  const spans = await receiver.waitForSpans((s) => s.length >= 4, 10_000);
  assert.equal(spans.length, 4, spans.map((s) => s.name).join(", "));
  const byName = new Map(spans.map((s) => [s.name, s]));
  const tick = byName.get("market-data tick")!;
  const publish = byName.get("market-data publish")!;
  const receive = byName.get("signal-bridge receive")!;
  const stage = byName.get("signal-bridge stage")!;
  assert.ok(tick && publish && receive && stage, [...byName.keys()].join(", "));
  assert.equal(new Set(spans.map((s) => s.traceId)).size, 1, "one trace");
  assert.equal(tick.parentSpanId, "", "the tick is the root");
  assert.equal(publish.parentSpanId, tick.spanId);
  assert.equal(receive.parentSpanId, publish.spanId, "the traceparent hop: parent is the publish");
  assert.equal(stage.parentSpanId, receive.spanId);
  assert.equal(receive.kind, CONSUMER);
  for (const s of [publish, receive, stage]) {
    const parent = spans.find((p) => p.spanId === s.parentSpanId)!;
    assert.ok(parent.startNs <= s.startNs, `${s.name} starts after its parent`);
  }
  assert.equal(tick.service, "market-data");
  assert.equal(receive.service, "signal-bridge");
  assert.equal(tick.scope, "market-data", "the tracer is named for the service");
  assert.equal(tick.resource["service.namespace"], "trading");
  assert.equal(parseTraceparent(md.traceparent)!.spanId, publish.spanId);
  // Log lines written inside the spans name them.
  const ids = (logs: Record<string, unknown>[], msg: string) => {
    const l = logs.find((x) => x.msg === msg)!;
    return [l.trace_id, l.span_id];
  };
  assert.deepEqual(ids(md.logs, "Tick received"), [tick.traceId, tick.spanId]);
  assert.deepEqual(ids(md.logs, "Tick published"), [tick.traceId, publish.spanId]);
  assert.deepEqual(ids(sb.logs, "Message received"), [receive.traceId, receive.spanId]);
  assert.equal(receiver.refused[400], undefined);
});

Deno.test("an unsampled tick exports nothing, until the trace becomes an order's: then every span from the order on", async () => {
  await using receiver = startOtlpReceiver();
  const md = await hop(receiver.url, "market-data", "0", ["root"]);
  const tick = parseTraceparent(md.traceparent)!;
  assert.equal(tick.sampled, false, "ratio 0: the head sampler drops the tick");
  const sb = await hop(receiver.url, "signal-bridge", "0", [md.traceparent!]);
  assert.equal(parseTraceparent(sb.traceparent)!.sampled, false);
  // The unsampled hops still name the trace in their log lines (the fast path's context).
  const received = sb.logs.find((l) => l.msg === "Message received")!;
  assert.equal(received.trace_id, tick.traceId);
  assert.equal(received.span_id, tick.spanId, "the sender's span: nothing was recorded here");
  const rm = await hop(receiver.url, "risk-manager", "0", [sb.traceparent!, "order"]);
  const order = parseTraceparent(rm.traceparent)!;
  assert.equal(order.sampled, true, "the order's context is forced sampled");
  assert.equal(order.traceId, tick.traceId, "still the tick's trace");
  const ee = await hop(receiver.url, "execution-engine", "0", [rm.traceparent!]);
  const spans = await receiver.waitForSpans((s) => s.length >= 3, 10_000);
  // A moment more, so a span sent late by an unsampled hop would be seen too.
  await new Promise((r) => setTimeout(r, 300));
  const all = receiver.spans();
  assert.deepEqual(
    all.map((s) => `${s.service}: ${s.name}`).sort(),
    [
      "execution-engine: execution-engine receive",
      "execution-engine: execution-engine stage",
      "risk-manager: risk-manager order",
    ],
    "nothing from market-data, signal-bridge or risk-manager before the order",
  );
  const rmOrder = spans.find((s) => s.name === "risk-manager order")!;
  assert.equal(rmOrder.traceId, tick.traceId);
  assert.equal(rmOrder.parentSpanId, parseTraceparent(sb.traceparent)!.spanId);
  assert.equal(rmOrder.attributes["trading.order"], true);
  const eeReceive = spans.find((s) => s.name === "execution-engine receive")!;
  assert.equal(eeReceive.parentSpanId, rmOrder.spanId);
  const approved = rm.logs.find((l) => l.msg === "Order approved")!;
  assert.deepEqual([approved.trace_id, approved.span_id], [rmOrder.traceId, rmOrder.spanId]);
  assert.ok(ee.logs.some((l) => l.trace_id === tick.traceId));
});

/** The number of spans in each trace export `receiver` took, in arrival order. */
function spansPerExport(receiver: OtlpReceiver): number[] {
  return receiver.requests.filter((r) => r.path === "/v1/traces").map((r) =>
    spansOf(r.body).length
  );
}

Deno.test("Deno's exporter takes its batch size from OTEL_BSP_MAX_EXPORT_BATCH_SIZE, and the default batch holds a burst in one export", async () => {
  // The schedule delay is longer than the child lives: only a full batch, or the exit, exports.
  const slow = { OTEL_BSP_SCHEDULE_DELAY: "60000" };
  {
    await using receiver = startOtlpReceiver();
    await hop(receiver.url, "risk-manager", "1", ["burst", "35"], {
      ...slow,
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "10",
      OTEL_BSP_MAX_QUEUE_SIZE: "100",
    });
    await receiver.waitForSpans((s) => s.length >= 35, 10_000);
    const sizes = spansPerExport(receiver);
    assert.equal(sizes.reduce((a, b) => a + b, 0), 35, `every span exported once: ${sizes}`);
    assert.ok(sizes.length >= 4 && sizes.every((n) => n <= 10), `batches of at most 10: ${sizes}`);
  }
  {
    // The defaults `deno task start` gives (4096 of 16384): 700 spans, over the spec's 512, go in
    // one export at exit.
    await using receiver = startOtlpReceiver();
    const { OTEL_BSP_MAX_EXPORT_BATCH_SIZE, OTEL_BSP_MAX_QUEUE_SIZE } = TRACING_DEFAULTS;
    await hop(receiver.url, "risk-manager", "1", ["burst", "700"], {
      ...slow,
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
      OTEL_BSP_MAX_QUEUE_SIZE,
    });
    await receiver.waitForSpans((s) => s.length >= 700, 10_000);
    assert.deepEqual(spansPerExport(receiver), [700]);
  }
});
