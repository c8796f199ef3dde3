/**
 * The execution-engine's metrics recorder: every record into the service's own families
 * goes through {@link ExecutionEngineMetrics}, so their label values are chosen in one
 * place (order types and symbols folded into closed sets, the venue as `exchange`).
 *
 * The core records through the small {@link OrderMetrics} interface, the venues' API
 * clients through {@link ApiMetrics}. The per-order records (tick-to-trade, submission
 * latency, orders submitted by status, open orders) use label children bound once at
 * construction.
 *
 * @example
 * ```ts
 * const metrics = new ExecutionEngineMetrics(ctx.metrics.families, {
 *   exchange: "sim",
 *   symbols: ctx.config.symbols,
 * });
 * metrics.submitted("market", "success");
 * ```
 * @module
 */
import type { Counter, Gauge, Histogram } from "prom-client";
import { closedSet, type Families, observeWithExemplar, symbolLabel } from "../../lib/metrics.ts";
import { exemplarOf, type TraceContextLike } from "../../lib/tracing.ts";
import { ORDER_TYPES, type OrderState } from "../../lib/types.ts";
import type { RejectionReason, VenueName } from "./venue.ts";

/** The `status` label of `execution_engine_orders_submitted_total`. */
export type SubmitStatus = "success" | "failure";

/** What the core records about orders. Label values are the recorder's business. */
export interface OrderMetrics {
  /**
   * `execution_engine_tick_to_trade_latency_us`: from market-data receiving the tick to
   * the order leaving for the venue, in µs. With the order's trace context, a sampled trace
   * becomes the bucket's exemplar (an unsampled one is never shown: its link would be dead).
   */
  tickToTrade(latencyUs: number, trace?: TraceContextLike): void;
  /**
   * `execution_engine_order_submission_latency_us`: one venue call for a new order, in µs; the
   * order's trace becomes the exemplar when it is sampled.
   */
  submissionLatency(orderType: string, latencyUs: number, trace?: TraceContextLike): void;
  /** `execution_engine_orders_submitted_total`: the venue's answer to a new order. */
  submitted(orderType: string, status: SubmitStatus): void;
  /** `execution_engine_order_rejections_total`: an order rejected, by reason and symbol. */
  rejected(reason: RejectionReason, symbol: string): void;
  /** `execution_engine_illegal_transitions_total`: a state change refused as illegal. */
  illegalTransition(from: OrderState, to: OrderState): void;
  /** `execution_engine_open_orders`: orders not in a final state. */
  openOrders(count: number): void;
}

/** One call to a venue's API (real for Alpaca, simulated by the paper venue). */
export interface ApiCall {
  /** An endpoint template, e.g. `/v2/orders/{id}`. */
  readonly endpoint: string;
  readonly method: string;
  /** The HTTP status code, or `timeout`/`network`. */
  readonly statusCode: string;
  /** How long the call took, in ms. */
  readonly ms: number;
}

/** One failed call to a venue's API. */
export interface ApiFailure {
  /** An endpoint template, e.g. `/v2/orders/{id}`, or `/stream`. */
  readonly endpoint: string;
  /** The HTTP status code, or `timeout`/`network`/`invalid`/`unauthorized`. */
  readonly statusCode: string;
  /** A code from the Alpaca client's closed set (`API_ERRORS`), never free text. */
  readonly errorMessage: string;
}

/** What the venues' API clients record. */
export interface ApiMetrics {
  /** `execution_engine_api_call_latency_ms`. */
  apiCall(call: ApiCall): void;
  /** `execution_engine_api_failures_total`. */
  apiFailure(failure: ApiFailure): void;
  /** `execution_engine_api_rate_limit_remaining`: the venue's `X-RateLimit-Remaining`. */
  rateLimitRemaining?(remaining: number): void;
}

/** What the Alpaca venue records about the account it trades. */
export interface VenueAccountMetrics {
  /** `execution_engine_venue_position_qty`: the venue's position of a symbol (signed). */
  venuePosition(symbol: string, qty: number): void;
  /** `execution_engine_venue_account_tradable`: 1 while the account may trade. */
  accountTradable(tradable: boolean): void;
}

/** Options of {@link ExecutionEngineMetrics}. */
export interface ExecutionEngineMetricsOptions {
  /** The venue orders go to: the `exchange` label. */
  readonly exchange: VenueName;
  /** Configured symbols: a `symbol` label outside them becomes `other`. */
  readonly symbols: readonly string[];
}

const ORDER_TYPE_LABELS = [...ORDER_TYPES, "other"] as const;
type OrderTypeLabel = typeof ORDER_TYPE_LABELS[number];

/** The execution-engine's recorder, over the families of `createServiceMetrics`. */
export class ExecutionEngineMetrics implements OrderMetrics, ApiMetrics, VenueAccountMetrics {
  readonly #families: Families<"execution-engine">;
  readonly #symbols: ReadonlySet<string>;
  readonly #tickToTrade: Histogram.Internal<"exchange">;
  readonly #submissionLatency: Record<
    OrderTypeLabel,
    Histogram.Internal<"exchange" | "order_type">
  >;
  readonly #submitted: Record<OrderTypeLabel, Record<SubmitStatus, Counter.Internal>>;
  readonly #openOrders: Gauge.Internal<"exchange">;
  readonly #exchange: VenueName;

  /** Binds the per-order label children for `options.exchange`. */
  constructor(families: Families<"execution-engine">, options: ExecutionEngineMetricsOptions) {
    this.#families = families;
    this.#symbols = new Set(options.symbols);
    const exchange = options.exchange;
    this.#exchange = exchange;
    this.#tickToTrade = families.execution_engine_tick_to_trade_latency_us.labels({ exchange });
    this.#openOrders = families.execution_engine_open_orders.labels({ exchange });
    const latency = families.execution_engine_order_submission_latency_us;
    const submitted = families.execution_engine_orders_submitted_total;
    const bySubmitStatus = (orderType: OrderTypeLabel) => ({
      success: submitted.labels({ order_type: orderType, status: "success", exchange }),
      failure: submitted.labels({ order_type: orderType, status: "failure", exchange }),
    });
    this.#submissionLatency = {
      market: latency.labels({ exchange, order_type: "market" }),
      limit: latency.labels({ exchange, order_type: "limit" }),
      other: latency.labels({ exchange, order_type: "other" }),
    };
    this.#submitted = {
      market: bySubmitStatus("market"),
      limit: bySubmitStatus("limit"),
      other: bySubmitStatus("other"),
    };
  }

  tickToTrade(latencyUs: number, trace?: TraceContextLike): void {
    const exemplar = exemplarOf(trace);
    // The bound child cannot carry an exemplar: only a sampled order pays for the labelled call.
    if (exemplar === undefined) this.#tickToTrade.observe(latencyUs);
    else {
      observeWithExemplar(
        this.#families.execution_engine_tick_to_trade_latency_us,
        { exchange: this.#exchange },
        latencyUs,
        exemplar,
      );
    }
  }

  submissionLatency(orderType: string, latencyUs: number, trace?: TraceContextLike): void {
    const label = closedSet(ORDER_TYPES, orderType);
    const exemplar = exemplarOf(trace);
    if (exemplar === undefined) this.#submissionLatency[label].observe(latencyUs);
    else {
      observeWithExemplar(
        this.#families.execution_engine_order_submission_latency_us,
        { exchange: this.#exchange, order_type: label },
        latencyUs,
        exemplar,
      );
    }
  }

  submitted(orderType: string, status: SubmitStatus): void {
    this.#submitted[closedSet(ORDER_TYPES, orderType)][status].inc();
  }

  rejected(reason: RejectionReason, symbol: string): void {
    this.#families.execution_engine_order_rejections_total.inc({
      rejection_reason: reason,
      symbol: symbolLabel(this.#symbols, symbol),
    });
  }

  illegalTransition(from: OrderState, to: OrderState): void {
    this.#families.execution_engine_illegal_transitions_total.inc({ from, to });
  }

  openOrders(count: number): void {
    this.#openOrders.set(count);
  }

  apiCall(call: ApiCall): void {
    this.#families.execution_engine_api_call_latency_ms.observe(
      { endpoint: call.endpoint, method: call.method, status_code: call.statusCode },
      call.ms,
    );
  }

  apiFailure(failure: ApiFailure): void {
    this.#families.execution_engine_api_failures_total.inc({
      endpoint: failure.endpoint,
      status_code: failure.statusCode,
      error_message: failure.errorMessage,
    });
  }

  rateLimitRemaining(remaining: number): void {
    this.#families.execution_engine_api_rate_limit_remaining.set(remaining);
  }

  venuePosition(symbol: string, qty: number): void {
    this.#families.execution_engine_venue_position_qty.set(
      { symbol: symbolLabel(this.#symbols, symbol) },
      qty,
    );
  }

  accountTradable(tradable: boolean): void {
    this.#families.execution_engine_venue_account_tradable.set(tradable ? 1 : 0);
  }
}
