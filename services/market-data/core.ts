/**
 * The market-data core: takes raw feed frames, parses them, maintains the order
 * books and bars, and publishes normalised messages through a sink. No sockets, no
 * timers, no logger of its own: the service calls {@link MarketDataCore.handle} for
 * each frame and {@link MarketDataCore.closeBars} from its bar timer, and a test or
 * bench can do the same. Metrics go through a {@link CoreRecorder}; feed input the
 * core cannot use (parse errors, late trades) is reported to a {@link CoreLog}.
 * @module
 */
import type { Bar, Book, Quote, Trade } from "../../lib/types.ts";
import { nowMs } from "../../lib/clock.ts";
import {
  type DataKind,
  type FeedMessage,
  parseFrame,
  parseMessages,
  type ParseReason,
} from "./alpaca_protocol.ts";
import { BarBuilder, type BarInterval } from "./bar_builder.ts";
import type { Exchange, FeedEvent } from "./feed.ts";
import type { CoreRecorder } from "./metrics.ts";
import { OrderBook } from "./order_book.ts";

/** What the core publishes: an envelope type and its body (bodies satisfy lib/types.ts). */
export type Outgoing =
  | { type: "trade"; body: Trade }
  | { type: "quote"; body: Quote }
  | { type: "book"; body: Book }
  | { type: "bar"; body: Bar };

/** Publishes one message; the core measures latency up to the moment this returns. */
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
}

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
    lastFrameAt: 0,
  };
  readonly #symbols: ReadonlySet<string>;
  readonly #sink: Sink;
  readonly #metrics?: CoreRecorder;
  readonly #log?: CoreLog;
  readonly #books = new Map<string, OrderBook>();
  #bars: BarBuilder;
  readonly #barIntervals: readonly BarInterval[];
  readonly #barGraceMs: number;
  readonly #topLevels: number;

  constructor(options: CoreOptions) {
    this.exchange = options.exchange;
    this.#symbols = new Set(options.symbols);
    this.#sink = options.sink;
    this.#metrics = options.metrics;
    this.#log = options.log;
    this.#topLevels = options.topLevels ?? 10;
    this.#barIntervals = options.bars;
    this.#barGraceMs = options.barGraceMs ?? 250;
    this.#bars = new BarBuilder(this.#barIntervals, this.#barGraceMs);
  }

  /** Handles one frame; returns the number of messages published for it. */
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
    return this.stats.published - publishedBefore;
  }

  /** Closes the bars due at `clockMs` (epoch ms) and publishes them; returns how many. */
  closeBars(clockMs: number): number {
    return this.#publishBars(this.#bars.closeDue(clockMs));
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
    return this.#books.get(symbol);
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
        this.#publish({
          type: "trade",
          body: {
            symbol: message.symbol,
            price: message.price,
            size: message.size,
            exchange: this.exchange,
            exchangeTs: message.exchangeTs,
            receivedTs,
            ...(message.tradeId !== undefined ? { tradeId: message.tradeId } : {}),
          },
        });
        if (
          message.size > 0 &&
          this.#bars.addTrade(message.symbol, message.price, message.size, message.exchangeTs) ===
            "late"
        ) {
          this.stats.lateTrades++;
          this.#log?.lateTrade(message.symbol, message.exchangeTs);
        }
        this.#processed("trade", message.symbol, receivedTs);
        return;
      }
      case "quote":
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
        this.#processed("quote", message.symbol, receivedTs);
        return;
      case "orderbook": {
        const startedAt = performance.now();
        let book = this.#books.get(message.symbol);
        if (!book) {
          // Books only for configured symbols, so a bad feed cannot grow memory without bound.
          if (!this.#symbols.has(message.symbol)) {
            this.#parseError("invalid_symbol", "order book for an unconfigured symbol");
            return;
          }
          this.#books.set(message.symbol, book = new OrderBook(message.symbol));
        }
        const error = book.apply(message.bids, message.asks, message.reset);
        if (error) {
          this.stats.bookErrors++;
          this.#parseError("invalid_field", error.message);
          return;
        }
        const top = book.top(this.#topLevels);
        this.#metrics?.bookUpdated(message.symbol, message.reset ? "snapshot" : "delta", startedAt);
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
        this.#processed("orderbook", message.symbol, receivedTs);
        return;
      }
      case "bar":
        // Exchange bars are counted but not republished: our own timer bars cover 1m.
        this.#processed("bar", message.symbol, receivedTs);
        return;
      default:
        // Control messages are the feed adapter's business.
        return;
    }
  }

  #processed(kind: DataKind, symbol: string, receivedTs: number): void {
    this.stats.messages++;
    this.#metrics?.messageProcessed(kind, symbol, receivedTs);
  }

  #parseError(reason: ParseReason, detail: string): void {
    this.stats.parseErrors++;
    this.#metrics?.parseError(reason);
    this.#log?.parseError(reason, detail);
  }
}
