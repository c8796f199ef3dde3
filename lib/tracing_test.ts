import assert from "node:assert/strict";
import { context, ROOT_CONTEXT, SpanKind, trace } from "@opentelemetry/api";
import { withContextManager } from "./testing/context_manager.ts";
import { RecordingTracer, spansWritten } from "./testing/recording_tracer.ts";
import {
  activeTraceIds,
  exemplarOf,
  flushAllTracers,
  isSampled,
  logIdsOf,
  newSpanId,
  runWithTraceIds,
  ServiceTracer,
  SPAN_FLUSH_MAX,
  SPAN_FLUSH_MS,
  spanContextOf,
  traceFieldsOf,
} from "./tracing.ts";
import { setImmediate } from "node:timers";

// The W3C Trace Context spec's example ids (section 3.2).
const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN = "00f067aa0ba902b7";
const SAMPLED = { trace: TRACE, span: SPAN, flags: 1 };
const UNSAMPLED = { trace: TRACE, span: SPAN, flags: 0 };

Deno.test("spanContextOf() reads an envelope's trace, span and flags as a remote context", () => {
  assert.deepEqual(spanContextOf(SAMPLED), {
    traceId: TRACE,
    spanId: SPAN,
    traceFlags: 1,
    isRemote: true,
  });
  assert.equal(spanContextOf({ trace: TRACE, span: SPAN })?.traceFlags, 0, "no flags: unsampled");
});

Deno.test("spanContextOf() gives no context for a missing span or a malformed field, whatever a peer sends", () => {
  const bad: Record<string, unknown>[] = [
    { trace: TRACE },
    { trace: TRACE.toUpperCase(), span: SPAN },
    { trace: "0".repeat(32), span: SPAN },
    { trace: TRACE.slice(1), span: SPAN },
    { trace: TRACE, span: "0".repeat(16) },
    { trace: TRACE, span: SPAN + "0" },
    { trace: TRACE, span: 42 },
    { trace: 42, span: SPAN },
    { trace: TRACE, span: SPAN, flags: 256 },
    { trace: TRACE, span: SPAN, flags: -1 },
    { trace: TRACE, span: SPAN, flags: 0.5 },
    { trace: TRACE, span: SPAN, flags: "01" },
  ];
  for (const fields of bad) {
    assert.equal(
      spanContextOf(fields as unknown as Parameters<typeof spanContextOf>[0]),
      undefined,
      JSON.stringify(fields),
    );
  }
});

Deno.test("receive() starts a consumer span, child of the sender's, for a sampled message", async () => {
  await withContextManager(async () => {
    const tracer = new RecordingTracer();
    const t = new ServiceTracer("risk-manager", tracer);
    const scope = t.receive("risk-manager receive", SAMPLED, { "messaging.system": "zeromq" });
    assert.equal(scope.sampled, true);
    assert.equal(tracer.spans.length, 1);
    const [span] = tracer.spans;
    assert.equal(span.options.kind, SpanKind.CONSUMER);
    assert.equal(span.parent?.spanId, SPAN);
    assert.equal(span.parent?.isRemote, true);
    const ids = await scope.run(async () => {
      await new Promise((r) => setTimeout(r, 1));
      return activeTraceIds();
    });
    assert.deepEqual(ids, { trace_id: TRACE, span_id: span.context.spanId });
    assert.equal(span.endTime, undefined);
    scope.end(1_700_000_000_123);
    scope.end();
    assert.equal(span.endTime, undefined, "the end is written after the handler");
    await spansWritten();
    assert.equal(span.endTime, 1_700_000_000_123, "ended once, at the time given");
  });
});

Deno.test("receive() never calls the tracer for an unsampled message, and log lines carry its ids until the handler awaits", async () => {
  await withContextManager(async () => {
    const tracer = new RecordingTracer();
    const t = new ServiceTracer("signal-bridge", tracer);
    const scope = t.receive("signal-bridge receive", UNSAMPLED);
    assert.equal(scope.sampled, false);
    assert.equal(scope.span, undefined);
    const seen: unknown[] = [];
    const done = scope.run(async () => {
      seen.push(activeTraceIds());
      assert.equal(context.active(), ROOT_CONTEXT, "the fast path makes no context current");
      assert.equal(t.stage("features", scope.context), undefined, "no stage under it");
      await Promise.resolve();
      seen.push(activeTraceIds());
    });
    assert.equal(activeTraceIds(), undefined, "the slot is empty once the handler returned");
    await done;
    assert.deepEqual(seen[0], { trace_id: TRACE, span_id: SPAN }, "the upstream span's id");
    assert.equal(seen[1], undefined, "after an await: none, never another message's");
    scope.end();
    assert.equal(tracer.spans.length, 0);
  });
});

Deno.test("an unsampled message's log ids never leak into the next message handled after its await", async () => {
  await withContextManager(async () => {
    const t = new ServiceTracer("risk-manager", new RecordingTracer());
    const other = { trace: "0af7651916cd43dd8448eb211c80319c", span: "b7ad6b7169203331", flags: 0 };
    let resume!: () => void;
    const gate = new Promise<void>((r) => resume = r);
    const first = t.receive("x", UNSAMPLED).run(async () => {
      await gate;
      return activeTraceIds();
    });
    const second = t.receive("x", other).run(() => {
      resume();
      return activeTraceIds();
    });
    assert.deepEqual(second, { trace_id: other.trace, span_id: other.span });
    assert.equal(await first, undefined);
  });
});

Deno.test("with tracing off, log lines still carry the trace id of the message being handled", () => {
  // No context manager and the api's no-op tracer: the situation of `deno task start`.
  const t = new ServiceTracer("execution-engine");
  assert.equal(t.enabled, false);
  assert.deepEqual(t.receive("x", UNSAMPLED).run(() => activeTraceIds()), {
    trace_id: TRACE,
    span_id: SPAN,
  });
  assert.deepEqual(
    t.receive("x", SAMPLED).run(() => activeTraceIds()),
    { trace_id: TRACE, span_id: SPAN },
    "a sampled message's span is the api's no-op one: the sender's id is named",
  );
  assert.deepEqual(
    t.receive("x", { trace: TRACE }).run(() => activeTraceIds()),
    { trace_id: TRACE },
    "a sender without spans: its trace id alone",
  );
});

Deno.test("a sampled context made current inside an unsampled message's handler names its own span", async () => {
  await withContextManager(() => {
    const t = new ServiceTracer("risk-manager", new RecordingTracer());
    const ids = t.receive("x", UNSAMPLED).run(() => {
      const order = t.asOrder(ROOT_CONTEXT, TRACE);
      const span = t.stage("risk-manager order", order)!;
      return context.with(trace.setSpan(order, span), () => activeTraceIds());
    });
    assert.equal(ids?.trace_id, TRACE);
    assert.notEqual(ids?.span_id, SPAN, "the order span's id, not the upstream one");
    assert.match(ids!.span_id!, /^[0-9a-f]{16}$/);
  });
});

Deno.test("runWithTraceIds() nests and restores the outer ids, also when fn throws", () => {
  const a = { trace_id: TRACE, span_id: SPAN };
  const b = { trace_id: "0af7651916cd43dd8448eb211c80319c" };
  runWithTraceIds(a, () => {
    assert.throws(() =>
      runWithTraceIds(b, () => {
        assert.deepEqual(activeTraceIds(), b);
        throw new Error("boom");
      })
    );
    assert.deepEqual(activeTraceIds(), a);
  });
  assert.equal(activeTraceIds(), undefined);
});

Deno.test("logIdsOf() names a valid trace id, with the span only when valid, and nothing malformed", () => {
  assert.deepEqual(logIdsOf(UNSAMPLED), { trace_id: TRACE, span_id: SPAN });
  assert.deepEqual(logIdsOf({ trace: TRACE, span: "zz" }), { trace_id: TRACE });
  assert.equal(logIdsOf({ trace: "</script>" }), undefined);
});

Deno.test("receive() handles a message with a malformed context in the empty context", async () => {
  await withContextManager(() => {
    const tracer = new RecordingTracer();
    const t = new ServiceTracer("execution-engine", tracer);
    const scope = t.receive("x", { trace: "not-a-trace", span: SPAN, flags: 1 });
    assert.equal(scope.span, undefined);
    assert.equal(scope.run(() => activeTraceIds()), undefined);
    assert.equal(tracer.spans.length, 0);
  });
});

Deno.test("stage() makes a child of the active sampled span and nothing outside one", async () => {
  await withContextManager(() => {
    const tracer = new RecordingTracer();
    const t = new ServiceTracer("market-data", tracer);
    assert.equal(t.stage("publish"), undefined, "no active span: no stage");
    const root = t.root("market-data tick");
    assert.equal(tracer.spans.length, 1);
    assert.equal(tracer.spans[0].parent, undefined, "a root has no parent");
    const stage = context.with(root.context, () => t.stage("publish"));
    assert.ok(stage);
    assert.equal(tracer.spans[1].parent?.spanId, root.span.spanContext().spanId);
    assert.equal(stage.spanContext().traceId, root.span.spanContext().traceId);
  });
});

Deno.test("a root the head sampler drops leaves every later stage untraced", async () => {
  await withContextManager(() => {
    const tracer = new RecordingTracer(false);
    const t = new ServiceTracer("market-data", tracer);
    const root = t.root("market-data tick");
    assert.equal(isSampled(root.span.spanContext()), false);
    assert.equal(t.stage("publish", root.context), undefined);
    const fields = t.inject(root.context);
    assert.equal(fields.flags, 0, "the next hop learns it is not sampled");
    assert.equal(fields.trace, root.span.spanContext().traceId);
    assert.equal(tracer.spans.length, 1);
  });
});

Deno.test("asOrder() forces an unsampled trace sampled, keeping its trace and span ids", () => {
  const t = new ServiceTracer("risk-manager", new RecordingTracer());
  const unsampled = t.receive("x", UNSAMPLED).context;
  const order = t.asOrder(unsampled);
  const sc = trace.getSpanContext(order)!;
  assert.deepEqual(
    { traceId: sc.traceId, spanId: sc.spanId, flags: sc.traceFlags, remote: sc.isRemote },
    { traceId: TRACE, spanId: SPAN, flags: 1, remote: true },
  );
  assert.equal(t.inject(order).flags, 1);
  // Every span from there on is kept: a stage under the order's context is recorded.
  assert.ok(t.stage("order", order));
});

Deno.test("asOrder() leaves a sampled context as it is and gives an order with no context a sampled trace of its own", () => {
  const tracer = new RecordingTracer();
  const t = new ServiceTracer("risk-manager", tracer);
  const sampled = t.receive("x", SAMPLED).context;
  assert.equal(t.asOrder(sampled), sampled);
  const fresh = trace.getSpanContext(t.asOrder(ROOT_CONTEXT))!;
  assert.equal(isSampled(fresh), true);
  assert.match(fresh.traceId, /^[0-9a-f]{32}$/);
  assert.match(fresh.spanId, /^[0-9a-f]{16}$/);
  assert.notEqual(fresh.traceId, TRACE);
});

Deno.test("record() writes a span that already happened with its own times, only under a sampled parent", async () => {
  const tracer = new RecordingTracer();
  const t = new ServiceTracer("risk-manager", tracer);
  const unsampled = t.receive("x", UNSAMPLED).context;
  assert.equal(t.record("risk checks", unsampled, 1000, 1000.05), false);
  const order = t.asOrder(unsampled);
  assert.equal(
    t.record("risk checks", order, 1000, 1000.05, { attributes: { "risk.checks": 9 } }),
    true,
  );
  assert.equal(tracer.spans.length, 0, "written after the handler");
  await spansWritten();
  assert.equal(tracer.spans.length, 1);
  const [span] = tracer.spans;
  assert.equal(span.options.startTime, 1000);
  assert.equal(span.endTime, 1000.05);
  assert.equal(span.parent?.spanId, SPAN);
  assert.equal(span.options.attributes?.["risk.checks"], 9);
});

Deno.test("traceFieldsOf() gives the next hop's trace, span and flags, or a new trace id with tracing off", () => {
  const t = new ServiceTracer("signal-bridge", new RecordingTracer());
  const scope = t.receive("x", SAMPLED);
  const fields = traceFieldsOf(scope.context);
  assert.equal(fields.trace, TRACE);
  assert.equal(fields.span, scope.span!.spanContext().spanId);
  assert.equal(fields.flags, 1);
  // The api's own tracer in this process is the no-op one (no OTEL_DENO): all-zero ids.
  const off = new ServiceTracer("market-data").root("tick");
  assert.equal(off.span.spanContext().traceId, "0".repeat(32));
  const offFields = traceFieldsOf(off.context);
  assert.match(offFields.trace, /^[0-9a-f]{32}$/);
  assert.notEqual(offFields.trace, "0".repeat(32));
  assert.equal(offFields.span, undefined);
  assert.equal(offFields.flags, undefined);
});

Deno.test("exemplarOf() names a sampled trace and nothing for an unsampled or invalid one", () => {
  assert.deepEqual(exemplarOf({ traceId: TRACE, spanId: SPAN, traceFlags: 1 }), {
    trace_id: TRACE,
    span_id: SPAN,
  });
  assert.equal(exemplarOf({ traceId: TRACE, spanId: SPAN, traceFlags: 0 }), undefined);
  assert.equal(exemplarOf({ traceId: "0".repeat(32), spanId: SPAN, traceFlags: 1 }), undefined);
  assert.equal(exemplarOf({ traceId: TRACE, spanId: "0".repeat(16), traceFlags: 1 }), undefined);
  assert.equal(exemplarOf(undefined), undefined);
});

Deno.test("activeTraceIds() is undefined outside any span", () => {
  assert.equal(activeTraceIds(), undefined);
});

Deno.test("newSpanId() returns 16 lowercase hex digits, different each time", () => {
  const ids = new Set(Array.from({ length: 1000 }, newSpanId));
  assert.equal(ids.size, 1000);
  for (const id of ids) assert.match(id, /^[0-9a-f]{16}$/);
});

Deno.test("traceFieldsOf() carries a message's trace id on when there is no span to continue", () => {
  assert.deepEqual(traceFieldsOf(ROOT_CONTEXT, TRACE), { trace: TRACE });
  const own = traceFieldsOf(ROOT_CONTEXT, "not-a-trace");
  assert.match(own.trace, /^[0-9a-f]{32}$/);
  assert.notEqual(own.trace, TRACE);
});

Deno.test("asOrder() gives a context without a span a sampled one in the message's trace", () => {
  const t = new ServiceTracer("risk-manager", new RecordingTracer());
  const sc = trace.getSpanContext(t.asOrder(ROOT_CONTEXT, TRACE))!;
  assert.equal(sc.traceId, TRACE);
  assert.equal(sc.traceFlags & 1, 1);
  assert.match(sc.spanId, /^[0-9a-f]{16}$/);
  assert.notEqual(trace.getSpanContext(t.asOrder(ROOT_CONTEXT, "bad"))!.traceId, TRACE);
});

Deno.test("stage() starts a span at the time given", async () => {
  await withContextManager(() => {
    const tracer = new RecordingTracer();
    const t = new ServiceTracer("risk-manager", tracer);
    const scope = t.receive("risk-manager receive", SAMPLED);
    t.stage("risk-manager order", scope.context, undefined, 1_700_000_000_000)!.end();
    assert.equal(tracer.spans[1].options.startTime, 1_700_000_000_000);
  });
});

Deno.test("ServiceTracer is enabled with a tracer given, and not on the api's no-op one", () => {
  assert.equal(new ServiceTracer("x", new RecordingTracer()).enabled, true);
  assert.equal(new ServiceTracer("x").enabled, false, "the test process runs without OTEL_DENO");
});

Deno.test("receive() hands the messages of one unsampled tick the same scope, and a new one for the next context", () => {
  const t = new ServiceTracer("risk-manager", new RecordingTracer());
  const a = t.receive("x", UNSAMPLED);
  assert.equal(t.receive("x", { ...UNSAMPLED }), a, "same trace, span and flags: the same scope");
  const other = t.receive("x", { ...UNSAMPLED, span: "b7ad6b7169203331" });
  assert.notEqual(other, a);
  assert.equal(trace.getSpanContext(other.context)?.spanId, "b7ad6b7169203331");
  const sampled = t.receive("x", SAMPLED);
  assert.ok(sampled.span, "a sampled message of the same ids still gets its span");
});

Deno.test("span work waits for the handler's microtasks (its group commit, its sends) and runs once, in order, surviving a failure", async () => {
  const tracer = new RecordingTracer();
  const t = new ServiceTracer("risk-manager", tracer);
  const order = t.asOrder(ROOT_CONTEXT);
  const happened: string[] = [];
  const span = t.stage("risk-manager order", order)!;
  t.record("risk-manager checks", order, 1000, 1000.05);
  t.later(() => {
    throw new Error("a span that cannot be written");
  });
  t.endLater(span, 1000.5);
  // What the handler's group commit and its send do: microtasks, queued after the span work.
  queueMicrotask(() => {
    happened.push(
      `commit: ${tracer.spans.length} spans, order ${span.isRecording() ? "open" : "ended"}`,
    );
    queueMicrotask(() => happened.push("send"));
  });
  await spansWritten();
  assert.deepEqual(happened, ["commit: 1 spans, order open", "send"]);
  assert.deepEqual(tracer.spans.map((s) => [s.name, s.endTime]), [
    ["risk-manager order", 1000.5],
    ["risk-manager checks", 1000.05],
  ]);
  // endLater() without a time ends at the time of the call, not of the write.
  const other = t.stage("risk-manager order", order)!;
  const before = performance.timeOrigin + performance.now();
  t.endLater(other);
  const after = performance.timeOrigin + performance.now();
  await new Promise((r) => setTimeout(r, 5));
  assert.equal(tracer.spans[2].endTime, undefined, "its end waits for the burst");
  await spansWritten();
  const ended = tracer.spans[2].endTime!;
  assert.ok(ended >= before - 0.01 && ended <= after + 0.01, `${before} <= ${ended} <= ${after}`);
  t.endLater(undefined);
  t.flush();
  assert.equal(tracer.spans.length, 3);
});

Deno.test("queued span work is written in one burst: by the timer within SPAN_FLUSH_MS, at once past SPAN_FLUSH_MAX, and by flushAllTracers() at stop", async () => {
  const tracer = new RecordingTracer();
  const t = new ServiceTracer("execution-engine", tracer);
  const other = new ServiceTracer("risk-manager", tracer);
  const order = t.asOrder(ROOT_CONTEXT);
  // The timer: nothing written for a while, then all of it at once, without any call.
  const queuedAt = performance.now();
  t.record("execution-engine journal", order, 1000, 1000.1);
  t.record("execution-engine journal", order, 1001, 1001.1);
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(tracer.spans.length, 0, "written before the burst");
  assert.equal(t.queued, 2);
  for (let i = 0; i < 100 && tracer.spans.length === 0; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  const waited = performance.now() - queuedAt;
  assert.equal(tracer.spans.length, 2, "both spans in the burst");
  assert.equal(t.queued, 0);
  assert.ok(waited >= SPAN_FLUSH_MS - 1, `written after ${waited} ms, not before ${SPAN_FLUSH_MS}`);
  // A full queue: written after the handler (an immediate), not after the timer.
  for (let i = 0; i < SPAN_FLUSH_MAX; i++) t.record("execution-engine journal", order, i, i + 1);
  assert.equal(tracer.spans.length, 2, "not while the handler runs");
  await new Promise((r) => setImmediate(r));
  assert.equal(tracer.spans.length, 2 + SPAN_FLUSH_MAX);
  assert.equal(t.queued, 0);
  // At stop: every tracer's queue, at once.
  t.record("execution-engine journal", order, 5, 6);
  other.record("risk-manager record", order, 7, 8);
  flushAllTracers();
  assert.deepEqual(tracer.spans.slice(-2).map((s) => s.name), [
    "execution-engine journal",
    "risk-manager record",
  ]);
  assert.equal(t.queued + other.queued, 0);
  flushAllTracers(); // nothing left: no error, no span
  assert.equal(tracer.spans.length, 4 + SPAN_FLUSH_MAX);
});
