/**
 * The execution-engine's metrics recorder: every record into the service's own families
 * goes through {@link ExecutionEngineMetrics}, so their label values are chosen in one
 * place (order types and symbols folded into closed sets, the venue as `exchange`).
 *
 * The core records through the small {@link OrderMetrics} interface, the venues' API
 * clients through {@link ApiMetrics}. The per-order records (tick-to-trade, submission
 * latency, orders submitted by status, open orders) use label children bound once at
 * construction. Every counter series of a closed label set (order types and statuses,
 * rejection reasons and fills per configured symbol and `other`, illegal transitions)
 * exists at 0 from construction, so the first event of each is a step alerts see.
 *
 * Latency is recorded twice: in the seed's µs histograms, whose buckets stop at 5 ms
 * (order submission) and 100 ms (tick-to-trade), and in seconds histograms whose buckets
 * reach 10 s (`LATENCY_SECONDS_BUCKETS` of lib/metrics.ts), which the SLOs and quantile panels read.
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
import type { Gauge, Histogram, LabelValues } from "prom-client";
import {
  type BoundCounter,
  boundCounter,
  type BoundHistogram,
  boundHistogram,
} from "../../lib/bound_metrics.ts";
import {
  closedSet,
  type Families,
  observeWithExemplar,
  symbolLabel,
  zeroSeries,
} from "../../lib/metrics.ts";
import { exemplarOf, type TraceContextLike, type TraceIds } from "../../lib/tracing.ts";
import { ORDER_STATES, ORDER_TYPES, type OrderState } from "../../lib/types.ts";
import { checkTransition } from "./order_state.ts";
import { REJECTION_REASONS, type RejectionReason, type VenueName } from "./venue.ts";

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
  /** `execution_engine_fills_total`: a fill applied; `full` when it completed the order. */
  filled(symbol: string, full: boolean): void;
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
  readonly #tickToTrade: BoundHistogram;
  readonly #submissionLatency: Record<OrderTypeLabel, BoundHistogram>;
  readonly #submitted: Record<OrderTypeLabel, Record<SubmitStatus, BoundCounter>>;
  readonly #openOrders: Gauge.Internal<"exchange">;
  readonly #tickToTradeSeconds: BoundHistogram;
  readonly #submissionSeconds: Record<OrderTypeLabel, BoundHistogram>;
  readonly #exchange: VenueName;

  /**
   * Binds the per-order label children for `options.exchange` and creates every counter
   * series (and the seconds histograms) at 0. The venue account and rate-limit gauges stay
   * absent until a venue sets them.
   */
  constructor(families: Families<"execution-engine">, options: ExecutionEngineMetricsOptions) {
    this.#families = families;
    this.#symbols = new Set(options.symbols);
    const exchange = options.exchange;
    this.#exchange = exchange;
    const symbols = [...this.#symbols, "other"];
    zeroSeries(families.execution_engine_orders_submitted_total, {
      order_type: ORDER_TYPE_LABELS,
      status: ["success", "failure"],
      exchange: [exchange],
    });
    zeroSeries(families.execution_engine_order_rejections_total, {
      rejection_reason: REJECTION_REASONS,
      symbol: symbols,
    });
    zeroSeries(families.execution_engine_fills_total, {
      exchange: [exchange],
      symbol: symbols,
      fill: ["partial", "full"],
    });
    for (const from of ORDER_STATES) {
      for (const to of ORDER_STATES) {
        // A change to the same state is a no-op, never refused; the rest that are not
        // legal are the series of illegal transitions.
        if (from !== to && !checkTransition(from, to).ok) {
          families.execution_engine_illegal_transitions_total.inc({ from, to }, 0);
        }
      }
    }
    const seconds = families.execution_engine_tick_to_trade_latency_seconds;
    seconds.zero({ exchange });
    this.#tickToTradeSeconds = boundHistogram(seconds, { exchange });
    const submission = families.execution_engine_order_submission_latency_seconds;
    for (const orderType of ORDER_TYPE_LABELS) {
      submission.zero({ exchange, order_type: orderType });
    }
    this.#submissionSeconds = {
      market: boundHistogram(submission, { exchange, order_type: "market" }),
      limit: boundHistogram(submission, { exchange, order_type: "limit" }),
      other: boundHistogram(submission, { exchange, order_type: "other" }),
    };
    families.execution_engine_oldest_open_order_age_seconds.set({ exchange }, 0);
    // prom-client shows an unlabelled gauge at 0 from creation: "not tradable" and "no
    // request left" before the venue said anything, and for ever with the paper venue,
    // which has no account and no rate limit. Absent until the venue reports (the alerts
    // on them judge nothing while absent).
    families.execution_engine_venue_account_tradable.remove();
    families.execution_engine_api_rate_limit_remaining.remove();
    this.#tickToTrade = boundHistogram(families.execution_engine_tick_to_trade_latency_us, {
      exchange,
    });
    this.#openOrders = families.execution_engine_open_orders.labels({ exchange });
    const latency = families.execution_engine_order_submission_latency_us;
    const submitted = families.execution_engine_orders_submitted_total;
    const bySubmitStatus = (orderType: OrderTypeLabel) => ({
      success: boundCounter(submitted, { order_type: orderType, status: "success", exchange }),
      failure: boundCounter(submitted, { order_type: orderType, status: "failure", exchange }),
    });
    this.#submissionLatency = {
      market: boundHistogram(latency, { exchange, order_type: "market" }),
      limit: boundHistogram(latency, { exchange, order_type: "limit" }),
      other: boundHistogram(latency, { exchange, order_type: "other" }),
    };
    this.#submitted = {
      market: bySubmitStatus("market"),
      limit: bySubmitStatus("limit"),
      other: bySubmitStatus("other"),
    };
  }

  tickToTrade(latencyUs: number, trace?: TraceContextLike): void {
    const families = this.#families;
    observeLatency(
      { child: this.#tickToTrade, family: families.execution_engine_tick_to_trade_latency_us },
      {
        child: this.#tickToTradeSeconds,
        family: families.execution_engine_tick_to_trade_latency_seconds,
      },
      { exchange: this.#exchange },
      latencyUs,
      exemplarOf(trace),
    );
  }

  submissionLatency(orderType: string, latencyUs: number, trace?: TraceContextLike): void {
    const label = closedSet(ORDER_TYPES, orderType);
    const families = this.#families;
    observeLatency(
      {
        child: this.#submissionLatency[label],
        family: families.execution_engine_order_submission_latency_us,
      },
      {
        child: this.#submissionSeconds[label],
        family: families.execution_engine_order_submission_latency_seconds,
      },
      { exchange: this.#exchange, order_type: label },
      latencyUs,
      exemplarOf(trace),
    );
  }

  filled(symbol: string, full: boolean): void {
    this.#families.execution_engine_fills_total.inc({
      exchange: this.#exchange,
      symbol: symbolLabel(this.#symbols, symbol),
      fill: full ? "full" : "partial",
    });
  }

  /**
   * Reads `execution_engine_oldest_open_order_age_seconds` at every scrape from
   * `oldestOpenedAt`: the epoch ms the oldest order not in a final state was journaled,
   * or undefined when none is open (the gauge is then 0).
   */
  oldestOpenOrderFrom(oldestOpenedAt: () => number | undefined, now: () => number): void {
    const gauge = this.#families.execution_engine_oldest_open_order_age_seconds;
    const exchange = this.#exchange;
    (gauge as unknown as { collect: () => void }).collect = () => {
      let at: number | undefined;
      try {
        at = oldestOpenedAt();
      } catch {
        return; // the journal is closing: keep the last value
      }
      gauge.set({ exchange }, at === undefined ? 0 : Math.max(0, (now() - at) / 1000));
    };
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

/** A latency histogram's bound child, and its family for an observation with an exemplar. */
interface LatencySeries<L extends string> {
  readonly child: BoundHistogram;
  readonly family: Histogram<L>;
}

/**
 * Observes `latencyUs` in a µs histogram and in its seconds twin (the dashboard's panels and the
 * SLOs read the seconds): on their bound children, or, for a sampled order, on the labelled series
 * with the order's trace as the exemplar of both (a bound child cannot carry one, so only a sampled
 * order pays for the labelled call).
 */
function observeLatency<L extends string>(
  us: LatencySeries<L>,
  seconds: LatencySeries<L>,
  labels: LabelValues<L>,
  latencyUs: number,
  exemplar: TraceIds | undefined,
): void {
  if (exemplar === undefined) {
    us.child.observe(latencyUs);
    seconds.child.observe(latencyUs / 1e6);
    return;
  }
  observeWithExemplar(us.family, labels, latencyUs, exemplar);
  observeWithExemplar(seconds.family, labels, latencyUs / 1e6, exemplar);
}
