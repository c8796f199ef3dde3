/**
 * The signal-bridge core: market data in, signals or suppressions out. Plain and
 * synchronous, with no I/O and the clock passed in, so tests drive it directly.
 *
 * For each trade, quote or book of a configured symbol it updates that symbol's
 * features and then, in order: refuses stale data (`stale_data`), waits for the
 * model's features to be defined (`warmup`), spaces signals per symbol
 * (`min_interval`), runs the model, and drops flat advice (`flat`, except the
 * first flat after a live buy/sell, which is published so downstream knows the
 * view ended) and weak advice (`below_threshold`).
 * @module
 */
import type { Book, Quote, Signal, Trade } from "../../lib/types.ts";
import type { Action, Model } from "./model.ts";
import {
  DEFAULT_FEATURE_PARAMS,
  type FeatureParams,
  type FeatureValues,
  SymbolFeatures,
} from "./symbol_features.ts";

/** Why an update produced no signal: the `reason` label of `signal_bridge_signals_suppressed_total`. */
export const SUPPRESS_REASONS = [
  "stale_data",
  "warmup",
  "min_interval",
  "flat",
  "below_threshold",
  "unknown_symbol",
  "bad_data",
  "error",
] as const;
/** One of {@link SUPPRESS_REASONS}. */
export type SuppressReason = typeof SUPPRESS_REASONS[number];

/** The market messages the engine reads. */
export type MarketMessage =
  | { type: "trade"; body: Trade }
  | { type: "quote"; body: Quote }
  | { type: "book"; body: Book }
  | { type: "bar"; body: { symbol: string } };

/** What one market message led to. */
export type Outcome =
  | { readonly kind: "signal"; readonly signal: Signal; readonly inferenceUs: number }
  | {
    readonly kind: "suppressed";
    readonly reason: SuppressReason;
    readonly symbol: string;
    /** Set when the model ran. */
    readonly inferenceUs?: number;
  }
  | {
    readonly kind: "ignored";
    readonly symbol: string;
    /** `bar`: bars do not feed features; `duplicate`: the same price seen twice. */
    readonly why: "bar" | "duplicate";
  };

/** Options of {@link SignalBridgeCore}. */
export interface SignalBridgeCoreOptions {
  readonly symbols: readonly string[];
  readonly model: Model;
  readonly features?: FeatureParams;
  /** Data whose `receivedTs` is older than this (ms) produces no signal. */
  readonly maxDataAgeMs: number;
  /** A signal expires this long (ms) after it is created. */
  readonly signalTtlMs: number;
  /** At least this long (ms) between two signals of one symbol. */
  readonly minIntervalMs: number;
  /** Buy/sell advice below this confidence is suppressed. */
  readonly minConfidence: number;
  /** Makes signal ids; default `sig-1`, `sig-2`, ... */
  readonly newId?: () => string;
}

interface SymbolState {
  readonly features: SymbolFeatures;
  lastSignalAt: number;
  lastAction: Action;
  lastExpiresAt: number;
}

/** True when `signal` has expired at `nowMs` (its `expiresAt` has passed). */
export function isExpired(signal: Pick<Signal, "expiresAt">, nowMs: number): boolean {
  return nowMs >= signal.expiresAt;
}

/**
 * The streaming core. One instance per process; state per configured symbol.
 *
 * @example
 * ```ts
 * const engine = new SignalBridgeCore({ symbols: ["AAPL"], model: new RulesModel(),
 *   maxDataAgeMs: 2000, signalTtlMs: 5000, minIntervalMs: 1000, minConfidence: 0.55 });
 * const out = engine.onMessage({ type: "quote", body: quote }, nowMs());
 * if (out.kind === "signal") publish(out.signal);
 * ```
 */
export class SignalBridgeCore {
  readonly model: Model;
  readonly #opts: SignalBridgeCoreOptions;
  readonly #symbols = new Map<string, SymbolState>();
  readonly #newId: () => string;

  constructor(opts: SignalBridgeCoreOptions) {
    this.#opts = opts;
    this.model = opts.model;
    let n = 0;
    this.#newId = opts.newId ?? (() => `sig-${++n}`);
    for (const s of opts.symbols) {
      this.#symbols.set(s, {
        features: new SymbolFeatures(s, opts.features ?? DEFAULT_FEATURE_PARAMS),
        lastSignalAt: -Infinity,
        lastAction: "flat",
        lastExpiresAt: -Infinity,
      });
    }
  }

  /** The features of `symbol` (a live read-only view), or undefined for an unknown symbol. */
  features(symbol: string): Readonly<FeatureValues> | undefined {
    return this.#symbols.get(symbol)?.features.values;
  }

  /** A copy of every symbol's state, for the admin API. */
  snapshot(): Record<
    string,
    {
      features: FeatureValues;
      priceUpdates: number;
      lastAction: Action;
      lastSignalAt: number | null;
    }
  > {
    const out: ReturnType<SignalBridgeCore["snapshot"]> = {};
    for (const [s, st] of this.#symbols) {
      out[s] = {
        features: { ...st.features.values },
        priceUpdates: st.features.priceUpdates,
        lastAction: st.lastAction,
        lastSignalAt: Number.isFinite(st.lastSignalAt) ? st.lastSignalAt : null,
      };
    }
    return out;
  }

  /** Applies one market message received at `now` (epoch ms) and says what it led to. */
  onMessage(msg: MarketMessage, now: number): Outcome {
    const symbol = msg.body.symbol;
    const st = this.#symbols.get(symbol);
    if (st === undefined) return { kind: "suppressed", reason: "unknown_symbol", symbol };
    const f = st.features;
    let receivedTs: number;
    switch (msg.type) {
      case "bar":
        return { kind: "ignored", symbol, why: "bar" };
      case "trade":
        f.onTrade(msg.body);
        receivedTs = msg.body.receivedTs;
        break;
      case "quote": {
        const before = f.priceUpdates;
        if (!f.onQuote(msg.body)) return { kind: "suppressed", reason: "bad_data", symbol };
        if (f.priceUpdates === before) return { kind: "ignored", symbol, why: "duplicate" };
        receivedTs = msg.body.receivedTs;
        break;
      }
      case "book": {
        const before = f.priceUpdates;
        if (!f.onBook(msg.body)) return { kind: "suppressed", reason: "bad_data", symbol };
        if (f.priceUpdates === before) return { kind: "ignored", symbol, why: "duplicate" };
        receivedTs = msg.body.receivedTs;
        break;
      }
    }
    const o = this.#opts;
    if (now - receivedTs > o.maxDataAgeMs || now - f.lastPriceReceivedTs > o.maxDataAgeMs) {
      return { kind: "suppressed", reason: "stale_data", symbol };
    }
    const model = this.model;
    const x = f.values;
    if (x.mid === undefined || !f.defined(model.features)) {
      return { kind: "suppressed", reason: "warmup", symbol };
    }
    if (now - st.lastSignalAt < o.minIntervalMs) {
      return { kind: "suppressed", reason: "min_interval", symbol };
    }
    const t0 = performance.now();
    const pred = model.predict(x);
    const inferenceUs = (performance.now() - t0) * 1000;
    if (pred.action === "flat") {
      // Publish the first flat after a live buy/sell so downstream knows the view ended.
      if (st.lastAction === "flat" || now >= st.lastExpiresAt) {
        st.lastAction = "flat";
        return { kind: "suppressed", reason: "flat", symbol, inferenceUs };
      }
    } else if (!(pred.confidence >= o.minConfidence)) {
      return { kind: "suppressed", reason: "below_threshold", symbol, inferenceUs };
    }
    const used: Record<string, number> = {};
    for (const name of model.features) used[name] = x[name] as number;
    const signal: Signal = {
      id: this.#newId(),
      symbol,
      action: pred.action,
      confidence: pred.confidence,
      model: model.name,
      modelVersion: model.version,
      features: used,
      price: x.mid,
      createdAt: now,
      expiresAt: now + o.signalTtlMs,
      tickTs: receivedTs,
    };
    st.lastSignalAt = now;
    st.lastAction = pred.action;
    st.lastExpiresAt = signal.expiresAt;
    return { kind: "signal", signal, inferenceUs };
  }
}
