/**
 * Between the sockets and the engine: takes market-data envelopes, runs the
 * {@link SignalBridgeCore}, publishes the signals it makes (with the incoming trace id)
 * and records every outcome in the service's metrics and log. No sockets here:
 * the publish function is passed in, so tests drive it directly.
 * @module
 */
import type { Counter, Histogram } from "prom-client";
import type { Envelope } from "../../lib/envelope.ts";
import { getLogger } from "../../lib/log.ts";
import { symbolLabel } from "../../lib/metrics.ts";
import { type Signal } from "../../lib/types.ts";
import { nowMs } from "../../lib/clock.ts";
import { confidenceBucket } from "./confidence_bucket.ts";
import type { MarketMessage, SignalBridgeCore, SuppressReason } from "./core.ts";

/** The market message types signal-bridge subscribes to. */
export const MARKET_TYPES = ["trade", "quote", "book", "bar"] as const;

/** The metric families the bridge records into. */
export interface BridgeMetrics {
  readonly signal_bridge_inference_latency_us: Histogram<"model_name">;
  readonly signal_bridge_signals_generated_total: Counter<
    "signal_type" | "symbol" | "confidence_bucket"
  >;
  readonly signal_bridge_signals_suppressed_total: Counter<"reason" | "symbol">;
}

/** Options of {@link SignalBridge}. */
export interface SignalBridgeOptions {
  readonly engine: SignalBridgeCore;
  readonly metrics: BridgeMetrics;
  /** The configured symbols; any other symbol is labelled "other". */
  readonly symbols: readonly string[];
  /** Publishes a signal envelope with the trace id of the message that caused it. */
  readonly publish: (signal: Signal, trace: string) => void;
  /** The clock, epoch ms; default {@link nowMs}. */
  readonly now?: () => number;
}

/** Counts of what the bridge did, for `/admin/stats` and tests. */
export interface BridgeStats {
  received: number;
  signals: number;
  suppressed: number;
  ignored: number;
  errors: number;
}

/**
 * Handles market-data envelopes. Never throws: a failure on one message is
 * counted (`reason="error"`), logged and the next message is handled.
 */
export class SignalBridge {
  readonly stats: BridgeStats = { received: 0, signals: 0, suppressed: 0, ignored: 0, errors: 0 };
  readonly #o: SignalBridgeOptions;
  readonly #symbols: ReadonlySet<string>;
  readonly #now: () => number;
  readonly #log = getLogger(["trading", "signal-bridge"]);
  readonly #modelName: string;
  readonly #lastWarn = new Map<SuppressReason, number>();

  constructor(options: SignalBridgeOptions) {
    this.#o = options;
    this.#symbols = new Set(options.symbols);
    this.#now = options.now ?? nowMs;
    this.#modelName = options.engine.model.name;
    // Pre-create the series so dashboards show zeros before the first signal.
    options.metrics.signal_bridge_inference_latency_us.zero({ model_name: this.#modelName });
  }

  /** Handles one envelope from the market-data subscriber. */
  handle(env: Envelope): void {
    this.stats.received++;
    const body = env.body as { symbol?: unknown } | null;
    const rawSymbol = typeof body?.symbol === "string" ? body.symbol : undefined;
    try {
      if (!(MARKET_TYPES as readonly string[]).includes(env.type) || rawSymbol === undefined) {
        // Heartbeats and other types are not market data; nothing to do.
        this.stats.ignored++;
        return;
      }
      const out = this.#o.engine.onMessage(
        { type: env.type, body: env.body } as MarketMessage,
        this.#now(),
      );
      const m = this.#o.metrics;
      if (out.kind !== "ignored" && out.inferenceUs !== undefined) {
        m.signal_bridge_inference_latency_us.observe(
          { model_name: this.#modelName },
          out.inferenceUs,
        );
      }
      switch (out.kind) {
        case "signal": {
          const s = out.signal;
          this.#o.publish(s, env.trace);
          this.stats.signals++;
          m.signal_bridge_signals_generated_total.inc({
            signal_type: s.action,
            symbol: symbolLabel(this.#symbols, s.symbol),
            confidence_bucket: confidenceBucket(s.confidence),
          });
          this.#log.info("Signal published", {
            signalId: s.id,
            symbol: s.symbol,
            action: s.action,
            confidence: Math.round(s.confidence * 1e4) / 1e4,
            price: s.price,
            model: s.model,
            trace: env.trace,
          });
          return;
        }
        case "suppressed":
          this.#suppress(out.reason, out.symbol, env);
          return;
        case "ignored":
          this.stats.ignored++;
          return;
      }
    } catch (e) {
      this.stats.errors++;
      this.#suppress("error", rawSymbol, env);
      this.#log.error("Cannot handle market data", {
        type: env.type,
        symbol: rawSymbol,
        trace: env.trace,
        error: e,
      });
    }
  }

  #suppress(reason: SuppressReason, symbol: string | undefined, env: Envelope): void {
    this.stats.suppressed++;
    this.#o.metrics.signal_bridge_signals_suppressed_total.inc({
      reason,
      symbol: symbolLabel(this.#symbols, symbol),
    });
    if (reason === "stale_data" || reason === "bad_data" || reason === "unknown_symbol") {
      // At most one warning per reason every 10 s; the counter has the full count.
      const now = this.#now();
      if (now - (this.#lastWarn.get(reason) ?? -Infinity) >= 10_000) {
        this.#lastWarn.set(reason, now);
        this.#log.warn("Market data produced no signal", {
          reason,
          symbol,
          type: env.type,
          trace: env.trace,
        });
      }
    }
  }
}
