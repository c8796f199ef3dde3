/**
 * The rule-based model: mean reversion at RSI extremes, trend following in between.
 * @module
 */
import type { Model, Prediction } from "./model.ts";
import type { FeatureName, FeatureValues } from "./symbol_features.ts";

/** Parameters of {@link RulesModel} (config `signalBridge.rules`). */
export interface RulesParams {
  /** RSI at or above which the model sells (mean reversion). */
  readonly overbought: number;
  /** RSI at or below which the model buys. */
  readonly oversold: number;
  /** |trend_z| at or above which the model follows the trend. */
  readonly trendEntry: number;
}

/** Defaults: RSI 70/30, trend entry 1 typical move. */
export const DEFAULT_RULES: RulesParams = Object.freeze({
  overbought: 70,
  oversold: 30,
  trendEntry: 1,
});

/**
 * The rule model.
 *
 * - RSI >= overbought: sell, confidence `0.5 + 0.5 (rsi - overbought) / (100 - overbought)`.
 * - RSI <= oversold: buy, confidence `0.5 + 0.5 (oversold - rsi) / oversold`.
 * - else |trend_z| >= trendEntry: follow the trend's sign, confidence
 *   `1 - 0.5 exp(-(|trend_z| - trendEntry) / trendEntry)` (0.5 at the entry, towards 1).
 * - else flat, confidence 0.5.
 *
 * @example
 * ```ts
 * const model = new RulesModel();
 * model.predict({ ...values, rsi: 50, trend_z: 3 }); // { action: "buy", confidence: ~0.82 }
 * ```
 */
export class RulesModel implements Model {
  readonly kind = "rules" as const;
  readonly name = "rules";
  readonly version = "1";
  readonly features: readonly FeatureName[] = Object.freeze(["rsi", "trend_z"] as FeatureName[]);

  /** Throws a RangeError unless `oversold < overbought`. */
  constructor(readonly params: RulesParams = DEFAULT_RULES) {
    if (!(params.oversold < params.overbought)) {
      throw new RangeError(
        `Rules oversold ${params.oversold} must be below overbought ${params.overbought}`,
      );
    }
  }

  /** Advises from `rsi` and `trend_z` (both defined). */
  predict(values: Readonly<FeatureValues>): Prediction {
    const rsi = values.rsi as number;
    const trendZ = values.trend_z as number;
    const { overbought, oversold, trendEntry } = this.params;
    if (rsi >= overbought) {
      return {
        action: "sell",
        confidence: clamp01(0.5 + (0.5 * (rsi - overbought)) / (100 - overbought)),
      };
    }
    if (rsi <= oversold) {
      return { action: "buy", confidence: clamp01(0.5 + (0.5 * (oversold - rsi)) / oversold) };
    }
    const trendSize = Math.abs(trendZ);
    if (trendSize >= trendEntry) {
      return {
        action: trendZ > 0 ? "buy" : "sell",
        confidence: clamp01(1 - 0.5 * Math.exp(-(trendSize - trendEntry) / trendEntry)),
      };
    }
    return { action: "flat", confidence: 0.5 };
  }
}

function clamp01(value: number): number {
  return value < 0 ? 0 : value > 1 ? 1 : value;
}
