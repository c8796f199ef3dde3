/**
 * The market-data core: takes raw feed frames, parses them, maintains the order
 * books and bars, and publishes normalised messages through a sink. No sockets, no
 * timers, no logger of its own: the service calls {@link MarketDataCore.handle} for
 * each frame and {@link MarketDataCore.closeBars} from its bar timer, and a test or
 * bench can do the same. Metrics go through a {@link CoreRecorder}; feed input the
 * core cannot use (parse errors, late trades) is reported to a {@link CoreLog}.
 *
 * What each Alpaca message kind does (README "Alpaca"):
 * - `t` trade: published (with `eligible: false` when its conditions keep it out of
 *   prices, `trade_conditions.ts`), added to the bars as its conditions allow, kept in the
 *   {@link TradeLedger} for corrections and the last price.
 * - `q` quote: a `quote` when both sides are there, else a `one_sided_quote` (a side with
 *   a zero price or size is missing).
 * - `c` correction, `x` cancel/error: the print leaves its open bars (a correction's new
 *   print takes its place), the last price is mended, and a `trade_correction` is
 *   published with the outcome (`applied`, `late`: its bar was already published,
 *   `unknown`: never seen); late and unknown ones are counted and logged.
 * - `s` status: halts and resumptions change the symbol's `trading_status`
 *   (`market_status.ts`), published at once; `l` LULD: published as a `luld_band`.
 * - `b`, `d`, `u` exchange bars and `i` imbalances: counted by kind, not republished (our
 *   own timer bars cover minute bars; nothing downstream reads imbalances).
 * @module
 */
import type {
  Bar,
  Book,
  LuldBand,
  OneSidedQuote,
  Quote,
  Trade,
  TradeCorrection,
  TradingStatus,
} from "../../lib/types.ts";
import { nowMs } from "../../lib/clock.ts";
import type { Schedule } from "../../lib/market_session.ts";
import {
  type CancelErrorMsg,
  type CorrectionMsg,
  type DataKind,
  type FeedMessage,
  parseFrame,
  parseMessages,
  type ParseReason,
} from "./alpaca_protocol.ts";
import { BarBuilder, type BarInterval, barTrade } from "./bar_builder.ts";
import type { Exchange, FeedEvent } from "./feed.ts";
import { MarketStatus } from "./market_status.ts";
import type { CoreRecorder } from "./metrics.ts";
import { OrderBook } from "./order_book.ts";
import { eligibility } from "./trade_conditions.ts";
import { tradeKey, TradeLedger } from "./trade_ledger.ts";

/** What the core publishes: an envelope type and its body (bodies satisfy lib/types.ts). */
export type Outgoing =
  | { type: "trade"; body: Trade }
  | { type: "quote"; body: Quote }
  | { type: "book"; body: Book }
  | { type: "bar"; body: Bar }
  | { type: "one_sided_quote"; body: OneSidedQuote }
  | { type: "trading_status"; body: TradingStatus }
  | { type: "luld_band"; body: LuldBand }
  | { type: "trade_correction"; body: TradeCorrection };

/**
 * Publishes one message; the core measures a frame's latency up to the moment the last
 * publish of the frame returns.
 */
export type Sink = (message: Outgoing) => void;

/**
 * Where the core reports feed input it could not use, for the log (the service
 * rate-limits the lines). Counting is the {@link CoreRecorder}'s job.
 */
export interface CoreLog {
  /** A frame or message was skipped: `reason` is its stable code, `detail` says why. */
  parseError(reason: ParseReason, detail: string): void;
  /** A trade arrived for a bar window already closed; `exchangeTs` in epoch ms. */
  lateTrade(symbol: string, exchangeTs: number): void;
  /** A correction or cancel came too late for its bar, or named a trade never seen. */
  lateCorrection(
    symbol: string,
    action: TradeCorrection["action"],
    outcome: "late" | "unknown",
  ): void;
}

/**
 * A book's deltas are timed into `market_data_orderbook_update_latency_us` at most once per
 * this many ms of frame receipt time (every snapshot is timed): the first delta of the book
 * in a frame that arrived this long after the last timed one. Below ~100 deltas a second
 * per book every delta is timed; above, the two clock reads of a timing (~0.1-0.2 µs each on
 * this VM, more than the rest of a message's metrics) cost at most ~100 a second per book,
 * whatever the rate. The histogram's count is then of the timed updates; the count of every
 * update is `market_data_messages_processed_total{message_type="orderbook"}`.
 */
export const BOOK_TIMING_INTERVAL_MS = 10;

/** Options of {@link MarketDataCore}. */
export interface CoreOptions {
  readonly exchange: Exchange;
  /** Configured symbols: books are kept for these only. */
  readonly symbols: readonly string[];
  readonly bars: readonly BarInterval[];
  readonly sink: Sink;
  /** Where metrics go (the service passes its MarketDataMetrics); none: nothing is recorded. */
  readonly metrics?: CoreRecorder;
  /** Where skipped input is reported; none: it is only counted. */
  readonly log?: CoreLog;
  /** Levels per side in a published book; default 10. */
  readonly topLevels?: number;
  /** Grace after a bar's end before it is closed; default 250 ms. */
  readonly barGraceMs?: number;
  /** The session schedule of stock symbols; default always open (replace it with {@link MarketDataCore.setSchedule}). */
  readonly schedule?: Schedule;
  /** Trades kept for corrections; default 100 000. */
  readonly ledgerCapacity?: number;
}

/** Counts kept by the core (for tests, benches, `/admin/stats` and the shut-down log line). */
export interface CoreStats {
  frames: number;
  messages: number;
  published: number;
  parseErrors: number;
  lateTrades: number;
  bookErrors: number;
  crossed: number;
  /** Quotes with a side missing, published as `one_sided_quote`. */
  oneSidedQuotes: number;
  /** Trades whose conditions kept them out of bar prices or volume. */
  excludedTrades: number;
  /** Corrections and cancels applied to open bars. */
  corrections: number;
  /** Corrections and cancels whose bars were already published. */
  lateCorrections: number;
  /** Corrections and cancels of a trade never seen (or too long ago). */
  unknownCorrections: number;
  /** `nowMs()` when the last frame arrived; 0 before the first. */
  lastFrameAt: number;
}

/**
 * The core. Never throws on feed input: every malformed frame or message is
 * counted (`market_data_parse_errors_total` through the recorder, `stats.parseErrors`),
 * reported to the log and skipped.
 *
 * @example
 * ```ts
 * const out: Outgoing[] = [];
 * const core = new MarketDataCore({ exchange: "sim", symbols: ["AAPL"], bars: ["1s"], sink: (m) => out.push(m) });
 * core.handle({ receivedTs: nowMs(), frame: '[{"T":"t","S":"AAPL","p":1,"s":1,"t":"2024-01-01T00:00:00Z"}]' });
 * ```
 */
export class MarketDataCore {
  readonly exchange: Exchange;
  readonly stats: CoreStats = {
    frames: 0,
    messages: 0,
    published: 0,
    parseErrors: 0,
    lateTrades: 0,
    bookErrors: 0,
    crossed: 0,
    oneSidedQuotes: 0,
    excludedTrades: 0,
    corrections: 0,
    lateCorrections: 0,
    unknownCorrections: 0,
    lastFrameAt: 0,
  };
  readonly #symbols: ReadonlySet<string>;
  readonly #sink: Sink;
  readonly #metrics?: CoreRecorder;
  /** The recorder when it records (instrumentation on): the per-message and timing calls. */
  readonly #hot?: CoreRecorder;
  readonly #log?: CoreLog;
  /** Each configured symbol's book, and the frame receipt time (epoch ms) from which its next delta is timed. */
  readonly #books = new Map<string, { readonly book: OrderBook; timeFrom: number }>();
  #bars: BarBuilder;
  readonly #barIntervals: readonly BarInterval[];
  readonly #barGraceMs: number;
  readonly #topLevels: number;
  readonly #ledger: TradeLedger;
  readonly #status: MarketStatus;

  constructor(options: CoreOptions) {
    this.exchange = options.exchange;
    this.#symbols = new Set(options.symbols);
    this.#sink = options.sink;
    this.#metrics = options.metrics;
    this.#hot = options.metrics?.instrumented === true ? options.metrics : undefined;
    this.#log = options.log;
    this.#topLevels = options.topLevels ?? 10;
    this.#barIntervals = options.bars;
    this.#barGraceMs = options.barGraceMs ?? 250;
    this.#bars = new BarBuilder(this.#barIntervals, this.#barGraceMs);
    this.#ledger = new TradeLedger(options.ledgerCapacity);
    this.#status = new MarketStatus(options.symbols, options.exchange);
    if (options.schedule) this.#status.setSchedule(options.schedule);
  }

  /**
   * Replaces the session schedule (a new read of the exchange's clock and calendar) and
   * publishes the statuses it changes at `clockMs` (epoch ms); returns how many.
   */
  setSchedule(schedule: Schedule, clockMs: number): number {
    this.#status.setSchedule(schedule);
    return this.publishStatus(clockMs, false);
  }

  /**
   * Publishes the trading status of every configured symbol (`all`), or of those whose
   * state changed since last published (a session boundary passed), at `clockMs`.
   */
  publishStatus(clockMs: number, all: boolean): number {
    const statuses = all ? this.#status.all(clockMs) : this.#status.changed(clockMs);
    for (const status of statuses) {
      this.#publish({ type: "trading_status", body: status });
      this.#metrics?.marketState(status.symbol, status.state);
    }
    return statuses.length;
  }

  /** The trading status of `symbol` at `clockMs` (epoch ms). */
  statusOf(symbol: string, clockMs: number): TradingStatus {
    return this.#status.of(symbol, clockMs);
  }

  /** The last eligible trade price of `symbol` still standing; null when none is known. */
  lastPrice(symbol: string): number | null {
    return this.#ledger.lastPrice(symbol);
  }

  /**
   * Handles one frame; returns the number of messages published for it. Its data messages
   * are recorded when it ends, with one clock read (`market_data_websocket_latency_us`: from
   * the frame's receipt to its last publish, when the publisher's batch of the frame is
   * complete).
   */
  handle(event: FeedEvent): number {
    this.stats.frames++;
    this.stats.lastFrameAt = nowMs();
    const parsed = event.parsed ??
      (typeof event.frame === "string" ? parseFrame(event.frame) : parseMessages(event.frame));
    for (const error of parsed.errors) this.#parseError(error.reason, error.detail);
    const publishedBefore = this.stats.published;
    for (const message of parsed.messages) {
      try {
        this.#handleMessage(message, event.receivedTs);
      } catch (e) {
        // A bug, not bad input; still never let one message stop the feed.
        this.#parseError("invalid_field", `handler failed: ${(e as Error).message}`);
      }
    }
    this.#hot?.frameHandled(event.receivedTs, nowMs());
    return this.stats.published - publishedBefore;
  }

  /** Closes the bars due at `clockMs` (epoch ms) and publishes them; returns how many. */
  closeBars(clockMs: number): number {
    const closed = this.#publishBars(this.#bars.closeDue(clockMs));
    // The trades of closed windows keep no bar entry in the ledger (README "Memory, `--soak`").
    this.#ledger.releaseBars(this.#bars.closedBefore());
    return closed;
  }

  /** Closes and publishes every open bar (end of a replay, shut-down). */
  flushBars(): number {
    return this.#publishBars(this.#bars.flush());
  }

  /** Drops every open bar and starts afresh (a replay starting its next pass). */
  resetBars(): void {
    this.#bars = new BarBuilder(this.#barIntervals, this.#barGraceMs);
  }

  /** The order book of a symbol, if one has been built. */
  book(symbol: string): OrderBook | undefined {
    return this.#books.get(symbol)?.book;
  }

  #publishBars(bars: Bar[]): number {
    for (const body of bars) this.#publish({ type: "bar", body });
    return bars.length;
  }

  #publish(message: Outgoing): void {
    this.#sink(message);
    this.stats.published++;
  }

  #handleMessage(message: FeedMessage, receivedTs: number): void {
    switch (message.kind) {
      case "trade": {
        const eligible = eligibility(message.conditions, message.tape);
        const body: Trade = {
          symbol: message.symbol,
          price: message.price,
          size: message.size,
          exchange: this.exchange,
          exchangeTs: message.exchangeTs,
          receivedTs,
        };
        if (message.tradeId !== undefined) body.tradeId = message.tradeId;
        if (!eligible.price) body.eligible = false;
        this.#publish({ type: "trade", body });
        if (!eligible.price || !eligible.volume) {
          this.stats.excludedTrades++;
          this.#metrics?.tradeExcluded(eligible.price ? "volume" : "price");
        }
        const bar = barTrade(message.price, message.size, eligible);
        if (
          message.size > 0 &&
          this.#bars.add(message.symbol, bar, message.exchangeTs) === "late"
        ) {
          this.stats.lateTrades++;
          this.#log?.lateTrade(message.symbol, message.exchangeTs);
        }
        this.#ledger.record({
          symbol: message.symbol,
          key: message.tradeId !== undefined
            ? tradeKey(message.symbol, message.venue, message.tradeId)
            : "",
          price: message.price,
          size: message.size,
          exchangeTs: message.exchangeTs,
          priced: eligible.price,
          bar,
          removed: false,
        });
        this.#processed("trade", message.symbol);
        return;
      }
      case "quote": {
        const bid = message.bidPrice > 0 && message.bidSize > 0;
        const ask = message.askPrice > 0 && message.askSize > 0;
        if (bid && ask) {
          this.#publish({
            type: "quote",
            body: {
              symbol: message.symbol,
              bidPrice: message.bidPrice,
              bidSize: message.bidSize,
              askPrice: message.askPrice,
              askSize: message.askSize,
              exchange: this.exchange,
              exchangeTs: message.exchangeTs,
              receivedTs,
            },
          });
        } else {
          this.stats.oneSidedQuotes++;
          this.#publish({
            type: "one_sided_quote",
            body: {
              symbol: message.symbol,
              bidPrice: bid ? message.bidPrice : null,
              bidSize: bid ? message.bidSize : 0,
              askPrice: ask ? message.askPrice : null,
              askSize: ask ? message.askSize : 0,
              exchange: this.exchange,
              exchangeTs: message.exchangeTs,
              receivedTs,
            },
          });
        }
        this.#processed("quote", message.symbol);
        return;
      }
      case "correction":
      case "cancel_error":
        this.#correct(message, receivedTs);
        this.#processed(message.kind, message.symbol);
        return;
      case "status":
        if (this.#status.onStatus(message)) this.publishStatus(nowMs(), false);
        this.#processed("status", message.symbol);
        return;
      case "luld":
        this.#publish({
          type: "luld_band",
          body: {
            symbol: message.symbol,
            limitUp: message.limitUp,
            limitDown: message.limitDown,
            indicator: message.indicator,
            exchange: this.exchange,
            exchangeTs: message.exchangeTs,
            receivedTs,
          },
        });
        this.#processed("luld", message.symbol);
        return;
      case "imbalance":
        // Counted, not republished: nothing downstream reads imbalances.
        this.#processed("imbalance", message.symbol);
        return;
      case "orderbook": {
        let entry = this.#books.get(message.symbol);
        if (!entry) {
          // Books only for configured symbols, so a bad feed cannot grow memory without bound.
          if (!this.#symbols.has(message.symbol)) {
            this.#parseError("invalid_symbol", "order book for an unconfigured symbol");
            return;
          }
          this.#books.set(
            message.symbol,
            entry = { book: new OrderBook(message.symbol), timeFrom: 0 },
          );
        }
        const book = entry.book;
        // Timed when recorded: every snapshot, a delta once per BOOK_TIMING_INTERVAL_MS.
        let timed = false;
        if (this.#hot !== undefined) {
          if (message.reset) timed = true;
          else if (receivedTs >= entry.timeFrom) {
            timed = true;
            entry.timeFrom = receivedTs + BOOK_TIMING_INTERVAL_MS;
          }
        }
        const startedAt = timed ? performance.now() : 0;
        const error = book.apply(message.bids, message.asks, message.reset);
        if (error) {
          this.stats.bookErrors++;
          this.#parseError("invalid_field", error.message);
          return;
        }
        const top = book.top(this.#topLevels);
        if (timed) {
          this.#hot?.bookUpdated(
            message.symbol,
            message.reset ? "snapshot" : "delta",
            (performance.now() - startedAt) * 1000,
          );
        }
        if (top.state !== "ok") {
          this.stats.crossed++;
          this.#metrics?.bookCrossed(message.symbol, top.state);
        }
        const levels = book.levels(this.#topLevels);
        this.#publish({
          type: "book",
          body: {
            symbol: message.symbol,
            bids: levels.bids,
            asks: levels.asks,
            mid: top.mid,
            spreadBps: top.spreadBps,
            imbalance: top.imbalance,
            crossed: top.state !== "ok",
            exchange: this.exchange,
            exchangeTs: message.exchangeTs,
            receivedTs,
          },
        });
        this.#processed("orderbook", message.symbol);
        return;
      }
      case "bar":
      case "daily_bar":
      case "updated_bar":
        // Exchange bars are counted but not republished: our own timer bars cover 1m.
        this.#processed(message.kind, message.symbol);
        return;
      default:
        // Control messages are the feed adapter's business.
        return;
    }
  }

  /** Applies a correction or cancel/error to the ledger and the bars, and publishes it. */
  #correct(message: CorrectionMsg | CancelErrorMsg, receivedTs: number): void {
    const symbol = message.symbol;
    const correct = message.kind === "correction";
    const action = correct ? "correct" : "cancel";
    const tradeId = correct ? message.originalId : message.tradeId;
    const original = this.#ledger.find(tradeKey(symbol, message.venue, tradeId));
    let outcome: TradeCorrection["outcome"] = "unknown";
    if (original && correct) {
      const eligible = eligibility(message.correctedConditions, message.tape);
      const bar = barTrade(message.correctedPrice, message.correctedSize, eligible);
      outcome = this.#bars.replaceTrade(
        symbol,
        original.bar,
        message.correctedSize > 0 ? bar : undefined,
        original.exchangeTs,
      );
      this.#ledger.replace(original, {
        symbol,
        key: tradeKey(symbol, message.venue, message.correctedId),
        price: message.correctedPrice,
        size: message.correctedSize,
        exchangeTs: original.exchangeTs,
        priced: eligible.price,
        bar,
        removed: false,
      });
    } else if (original) {
      outcome = this.#bars.removeTrade(symbol, original.bar, original.exchangeTs);
      this.#ledger.remove(original);
    }
    if (outcome === "applied") this.stats.corrections++;
    else if (outcome === "late") this.stats.lateCorrections++;
    else this.stats.unknownCorrections++;
    this.#metrics?.correction(action, outcome);
    if (outcome !== "applied") this.#log?.lateCorrection(symbol, action, outcome);
    this.#publish({
      type: "trade_correction",
      body: {
        symbol,
        action,
        tradeId,
        originalPrice: correct ? message.originalPrice : message.price,
        originalSize: correct ? message.originalSize : message.size,
        correctedPrice: correct ? message.correctedPrice : null,
        correctedSize: correct ? message.correctedSize : null,
        outcome,
        lastPrice: this.#ledger.lastPrice(symbol),
        exchange: this.exchange,
        exchangeTs: message.exchangeTs,
        receivedTs,
      },
    });
  }

  #processed(kind: DataKind, symbol: string): void {
    this.stats.messages++;
    this.#hot?.messageProcessed(kind, symbol);
  }

  #parseError(reason: ParseReason, detail: string): void {
    this.stats.parseErrors++;
    this.#metrics?.parseError(reason);
    this.#log?.parseError(reason, detail);
  }
}
