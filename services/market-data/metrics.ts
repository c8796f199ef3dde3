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
  beforeCollect,
  type BoundCounter,
  boundCounter,
  type BoundHistogram,
  boundHistogram,
  isInstrumented,
  upperBounds,
} from "../../lib/bound_metrics.ts";
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
   * Whether anything is recorded: false for a recorder of no-op families (instrumentation
   * off), and the core then skips the work that only feeds metrics (the clock reads that
   * time a book update or end a frame, the per-message count).
   */
  readonly instrumented: boolean;
  /**
   * One data message handled and published: counted at once in a tally of its frame; the
   * tally goes to the counter and the latency histogram at {@link CoreRecorder.frameHandled}.
   */
  messageProcessed(kind: DataKind, symbol: string): void;
  /**
   * The frame whose messages were tallied since the last call is handled: counts them and
   * observes each one's latency from `receivedTs` (epoch ms, when the frame arrived) to
   * `nowEpochMs` (epoch ms, the one clock read at the end of the frame, after its last
   * publish), in µs.
   */
  frameHandled(receivedTs: number, nowEpochMs: number): void;
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

/** Each data kind's place in a symbol's row of the frame tally. */
const KIND_INDEX = Object.fromEntries(DATA_KINDS.map((kind, i) => [kind, i])) as Record<
  DataKind,
  number
>;

/**
 * Records market-data's metrics. Label children are bound on first use and kept
 * (lib/bound_metrics.ts: no label hashing per message), and a data message is tallied
 * per frame: it costs one map look-up (its symbol's row) and an add into a typed array; at
 * the end of the frame, one clock read (the core's) and, per series the frame touched,
 * one counter add and one histogram observation of all its messages.
 *
 * @example
 * ```ts
 * const metrics = new MarketDataMetrics(ctx.metrics.families, { exchange: "sim", symbols: ["AAPL"] });
 * metrics.messageProcessed("trade", "AAPL");
 * metrics.frameHandled(receivedTs, nowMs());
 * metrics.feedStatus(true, 0.2);
 * ```
 */
export class MarketDataMetrics implements CoreRecorder {
  readonly #families: MarketDataFamilies;
  readonly #exchange: Exchange;
  readonly #symbols: ReadonlySet<string>;
  /** Configured symbol -> its row in the tally; any other symbol has the last row, "other". */
  readonly #symbolRow = new Map<string, number>();
  /** Each row's symbol label. */
  readonly #rowLabels: string[];
  /** Messages of the frame being handled, per row and kind (row * kinds + kind). */
  readonly #tally: Uint32Array;
  /** The cells of the tally the frame touched, in the order it touched them. */
  readonly #touched: number[] = [];
  /** The latency histogram's bounds, and per cell its buckets' width in the arrays below. */
  readonly #bounds: readonly number[];
  /**
   * Per cell, recorded frames not yet written into the families (that happens when they are
   * read, {@link beforeCollect}): messages counted, latency sum, and messages per latency
   * bucket (`cell * (bounds + 1) + bucket`).
   */
  readonly #unwrittenCount: Float64Array;
  readonly #unwrittenSum: Float64Array;
  readonly #unwrittenBuckets: Float64Array;
  /** The cells with something unwritten, each once. */
  readonly #unwritten: number[] = [];
  /** Per cell: the latency and processed children, bound when first written. */
  readonly #messageChildren: (MessageChildren | undefined)[] = [];
  /** symbol label -> update type -> the order book update latency child. */
  readonly #bookLatency = new Map<string, Partial<Record<UpdateType, BoundHistogram>>>();
  readonly #parseErrors = new Map<ParseReason, Counter.Internal>();
  /** False when the families are no-ops (instrumentation off). */
  readonly instrumented: boolean;

  /**
   * Records into `families` (the service's own, from `ctx.metrics.families`); creates
   * every counter series at 0 and sets each connection's staleness limit.
   */
  constructor(families: MarketDataFamilies, options: MarketDataMetricsOptions) {
    this.#families = families;
    this.#exchange = options.exchange;
    this.#symbols = new Set(options.symbols);
    this.#rowLabels = [...this.#symbols, "other"];
    for (const [row, symbol] of [...this.#symbols].entries()) this.#symbolRow.set(symbol, row);
    const cells = this.#rowLabels.length * DATA_KINDS.length;
    this.#tally = new Uint32Array(cells);
    this.#bounds = upperBounds(families.market_data_websocket_latency_us);
    this.#unwrittenCount = new Float64Array(cells);
    this.#unwrittenSum = new Float64Array(cells);
    this.#unwrittenBuckets = new Float64Array(cells * (this.#bounds.length + 1));
    this.instrumented = isInstrumented(families.market_data_websocket_latency_us);
    const write = () => this.#write();
    beforeCollect(families.market_data_websocket_latency_us, write);
    beforeCollect(families.market_data_messages_processed_total, write);
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

  /** Tallies one data message of the frame being handled (recorded at {@link frameHandled}). */
  messageProcessed(kind: DataKind, symbol: string): void {
    const cell = (this.#symbolRow.get(symbol) ?? this.#rowLabels.length - 1) * DATA_KINDS.length +
      KIND_INDEX[kind];
    if (this.#tally[cell]++ === 0) this.#touched.push(cell);
  }

  /**
   * Records the messages tallied since the last call: counts them and observes each one's
   * latency from `receivedTs` to `nowEpochMs` (epoch ms), in µs. Into typed arrays: the
   * families get them when they are next read (a scrape, `get()`).
   */
  frameHandled(receivedTs: number, nowEpochMs: number): void {
    const touched = this.#touched;
    if (touched.length === 0) return;
    const latencyUs = Math.max(0, (nowEpochMs - receivedTs) * 1000);
    const timed = Number.isFinite(latencyUs);
    const bounds = this.#bounds;
    let bucket = 0;
    while (bucket < bounds.length && latencyUs > bounds[bucket]) bucket++;
    const width = bounds.length + 1;
    const tally = this.#tally;
    for (let i = 0; i < touched.length; i++) {
      const cell = touched[i];
      const count = tally[cell];
      tally[cell] = 0;
      if (this.#unwrittenCount[cell] === 0) this.#unwritten.push(cell);
      this.#unwrittenCount[cell] += count;
      // A latency that is not a number (a bad receipt time) leaves them counted, not timed.
      if (timed) {
        this.#unwrittenSum[cell] += latencyUs * count;
        this.#unwrittenBuckets[cell * width + bucket] += count;
      }
    }
    touched.length = 0;
  }

  /** Writes the recorded frames into the families (before they are read). */
  #write(): void {
    const width = this.#bounds.length + 1;
    for (const cell of this.#unwritten) {
      const children = this.#messageChildren[cell] ??= this.#bindCell(cell);
      children.processed.inc(this.#unwrittenCount[cell]);
      const buckets = this.#unwrittenBuckets.subarray(cell * width, (cell + 1) * width);
      children.latency.merge(buckets, this.#unwrittenSum[cell]);
      this.#unwrittenCount[cell] = 0;
      this.#unwrittenSum[cell] = 0;
      buckets.fill(0);
    }
    this.#unwritten.length = 0;
  }

  #bindCell(cell: number): MessageChildren {
    const labels = {
      exchange: this.#exchange,
      message_type: DATA_KINDS[cell % DATA_KINDS.length],
      symbol: this.#rowLabels[Math.floor(cell / DATA_KINDS.length)],
    };
    return {
      latency: boundHistogram(this.#families.market_data_websocket_latency_us, labels),
      processed: boundCounter(this.#families.market_data_messages_processed_total, labels),
    };
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
