/**
 * The signal-bridge core: market data in, signals or suppressions out. Plain and
 * synchronous, with no I/O and the clock passed in, so tests drive it directly.
 *
 * For each trade, quote or book of a configured symbol it updates that symbol's
 * features and then, in order: refuses stale data (`stale_data`), waits for the
 * model's features to be defined (`warmup`), spaces signals per symbol
 * (`min_interval`), runs the model, and drops flat advice (`flat`, except the
 * first flat after a live buy/sell, which is published so downstream knows the
 * view ended) and weak advice (`below_threshold`). While the latest top of book lacks
 * a side (a `one_sided_quote`, or a book with an empty side) no signal is made
 * (`one_sided_market`) until a two-sided quote or book arrives: a mid from before the
 * side vanished is not a price to trade on. Trading statuses, LULD bands and trade
 * corrections are not prices: they are ignored here (risk-manager acts on them).
 * @module
 */
import { DEFAULT_FEATURES } from "../../lib/config.ts";
import type { Book, OneSidedQuote, Quote, Signal, Trade } from "../../lib/types.ts";
import type { Action, Model } from "./model.ts";
import { type FeatureParams, type FeatureValues, SymbolFeatures } from "./symbol_features.ts";

/** Why an update produced no signal: the `reason` label of `signal_bridge_signals_suppressed_total`. */
export const SUPPRESS_REASONS = [
  "stale_data",
  "warmup",
  "min_interval",
  "flat",
  "below_threshold",
  "unknown_symbol",
  "bad_data",
  "one_sided_market",
  "error",
] as const;
/** One of {@link SUPPRESS_REASONS}. */
export type SuppressReason = typeof SUPPRESS_REASONS[number];

/** The market messages the core reads. */
export type MarketMessage =
  | { type: "trade"; body: Trade }
  | { type: "quote"; body: Quote }
  | { type: "book"; body: Book }
  | { type: "bar"; body: { symbol: string } }
  | { type: "one_sided_quote"; body: OneSidedQuote }
  | { type: "trading_status" | "luld_band" | "trade_correction"; body: { symbol: string } };

/** What one market message led to. */
export type Outcome =
  | {
    readonly kind: "signal";
    readonly signal: Signal;
    /** How long the model's `predict()` took, in µs. */
    readonly inferenceUs: number;
  }
  | {
    readonly kind: "suppressed";
    readonly reason: SuppressReason;
    readonly symbol: string;
    /** Set when the model ran: its `predict()` time in µs. */
    readonly inferenceUs?: number;
  }
  | {
    readonly kind: "ignored";
    readonly symbol: string;
    /**
     * `bar`: bars do not feed features; `duplicate`: the same price seen twice;
     * `not_a_price`: a trading status, LULD band or trade correction.
     */
    readonly why: "bar" | "duplicate" | "not_a_price";
  };

/** Options of {@link SignalBridgeCore}. */
export interface SignalBridgeCoreOptions {
  readonly symbols: readonly string[];
  readonly model: Model;
  /** Feature periods and windows; default the config's `DEFAULT_FEATURES`. */
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

/** What the admin API shows of one symbol. */
export interface SymbolSnapshot {
  readonly features: FeatureValues;
  readonly priceUpdates: number;
  readonly lastAction: Action;
  /** When its last signal was created (epoch ms), or null before the first. */
  readonly lastSignalAt: number | null;
}

interface SymbolState {
  readonly features: SymbolFeatures;
  lastSignalAt: number;
  lastAction: Action;
  lastExpiresAt: number;
}

/**
 * The streaming core. One instance per process; state per configured symbol.
 *
 * @example
 * ```ts
 * const core = new SignalBridgeCore({ symbols: ["AAPL"], model: new RulesModel(),
 *   maxDataAgeMs: 2000, signalTtlMs: 5000, minIntervalMs: 1000, minConfidence: 0.55 });
 * const outcome = core.onMessage({ type: "quote", body: quote }, nowMs());
 * if (outcome.kind === "signal") publish(outcome.signal);
 * ```
 */
export class SignalBridgeCore {
  /** The model every signal comes from. */
  readonly model: Model;
  readonly #options: SignalBridgeCoreOptions;
  readonly #symbols = new Map<string, SymbolState>();
  readonly #newId: () => string;

  /** Builds the state of every configured symbol; throws a RangeError on invalid feature periods. */
  constructor(options: SignalBridgeCoreOptions) {
    this.#options = options;
    this.model = options.model;
    let signalCount = 0;
    this.#newId = options.newId ?? (() => `sig-${++signalCount}`);
    for (const symbol of options.symbols) {
      this.#symbols.set(symbol, {
        features: new SymbolFeatures(symbol, options.features ?? DEFAULT_FEATURES),
        lastSignalAt: -Infinity,
        lastAction: "flat",
        lastExpiresAt: -Infinity,
      });
    }
  }

  /** A copy of every symbol's state, for the admin API. */
  snapshot(): Record<string, SymbolSnapshot> {
    const snapshot: Record<string, SymbolSnapshot> = {};
    for (const [symbol, state] of this.#symbols) {
      snapshot[symbol] = {
        features: { ...state.features.values },
        priceUpdates: state.features.priceUpdates,
        lastAction: state.lastAction,
        lastSignalAt: Number.isFinite(state.lastSignalAt) ? state.lastSignalAt : null,
      };
    }
    return snapshot;
  }

  /**
   * Applies one market message received at `now` (epoch ms) and says what it led to.
   * Throws only if the model throws.
   */
  onMessage(message: MarketMessage, now: number): Outcome {
    const symbol = message.body.symbol;
    const state = this.#symbols.get(symbol);
    if (state === undefined) return { kind: "suppressed", reason: "unknown_symbol", symbol };
    const features = state.features;
    let receivedTs: number;
    switch (message.type) {
      case "bar":
        return { kind: "ignored", symbol, why: "bar" };
      case "trading_status":
      case "luld_band":
      case "trade_correction":
        return { kind: "ignored", symbol, why: "not_a_price" };
      case "one_sided_quote":
        features.onOneSidedQuote();
        return { kind: "suppressed", reason: "one_sided_market", symbol };
      case "trade":
        features.onTrade(message.body);
        receivedTs = message.body.receivedTs;
        break;
      case "quote":
      case "book": {
        const updatesBefore = features.priceUpdates;
        const applied = message.type === "quote"
          ? features.onQuote(message.body)
          : features.onBook(message.body);
        if (!applied) return { kind: "suppressed", reason: "bad_data", symbol };
        if (features.priceUpdates === updatesBefore) {
          return { kind: "ignored", symbol, why: "duplicate" };
        }
        receivedTs = message.body.receivedTs;
        break;
      }
    }
    if (features.oneSided) return { kind: "suppressed", reason: "one_sided_market", symbol };
    const options = this.#options;
    if (
      now - receivedTs > options.maxDataAgeMs ||
      now - features.lastPriceReceivedTs > options.maxDataAgeMs
    ) {
      return { kind: "suppressed", reason: "stale_data", symbol };
    }
    const model = this.model;
    const values = features.values;
    if (values.mid === undefined || !features.defined(model.features)) {
      return { kind: "suppressed", reason: "warmup", symbol };
    }
    if (now - state.lastSignalAt < options.minIntervalMs) {
      return { kind: "suppressed", reason: "min_interval", symbol };
    }
    const inferenceStartedAt = performance.now();
    const prediction = model.predict(values);
    const inferenceUs = (performance.now() - inferenceStartedAt) * 1000;
    if (prediction.action === "flat") {
      // Publish the first flat after a live buy/sell so downstream knows the view ended.
      if (state.lastAction === "flat" || now >= state.lastExpiresAt) {
        state.lastAction = "flat";
        return { kind: "suppressed", reason: "flat", symbol, inferenceUs };
      }
    } else if (!(prediction.confidence >= options.minConfidence)) {
      return { kind: "suppressed", reason: "below_threshold", symbol, inferenceUs };
    }
    const used: Record<string, number> = {};
    for (const name of model.features) used[name] = values[name] as number;
    const signal: Signal = {
      id: this.#newId(),
      symbol,
      action: prediction.action,
      confidence: prediction.confidence,
      model: model.name,
      modelVersion: model.version,
      features: used,
      price: values.mid,
      createdAt: now,
      expiresAt: now + options.signalTtlMs,
      tickTs: receivedTs,
    };
    state.lastSignalAt = now;
    state.lastAction = prediction.action;
    state.lastExpiresAt = signal.expiresAt;
    return { kind: "signal", signal, inferenceUs };
  }
}
