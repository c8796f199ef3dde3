/**
 * Between the feed, the core and the publisher: {@link MarketDataHandlers} takes each
 * feed event (records the frame, hands it to the core, keeps the freshness figures),
 * {@link PublishSink} publishes what the core produces, and {@link FeedProblemLog}
 * writes the core's skipped input to the log. No sockets inside: the publish function
 * is passed in, so tests call these directly. Log lines that can come in floods go
 * through lib's {@link BurstLog}.
 *
 * Tracing (lib/tracing.ts): each feed frame is a tick, the root of its trace, and the head
 * sampler decides here whether it is kept. A kept tick has three kinds of span:
 * `market-data tick` (from the frame's receipt to the end of its handling), `market-data update`
 * (the core's parse, book and bar update) and one `market-data publish` per message, whose
 * context is what the envelope carries to the next service. Every message of a tick, kept or
 * not, carries the tick's trace id; a message published outside a tick (a trading status on a
 * timer, a bar closed by the clock) gets one of its own.
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { type Context, context, SpanKind, trace } from "@opentelemetry/api";
import { BurstLog } from "../../lib/burst_log.ts";
import { nowMs } from "../../lib/clock.ts";
import {
  isSampled,
  logIdsOf,
  runWithTraceIds,
  ServiceTracer,
  type TraceFields,
} from "../../lib/tracing.ts";
import type { ParseReason } from "./alpaca_protocol.ts";
import type { CoreLog, MarketDataCore, Outgoing, Sink } from "./core.ts";
import type { Exchange, FeedEvent, FeedSocketStatus } from "./feed.ts";
import type { MarketDataMetrics } from "./metrics.ts";
import type { Recorder } from "./recorder.ts";

/** Options of {@link MarketDataHandlers}. */
export interface MarketDataHandlersOptions {
  readonly core: Pick<MarketDataCore, "handle" | "flushBars" | "resetBars">;
  readonly metrics:
    & Pick<MarketDataMetrics, "feedStatus">
    & Partial<Pick<MarketDataMetrics, "socketStatus">>;
  readonly log: Logger;
  /** Where every received frame is recorded (`marketData.recordPath`); none: not recorded. */
  readonly recording?: Pick<Recorder, "write">;
  /** A feed without a frame for longer than this is not fresh (ms). */
  readonly staleAfterMs: number;
  /** Wall clock in epoch ms; default `nowMs`. */
  readonly now?: () => number;
  /** The tracer of the ticks' spans; default the service's (a no-op with tracing off). */
  readonly tracer?: ServiceTracer;
  /** The sink the core publishes through, told which tick it publishes for. */
  readonly publishing?: Pick<PublishSink, "within">;
}

/**
 * The feed's events, handled: frames go to the recording and the core, and the time
 * of the last one answers `/ready`'s `feed_fresh`, `/admin/stats` and the feed gauges.
 *
 * @example
 * ```ts
 * const handlers = new MarketDataHandlers({ core, metrics, log, staleAfterMs: 5000 });
 * await feed.start((event) => handlers.onFeedEvent(event));
 * ```
 */
export class MarketDataHandlers {
  readonly #options: MarketDataHandlersOptions;
  readonly #now: () => number;
  readonly #startedAt: number;
  readonly #tracer: ServiceTracer;
  #lastFrameAt = 0;

  constructor(options: MarketDataHandlersOptions) {
    this.#options = options;
    this.#now = options.now ?? nowMs;
    this.#startedAt = this.#now();
    this.#tracer = options.tracer ?? new ServiceTracer("market-data");
  }

  /**
   * One frame from the feed, a tick: recorded, then handed to the core inside the tick's trace
   * (its root span starts at the frame's `receivedTs`).
   */
  onFeedEvent(event: FeedEvent): void {
    this.#lastFrameAt = event.receivedTs;
    this.#options.recording?.write(event);
    const tracer = this.#tracer;
    const publishing = this.#options.publishing;
    const root = tracer.root("market-data tick", undefined, event.receivedTs);
    if (!isSampled(root.span.spanContext())) {
      // Not kept (or tracing off): no more spans, one trace id for every message of the tick,
      // and its ids in the synchronous slot (not a context made current: the fast path, see
      // lib/tracing.ts) so that log lines written meanwhile name the tick.
      const fields = tracer.inject(root.context);
      runWithTraceIds(
        logIdsOf(fields),
        () =>
          publishing === undefined
            ? this.#options.core.handle(event)
            : publishing.within({ fields }, () => this.#options.core.handle(event)),
      );
      root.span.end();
      return;
    }
    const update = tracer.stage("market-data update", root.context)!;
    const ctx = trace.setSpan(root.context, update);
    const published = context.with(
      ctx,
      () =>
        publishing === undefined ? this.#options.core.handle(event) : publishing.within(
          { fields: tracer.inject(ctx), context: ctx },
          () => this.#options.core.handle(event),
        ),
    );
    tracer.endLater(update);
    root.span.setAttribute("trading.messages", published);
    tracer.endLater(root.span);
  }

  /** The replay finished a pass over its file: its open bars are flushed and dropped. */
  onReplayPassEnd(path: string, frames: number): void {
    this.#options.core.flushBars();
    this.#options.core.resetBars();
    this.#options.log.info("Replay pass finished", { path, frames });
  }

  /** True when a frame arrived within `staleAfterMs`. */
  fresh(): boolean {
    return this.#lastFrameAt > 0 && this.#now() - this.#lastFrameAt <= this.#options.staleAfterMs;
  }

  /** Milliseconds since the last frame arrived; null before the first. */
  lastFrameAgeMs(): number | null {
    return this.#lastFrameAt > 0 ? this.#now() - this.#lastFrameAt : null;
  }

  /**
   * Sets the feed gauges: `connected`, and the seconds since the last frame (since
   * start-up before the first); and the same per connection, from `sockets` (a feed of
   * several connections) or else for the one connection `main`.
   */
  recordFeedStatus(connected: boolean, sockets?: readonly FeedSocketStatus[]): void {
    const now = this.#now();
    const since = this.#lastFrameAt || this.#startedAt;
    const metrics = this.#options.metrics;
    metrics.feedStatus(connected, (now - since) / 1000);
    if (!metrics.socketStatus) return;
    for (const s of sockets ?? [{ socket: "main", connected, lastDataAt: this.#lastFrameAt }]) {
      metrics.socketStatus(s.socket, s.connected, (now - (s.lastDataAt || this.#startedAt)) / 1000);
    }
  }
}

/**
 * The core's sink: publishes each message with the function given. A publish that
 * throws is logged (the first of a burst at once, then a summary a second) and the
 * message dropped: market data may drop, and the feed must not stop.
 *
 * @example
 * ```ts
 * const publishing = new PublishSink((type, body) => publisher.publish(type, body), log);
 * const core = new MarketDataCore({ ...options, sink: publishing.sink });
 * ```
 */
export class PublishSink {
  readonly #publish: (type: string, body: unknown, trace?: TraceFields) => unknown;
  readonly #failureLog: BurstLog;
  readonly #tracer: ServiceTracer;
  #failures = 0;
  /** The tick being handled, if any. */
  #tick: PublishTick | undefined;

  /**
   * @param publish Publishes one message; `trace` is the tick's context for its envelope
   *   (none outside a tick: the envelope then gets a trace id of its own).
   * @param log Where failures to publish are written.
   * @param tracer The tracer of the `market-data publish` spans (default the service's).
   */
  constructor(
    publish: (type: string, body: unknown, trace?: TraceFields) => unknown,
    log: Logger,
    tracer?: ServiceTracer,
  ) {
    this.#publish = publish;
    this.#tracer = tracer ?? new ServiceTracer("market-data");
    this.#failureLog = new BurstLog(
      log,
      "error",
      "Cannot publish market data",
      "Cannot publish {suppressed} more market data messages",
    );
  }

  /**
   * Runs `fn` (the core handling a frame) with `tick` as the trace of what it publishes;
   * returns what `fn` returns.
   */
  within<T>(tick: PublishTick, fn: () => T): T {
    const outer = this.#tick;
    this.#tick = tick;
    try {
      return fn();
    } finally {
      this.#tick = outer;
    }
  }

  /** Publishes one message of the core (pass it as the core's `sink`). */
  readonly sink: Sink = (message: Outgoing): void => {
    const tick = this.#tick;
    const span = tick?.context === undefined ? undefined : this.#tracer.stage(
      "market-data publish",
      tick.context,
      {
        "messaging.message.type": message.type,
      },
      undefined,
      SpanKind.PRODUCER,
    );
    try {
      if (span === undefined) this.#publish(message.type, message.body, tick?.fields);
      else {
        const fields = this.#tracer.inject(trace.setSpan(tick!.context!, span));
        this.#publish(message.type, message.body, fields);
      }
    } catch (e) {
      this.#failures++;
      this.#failureLog.report({ type: message.type, error: e, failures: this.#failures });
    } finally {
      this.#tracer.endLater(span);
    }
  };

  /** Writes the pending summary line, if any, and stops its timer. */
  close(): void {
    this.#failureLog.close();
  }
}

/** The trace a {@link PublishSink} publishes a tick's messages in. */
export interface PublishTick {
  /** The envelope fields of a tick that is not kept (and of every tick with tracing off). */
  readonly fields: TraceFields;
  /** A kept tick's context (its `market-data update` span): each message gets a publish span. */
  readonly context?: Context;
}

/**
 * The core's {@link CoreLog}: one warning per kind of skipped input (each parse
 * reason, late trades) at the start of a burst, then at most one summary a second
 * with the count suppressed meanwhile. Every line carries `exchange`.
 */
export class FeedProblemLog implements CoreLog {
  readonly #log: Logger;
  readonly #exchange: Exchange;
  readonly #parseErrors = new Map<ParseReason, BurstLog>();
  readonly #lateTrades: BurstLog;
  readonly #lateCorrections: BurstLog;

  constructor(log: Logger, exchange: Exchange) {
    this.#log = log;
    this.#exchange = exchange;
    this.#lateTrades = new BurstLog(
      log,
      "warn",
      "Late trade left out of a closed bar",
      "Left {suppressed} more late trades out of closed bars",
    );
    this.#lateCorrections = new BurstLog(
      log,
      "warn",
      "Trade correction could not be applied to its bar",
      "Could not apply {suppressed} more trade corrections to their bars",
    );
  }

  /** Logs a skipped frame or message (the first of a burst per `reason`). */
  parseError(reason: ParseReason, detail: string): void {
    let burst = this.#parseErrors.get(reason);
    if (!burst) {
      burst = new BurstLog(
        this.#log,
        "warn",
        "Cannot parse feed message",
        "Cannot parse {suppressed} more feed messages ({reason})",
      );
      this.#parseErrors.set(reason, burst);
    }
    // `suppressed: 0` on the first line of a burst; the summary sets the real count.
    burst.report({ exchange: this.#exchange, reason, detail, suppressed: 0 });
  }

  /** Logs a trade left out of a closed bar (the first of a burst). */
  lateTrade(symbol: string, exchangeTs: number): void {
    this.#lateTrades.report({ exchange: this.#exchange, symbol, exchangeTs, suppressed: 0 });
  }

  /**
   * Logs a correction or cancel whose bar was already published (`late`) or whose trade
   * was never seen (`unknown`), the first of a burst.
   */
  lateCorrection(symbol: string, action: "cancel" | "correct", outcome: "late" | "unknown"): void {
    this.#lateCorrections.report({
      exchange: this.#exchange,
      symbol,
      action,
      outcome,
      suppressed: 0,
    });
  }

  /** Writes the pending summary lines and stops their timers. */
  close(): void {
    for (const burst of this.#parseErrors.values()) burst.close();
    this.#lateTrades.close();
    this.#lateCorrections.close();
  }
}
