/**
 * The market-data core: takes raw feed frames, parses them, maintains the order
 * books and bars, publishes normalised messages through a sink, and records the
 * seed's metrics. No sockets, no timers: the service calls {@link MarketDataCore.handle}
 * for each frame and {@link MarketDataCore.closeBars} from its bar timer, and a
 * test or bench can do the same.
 * @module
 */
import type { Counter, Histogram } from "prom-client";
import type { Logger } from "@logtape/logtape";
import type { Families } from "../../lib/metrics.ts";
import { symbolLabel } from "../../lib/metrics.ts";
import type { Bar, Book, Quote, Trade } from "../../lib/types.ts";
import { nowMs } from "../../lib/clock.ts";
import {
  type FeedMessage,
  parseFrame,
  parseMessages,
  type ParseReason,
} from "./alpaca_protocol.ts";
import { BarBuilder, type BarInterval } from "./bar_builder.ts";
import type { Exchange, FeedEvent } from "./feed.ts";
import { OrderBook } from "./order_book.ts";

/** What the core publishes: an envelope type and its body (bodies satisfy lib/types.ts). */
export type Outgoing =
  | { type: "trade"; body: Trade }
  | { type: "quote"; body: Quote }
  | { type: "book"; body: Book }
  | { type: "bar"; body: Bar };

/** Publishes one message; the core measures latency up to the moment this returns. */
export type Sink = (msg: Outgoing) => void;

/** The metric families the core records into. */
export type CoreMetrics = Pick<
  Families<"market-data">,
  | "market_data_websocket_latency_us"
  | "market_data_orderbook_update_latency_us"
  | "market_data_messages_processed_total"
  | "market_data_parse_errors_total"
  | "market_data_book_crossed_total"
>;

/** Options of {@link MarketDataCore}. */
export interface CoreOptions {
  readonly exchange: Exchange;
  /** Configured symbols: the only `symbol` label values (others become "other"). */
  readonly symbols: readonly string[];
  readonly bars: readonly BarInterval[];
  readonly sink: Sink;
  readonly metrics?: CoreMetrics;
  readonly log?: Logger;
  /** Levels per side in a published book; default 10. */
  readonly topLevels?: number;
  /** Grace after a bar's end before it is closed; default 250 ms. */
  readonly barGraceMs?: number;
}

/** Counts kept by the core (for tests, benches and `/ready` details). */
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

type DataKind = "trade" | "quote" | "orderbook" | "bar";

/**
 * The core. Never throws on feed input: every malformed frame or message is
 * counted (`market_data_parse_errors_total`), logged (rate-limited) and skipped.
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
  readonly #metrics?: CoreMetrics;
  readonly #log?: Logger;
  readonly #books = new Map<string, OrderBook>();
  #bars: BarBuilder;
  readonly #barIntervals: readonly BarInterval[];
  readonly #barGraceMs: number;
  readonly #top: number;
  readonly #children = new Map<
    string,
    { latency: Histogram.Internal<string>; processed: Counter.Internal }
  >();
  readonly #bookLatency = new Map<string, Histogram.Internal<string>>();
  readonly #lastLog = new Map<string, { at: number; suppressed: number }>();

  constructor(options: CoreOptions) {
    this.exchange = options.exchange;
    this.#symbols = new Set(options.symbols);
    this.#sink = options.sink;
    this.#metrics = options.metrics;
    this.#log = options.log;
    this.#top = options.topLevels ?? 10;
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
    for (const e of parsed.errors) this.#parseError(e.reason, e.detail);
    const before = this.stats.published;
    for (const m of parsed.messages) {
      try {
        this.#message(m, event.receivedTs);
      } catch (e) {
        // A bug, not bad input; still never let one message stop the feed.
        this.#parseError("invalid_field", `handler failed: ${(e as Error).message}`);
      }
    }
    return this.stats.published - before;
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

  #publish(msg: Outgoing): void {
    this.#sink(msg);
    this.stats.published++;
  }

  #message(m: FeedMessage, receivedTs: number): void {
    switch (m.kind) {
      case "trade": {
        this.#publish({
          type: "trade",
          body: {
            symbol: m.symbol,
            price: m.price,
            size: m.size,
            exchange: this.exchange,
            exchangeTs: m.exchangeTs,
            receivedTs,
            ...(m.tradeId !== undefined ? { tradeId: m.tradeId } : {}),
          },
        });
        if (m.size > 0 && this.#bars.addTrade(m.symbol, m.price, m.size, m.exchangeTs) === "late") {
          this.stats.lateTrades++;
          this.#rateLimitedLog("late_trade", "Late trade left out of a closed bar", {
            symbol: m.symbol,
            exchangeTs: m.exchangeTs,
          });
        }
        this.#done("trade", m.symbol, receivedTs);
        return;
      }
      case "quote":
        this.#publish({
          type: "quote",
          body: {
            symbol: m.symbol,
            bidPrice: m.bidPrice,
            bidSize: m.bidSize,
            askPrice: m.askPrice,
            askSize: m.askSize,
            exchange: this.exchange,
            exchangeTs: m.exchangeTs,
            receivedTs,
          },
        });
        this.#done("quote", m.symbol, receivedTs);
        return;
      case "orderbook": {
        const t0 = performance.now();
        let book = this.#books.get(m.symbol);
        if (!book) {
          // Books only for configured symbols, so a bad feed cannot grow memory without bound.
          if (!this.#symbols.has(m.symbol)) {
            this.#parseError("invalid_symbol", "order book for an unconfigured symbol");
            return;
          }
          this.#books.set(m.symbol, book = new OrderBook(m.symbol));
        }
        const err = book.apply(m.bids, m.asks, m.reset);
        if (err) {
          this.stats.bookErrors++;
          this.#parseError("invalid_field", err.message);
          return;
        }
        const top = book.top(this.#top);
        const sym = symbolLabel(this.#symbols, m.symbol);
        if (this.#metrics) {
          const type = m.reset ? "snapshot" : "delta";
          const key = type + "|" + sym;
          let h = this.#bookLatency.get(key);
          if (!h) {
            h = this.#metrics.market_data_orderbook_update_latency_us.labels({
              symbol: sym,
              update_type: type,
            });
            this.#bookLatency.set(key, h);
          }
          h.observe((performance.now() - t0) * 1000);
        }
        if (top.state !== "ok") {
          this.stats.crossed++;
          this.#metrics?.market_data_book_crossed_total.inc({ symbol: sym, kind: top.state });
        }
        const levels = book.levels(this.#top);
        this.#publish({
          type: "book",
          body: {
            symbol: m.symbol,
            bids: levels.bids,
            asks: levels.asks,
            mid: top.mid,
            spreadBps: top.spreadBps,
            imbalance: top.imbalance,
            crossed: top.state !== "ok",
            exchange: this.exchange,
            exchangeTs: m.exchangeTs,
            receivedTs,
          },
        });
        this.#done("orderbook", m.symbol, receivedTs);
        return;
      }
      case "bar":
        // Exchange bars are counted but not republished: our own timer bars cover 1m.
        this.#done("bar", m.symbol, receivedTs);
        return;
      default:
        // Control messages are the feed adapter's business.
        return;
    }
  }

  #done(kind: DataKind, symbol: string, receivedTs: number): void {
    this.stats.messages++;
    const m = this.#metrics;
    if (!m) return;
    const sym = symbolLabel(this.#symbols, symbol);
    const key = kind + "|" + sym;
    let c = this.#children.get(key);
    if (!c) {
      c = {
        latency: m.market_data_websocket_latency_us.labels({
          exchange: this.exchange,
          message_type: kind,
          symbol: sym,
        }),
        processed: m.market_data_messages_processed_total.labels({
          message_type: kind,
          symbol: sym,
          exchange: this.exchange,
        }),
      };
      this.#children.set(key, c);
    }
    c.processed.inc();
    c.latency.observe(Math.max(0, (nowMs() - receivedTs) * 1000));
  }

  #parseError(reason: ParseReason, detail: string): void {
    this.stats.parseErrors++;
    this.#metrics?.market_data_parse_errors_total.inc({ exchange: this.exchange, reason });
    this.#rateLimitedLog(reason, "Cannot parse feed message", { reason, detail });
  }

  /** At most one line per key every 10 s, with the count of lines suppressed meanwhile. */
  #rateLimitedLog(key: string, msg: string, fields: Record<string, unknown>): void {
    if (!this.#log) return;
    const now = Date.now();
    const s = this.#lastLog.get(key);
    if (s && now - s.at < 10_000) {
      s.suppressed++;
      return;
    }
    this.#lastLog.set(key, { at: now, suppressed: 0 });
    this.#log.warn(msg, { exchange: this.exchange, ...fields, suppressed: s?.suppressed ?? 0 });
  }
}
