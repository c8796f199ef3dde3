/**
 * Tracing on OpenTelemetry: the spans of one order across the four services, carried between
 * them in the envelope (`trace`, `span`, `flags`: W3C trace-id, parent-id and trace-flags).
 *
 * The spans go to Deno's built-in OpenTelemetry (`OTEL_DENO=true`, which exports OTLP from a
 * thread of its own; lib/tracing_config.ts reads and checks the `OTEL_*` settings) through
 * `@opentelemetry/api`. With `OTEL_DENO` unset the api is a no-op: every call here costs tens of
 * nanoseconds and nothing is recorded.
 *
 * **Sampling, and when a trace becomes an order's.** A tick's trace is sampled at the head by the
 * parent-based ratio sampler (`OTEL_TRACES_SAMPLER=parentbased_traceidratio`, ratio
 * `OTEL_TRACES_SAMPLER_ARG`): market-data's root span is sampled or not, and every later span
 * follows its parent's `sampled` flag. The rule for orders: **a trace becomes an order's at the
 * moment risk-manager approves a signal and makes an order of it**. From there on the context is
 * forced sampled ({@link ServiceTracer.asOrder}), so every span after the approval is kept whatever
 * the head decision: risk-manager's order span and durable record, execution-engine's journal and
 * venue call, the fill report back to risk-manager. The checks that led to the approval ran
 * before anyone knew, so risk-manager records their span after the fact with the times it took
 * ({@link ServiceTracer.record}). The spans before the approval (market-data, signal-bridge)
 * exist only when the tick was head-sampled; an order whose tick was not starts mid-trace, its
 * first span's parent never exported. A denied signal never becomes an order's.
 *
 * **Messages nothing will keep cost next to nothing.** For an incoming context whose `sampled`
 * flag is off, {@link ServiceTracer.receive} and {@link ServiceTracer.stage} never call the
 * tracer, and the context is not made current either: entering an OpenTelemetry context costs
 * 0.6-1.9 µs with `OTEL_DENO=true` (Deno's context manager; tens of ns with tracing off), more than
 * everything else the fast path does. Instead the message's ids go in a synchronous slot for the
 * time its handler runs ({@link MessageScope.run}, {@link runWithTraceIds}), which lib/log.ts reads
 * when no span is active ({@link activeTraceIds}): a log line written while an unsampled message is
 * handled carries its `trace_id` (and the upstream `span_id`), with tracing on or off, **up to the
 * handler's first `await`**; a line written after it carries none (never another message's: the
 * slot is emptied when the handler's synchronous part returns). Sampled messages and orders have
 * their context made current as well, so their lines keep the ids across `await`s.
 *
 * **Span work that can wait, waits for the message to leave, and is written in bursts.** A span
 * whose context no message carries yet costs nothing on the way from a tick to its order if it is
 * written later with the times it had: {@link ServiceTracer.record} (a span that already
 * happened), {@link MessageScope.end} and {@link ServiceTracer.endLater} (a span's end, with the
 * time of the call) queue the work, and the queue is written at most {@link SPAN_FLUSH_MS} ms
 * later in one go (at once, after the handler, once {@link SPAN_FLUSH_MAX} items wait; always after
 * the handler's group commit and sends, which run in microtasks). Only what a message carries on,
 * the span id of its parent, is made on the way. Why bursts: a span of Deno's ended alone, as
 * orders come (tens of ms apart), costs ~50 µs of the main thread to end and ~12-16 µs to start
 * (it wakes Deno's export thread, and finds its caches cold); ended 64 at a time, ~2 µs (measured
 * on 2026-12-02, 3,000 spans with two attributes; the start of a span cannot wait, its end can). An
 * order has about ten. A stopping service writes what is queued ({@link flushAllTracers}).
 *
 * @example
 * ```ts
 * const tracer = new ServiceTracer("risk-manager");
 * const scope = tracer.receive("risk-manager receive", envelope);
 * await scope.run(async () => {
 *   const order = decide();                 // log lines here carry trace_id and span_id
 *   if (order) {
 *     const orderCtx = tracer.asOrder(scope.context);
 *     const fields = tracer.inject(orderCtx); // { trace, span, flags } for the order's envelope
 *   }
 * });
 * scope.end();
 * ```
 * @module
 */
import {
  type Attributes,
  type Context,
  context,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  trace,
  type Tracer,
} from "@opentelemetry/api";
import { setImmediate } from "node:timers";
import { nowMs } from "./clock.ts";
import { newTraceId } from "./envelope.ts";
import { isValidFlags, isValidSpanId, isValidTraceId, SAMPLED_FLAG } from "./traceparent.ts";

/** The trace context fields of an envelope (issue 17 puts `span` and `flags` on the wire). */
export interface TraceFields {
  /** W3C trace-id: 32 lowercase hex digits. */
  readonly trace: string;
  /** W3C parent-id: the sender's span, 16 lowercase hex digits. */
  readonly span?: string;
  /** W3C trace-flags; bit 0 is `sampled`. */
  readonly flags?: number;
}

/** What an exemplar or a log line names of a trace. */
export interface TraceIds {
  readonly trace_id: string;
  readonly span_id: string;
}

/** What a log line names of a trace: a message that came without a span has only its trace id. */
export interface LogTraceIds {
  readonly trace_id: string;
  readonly span_id?: string;
}

/** Anything with a span context's ids and flags (an OpenTelemetry `SpanContext` is one). */
export interface TraceContextLike {
  readonly traceId: string;
  readonly spanId: string;
  readonly traceFlags: number;
}

const INVALID_TRACE = "00000000000000000000000000000000";

/**
 * The longest span work waits before it is written, in ms ({@link ServiceTracer.later}): long
 * enough that at the stress rate of ~65 orders a second the spans of several orders end in one
 * burst, short against the export's own batching (Deno's, `OTEL_BSP_SCHEDULE_DELAY`, 5 s by
 * default) so a trace reaches the backend no later for it.
 */
export const SPAN_FLUSH_MS = 100;

/** The queue's length at which its span work is written at once, after the handler. */
export const SPAN_FLUSH_MAX = 256;

/** The tracers with span work queued. */
const pending = new Set<ServiceTracer>();

/**
 * Writes the queued span work of every tracer of the process now: a stopping service calls it
 * before it exits, and Deno's export then flushes what was written.
 */
export function flushAllTracers(): void {
  for (const tracer of [...pending]) tracer.flush();
}

/** True when `sc` is a valid context whose `sampled` flag is set. */
export function isSampled(sc: TraceContextLike | undefined): boolean {
  return sc !== undefined && (sc.traceFlags & SAMPLED_FLAG) !== 0 && sc.traceId !== INVALID_TRACE &&
    sc.traceId.length === 32;
}

/**
 * The remote span context an envelope carries, or `undefined` when it carries none a receiver
 * may use: no `span` (a sender without tracing), or a malformed id or flags (a hostile or broken
 * peer: the message is handled with no trace context, never refused for it).
 */
export function spanContextOf(fields: TraceFields): SpanContext | undefined {
  const { trace: traceId, span: spanId } = fields;
  if (!isValidTraceId(traceId) || !isValidSpanId(spanId)) return undefined;
  const flags = fields.flags ?? 0;
  if (!isValidFlags(flags)) return undefined;
  return { traceId, spanId, traceFlags: flags, isRemote: true };
}

/**
 * The envelope fields of the span current in `ctx`. With no valid span there (tracing off: the
 * api's spans have all-zero ids; or a message that came with a trace id and no span) the
 * message carries `fallbackTrace` on when it is a valid trace id, else a trace id of its own,
 * and no span.
 */
export function traceFieldsOf(ctx: Context, fallbackTrace?: string): TraceFields {
  const sc = trace.getSpanContext(ctx);
  if (sc === undefined || sc.traceId === INVALID_TRACE || !isValidSpanId(sc.spanId)) {
    return { trace: isValidTraceId(fallbackTrace) ? fallbackTrace : newTraceId() };
  }
  return { trace: sc.traceId, span: sc.spanId, flags: sc.traceFlags };
}

/**
 * The exemplar labels of a sampled trace, `undefined` for an unsampled one: an exemplar whose
 * trace was not exported would be a dead link. `trace_id` is the OpenTelemetry name (and the
 * log field's, and Grafana's `exemplarTraceIdDestinations` name).
 */
export function exemplarOf(sc: TraceContextLike | undefined): TraceIds | undefined {
  if (!isSampled(sc) || !isValidSpanId(sc!.spanId)) return undefined;
  return { trace_id: sc!.traceId, span_id: sc!.spanId };
}

/** The ids of the message whose handler is running synchronously now (see the module doc). */
let handling: LogTraceIds | undefined;

/**
 * Runs `fn` with `ids` as the trace of the log lines it writes before its first `await` (and
 * returns what `fn` returns): the fast path for a message nothing will keep, without entering an
 * OpenTelemetry context. Nests; the previous ids are back when `fn` returns or throws.
 */
export function runWithTraceIds<T>(ids: LogTraceIds | undefined, fn: () => T): T {
  const outer = handling;
  handling = ids;
  try {
    return fn();
  } finally {
    handling = outer;
  }
}

/**
 * The log line ids of the trace being handled now: the active span's when there is one (a
 * sampled message or an order, across `await`s), else those of the message whose handler is
 * running synchronously ({@link runWithTraceIds}), else `undefined`. Costs ~30 ns.
 */
export function activeTraceIds(): LogTraceIds | undefined {
  const sc = trace.getActiveSpan()?.spanContext();
  if (sc === undefined || sc.traceId === INVALID_TRACE || sc.traceId.length !== 32) {
    return handling;
  }
  return { trace_id: sc.traceId, span_id: sc.spanId };
}

/**
 * The log line ids of envelope fields: the trace id, and the sender's span id when it has a
 * valid one; `undefined` for a malformed trace id (a hostile or broken peer's text is never
 * written into a log line as a trace id).
 */
export function logIdsOf(fields: TraceFields): LogTraceIds | undefined {
  if (!isValidTraceId(fields.trace)) return undefined;
  return isValidSpanId(fields.span)
    ? { trace_id: fields.trace, span_id: fields.span }
    : { trace_id: fields.trace };
}

/** A message being handled: its context, its span (when sampled), and how to end it. */
export interface MessageScope {
  /** The context to handle the message in (and to derive the next hop's fields from). */
  readonly context: Context;
  /** The span recording the handling, or `undefined` when nothing will keep it. */
  readonly span: Span | undefined;
  /** Whether the incoming context was sampled. */
  readonly sampled: boolean;
  /**
   * Runs `fn` in the message's trace: log lines written inside carry its ids (up to the first
   * `await` for an unsampled message; see the module doc). A sampled message's context is made
   * current for `fn` (and what it awaits); an unsampled one's is not (the fast path).
   */
  run<T>(fn: () => T): T;
  /**
   * Ends the span, if there is one, at `endTime` (epoch ms, default now); the end is written after
   * the handler ({@link ServiceTracer.endLater}). Idempotent.
   */
  end(endTime?: number): void;
}

/** Options of {@link ServiceTracer.record}. */
export interface RecordOptions {
  /** Span attributes. */
  readonly attributes?: Attributes;
  /** Span kind, default internal. */
  readonly kind?: SpanKind;
}

/**
 * One service's tracer, and the helpers its handlers call. Every method is safe with tracing off
 * (it then records nothing and costs tens of ns).
 */
export class ServiceTracer {
  /** The OpenTelemetry tracer, named for the service (the spans' instrumentation scope). */
  readonly tracer: Tracer;
  /**
   * Whether spans are recorded at all: a tracer was given, or a tracer provider is registered
   * (Deno's, with `OTEL_DENO=true`). False with tracing off, where an exemplar would name a
   * trace that is never exported.
   */
  readonly enabled: boolean;
  /** Span work queued for after the handler ({@link ServiceTracer.later}). */
  #deferred: (() => void)[] = [];
  readonly #runDeferred = (): void => this.flush();
  /** The timer that writes the queue, while it is not empty. */
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  /** Whether a write of the full queue is due in a `setImmediate`. */
  #flushSoon = false;
  /** The scope of the last unsampled message, reused for the next one of the same context. */
  #lastUnsampled: { trace: string; span: string; flags: number; scope: MessageScope } | undefined;

  /**
   * @param service The instrumentation scope's name: the service's name.
   * @param tracer The tracer to use; default the api's global one (Deno's, with `OTEL_DENO=true`).
   */
  constructor(readonly service: string, tracer?: Tracer) {
    this.tracer = tracer ?? trace.getTracer(service);
    const provider = trace.getTracerProvider();
    // Nothing registered: the api's own proxy, without a delegate.
    this.enabled = tracer !== undefined || !(provider instanceof ProxyTracerProvider) ||
      provider.getDelegateTracer(service) !== undefined;
  }

  /**
   * The root span of a tick (market-data): the head sampler decides whether it is kept. Pass the
   * context it returns to {@link ServiceTracer.stage} and {@link ServiceTracer.inject}.
   */
  root(
    name: string,
    attributes?: Attributes,
    startTime?: number,
  ): { span: Span; context: Context } {
    const span = this.tracer.startSpan(
      name,
      { kind: SpanKind.INTERNAL, attributes, startTime },
      ROOT_CONTEXT,
    );
    return { span, context: trace.setSpan(ROOT_CONTEXT, span) };
  }

  /**
   * The scope to handle an incoming message in. A sampled incoming context gets a consumer span,
   * child of the sender's; an unsampled one is made current as it is, without calling the tracer
   * (the fast path); a message with no usable context is handled in the empty context.
   */
  receive(name: string, fields: TraceFields, attributes?: Attributes): MessageScope {
    // The messages of one tick come one after another with the same context: the scope (and its
    // context, which Deno enters faster once it has seen it) of the previous one serves again.
    const last = this.#lastUnsampled;
    if (
      last !== undefined && fields.trace === last.trace && fields.span === last.span &&
      (fields.flags ?? 0) === last.flags
    ) return last.scope;
    const sc = spanContextOf(fields);
    if (sc === undefined) return scopeOf(this, ROOT_CONTEXT, undefined, false, logIdsOf(fields));
    const parent = trace.setSpanContext(ROOT_CONTEXT, sc);
    if (!isSampled(sc)) {
      const ids = { trace_id: sc.traceId, span_id: sc.spanId };
      const scope = scopeOf(this, parent, undefined, false, ids);
      this.#lastUnsampled = { trace: sc.traceId, span: sc.spanId, flags: sc.traceFlags, scope };
      return scope;
    }
    const span = this.tracer.startSpan(name, { kind: SpanKind.CONSUMER, attributes }, parent);
    const own = span.spanContext();
    // With tracing off the api's span has all-zero ids: the log lines name the sender's span.
    const ids = isValidSpanId(own.spanId) && own.traceId !== INVALID_TRACE
      ? { trace_id: own.traceId, span_id: own.spanId }
      : { trace_id: sc.traceId, span_id: sc.spanId };
    return scopeOf(this, trace.setSpan(parent, span), span, true, ids);
  }

  /**
   * A stage's span, child of the span current in `parent` (default: the active context), or
   * `undefined` when that one is not sampled (then nothing is recorded). End it yourself.
   * `startTime` (epoch ms, default now) starts it when the stage began, before the call;
   * `kind` is `PRODUCER` for a span whose context a message carries to the next service,
   * `CLIENT` for a call to the venue, else `INTERNAL` (the default).
   */
  stage(
    name: string,
    parent: Context = context.active(),
    attributes?: Attributes,
    startTime?: number,
    kind: SpanKind = SpanKind.INTERNAL,
  ): Span | undefined {
    if (!isSampled(trace.getSpanContext(parent))) return undefined;
    return this.tracer.startSpan(name, { kind, attributes, startTime }, parent);
  }

  /**
   * Records a span that already happened, from `startTime` to `endTime` (epoch ms), child of
   * `parent`: risk-manager's check batch, recorded once the approval made the trace an order's.
   * The span is written after the handler ({@link ServiceTracer.later}), so nothing can be a
   * child of it. Returns whether it will be (`false` when `parent` is not sampled, or with
   * tracing off).
   */
  record(
    name: string,
    parent: Context,
    startTime: number,
    endTime: number,
    options: RecordOptions = {},
  ): boolean {
    if (!this.enabled || !isSampled(trace.getSpanContext(parent))) return false;
    this.later(() => {
      this.tracer.startSpan(
        name,
        { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes, startTime },
        parent,
      ).end(endTime);
    });
    return true;
  }

  /** Ends `span` (if any) at `endTime` (epoch ms, default now: the time of this call), later. */
  endLater(span: Span | undefined, endTime: number = nowMs()): void {
    if (span === undefined) return;
    // With tracing off a span is the api's no-op one: nothing to write, nothing to queue.
    if (!this.enabled) return span.end(endTime);
    this.later(() => span.end(endTime));
  }

  /**
   * Queues `fn` (span work) to run after the current handler, its group commit and its sends, with
   * the rest of the queue: at most {@link SPAN_FLUSH_MS} ms later, or in a `setImmediate` once
   * {@link SPAN_FLUSH_MAX} items wait (so the queue stays bounded under load), in the order
   * queued; what it throws is dropped (a span is not worth a handler). {@link ServiceTracer.flush}
   * runs the queue now.
   */
  later(fn: () => void): void {
    const n = this.#deferred.push(fn);
    if (n === 1) {
      pending.add(this);
      this.#flushTimer = setTimeout(this.#runDeferred, SPAN_FLUSH_MS);
    } else if (n >= SPAN_FLUSH_MAX && !this.#flushSoon) {
      this.#flushSoon = true;
      setImmediate(this.#runDeferred);
    }
  }

  /** How many span writes wait in the queue. */
  get queued(): number {
    return this.#deferred.length;
  }

  /** Runs the queued span work now (a stopping service calls it before its export is flushed). */
  flush(): void {
    this.#flushSoon = false;
    const queued = this.#deferred;
    if (queued.length === 0) return;
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    pending.delete(this);
    this.#deferred = [];
    for (const fn of queued) {
      try {
        fn();
      } catch { /* a span that cannot be written is not the handler's failure */ }
    }
  }

  /**
   * The rule for orders: `ctx` with its span context forced sampled, so every span from here on
   * is kept under the parent-based sampler. A context already sampled is returned as it is; one
   * with no valid span context gets a sampled one, in trace `traceId` when that is a valid trace
   * id (the message's, which came without a span), else in a new trace (an order is never left
   * untraced).
   */
  asOrder(ctx: Context, traceId?: string): Context {
    const sc = trace.getSpanContext(ctx);
    if (sc !== undefined && sc.traceId !== INVALID_TRACE && isValidSpanId(sc.spanId)) {
      if (isSampled(sc)) return ctx;
      return trace.setSpanContext(ctx, { ...sc, traceFlags: sc.traceFlags | SAMPLED_FLAG });
    }
    return trace.setSpanContext(ctx, {
      traceId: isValidTraceId(traceId) ? traceId : newTraceId(),
      spanId: newSpanId(),
      traceFlags: SAMPLED_FLAG,
      isRemote: true,
    });
  }

  /**
   * The envelope fields for the next hop from `ctx`; with no span there, `fallbackTrace` (the
   * incoming message's trace id) is carried on (see {@link traceFieldsOf}).
   */
  inject(ctx: Context, fallbackTrace?: string): TraceFields {
    return traceFieldsOf(ctx, fallbackTrace);
  }
}

function scopeOf(
  tracer: ServiceTracer,
  ctx: Context,
  span: Span | undefined,
  sampled: boolean,
  ids: LogTraceIds | undefined,
): MessageScope {
  let ended = false;
  return {
    context: ctx,
    span,
    sampled,
    run: sampled
      ? (fn) => runWithTraceIds(ids, () => context.with(ctx, fn))
      : (fn) => runWithTraceIds(ids, fn),
    end(endTime?: number) {
      if (ended || span === undefined) return;
      ended = true;
      tracer.endLater(span, endTime);
    },
  };
}

const spanBytes = new Uint8Array(8);

/** A random span id: 16 lowercase hex digits, never all zeros. */
export function newSpanId(): string {
  for (;;) {
    crypto.getRandomValues(spanBytes);
    let s = "";
    for (const b of spanBytes) s += b.toString(16).padStart(2, "0");
    if (s !== "0000000000000000") return s;
  }
}
