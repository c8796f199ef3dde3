/**
 * A test double of {@link Model}: it advises whatever the test sets, and can be made
 * to fail.
 * @module
 */
import type { Model, Prediction } from "../model.ts";
import type { FeatureName } from "../symbol_features.ts";

/** A model that says whatever the test sets (`next`), reading only the mid by default. */
export class FixedModel implements Model {
  readonly kind = "rules" as const;
  readonly name = "fixed";
  readonly version = "9";
  /** How many times `predict()` was called. */
  calls = 0;
  /** When true, `predict()` throws an Error. */
  fail = false;

  constructor(
    public next: Prediction,
    readonly features: readonly FeatureName[] = ["mid"],
  ) {}

  /** Returns `next`; throws when `fail` is set. */
  predict(): Prediction {
    this.calls++;
    if (this.fail) throw new Error("Fixed model set to fail");
    return this.next;
  }
}
