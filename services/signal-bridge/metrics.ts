/**
 * The signal-bridge metrics recorder: what the handlers record into the service's
 * own families, through label children bound once at start-up, so the hot path does
 * no label lookups of its own.
 *
 * | family | labels | recorded by |
 * | --- | --- | --- |
 * | `signal_bridge_inference_latency_us` | `model_name` | {@link SignalBridgeMetrics.inference} |
 * | `signal_bridge_signals_generated_total` | `signal_type`, `symbol`, `confidence_bucket` | {@link SignalBridgeMetrics.signalGenerated} |
 * | `signal_bridge_signals_suppressed_total` | `reason`, `symbol` | {@link SignalBridgeMetrics.signalSuppressed} |
 *
 * Symbols outside the configured set are labelled `other`. Every counter series (each
 * action, confidence bucket and suppression reason, for every configured symbol and
 * `other`) exists at 0 from construction, so the first of each is a step alerts see.
 * @module
 */
import { boundCounter, boundHistogram } from "../../lib/bound_metrics.ts";
import { type Families, zeroSeries } from "../../lib/metrics.ts";
import type { Signal } from "../../lib/types.ts";
import {
  CONFIDENCE_BUCKETS,
  type ConfidenceBucket,
  confidenceBucket,
} from "./confidence_bucket.ts";
import { SUPPRESS_REASONS, type SuppressReason } from "./core.ts";
import { type Action, ACTIONS } from "./model.ts";

/** The families {@link SignalBridgeMetrics} records into (from `ctx.metrics.families`). */
export type SignalBridgeFamilies = Pick<
  Families<"signal-bridge">,
  | "signal_bridge_inference_latency_us"
  | "signal_bridge_signals_generated_total"
  | "signal_bridge_signals_suppressed_total"
>;

/** Options of {@link SignalBridgeMetrics}. */
export interface SignalBridgeMetricsOptions {
  /** The configured symbols; any other symbol is labelled `other`. */
  readonly symbols: readonly string[];
  /** The model's name: the `model_name` label. */
  readonly modelName: string;
}

interface Counting {
  inc(): void;
}

/** The bound counters of one `symbol` label value. */
interface SymbolChildren {
  readonly generated: Record<Action, Record<ConfidenceBucket, Counting>>;
  readonly suppressed: Record<SuppressReason, Counting>;
}

/**
 * Records signal-bridge's outcomes. Every series exists from construction: the counters
 * at 0 for each closed label value, and the inference histogram of the model at zero, so
 * dashboards and alerts see them before the first signal.
 *
 * @example
 * ```ts
 * const metrics = new SignalBridgeMetrics(ctx.metrics.families, { symbols, modelName: "rules" });
 * metrics.signalGenerated(signal);
 * metrics.signalSuppressed("stale_data", "AAPL");
 * ```
 */
export class SignalBridgeMetrics {
  readonly #inference: { observe(value: number): void };
  readonly #bySymbol = new Map<string, SymbolChildren>();
  readonly #other: SymbolChildren;

  /** Binds the children of every configured symbol and `other`. */
  constructor(families: SignalBridgeFamilies, options: SignalBridgeMetricsOptions) {
    const latency = families.signal_bridge_inference_latency_us;
    latency.zero({ model_name: options.modelName });
    this.#inference = boundHistogram(latency, { model_name: options.modelName });
    const bind = (symbol: string): SymbolChildren => {
      const generated = {} as Record<Action, Record<ConfidenceBucket, Counting>>;
      for (const action of ACTIONS) {
        const byBucket = {} as Record<ConfidenceBucket, Counting>;
        for (const bucket of CONFIDENCE_BUCKETS) {
          byBucket[bucket] = boundCounter(families.signal_bridge_signals_generated_total, {
            signal_type: action,
            symbol,
            confidence_bucket: bucket,
          });
        }
        generated[action] = byBucket;
      }
      const suppressed = {} as Record<SuppressReason, Counting>;
      for (const reason of SUPPRESS_REASONS) {
        suppressed[reason] = boundCounter(families.signal_bridge_signals_suppressed_total, {
          reason,
          symbol,
        });
      }
      return { generated, suppressed };
    };
    for (const symbol of options.symbols) this.#bySymbol.set(symbol, bind(symbol));
    this.#other = bind("other");
    const symbols = [...options.symbols, "other"];
    zeroSeries(families.signal_bridge_signals_generated_total, {
      signal_type: ACTIONS,
      symbol: symbols,
      confidence_bucket: CONFIDENCE_BUCKETS,
    });
    zeroSeries(families.signal_bridge_signals_suppressed_total, {
      reason: SUPPRESS_REASONS,
      symbol: symbols,
    });
  }

  /** Records one model `predict()` time, in µs. */
  inference(microseconds: number): void {
    this.#inference.observe(microseconds);
  }

  /** Counts one published signal by action, symbol and confidence bucket. */
  signalGenerated(signal: Pick<Signal, "action" | "symbol" | "confidence">): void {
    this.#children(signal.symbol).generated[signal.action][confidenceBucket(signal.confidence)]
      .inc();
  }

  /** Counts one market message that produced no signal; `symbol` undefined counts as `other`. */
  signalSuppressed(reason: SuppressReason, symbol: string | undefined): void {
    this.#children(symbol).suppressed[reason].inc();
  }

  #children(symbol: string | undefined): SymbolChildren {
    return (symbol === undefined ? undefined : this.#bySymbol.get(symbol)) ?? this.#other;
  }
}
