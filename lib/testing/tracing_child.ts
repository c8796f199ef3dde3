/**
 * One hop of a trace in a process of its own, for lib/tracing_export_test.ts: run with
 * `OTEL_DENO=true` and an OTLP endpoint, it does what a handler does through lib/tracing.ts and
 * prints one JSON line on stdout, `{"traceparent": "<for the next hop>"}`. Its log lines
 * (written inside its spans through lib/log.ts) go to stderr.
 *
 * Argument: `root` (as market-data: a tick's root span and its publish stage), a traceparent
 * to continue (a receive span and a stage), optionally followed by `order` (the trace becomes an
 * order's here: an order span under the forced-sampled context), or `burst N` (N root spans,
 * each ended at once: for the export's batching).
 * @module
 */
import { type Context, context, trace } from "@opentelemetry/api";
import { getLogger, setupLogging } from "../log.ts";
import { formatTraceparent, parseTraceparent } from "../traceparent.ts";
import { ServiceTracer, traceFieldsOf } from "../tracing.ts";

const [hop, then] = Deno.args;
const service = Deno.env.get("OTEL_SERVICE_NAME") ?? "child";
const encoder = new TextEncoder();
setupLogging(service, {
  format: "json",
  write: (line) => void Deno.stderr.writeSync(encoder.encode(line + "\n")),
});
const log = getLogger(["trading", "child"]);
const tracer = new ServiceTracer(service);
const pause = () => new Promise((r) => setTimeout(r, 2));

/** The traceparent the next hop gets from `ctx`, or null when there is no span to continue. */
function traceparentOf(ctx: Context): string | null {
  const f = traceFieldsOf(ctx);
  if (f.span === undefined) return null;
  return formatTraceparent({ traceId: f.trace, spanId: f.span, flags: f.flags ?? 0 });
}

/** `ctx` with `span` current, or `ctx` itself when there is no span. */
function within(ctx: Context, span: ReturnType<ServiceTracer["stage"]>): Context {
  return span === undefined ? ctx : trace.setSpan(ctx, span);
}

let next: string | null;
if (hop === "burst") {
  const n = Number(then);
  if (!Number.isInteger(n) || n < 1) throw new Error(`Cannot burst ${JSON.stringify(then)} spans`);
  for (let i = 0; i < n; i++) tracer.root(`${service} burst`, { "trading.seq": i }).span.end();
  next = null;
} else if (hop === "root") {
  const root = tracer.root(`${service} tick`, { "trading.symbol": "AAPL" });
  next = await context.with(root.context, async () => {
    log.info("Tick received");
    const publish = tracer.stage(`${service} publish`);
    await pause();
    const ctx = within(root.context, publish);
    context.with(ctx, () => log.info("Tick published"));
    publish?.end();
    return traceparentOf(ctx);
  });
  root.span.end();
} else {
  const tp = parseTraceparent(hop);
  if (tp === undefined) {
    throw new Error(`Cannot continue a trace: ${JSON.stringify(hop)} is not a traceparent`);
  }
  const scope = tracer.receive(`${service} receive`, {
    trace: tp.traceId,
    span: tp.spanId,
    flags: tp.flags,
  });
  next = await scope.run(async () => {
    log.info("Message received");
    const stage = tracer.stage(`${service} stage`);
    await pause();
    stage?.end();
    if (then !== "order") return traceparentOf(scope.context);
    const orderCtx = tracer.asOrder(scope.context);
    const order = tracer.stage(`${service} order`, orderCtx, { "trading.order": true });
    const ctx = within(orderCtx, order);
    await context.with(ctx, async () => {
      await pause();
      log.info("Order approved");
    });
    order?.end();
    return traceparentOf(ctx);
  });
  scope.end();
}
console.log(JSON.stringify({ traceparent: next }));
