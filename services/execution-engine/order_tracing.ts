/**
 * The execution-engine's part of an order's trace (lib/tracing.ts), kept out of the core: the
 * order handler (handlers.ts) runs the core inside the order's context, and these wrappers read
 * it where the core calls out.
 *
 * - {@link TracedVenue}: an `execution-engine venue` span around each new order's venue call
 *   (the paper exchange's and Alpaca's alike; Alpaca's `fetch` then gets Deno's own client span
 *   under it).
 * - {@link TracedOrderMetrics}: the order's span context, when sampled, becomes the exemplar of
 *   the tick-to-trade and submission latency observations the core makes.
 * - {@link OrderTraces}: remembers each order's context from its arrival, so that its execution
 *   reports, which the venue's updates cause long after, leave in an `execution-engine report`
 *   span of the same trace and carry it to risk-manager.
 *
 * The core's asynchronous work for an order (the wait for a price, the venue's answer) keeps the
 * context it started in, as OpenTelemetry's context follows promises. With tracing off every
 * wrapper costs a context read (tens of ns) and records nothing.
 * @module
 */
import { type Context, context, SpanKind, trace } from "@opentelemetry/api";
import type { ExecutionReport, Order, OrderState } from "../../lib/types.ts";
import { isSampled, type ServiceTracer, type TraceFields } from "../../lib/tracing.ts";
import type { OrderMetrics, SubmitStatus } from "./metrics.ts";
import type {
  LookupResult,
  RejectionReason,
  SubmitResult,
  Venue,
  VenueEvent,
  VenueName,
} from "./venue.ts";

/** How many orders' contexts {@link OrderTraces} keeps at most (the oldest go first). */
export const MAX_TRACED_ORDERS = 10_000;

/**
 * A venue whose `submit` is recorded as an `execution-engine venue` span, child of the active
 * (the order's) context; everything else goes to `inner` unchanged.
 */
export class TracedVenue implements Venue {
  readonly #inner: Venue;
  readonly #tracer: ServiceTracer;

  constructor(inner: Venue, tracer: ServiceTracer) {
    this.#inner = inner;
    this.#tracer = tracer;
  }

  get name(): VenueName {
    return this.#inner.name;
  }

  start(): Promise<void> {
    return this.#inner.start();
  }

  submit(order: Order): Promise<SubmitResult> {
    const parent = context.active();
    const span = this.#tracer.stage(
      "execution-engine venue",
      parent,
      {
        "trading.venue": this.#inner.name,
        "trading.client_order_id": order.clientOrderId,
      },
      undefined,
      SpanKind.CLIENT,
    );
    if (span === undefined) return this.#inner.submit(order);
    const sent = context.with(trace.setSpan(parent, span), () => this.#inner.submit(order));
    return sent.then(
      (answer) => {
        span.setAttribute("trading.answer", answer.kind);
        this.#tracer.endLater(span);
        return answer;
      },
      (error) => {
        span.setAttribute("trading.answer", "error");
        this.#tracer.endLater(span);
        throw error;
      },
    );
  }

  cancel(clientOrderId: string, venueOrderId: string | undefined): Promise<boolean> {
    return this.#inner.cancel(clientOrderId, venueOrderId);
  }

  lookup(clientOrderId: string): Promise<LookupResult> {
    return this.#inner.lookup(clientOrderId);
  }

  onEvent(handler: (event: VenueEvent) => void): void {
    this.#inner.onEvent(handler);
  }

  get onResync(): ((handler: () => void) => void) | undefined {
    const inner = this.#inner;
    return inner.onResync === undefined ? undefined : (handler) => inner.onResync!(handler);
  }

  ready(): Record<string, boolean> {
    return this.#inner.ready();
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}

/** The span context active now, if sampled (an order's, inside the order handler's context). */
function activeSampled() {
  const sc = trace.getSpanContext(context.active());
  return isSampled(sc) ? sc : undefined;
}

/**
 * The core's {@link OrderMetrics} with exemplars: tick-to-trade and submission latency are
 * observed with the active span context (the order's), the rest goes to `inner` as it is.
 */
export class TracedOrderMetrics implements OrderMetrics {
  readonly #inner: OrderMetrics;

  constructor(inner: OrderMetrics) {
    this.#inner = inner;
  }

  tickToTrade(latencyUs: number): void {
    this.#inner.tickToTrade(latencyUs, activeSampled());
  }

  submissionLatency(orderType: string, latencyUs: number): void {
    this.#inner.submissionLatency(orderType, latencyUs, activeSampled());
  }

  submitted(orderType: string, status: SubmitStatus): void {
    this.#inner.submitted(orderType, status);
  }

  rejected(reason: RejectionReason, symbol: string): void {
    this.#inner.rejected(reason, symbol);
  }

  illegalTransition(from: OrderState, to: OrderState): void {
    this.#inner.illegalTransition(from, to);
  }

  openOrders(count: number): void {
    this.#inner.openOrders(count);
  }

  filled(symbol: string, full: boolean): void {
    this.#inner.filled(symbol, full);
  }
}

const FINAL: ReadonlySet<string> = new Set(["filled", "canceled", "rejected", "expired"]);

/**
 * Each sampled order's context, by client order id, from its arrival until its final report
 * (at most {@link MAX_TRACED_ORDERS}: the oldest are forgotten first, and their later reports
 * carry the trace id only, as do those of orders journaled before a restart).
 */
export class OrderTraces {
  readonly #tracer: ServiceTracer;
  readonly #max: number;
  readonly #orders = new Map<string, Context>();

  constructor(tracer: ServiceTracer, max = MAX_TRACED_ORDERS) {
    this.#tracer = tracer;
    this.#max = max;
  }

  /** Orders remembered now. */
  get size(): number {
    return this.#orders.size;
  }

  /** Remembers the context an order arrived in, when it is sampled. */
  remember(clientOrderId: string, ctx: Context): void {
    if (!isSampled(trace.getSpanContext(ctx))) return;
    if (this.#orders.size >= this.#max && !this.#orders.has(clientOrderId)) {
      this.#orders.delete(this.#orders.keys().next().value!);
    }
    this.#orders.set(clientOrderId, ctx);
  }

  /**
   * Sends `report` with `send`, in an `execution-engine report` span of its order's trace when
   * the order is remembered, its envelope carrying that span; otherwise with the journal's
   * trace id `traceId` only. A final report forgets the order.
   */
  report<T>(report: ExecutionReport, traceId: string, send: (fields: TraceFields) => T): T {
    const ctx = this.#orders.get(report.clientOrderId);
    if (FINAL.has(report.state)) this.#orders.delete(report.clientOrderId);
    const span = ctx === undefined ? undefined : this.#tracer.stage(
      "execution-engine report",
      ctx,
      {
        "trading.report": report.kind,
        "trading.state": report.state,
      },
      undefined,
      SpanKind.PRODUCER,
    );
    if (span === undefined) return send({ trace: traceId });
    try {
      return send(this.#tracer.inject(trace.setSpan(ctx!, span), traceId));
    } finally {
      this.#tracer.endLater(span);
    }
  }
}
