/**
 * A tracer double that records every span it is asked for, for unit tests of lib/tracing.ts in
 * the test process (where the api's own tracer is a no-op). It samples like the parent-based
 * sampler: a root is sampled when `sampleRoots` says so, a child follows its parent's flag.
 * @module
 */
import {
  type Attributes,
  type Context,
  type Span,
  type SpanContext,
  type SpanOptions,
  SpanStatusCode,
  trace,
  type Tracer,
} from "@opentelemetry/api";
import { newTraceId } from "../envelope.ts";
import { setImmediate } from "node:timers";
import { flushAllTracers, newSpanId } from "../tracing.ts";

/** One span the tracer was asked for. */
export interface RecordedSpan {
  readonly name: string;
  readonly options: SpanOptions;
  /** The parent's span context, if the context given had one. */
  readonly parent: SpanContext | undefined;
  readonly context: SpanContext;
  /** When it started, epoch ms: `options.startTime` when a number, else when it was asked for. */
  readonly startedAt: number;
  /** The time given to `end()`, or `null` when ended without one; `undefined` until ended. */
  endTime: number | null | undefined;
}

/** A {@link Tracer} that records its spans in {@link RecordingTracer.spans}. */
export class RecordingTracer implements Tracer {
  readonly spans: RecordedSpan[] = [];

  /** @param sampleRoots Whether a span with no parent is sampled (the head decision). */
  constructor(private readonly sampleRoots = true) {}

  startSpan(name: string, options: SpanOptions = {}, ctx?: Context): Span {
    const parent = ctx === undefined ? undefined : trace.getSpanContext(ctx);
    const sc: SpanContext = {
      traceId: parent?.traceId ?? newTraceId(),
      spanId: newSpanId(),
      traceFlags: parent ? parent.traceFlags & 1 : this.sampleRoots ? 1 : 0,
    };
    const startedAt = typeof options.startTime === "number"
      ? options.startTime
      : performance.timeOrigin + performance.now();
    const record: RecordedSpan = {
      name,
      options,
      parent,
      context: sc,
      startedAt,
      endTime: undefined,
    };
    this.spans.push(record);
    const span: Span = {
      spanContext: () => sc,
      setAttribute: () => span,
      setAttributes: (_: Attributes) => span,
      addEvent: () => span,
      addLink: () => span,
      addLinks: () => span,
      setStatus: (_s: { code: SpanStatusCode }) => span,
      updateName: () => span,
      end: (endTime?: unknown) => {
        record.endTime = typeof endTime === "number" ? endTime : null;
      },
      isRecording: () => record.endTime === undefined,
      recordException: () => {},
    };
    return span;
  }

  startActiveSpan(): never {
    throw new Error(
      "Cannot start an active span: the code under test must not use startActiveSpan",
    );
  }
}

/**
 * Resolves once the span work lib/tracing.ts deferred so far (`ServiceTracer.later`) has been
 * written: after the handlers' microtasks and a turn of the event loop (an immediate queued now
 * runs after the handler's group commit and sends), it writes every tracer's queue at once, as a
 * stopping service does, rather than wait up to `SPAN_FLUSH_MS` for the timer.
 */
export async function spansWritten(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  flushAllTracers();
}
