/**
 * The metric catalogue of the trading system and the per-service registries.
 *
 * Every family of the seed (`monitoring-quickstart.md`) is declared once in
 * {@link CATALOGUE} with its exact name, help, label names and buckets, and the
 * service that owns it. A service calls {@link createServiceMetrics} and gets a
 * fresh prom-client {@link Registry} (never the global one) holding only its own
 * families, the `system_*` gauges and the runtime's default process metrics.
 *
 * Deviations from the seed (see README "Deviations"):
 * - `trading_realized_pnl_usd` is a gauge (P&L falls) without the unbounded `trade_id` label.
 * - Label values that would be unbounded (`error_message`, `rejection_reason`, URL paths)
 *   are codes from closed sets, normalised by {@link closedSet}.
 *
 * @example
 * ```ts
 * const m = createServiceMetrics("risk-manager");
 * m.families.risk_manager_checks_performed_total.inc({ check_type: "all_checks", result: "pass" });
 * const text = await m.registry.metrics();
 * ```
 * @module
 */
import {
  collectDefaultMetrics,
  Counter,
  Gauge,
  Histogram,
  type HistogramConfiguration,
  type LabelValues,
  type OpenMetricsContentType,
  Registry,
} from "prom-client";
import type { TraceIds } from "./tracing.ts";

/** The four services of the pipeline. */
export const SERVICES = [
  "market-data",
  "signal-bridge",
  "risk-manager",
  "execution-engine",
] as const;
/** One of {@link SERVICES}. */
export type ServiceName = typeof SERVICES[number];

/** Owner of a metric family: one service, or every service (`"all"`). */
export type Owner = ServiceName | "all";

/** The declaration of one metric family. */
export interface MetricSpec {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge" | "histogram";
  readonly labelNames: readonly string[];
  readonly buckets?: readonly number[];
  readonly owner: Owner;
  /** True for the families the seed specifies; false for the ones this project adds. */
  readonly seed: boolean;
  /**
   * A histogram whose buckets carry an exemplar (the trace id of an observation, shown in the
   * OpenMetrics exposition only): see {@link observeWithExemplar}.
   */
  readonly exemplars?: boolean;
}

function spec<
  const N extends string,
  const T extends MetricSpec["type"],
  const L extends readonly string[],
  const O extends Owner,
>(
  s: MetricSpec & { name: N; type: T; labelNames: L; owner: O },
): MetricSpec & { name: N; type: T; labelNames: L; owner: O } {
  return Object.freeze(s);
}

/**
 * Buckets of the latency histograms in seconds that this project adds beside the seed's
 * (100 µs to 10 s), reaching far past every latency threshold of the alerts and SLOs.
 */
export const LATENCY_SECONDS_BUCKETS = [
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
] as const;

/**
 * Buckets of `messaging_transit_latency_seconds`, in seconds: 25 µs to 5 s, fine below a
 * millisecond (a bare zeromq.js hop takes ~0.15 ms on one host, a pipeline hop ~0.65 ms at p50),
 * then coarser up to the seconds a stalled loop or a resend after a lost ack takes.
 */
export const TRANSIT_SECONDS_BUCKETS = [
  0.000025,
  0.00005,
  0.0001,
  0.0002,
  0.0003,
  0.0005,
  0.00075,
  0.001,
  0.002,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  1,
  5,
] as const;

/**
 * Every metric family of the system. Seed families keep the seed's names, help,
 * labels and buckets to the letter (the documented fixes aside).
 */
export const CATALOGUE = [
  // ===== LATENCY (seed) =====
  spec({
    name: "market_data_websocket_latency_us",
    help: "WebSocket message processing latency in microseconds",
    type: "histogram",
    labelNames: ["exchange", "message_type", "symbol"],
    buckets: [1, 5, 10, 25, 50, 100, 250, 500, 1000, 5000],
    owner: "market-data",
    seed: true,
  }),
  spec({
    name: "market_data_orderbook_update_latency_us",
    help: "Order book update latency in microseconds",
    type: "histogram",
    labelNames: ["symbol", "update_type"],
    buckets: [1, 2, 5, 10, 25, 50, 100],
    owner: "market-data",
    seed: true,
  }),
  spec({
    name: "signal_bridge_inference_latency_us",
    help: "ML model inference latency in microseconds",
    type: "histogram",
    labelNames: ["model_name"],
    buckets: [10, 25, 50, 100, 250, 500, 1000, 5000],
    owner: "signal-bridge",
    seed: true,
  }),
  spec({
    name: "risk_manager_pretrade_check_latency_us",
    help: "Pre-trade risk check latency in microseconds",
    type: "histogram",
    labelNames: ["check_type"],
    buckets: [5, 10, 25, 50, 100, 250, 500],
    owner: "risk-manager",
    seed: true,
    exemplars: true,
  }),
  spec({
    name: "execution_engine_order_submission_latency_us",
    help: "Order submission latency in microseconds",
    type: "histogram",
    labelNames: ["exchange", "order_type"],
    buckets: [25, 50, 100, 250, 500, 1000, 2500, 5000],
    owner: "execution-engine",
    seed: true,
    exemplars: true,
  }),
  spec({
    name: "execution_engine_api_call_latency_ms",
    help: "External API call latency in milliseconds",
    type: "histogram",
    labelNames: ["endpoint", "method", "status_code"],
    buckets: [10, 25, 50, 100, 250, 500, 1000, 2500],
    owner: "execution-engine",
    seed: true,
  }),
  // ===== THROUGHPUT (seed) =====
  spec({
    name: "market_data_messages_processed_total",
    help: "Total messages processed",
    type: "counter",
    labelNames: ["message_type", "symbol", "exchange"],
    owner: "market-data",
    seed: true,
  }),
  spec({
    name: "signal_bridge_signals_generated_total",
    help: "Total signals generated",
    type: "counter",
    labelNames: ["signal_type", "symbol", "confidence_bucket"],
    owner: "signal-bridge",
    seed: true,
  }),
  spec({
    name: "execution_engine_orders_submitted_total",
    help: "Total orders submitted",
    type: "counter",
    labelNames: ["order_type", "status", "exchange"],
    owner: "execution-engine",
    seed: true,
  }),
  spec({
    name: "risk_manager_checks_performed_total",
    help: "Total risk checks performed",
    type: "counter",
    labelNames: ["check_type", "result"],
    owner: "risk-manager",
    seed: true,
  }),
  // ===== ERRORS (seed) =====
  spec({
    name: "market_data_websocket_connection_failures_total",
    help: "WebSocket connection failures",
    type: "counter",
    labelNames: ["exchange", "error_type"],
    owner: "market-data",
    seed: true,
  }),
  spec({
    name: "execution_engine_order_rejections_total",
    help: "Order rejections",
    type: "counter",
    labelNames: ["rejection_reason", "symbol"],
    owner: "execution-engine",
    seed: true,
  }),
  spec({
    name: "risk_manager_risk_failures_total",
    help: "Risk check failures",
    type: "counter",
    labelNames: ["failure_type", "symbol"],
    owner: "risk-manager",
    seed: true,
  }),
  spec({
    name: "execution_engine_api_failures_total",
    help: "API call failures",
    type: "counter",
    labelNames: ["endpoint", "status_code", "error_message"],
    owner: "execution-engine",
    seed: true,
  }),
  // ===== BUSINESS (seed) =====
  spec({
    name: "trading_position_value_usd",
    help: "Current position value in USD",
    type: "gauge",
    labelNames: ["symbol", "side"],
    owner: "risk-manager",
    seed: true,
  }),
  spec({
    name: "trading_unrealized_pnl_usd",
    help: "Unrealized P&L in USD",
    type: "gauge",
    labelNames: ["symbol"],
    owner: "risk-manager",
    seed: true,
  }),
  spec({
    // Seed: a counter labelled {symbol, trade_id, strategy}. P&L falls, so a gauge;
    // trade_id is unbounded, so dropped.
    name: "trading_realized_pnl_usd",
    help: "Realized P&L in USD",
    type: "gauge",
    labelNames: ["symbol", "strategy"],
    owner: "risk-manager",
    seed: true,
  }),
  spec({
    name: "trading_open_positions_count",
    help: "Number of open positions",
    type: "gauge",
    labelNames: [],
    owner: "risk-manager",
    seed: true,
  }),
  spec({
    name: "trading_portfolio_value_usd",
    help: "Total portfolio value in USD",
    type: "gauge",
    labelNames: [],
    owner: "risk-manager",
    seed: true,
  }),
  // ===== SYSTEM (seed) =====
  spec({
    name: "system_cpu_usage_percent",
    help: "CPU usage percentage",
    type: "gauge",
    labelNames: ["service"],
    owner: "all",
    seed: true,
  }),
  spec({
    name: "system_memory_usage_mb",
    help: "Memory usage in MB",
    type: "gauge",
    labelNames: ["service"],
    owner: "all",
    seed: true,
  }),
  spec({
    name: "system_zmq_queue_depth",
    help: "ZMQ queue depth",
    type: "gauge",
    labelNames: ["service", "queue"],
    owner: "all",
    seed: true,
  }),
  // ===== Added by this project =====
  spec({
    name: "market_data_parse_errors_total",
    help: "Exchange messages that could not be parsed, by reason",
    type: "counter",
    labelNames: ["exchange", "reason"],
    owner: "market-data",
    seed: false,
  }),
  spec({
    name: "market_data_feed_last_message_age_seconds",
    help: "Seconds since the feed last delivered a message",
    type: "gauge",
    labelNames: ["exchange"],
    owner: "market-data",
    seed: false,
  }),
  spec({
    name: "market_data_feed_connected",
    help: "1 when the exchange feed is connected and authenticated, else 0",
    type: "gauge",
    labelNames: ["exchange"],
    owner: "market-data",
    seed: false,
  }),
  spec({
    name: "market_data_book_crossed_total",
    help: "Order book updates that left the book crossed or locked",
    type: "counter",
    labelNames: ["symbol", "kind"],
    owner: "market-data",
    seed: false,
  }),
  spec({
    name: "market_data_trade_corrections_total",
    help: "Trade corrections and cancels/errors from the exchange, by outcome " +
      "(applied to open bars, late: the bar was published, unknown: the trade was not seen)",
    type: "counter",
    labelNames: ["exchange", "action", "outcome"],
    owner: "market-data",
    seed: false,
  }),
  spec({
    name: "market_data_trades_excluded_total",
    help: "Trades whose conditions kept them out of bar prices (scope price) or bar volume " +
      "(scope volume)",
    type: "counter",
    labelNames: ["exchange", "scope"],
    owner: "market-data",
    seed: false,
  }),
  spec({
    name: "market_data_market_state",
    help: "Trading status of a symbol: 0 open, 1 extended hours, 2 closed, 3 halted",
    type: "gauge",
    labelNames: ["symbol"],
    owner: "market-data",
    seed: false,
  }),
  spec({
    name: "market_data_server_errors_total",
    help: "Error messages sent by the exchange's stream, by error code",
    type: "counter",
    labelNames: ["exchange", "code"],
    owner: "market-data",
    seed: false,
  }),
  spec({
    name: "market_data_feed_stopped",
    help: "1 while a feed connection has stopped reconnecting after an error no reconnect " +
      "can mend (Alpaca 402, 409, 410, 411), else 0",
    type: "gauge",
    labelNames: ["exchange"],
    owner: "market-data",
    seed: false,
  }),
  spec({
    name: "signal_bridge_signals_suppressed_total",
    help: "Signals not emitted, by reason",
    type: "counter",
    labelNames: ["reason", "symbol"],
    owner: "signal-bridge",
    seed: false,
  }),
  spec({
    name: "risk_manager_trading_state",
    help: "Trading state: 0 ACTIVE, 1 REDUCING, 2 HALTED",
    type: "gauge",
    labelNames: [],
    owner: "risk-manager",
    seed: false,
  }),
  spec({
    name: "risk_manager_circuit_breaker_tripped",
    help: "1 while the circuit breaker is tripped, else 0",
    type: "gauge",
    labelNames: [],
    owner: "risk-manager",
    seed: false,
  }),
  spec({
    name: "risk_manager_daily_pnl_usd",
    help: "Daily P&L (realized plus unrealized) in USD",
    type: "gauge",
    labelNames: [],
    owner: "risk-manager",
    seed: false,
  }),
  spec({
    name: "risk_manager_daily_loss_limit_usd",
    help: "Configured daily loss limit in USD (a positive number)",
    type: "gauge",
    labelNames: [],
    owner: "risk-manager",
    seed: false,
  }),
  spec({
    name: "risk_manager_orphan_orders_closed_total",
    help: "Open orders execution-engine never received, closed by reconciliation once they expired",
    type: "counter",
    labelNames: [],
    owner: "risk-manager",
    seed: false,
  }),
  spec({
    // The durable record of a decision, apart from the checks (all_checks times those
    // alone); the seed's microsecond buckets of order submission, which span an fsync.
    // Not a seed name, so in base units (promtool), with the same bounds in seconds.
    name: "risk_manager_decision_record_latency_seconds",
    help: "Time from a risk decision to the end of the commit that makes it durable (its " +
      "order and outbox rows, with the decisions committed with it), in seconds",
    type: "histogram",
    labelNames: [],
    // 25 us .. 5 ms, as seconds.
    buckets: [0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005],
    owner: "risk-manager",
    seed: false,
    exemplars: true,
  }),
  spec({
    name: "risk_manager_position_mismatches_total",
    help: "Positions found to differ from the venue's in two reconciliations, the venue's " +
      "positions read again in between and nothing in flight, by symbol (counted once until " +
      "they agree again)",
    type: "counter",
    labelNames: ["symbol"],
    owner: "risk-manager",
    seed: false,
  }),
  spec({
    name: "risk_manager_position_mismatched_symbols",
    help: "Symbols whose position differs from the venue's now (confirmed, not yet agreeing)",
    type: "gauge",
    labelNames: [],
    owner: "risk-manager",
    seed: false,
  }),
  spec({
    name: "risk_manager_venue_rejections_total",
    help: "Orders execution-engine rejected or expired unsent, as risk-manager received them, " +
      "by reason",
    type: "counter",
    labelNames: ["reason"],
    owner: "risk-manager",
    seed: false,
  }),
  spec({
    name: "execution_engine_illegal_transitions_total",
    help: "Order state transitions refused as illegal",
    type: "counter",
    labelNames: ["from", "to"],
    owner: "execution-engine",
    seed: false,
  }),
  spec({
    name: "execution_engine_open_orders",
    help: "Orders sent to the venue and not yet in a final state",
    type: "gauge",
    labelNames: ["exchange"],
    owner: "execution-engine",
    seed: false,
  }),
  spec({
    name: "execution_engine_tick_to_trade_latency_us",
    help:
      "Time from market-data receiving the tick to the venue receiving the order, in microseconds",
    type: "histogram",
    labelNames: ["exchange"],
    buckets: [100, 250, 500, 1000, 2000, 5000, 10000, 25000, 50000, 100000],
    owner: "execution-engine",
    seed: false,
    exemplars: true,
  }),
  spec({
    name: "execution_engine_api_rate_limit_remaining",
    help: "Requests left in the venue's rate-limit window (X-RateLimit-Remaining of the " +
      "latest answer)",
    type: "gauge",
    labelNames: [],
    owner: "execution-engine",
    seed: false,
  }),
  spec({
    name: "execution_engine_venue_position_qty",
    help: "Position the venue holds per symbol (signed; short below zero), from its " +
      "positions and the position_qty of fills",
    type: "gauge",
    labelNames: ["symbol"],
    owner: "execution-engine",
    seed: false,
  }),
  spec({
    name: "execution_engine_venue_account_tradable",
    help: "1 while the venue account may trade (status ACTIVE, not blocked), else 0",
    type: "gauge",
    labelNames: [],
    owner: "execution-engine",
    seed: false,
  }),
  // ===== Added for alerting (monitoring/alerts/trading_system.yml) =====
  spec({
    name: "market_data_feed_socket_connected",
    help: "1 while one connection of the feed (socket: stocks, crypto or main) is connected " +
      "and authenticated, else 0",
    type: "gauge",
    labelNames: ["exchange", "socket"],
    owner: "market-data",
    seed: false,
  }),
  spec({
    name: "market_data_feed_socket_last_message_age_seconds",
    help: "Seconds since one connection of the feed last delivered a frame (since start-up " +
      "before the first)",
    type: "gauge",
    labelNames: ["exchange", "socket"],
    owner: "market-data",
    seed: false,
  }),
  spec({
    name: "market_data_feed_stale_after_seconds",
    help: "Configured silence after which a feed connection is stale " +
      "(marketData.staleAfterMs), in seconds",
    type: "gauge",
    labelNames: ["exchange", "socket"],
    owner: "market-data",
    seed: false,
  }),
  spec({
    name: "market_data_feed_connection_failures_total",
    help: "Connection failures of one connection of the feed, by kind",
    type: "counter",
    labelNames: ["exchange", "socket", "error_type"],
    owner: "market-data",
    seed: false,
  }),
  spec({
    name: "execution_engine_fills_total",
    help: "Fills applied to orders (fill: partial, or full when it completes the order)",
    type: "counter",
    labelNames: ["exchange", "symbol", "fill"],
    owner: "execution-engine",
    seed: false,
  }),
  spec({
    name: "execution_engine_oldest_open_order_age_seconds",
    help: "Age of the oldest order not yet in a final state, in seconds (0 when none is open)",
    type: "gauge",
    labelNames: ["exchange"],
    owner: "execution-engine",
    seed: false,
  }),
  spec({
    // Beside the seed's execution_engine_order_submission_latency_us, whose highest bucket
    // is its own 5 ms threshold: these buckets reach 10 s, so quantiles and SLOs see the tail.
    name: "execution_engine_order_submission_latency_seconds",
    help: "Order submission latency (one venue call for a new order) in seconds",
    type: "histogram",
    labelNames: ["exchange", "order_type"],
    buckets: LATENCY_SECONDS_BUCKETS,
    owner: "execution-engine",
    seed: false,
    exemplars: true,
  }),
  spec({
    name: "execution_engine_tick_to_trade_latency_seconds",
    help: "Time from market-data receiving the tick to the order leaving for the venue, in seconds",
    type: "histogram",
    labelNames: ["exchange"],
    buckets: LATENCY_SECONDS_BUCKETS,
    owner: "execution-engine",
    seed: false,
    exemplars: true,
  }),
  spec({
    name: "messaging_stale_after_seconds",
    help: "Configured age after which the service treats what a channel brings as stale, " +
      "in seconds (the threshold of messaging_last_message_age_seconds)",
    type: "gauge",
    labelNames: ["service", "channel"],
    owner: "all",
    seed: false,
  }),
  // ===== Messaging (lib/messaging/): every channel of every service =====
  spec({
    name: "messaging_messages_sent_total",
    help: "Messages sent (first transmissions, heartbeats included)",
    type: "counter",
    labelNames: ["service", "channel", "type"],
    owner: "all",
    seed: false,
  }),
  spec({
    name: "messaging_messages_received_total",
    help: "Messages received and decoded (heartbeats included, duplicates excluded)",
    type: "counter",
    labelNames: ["service", "channel", "type"],
    owner: "all",
    seed: false,
  }),
  spec({
    name: "messaging_decode_errors_total",
    help: "Frames that could not be decoded or whose body failed its schema, by reason",
    type: "counter",
    labelNames: ["service", "channel", "reason"],
    owner: "all",
    seed: false,
  }),
  spec({
    name: "messaging_sequence_gaps_total",
    help: "Sequence gaps seen on a channel (a publisher restart is not a gap)",
    type: "counter",
    labelNames: ["service", "channel"],
    owner: "all",
    seed: false,
  }),
  spec({
    name: "messaging_messages_missed_total",
    help: "Messages missing from sequence gaps",
    type: "counter",
    labelNames: ["service", "channel"],
    owner: "all",
    seed: false,
  }),
  spec({
    name: "messaging_publisher_restarts_total",
    help: "Publisher restarts seen (a new epoch from a known publisher)",
    type: "counter",
    labelNames: ["service", "channel"],
    owner: "all",
    seed: false,
  }),
  spec({
    name: "messaging_duplicates_total",
    help:
      "Reliable messages received again after delivery (resends), acknowledged and not redelivered",
    type: "counter",
    labelNames: ["service", "channel"],
    owner: "all",
    seed: false,
  }),
  spec({
    name: "messaging_last_message_age_seconds",
    help: "Seconds since the channel last received a valid message, heartbeats included " +
      "(since it opened, if none yet)",
    type: "gauge",
    labelNames: ["service", "channel"],
    owner: "all",
    seed: false,
  }),
  spec({
    name: "messaging_dropped_total",
    help: "Messages dropped, by reason",
    type: "counter",
    labelNames: ["service", "channel", "reason"],
    owner: "all",
    seed: false,
  }),
  spec({
    name: "messaging_handler_errors_total",
    help: "Message handlers that threw or rejected",
    type: "counter",
    labelNames: ["service", "channel"],
    owner: "all",
    seed: false,
  }),
  spec({
    name: "messaging_resends_total",
    help: "Reliable messages sent again because no ack came in time or the receiver asked",
    type: "counter",
    labelNames: ["service", "channel"],
    owner: "all",
    seed: false,
  }),
  spec({
    name: "messaging_peers_authenticated_total",
    help: "Peers admitted by the ZAP handler (CURVE key configured for the channel)",
    type: "counter",
    labelNames: ["service", "channel"],
    owner: "all",
    seed: false,
  }),
  spec({
    name: "messaging_peers_refused_total",
    help: "Peers refused by the ZAP handler, by reason (unknown_key, mechanism, bad_request)",
    type: "counter",
    labelNames: ["service", "channel", "reason"],
    owner: "all",
    seed: false,
  }),
  spec({
    name: "messaging_control_refused_total",
    help: "Reliable-channel frames refused for their origin or content, by reason",
    type: "counter",
    labelNames: ["service", "channel", "reason"],
    owner: "all",
    seed: false,
  }),
  spec({
    name: "messaging_reconnects_total",
    help: "Connections dialled again after the peer fell silent (a handshake that failed, " +
      "an impostor on the port, a dead peer)",
    type: "counter",
    labelNames: ["service", "channel"],
    owner: "all",
    seed: false,
  }),
  spec({
    name: "messaging_transit_latency_seconds",
    help: "Time from a message's send stamp (its envelope's ts) to the receiving service " +
      "reading it off the socket, in seconds (a negative time, clocks skewed across hosts, " +
      "counts as 0)",
    type: "histogram",
    labelNames: ["service", "channel"],
    buckets: TRANSIT_SECONDS_BUCKETS,
    owner: "all",
    seed: false,
  }),
  spec({
    name: "messaging_channel_secure",
    help: "1 while a channel's socket runs CURVE, 0 while it runs plain TCP (insecure)",
    type: "gauge",
    labelNames: ["service", "channel"],
    owner: "all",
    seed: false,
  }),
  spec({
    name: "service_restarts_total",
    help: "Times the supervisor (deno task start) restarted this service after it crashed",
    type: "counter",
    labelNames: ["service"],
    owner: "all",
    seed: false,
  }),
  spec({
    name: "http_requests_total",
    help: "HTTP requests served by the service's own server",
    type: "counter",
    labelNames: ["service", "route", "method", "status_code"],
    owner: "all",
    seed: false,
  }),
] as const;

type Spec = typeof CATALOGUE[number];
type LabelsOf<S extends Spec> = S["labelNames"][number];
type MetricOf<S extends Spec> = S["type"] extends "counter" ? Counter<LabelsOf<S>>
  : S["type"] extends "gauge" ? Gauge<LabelsOf<S>>
  : Histogram<LabelsOf<S>>;
type OwnedBy<O extends Owner> = Extract<Spec, { owner: O | "all" }>;
/** The families of one service, keyed by metric name. */
export type Families<O extends ServiceName> = { [S in OwnedBy<O> as S["name"]]: MetricOf<S> };

/** What {@link createServiceMetrics} returns. */
export interface ServiceMetrics<O extends ServiceName> {
  readonly service: O;
  readonly registry: Registry;
  readonly families: Families<O>;
  /** Stops the periodic `system_*` sampler. */
  stop(): void;
}

/**
 * The catalogue's declaration of `name`.
 *
 * @throws {Error} If the catalogue has no family of that name.
 */
export function specOf(name: string): MetricSpec {
  const s = CATALOGUE.find((c) => c.name === name);
  if (s === undefined) throw new Error(`Cannot find metric "${name}" in the catalogue`);
  return s;
}

/**
 * The family `name` of the catalogue on `registry`: the one already registered there,
 * or a new one built from its declaration. Lets shared code (the messaging layer) use a
 * service's registry and a bare test registry alike.
 *
 * @throws {Error} If the name is not in the catalogue, or a metric of another type holds it.
 */
export function familyOn<M extends Counter | Gauge | Histogram>(
  registry: Registry,
  name: string,
): M {
  const s = specOf(name);
  const existing = registry.getSingleMetric(name);
  if (existing !== undefined) {
    const ok = s.type === "counter"
      ? existing instanceof Counter
      : s.type === "gauge"
      ? existing instanceof Gauge
      : existing instanceof Histogram;
    if (!ok) {
      throw new Error(
        `Cannot register metric "${name}": a metric that is not a ${s.type} has that name`,
      );
    }
    return existing as M;
  }
  return build(s, registry) as M;
}

function build(s: MetricSpec, registry: Registry): Counter | Gauge | Histogram {
  const common = {
    name: s.name,
    help: s.help,
    labelNames: [...s.labelNames],
    registers: [registry],
  };
  switch (s.type) {
    case "counter":
      return new Counter(common);
    case "gauge":
      return new Gauge(common);
    case "histogram": {
      const config = { ...common, buckets: [...(s.buckets ?? [])] };
      // prom-client refuses exemplars on a Prometheus-text registry (a bare test registry).
      return s.exemplars && (registry.contentType as string) === Registry.OPENMETRICS_CONTENT_TYPE
        ? new ExemplarHistogram(config)
        : new Histogram(config);
    }
  }
}

/**
 * A histogram with exemplars that still takes every call form of `observe`. prom-client's
 * exemplar histogram replaces `observe(labels, value)` by `observe({ labels, value,
 * exemplarLabels })` (the two-argument form then throws); this one dispatches on the form, so
 * the code that records without a trace (and the bound children, which never carry one) keeps
 * working.
 */
class ExemplarHistogram<T extends string> extends Histogram<T> {
  constructor(config: HistogramConfiguration<T>) {
    super({ ...config, enableExemplars: true });
    // prom-client 15.1.3 (pinned) sets `observe` per instance to one of these two.
    const self = this as unknown as {
      observe: (...args: unknown[]) => void;
      observeWithExemplar: (data: unknown) => void;
      observeWithoutExemplar: (labels: unknown, value?: unknown) => void;
    };
    const withExemplar = self.observeWithExemplar.bind(this);
    const without = self.observeWithoutExemplar.bind(this);
    self.observe = (a: unknown, b?: unknown) =>
      b === undefined && typeof a === "object" && a !== null ? withExemplar(a) : without(a, b);
  }
}

/**
 * Observes `value` (in the histogram's unit) under `labels`, with `exemplar` on its bucket when
 * there is one: pass `exemplarOf()`'s answer (lib/tracing.ts), which is `undefined` for an
 * unsampled trace. A histogram without exemplars (or a no-op one) just observes.
 *
 * @example
 * ```ts
 * observeWithExemplar(h, { exchange: "sim" }, 3700, exemplarOf(span.spanContext()));
 * ```
 */
export function observeWithExemplar<T extends string>(
  histogram: Histogram<T>,
  labels: LabelValues<T>,
  value: number,
  exemplar: TraceIds | undefined,
): void {
  if (exemplar === undefined || !(histogram instanceof ExemplarHistogram)) {
    histogram.observe(labels, value);
    return;
  }
  histogram.observe({
    labels,
    value,
    // prom-client types exemplar labels as the metric's own label names.
    exemplarLabels: {
      trace_id: exemplar.trace_id,
      span_id: exemplar.span_id,
    } as unknown as LabelValues<T>,
  });
}

/**
 * A registry that renders OpenMetrics (the only exposition with exemplars). Serve it through
 * lib/exposition.ts, which converts it to the Prometheus text for clients that do not ask for
 * OpenMetrics. Never switch its content type back: an OpenMetrics render renames counters.
 */
export function openMetricsRegistry(): Registry {
  const registry = new Registry<OpenMetricsContentType>();
  // Before any metric is built on it: a histogram reads it to allow exemplars.
  registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  return registry as unknown as Registry;
}

/**
 * Builds a service's registry (OpenMetrics: {@link openMetricsRegistry}; serve it with
 * lib/exposition.ts): its own families from {@link CATALOGUE}, the
 * `system_*` gauges (sampled every `sampleMs`, default 5 s, and at each scrape) and
 * the default process metrics (which need `-A` to read memory and fds).
 *
 * Throws if a name is registered twice (prom-client refuses duplicates).
 */
export function createServiceMetrics<O extends ServiceName>(
  service: O,
  options: { sampleMs?: number; defaultMetrics?: boolean; instrumented?: boolean } = {},
): ServiceMetrics<O> {
  const registry = openMetricsRegistry();
  const families: Record<string, Counter | Gauge | Histogram> = {};
  const instrumented = options.instrumented ?? instrumentationFromEnv();
  for (const s of CATALOGUE) {
    if (s.owner !== service && s.owner !== "all") continue;
    // With instrumentation off (benchmarks only), the service's own families are
    // no-ops; the system gauges and the messaging layer's families stay so a run can
    // still be watched.
    families[s.name] = instrumented || ALWAYS_ON.test(s.name) ? build(s, registry) : noop();
  }
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const sampler = new SystemSampler(service, families as unknown as Families<ServiceName>);
  sampler.sample();
  const timer = setInterval(() => sampler.sample(), options.sampleMs ?? 5000);
  Deno.unrefTimer(timer);
  return {
    service,
    registry,
    families: families as unknown as Families<O>,
    stop: () => clearInterval(timer),
  };
}

/** Families kept real with instrumentation off: they describe the run, not the service. */
const ALWAYS_ON = /^(system_|messaging_|service_restarts_total$)/;

/**
 * `TRADING_INSTRUMENTATION=off` turns a service's own metric families into no-ops,
 * so a benchmark can measure what instrumentation costs. Never set in production.
 */
function instrumentationFromEnv(): boolean {
  try {
    return Deno.env.get("TRADING_INSTRUMENTATION") !== "off";
  } catch {
    return true;
  }
}

function noop(): Counter {
  const m: Record<string, unknown> = {};
  const self = () => m;
  for (const k of ["inc", "dec", "set", "observe", "reset", "remove", "zero", "setToCurrentTime"]) {
    m[k] = () => {};
  }
  m.labels = self;
  m.startTimer = () => () => 0;
  m.get = () =>
    Promise.resolve({ name: "noop", help: "", type: "counter", values: [], aggregator: "sum" });
  return m as unknown as Counter;
}

/** Samples process CPU (percent of one core since the previous sample) and resident memory. */
class SystemSampler {
  #lastCpu = process.cpuUsage();
  #lastAt = performance.now();
  constructor(
    private readonly service: ServiceName,
    private readonly families: Families<ServiceName>,
  ) {}
  sample(): void {
    const now = performance.now();
    const cpu = process.cpuUsage();
    const elapsedUs = (now - this.#lastAt) * 1000;
    if (elapsedUs > 0) {
      const used = cpu.user - this.#lastCpu.user + cpu.system - this.#lastCpu.system;
      this.families.system_cpu_usage_percent.set(
        { service: this.service },
        Math.max(0, (100 * used) / elapsedUs),
      );
    }
    this.#lastCpu = cpu;
    this.#lastAt = now;
    this.families.system_memory_usage_mb.set(
      { service: this.service },
      Deno.memoryUsage().rss / (1024 * 1024),
    );
  }
}

/**
 * Maps an outside value onto a closed set: the value itself if it is a member,
 * else `fallback` (default `"other"`). Use it for every label value that comes
 * from outside the process.
 *
 * @example
 * ```ts
 * const METHODS = ["GET", "POST", "DELETE"] as const;
 * closedSet(METHODS, "PATCH", "unknown"); // "unknown"
 * ```
 */
export function closedSet<const T extends readonly string[], F extends string = "other">(
  set: T,
  value: string | undefined,
  fallback: F = "other" as F,
): T[number] | F {
  return value !== undefined && (set as readonly string[]).includes(value)
    ? value as T[number]
    : fallback;
}

/**
 * Creates every series of `counter` at 0, one per combination of `values` (label name to
 * its closed set of values). prom-client creates a labelled series at its first
 * increment, so Prometheus would see it appear already at 1 and `increase()` and `rate()`
 * would miss that first event; a series that exists at 0 from start-up makes the first
 * event a step every alert sees. Call it once, at start-up, with closed sets only.
 *
 * @example
 * ```ts
 * zeroSeries(families.market_data_parse_errors_total, {
 *   exchange: ["sim"],
 *   reason: PARSE_REASONS,
 * });
 * ```
 */
export function zeroSeries<L extends string>(
  counter: Counter<L>,
  values: Readonly<Record<L, readonly string[]>>,
): void {
  const names = Object.keys(values) as L[];
  const combine = (i: number, labels: Partial<Record<L, string>>): void => {
    if (i === names.length) {
      counter.inc(labels as Record<L, string>, 0);
      return;
    }
    for (const v of values[names[i]]) combine(i + 1, { ...labels, [names[i]]: v });
  };
  combine(0, {});
}

/**
 * The symbol label value for an outside symbol: the symbol if it is configured,
 * else `"other"`, so a feed cannot grow the series count without bound.
 */
export function symbolLabel(symbols: ReadonlySet<string>, symbol: string | undefined): string {
  return symbol !== undefined && symbols.has(symbol) ? symbol : "other";
}

/** Microseconds since `startMs` (a `performance.now()` value). */
export function elapsedUs(startMs: number): number {
  return (performance.now() - startMs) * 1000;
}
