/**
 * The market-data metrics recorder: every series the service writes, recorded into
 * the service's families (`ctx.metrics.families`), with the hot-path children (per
 * message type and symbol, per update type and symbol) bound once and cached. The
 * core records through the small {@link CoreRecorder} interface; the service records
 * the feed's state and connection failures.
 *
 * Every counter series of a closed label set (message types, configured symbols and
 * `other`, parse reasons, book states, connection error types, the feed's connections)
 * exists at 0 from construction, so the first event of each is a step alerts see.
 * @module
 */
import type { Counter } from "prom-client";
import { closedSet, type Families, symbolLabel, zeroSeries } from "../../lib/metrics.ts";
import {
  type BoundCounter,
  boundCounter,
  type BoundHistogram,
  boundHistogram,
} from "../../lib/bound_metrics.ts";
import { nowMs } from "../../lib/clock.ts";
import type { MarketState } from "../../lib/types.ts";
import { DATA_KINDS, type DataKind, PARSE_REASONS, type ParseReason } from "./alpaca_protocol.ts";
import {
  CONNECTION_ERROR_TYPES,
  type ConnectionErrorType,
  type Exchange,
  type FeedSocket,
} from "./feed.ts";
import type { BookState } from "./order_book.ts";

/** The families {@link MarketDataMetrics} records into. */
export type MarketDataFamilies = Pick<
  Families<"market-data">,
  | "market_data_websocket_latency_us"
  | "market_data_orderbook_update_latency_us"
  | "market_data_messages_processed_total"
  | "market_data_parse_errors_total"
  | "market_data_book_crossed_total"
  | "market_data_websocket_connection_failures_total"
  | "market_data_feed_connected"
  | "market_data_feed_last_message_age_seconds"
  | "market_data_trade_corrections_total"
  | "market_data_trades_excluded_total"
  | "market_data_market_state"
  | "market_data_server_errors_total"
  | "market_data_feed_stopped"
  | "market_data_feed_socket_connected"
  | "market_data_feed_socket_last_message_age_seconds"
  | "market_data_feed_stale_after_seconds"
  | "market_data_feed_connection_failures_total"
>;

/** The `market_data_market_state` value of each state. */
export const MARKET_STATE_VALUES: Readonly<Record<MarketState, number>> = {
  open: 0,
  extended: 1,
  closed: 2,
  halted: 3,
};

/**
 * Alpaca stream error codes (docs.alpaca.markets/docs/streaming-market-data; 408 from the
 * older docs; 411 from the Go SDK; 412, 413 from the option stream): the `code` label
 * values of `market_data_server_errors_total`; any other code is `other`.
 */
export const SERVER_ERROR_CODES = [
  "400",
  "401",
  "402",
  "403",
  "404",
  "405",
  "406",
  "407",
  "408",
  "409",
  "410",
  "411",
  "412",
  "413",
  "500",
] as const;

/** An order book update: `snapshot` replaced the book, `delta` changed levels. */
export type UpdateType = "snapshot" | "delta";

/**
 * What the core records. Symbols are passed as they came from the feed; the recorder
 * maps them onto the closed label set.
 */
export interface CoreRecorder {
  /**
   * One data message handled and published: counts it and observes its latency from
   * `receivedTs` (epoch ms, when the frame arrived) to `nowEpochMs` (the clock the caller
   * already read; default: read now), in µs.
   */
  messageProcessed(kind: DataKind, symbol: string, receivedTs: number, nowEpochMs?: number): void;
  /** One order book update applied, in `elapsedUs` µs. */
  bookUpdated(symbol: string, updateType: UpdateType, elapsedUs: number): void;
  /** A book update left the book crossed or locked. */
  bookCrossed(symbol: string, state: Exclude<BookState, "ok">): void;
  /** A frame or message could not be parsed or applied. */
  parseError(reason: ParseReason): void;
  /** A correction or cancel/error was applied, came late, or named an unknown trade. */
  correction(action: "cancel" | "correct", outcome: "applied" | "late" | "unknown"): void;
  /** A trade's conditions kept it out of bar prices (`price`) or only volume (`volume`). */
  tradeExcluded(scope: "price" | "volume"): void;
  /** A symbol's trading status was published. */
  marketState(symbol: string, state: MarketState): void;
}

/** Options of {@link MarketDataMetrics}. */
export interface MarketDataMetricsOptions {
  /** The `exchange` label value of every series. */
  readonly exchange: Exchange;
  /** Configured symbols: the only `symbol` label values (others become "other"). */
  readonly symbols: readonly string[];
  /** The feed's connections (`feedSockets()`); default `["main"]`. */
  readonly sockets?: readonly FeedSocket[];
  /** `marketData.staleAfterMs`: set as each connection's staleness limit when given. */
  readonly staleAfterMs?: number;
}

interface MessageChildren {
  readonly latency: BoundHistogram;
  readonly processed: BoundCounter;
}

/**
 * Records market-data's metrics. Label children are bound on first use and kept
 * (lib/bound_metrics.ts: no label hashing per message), so a message costs a set and
 * two map look-ups, an add and an observation, and no clock read of its own when the
 * core passes the one it made.
 *
 * @example
 * ```ts
 * const metrics = new MarketDataMetrics(ctx.metrics.families, { exchange: "sim", symbols: ["AAPL"] });
 * metrics.messageProcessed("trade", "AAPL", receivedTs);
 * metrics.feedStatus(true, 0.2);
 * ```
 */
export class MarketDataMetrics implements CoreRecorder {
  readonly #families: MarketDataFamilies;
  readonly #exchange: Exchange;
  readonly #symbols: ReadonlySet<string>;
  /** symbol label -> message type -> the latency and processed children. */
  readonly #messageChildren = new Map<string, Map<DataKind, MessageChildren>>();
  /** symbol label -> update type -> the order book update latency child. */
  readonly #bookLatency = new Map<string, Partial<Record<UpdateType, BoundHistogram>>>();
  readonly #parseErrors = new Map<ParseReason, Counter.Internal>();

  /**
   * Records into `families` (the service's own, from `ctx.metrics.families`); creates
   * every counter series at 0 and sets each connection's staleness limit.
   */
  constructor(families: MarketDataFamilies, options: MarketDataMetricsOptions) {
    this.#families = families;
    this.#exchange = options.exchange;
    this.#symbols = new Set(options.symbols);
    const exchange = [options.exchange];
    const symbols = [...this.#symbols, "other"];
    const sockets = options.sockets ?? ["main"];
    zeroSeries(families.market_data_messages_processed_total, {
      message_type: DATA_KINDS,
      symbol: symbols,
      exchange,
    });
    zeroSeries(families.market_data_parse_errors_total, { exchange, reason: PARSE_REASONS });
    zeroSeries(families.market_data_book_crossed_total, {
      symbol: symbols,
      kind: ["crossed", "locked"],
    });
    zeroSeries(families.market_data_websocket_connection_failures_total, {
      exchange,
      error_type: CONNECTION_ERROR_TYPES,
    });
    zeroSeries(families.market_data_feed_connection_failures_total, {
      exchange,
      socket: sockets,
      error_type: CONNECTION_ERROR_TYPES,
    });
    zeroSeries(families.market_data_trade_corrections_total, {
      exchange,
      action: ["cancel", "correct"],
      outcome: ["applied", "late", "unknown"],
    });
    zeroSeries(families.market_data_trades_excluded_total, {
      exchange,
      scope: ["price", "volume"],
    });
    zeroSeries(families.market_data_server_errors_total, {
      exchange,
      code: [...SERVER_ERROR_CODES, "other"],
    });
    families.market_data_feed_stopped.set({ exchange: options.exchange }, 0);
    if (options.staleAfterMs !== undefined) {
      for (const socket of sockets) {
        families.market_data_feed_stale_after_seconds.set(
          { exchange: options.exchange, socket },
          options.staleAfterMs / 1000,
        );
      }
    }
  }

  /**
   * Counts one data message and observes its latency from `receivedTs` to `nowEpochMs`
   * (epoch ms; default: the clock now), in µs.
   */
  messageProcessed(
    kind: DataKind,
    symbol: string,
    receivedTs: number,
    nowEpochMs: number = nowMs(),
  ): void {
    const label = symbolLabel(this.#symbols, symbol);
    let byKind = this.#messageChildren.get(label);
    if (byKind === undefined) this.#messageChildren.set(label, byKind = new Map());
    let children = byKind.get(kind);
    if (children === undefined) {
      const labels = { exchange: this.#exchange, message_type: kind, symbol: label };
      children = {
        latency: boundHistogram(this.#families.market_data_websocket_latency_us, labels),
        processed: boundCounter(this.#families.market_data_messages_processed_total, labels),
      };
      byKind.set(kind, children);
    }
    children.processed.inc();
    children.latency.observe(Math.max(0, (nowEpochMs - receivedTs) * 1000));
  }

  /** Observes an order book update's latency, `elapsedUs` µs. */
  bookUpdated(symbol: string, updateType: UpdateType, elapsedUs: number): void {
    const label = symbolLabel(this.#symbols, symbol);
    let byType = this.#bookLatency.get(label);
    if (byType === undefined) this.#bookLatency.set(label, byType = {});
    const latency = byType[updateType] ??= boundHistogram(
      this.#families.market_data_orderbook_update_latency_us,
      { symbol: label, update_type: updateType },
    );
    latency.observe(Math.max(0, elapsedUs));
  }

  /** Counts a book update that left the book crossed or locked. */
  bookCrossed(symbol: string, state: Exclude<BookState, "ok">): void {
    this.#families.market_data_book_crossed_total.inc({
      symbol: symbolLabel(this.#symbols, symbol),
      kind: state,
    });
  }

  /** Counts a frame or message that could not be parsed, by reason. */
  parseError(reason: ParseReason): void {
    let counter = this.#parseErrors.get(reason);
    if (!counter) {
      counter = this.#families.market_data_parse_errors_total.labels({
        exchange: this.#exchange,
        reason,
      });
      this.#parseErrors.set(reason, counter);
    }
    counter.inc();
  }

  /** Counts a correction or cancel/error by action and outcome. */
  correction(action: "cancel" | "correct", outcome: "applied" | "late" | "unknown"): void {
    this.#families.market_data_trade_corrections_total.inc({
      exchange: this.#exchange,
      action,
      outcome,
    });
  }

  /** Counts a trade kept out of bar prices or bar volume by its conditions. */
  tradeExcluded(scope: "price" | "volume"): void {
    this.#families.market_data_trades_excluded_total.inc({ exchange: this.#exchange, scope });
  }

  /** Sets a symbol's market state gauge (0 open, 1 extended, 2 closed, 3 halted). */
  marketState(symbol: string, state: MarketState): void {
    this.#families.market_data_market_state.set(
      { symbol: symbolLabel(this.#symbols, symbol) },
      MARKET_STATE_VALUES[state],
    );
  }

  /** Counts one error message of the exchange's stream by its code. */
  serverError(code: number): void {
    this.#families.market_data_server_errors_total.inc({
      exchange: this.#exchange,
      code: closedSet(SERVER_ERROR_CODES, String(code)),
    });
  }

  /** Sets whether a feed connection stopped for good (an error no reconnect mends). */
  feedStopped(stopped: boolean): void {
    this.#families.market_data_feed_stopped.set({ exchange: this.#exchange }, stopped ? 1 : 0);
  }

  /** Counts one connection failure of the feed, on its connection `socket`. */
  connectionFailure(errorType: ConnectionErrorType, socket: FeedSocket = "main"): void {
    this.#families.market_data_websocket_connection_failures_total.inc({
      exchange: this.#exchange,
      error_type: errorType,
    });
    this.#families.market_data_feed_connection_failures_total.inc({
      exchange: this.#exchange,
      socket,
      error_type: errorType,
    });
  }

  /** Sets one connection's gauges: connected (1 or 0) and the seconds since its last data. */
  socketStatus(socket: FeedSocket, connected: boolean, lastMessageAgeSeconds: number): void {
    const labels = { exchange: this.#exchange, socket };
    this.#families.market_data_feed_socket_connected.set(labels, connected ? 1 : 0);
    this.#families.market_data_feed_socket_last_message_age_seconds.set(
      labels,
      lastMessageAgeSeconds,
    );
  }

  /** Sets the feed gauges: connected (1 or 0) and the seconds since the last message. */
  feedStatus(connected: boolean, lastMessageAgeSeconds: number): void {
    const families = this.#families;
    families.market_data_feed_connected.set({ exchange: this.#exchange }, connected ? 1 : 0);
    families.market_data_feed_last_message_age_seconds.set(
      { exchange: this.#exchange },
      lastMessageAgeSeconds,
    );
  }
}
