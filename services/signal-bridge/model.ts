/**
 * The one interface every signal model implements, so the service picks a model
 * by config (`signalBridge.model.kind`) and treats them all alike.
 * @module
 */
import type { FeatureName, FeatureValues } from "./symbol_features.ts";

/** Every action a model may advise: the `signal_type` label values. */
export const ACTIONS = ["buy", "sell", "flat"] as const;
/** What a model advises: one of {@link ACTIONS}. */
export type Action = typeof ACTIONS[number];

/** A model's output: an action and its confidence in [0, 1]. */
export interface Prediction {
  readonly action: Action;
  readonly confidence: number;
}

/** A signal model: pure and synchronous, with no I/O. */
export interface Model {
  /** The model kind (config `signalBridge.model.kind`). */
  readonly kind: "rules" | "logistic";
  /** Model name, used as the `model_name` label and in signals. */
  readonly name: string;
  /** Model version, carried in signals. */
  readonly version: string;
  /** The features it reads; it is only called once all of them are defined. */
  readonly features: readonly FeatureName[];
  /** Predicts from the current feature values (all of `features` defined). */
  predict(values: Readonly<FeatureValues>): Prediction;
}
