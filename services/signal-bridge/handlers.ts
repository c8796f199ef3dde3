/**
 * Between the sockets and the core: takes market-data envelopes, runs the
 * {@link SignalBridgeCore}, publishes the signals it makes (with the incoming trace
 * id) and records every outcome through {@link SignalBridgeMetrics} and the log. No
 * sockets here: the publish function is passed in, so tests call the handler directly.
 *
 * Tracing (lib/tracing.ts): each envelope is handled inside its trace. A sampled one gets a
 * `signal-bridge receive` span with two children recorded from the core's own timing,
 * `signal-bridge features` (the features updated, up to the model's call) and
 * `signal-bridge inference` (the model's call, as `inferenceUs` measured it); a signal
 * carries the receive span's context on. An unsampled one costs no span: its context is made
 * current as it is, and a signal carries it on unchanged.
 * @module
 */
import { BurstLog } from "../../lib/burst_log.ts";
import { CHANNELS } from "../../lib/channels.ts";
import { nowMs } from "../../lib/clock.ts";
import type { Envelope } from "../../lib/envelope.ts";
import { ActivityLog } from "../../lib/activity_log.ts";
import { getLogger } from "../../lib/log.ts";
import { type MessageScope, ServiceTracer, type TraceFields } from "../../lib/tracing.ts";
import type { Signal } from "../../lib/types.ts";
import type { MarketMessage, SignalBridgeCore, SuppressReason } from "./core.ts";
import type { SignalBridgeMetrics } from "./metrics.ts";

/** The market message types the core reads: those of the `market_data` channel. */
const MARKET_TYPES: ReadonlySet<string> = new Set(CHANNELS.market_data.types);

/** The suppressions worth a warning: the data itself was unusable. */
const WARNED_REASONS = ["stale_data", "bad_data", "unknown_symbol"] as const;
type WarnedReason = typeof WARNED_REASONS[number];

/** Options of {@link SignalBridgeHandlers}. */
export interface SignalBridgeHandlersOptions {
  readonly core: SignalBridgeCore;
  readonly metrics: SignalBridgeMetrics;
  /** Publishes a signal envelope in the trace of the message that caused it. */
  readonly publish: (signal: Signal, trace: TraceFields) => void;
  /** The clock, epoch ms; default {@link nowMs}. */
  readonly now?: () => number;
  /** The tracer; default the service's (a no-op with tracing off). */
  readonly tracer?: ServiceTracer;
}

/** Counts of what the handlers did, for `/admin/stats`, the closing log line and tests. */
export interface SignalBridgeStats {
  received: number;
  signals: number;
  suppressed: number;
  ignored: number;
  errors: number;
}

/**
 * Handles market-data envelopes. Never throws: a failure on one message is
 * counted (`reason="error"`), logged and the next message is handled. Unusable data
 * (stale, bad, unknown symbol) is logged as a warning per reason, the first at once
 * and then at most one summary a second ({@link BurstLog}); call {@link close} to
 * flush the last summaries.
 */
export class SignalBridgeHandlers {
  /** What was handled so far. */
  readonly stats: SignalBridgeStats = {
    received: 0,
    signals: 0,
    suppressed: 0,
    ignored: 0,
    errors: 0,
  };
  readonly #core: SignalBridgeCore;
  readonly #metrics: SignalBridgeMetrics;
  readonly #publish: (signal: Signal, trace: TraceFields) => void;
  readonly #now: () => number;
  readonly #tracer: ServiceTracer;
  readonly #log = getLogger(["trading", "signal-bridge"]);
  /** No line per signal on the latency path: a count, and one summary line per period. */
  readonly #activity = new ActivityLog(this.#log, "Signals published");
  readonly #warnings: Record<WarnedReason, BurstLog>;

  constructor(options: SignalBridgeHandlersOptions) {
    this.#core = options.core;
    this.#metrics = options.metrics;
    this.#publish = options.publish;
    this.#now = options.now ?? nowMs;
    this.#tracer = options.tracer ?? new ServiceTracer("signal-bridge");
    const warning = () =>
      new BurstLog(
        this.#log,
        "warn",
        "Market data produced no signal",
        "Market data produced no signal {suppressed} more times ({reason})",
      );
    this.#warnings = { stale_data: warning(), bad_data: warning(), unknown_symbol: warning() };
  }

  /** Handles one envelope from the market-data subscriber, inside its trace. */
  onMarketData(envelope: Envelope): void {
    const scope = this.#tracer.receive("signal-bridge receive", envelope);
    try {
      scope.run(() => this.#handle(envelope, scope));
    } finally {
      scope.end();
    }
  }

  #handle(envelope: Envelope, scope: MessageScope): void {
    this.stats.received++;
    const body = envelope.body as { symbol?: unknown } | null;
    const rawSymbol = typeof body?.symbol === "string" ? body.symbol : undefined;
    try {
      if (!MARKET_TYPES.has(envelope.type) || rawSymbol === undefined) {
        // Heartbeats and other types are not market data; nothing to do.
        this.stats.ignored++;
        return;
      }
      const startedAt = scope.sampled ? nowMs() : 0;
      const outcome = this.#core.onMessage(
        { type: envelope.type, body: envelope.body } as MarketMessage,
        this.#now(),
      );
      if (outcome.kind !== "ignored" && outcome.inferenceUs !== undefined) {
        this.#metrics.inference(outcome.inferenceUs);
      }
      if (scope.sampled) {
        const inferenceUs = outcome.kind === "ignored" ? undefined : outcome.inferenceUs;
        this.#stages(scope, startedAt, outcome.kind, inferenceUs);
      }
      switch (outcome.kind) {
        case "signal": {
          const signal = outcome.signal;
          this.#publish(signal, this.#tracer.inject(scope.context, envelope.trace));
          this.stats.signals++;
          this.#metrics.signalGenerated(signal);
          this.#activity.count(signal.action);
          this.#activity.detail("Signal published", () => ({
            signalId: signal.id,
            symbol: signal.symbol,
            action: signal.action,
            confidence: Math.round(signal.confidence * 1e4) / 1e4,
            price: signal.price,
            model: signal.model,
            trace: envelope.trace,
          }));
          return;
        }
        case "suppressed":
          this.#suppress(outcome.reason, outcome.symbol, envelope);
          return;
        case "ignored":
          this.stats.ignored++;
          return;
      }
    } catch (error) {
      this.stats.errors++;
      this.#suppress("error", rawSymbol, envelope);
      this.#log.error("Cannot handle market data", {
        type: envelope.type,
        symbol: rawSymbol,
        trace: envelope.trace,
        error,
      });
    }
  }

  /** Writes the pending warning summaries and stops their timers. Idempotent. */
  close(): void {
    this.#activity.close();
    for (const reason of WARNED_REASONS) this.#warnings[reason].close();
  }

  /** Same as {@link close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * The stages of a sampled message, recorded after the core returned: features from
   * `startedAt` (epoch ms) to the model's call, then the call itself (`inferenceUs`, when the
   * model ran).
   */
  #stages(
    scope: MessageScope,
    startedAt: number,
    outcome: string,
    inferenceUs: number | undefined,
  ): void {
    const endedAt = nowMs();
    const inferredAt = inferenceUs === undefined
      ? endedAt
      : Math.max(startedAt, endedAt - inferenceUs / 1000);
    const attributes = { "trading.outcome": outcome };
    this.#tracer.record("signal-bridge features", scope.context, startedAt, inferredAt, {
      attributes,
    });
    if (inferenceUs !== undefined) {
      this.#tracer.record("signal-bridge inference", scope.context, inferredAt, endedAt, {
        attributes: { ...attributes, "trading.model": this.#core.model.name },
      });
    }
  }

  #suppress(reason: SuppressReason, symbol: string | undefined, envelope: Envelope): void {
    this.stats.suppressed++;
    this.#metrics.signalSuppressed(reason, symbol);
    if (reason === "stale_data" || reason === "bad_data" || reason === "unknown_symbol") {
      // The counter has the full count; the log only shows that it happens.
      this.#warnings[reason].report({
        reason,
        symbol,
        type: envelope.type,
        trace: envelope.trace,
      });
    }
  }
}
