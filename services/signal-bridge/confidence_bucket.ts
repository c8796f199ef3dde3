/**
 * The closed set of `confidence_bucket` label values of
 * `signal_bridge_signals_generated_total`.
 * @module
 */

/** Buckets, each including its lower bound; 1.0 falls in "0.9-1.0". */
export const CONFIDENCE_BUCKETS = [
  "0.0-0.5",
  "0.5-0.6",
  "0.6-0.7",
  "0.7-0.8",
  "0.8-0.9",
  "0.9-1.0",
] as const;
/** One of {@link CONFIDENCE_BUCKETS}. */
export type ConfidenceBucket = typeof CONFIDENCE_BUCKETS[number];

/**
 * The bucket of a confidence in [0, 1]; values outside (or NaN) are clamped, NaN to "0.0-0.5".
 *
 * @example
 * ```ts
 * confidenceBucket(0.73); // "0.7-0.8"
 * ```
 */
export function confidenceBucket(confidence: number): ConfidenceBucket {
  if (!(confidence >= 0.5)) return "0.0-0.5";
  if (confidence < 0.6) return "0.5-0.6";
  if (confidence < 0.7) return "0.6-0.7";
  if (confidence < 0.8) return "0.7-0.8";
  if (confidence < 0.9) return "0.8-0.9";
  return "0.9-1.0";
}
