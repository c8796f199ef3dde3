/**
 * The logistic-regression model and its JSON model file (format version 1, see
 * MODEL_FORMAT.md). Loading refuses a missing, malformed or inconsistent file with
 * a {@link ConfigError} that names the file and the problem, so the service exits
 * at start-up (code 2) instead of trading on a broken model.
 * @module
 */
import { z } from "zod";
import { ConfigError } from "../../lib/config.ts";
import type { Model, Prediction } from "./model.ts";
import {
  FEATURE_NAMES,
  type FeatureName,
  type FeatureValues,
  isFeatureName,
} from "./symbol_features.ts";

/** The `format` tag of a model file. */
export const MODEL_FORMAT = "signal-bridge/logistic";
/** The model-file format versions this build reads. */
export const SUPPORTED_FORMAT_VERSIONS = [1] as const;

const finite = z.number().finite();

/** The schema of a version-1 logistic model file. Unknown fields are errors. */
export const LogisticModelFileSchema = z.strictObject({
  format: z.literal(MODEL_FORMAT),
  formatVersion: z.literal(1),
  name: z.string().regex(/^[a-z0-9_.-]{1,40}$/, "must be 1-40 of a-z, 0-9, _ . -"),
  version: z.string().min(1).max(40),
  description: z.string().optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
  features: z.array(z.string()).min(1),
  scaling: z.strictObject({
    mean: z.array(finite),
    scale: z.array(finite),
  }).optional(),
  weights: z.array(finite),
  intercept: finite,
  thresholds: z.strictObject({
    buy: z.number().gt(0).lt(1),
    sell: z.number().gt(0).lt(1),
  }),
});
/** A parsed model file. */
export type LogisticModelFile = z.infer<typeof LogisticModelFileSchema>;

/** The logistic function, stable for large |z|. */
export function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

/**
 * Logistic regression over named features:
 * `p = sigmoid(intercept + sum_i weights[i] * (x_i - mean[i]) / scale[i])`,
 * the probability that the price goes up. Buy when `p >= thresholds.buy` (confidence
 * p), sell when `p <= thresholds.sell` (confidence 1 - p), else flat (confidence
 * max(p, 1 - p)).
 */
export class LogisticModel implements Model {
  readonly kind = "logistic" as const;
  readonly name: string;
  readonly version: string;
  readonly features: readonly FeatureName[];
  readonly #weights: Float64Array;
  readonly #mean: Float64Array;
  readonly #scale: Float64Array;
  readonly #intercept: number;
  readonly #buy: number;
  readonly #sell: number;

  /** Builds the model from a validated file (see {@link parseLogisticModel}). */
  constructor(file: LogisticModelFile) {
    this.name = file.name;
    this.version = file.version;
    this.features = Object.freeze(file.features as FeatureName[]);
    const featureCount = file.features.length;
    this.#weights = Float64Array.from(file.weights);
    this.#mean = file.scaling
      ? Float64Array.from(file.scaling.mean)
      : new Float64Array(featureCount);
    this.#scale = file.scaling
      ? Float64Array.from(file.scaling.scale)
      : new Float64Array(featureCount).fill(1);
    this.#intercept = file.intercept;
    this.#buy = file.thresholds.buy;
    this.#sell = file.thresholds.sell;
  }

  /** The probability of an up move for these feature values. */
  probability(values: Readonly<FeatureValues>): number {
    let logit = this.#intercept;
    const features = this.features;
    for (let i = 0; i < features.length; i++) {
      logit += (this.#weights[i] * ((values[features[i]] as number) - this.#mean[i])) /
        this.#scale[i];
    }
    return sigmoid(logit);
  }

  /** Buy, sell or flat by the thresholds; flat with confidence 0 when p is not finite. */
  predict(values: Readonly<FeatureValues>): Prediction {
    const probability = this.probability(values);
    if (!Number.isFinite(probability)) return { action: "flat", confidence: 0 };
    if (probability >= this.#buy) return { action: "buy", confidence: probability };
    if (probability <= this.#sell) return { action: "sell", confidence: 1 - probability };
    return { action: "flat", confidence: Math.max(probability, 1 - probability) };
  }
}

/**
 * Parses and checks the text of a model file. Throws {@link ConfigError}
 * (`Cannot load model "<source>": ...`) when it is not JSON, does not match the
 * schema, has an unsupported `formatVersion`, names an unknown or repeated feature,
 * has arrays whose lengths disagree, a scale of 0, or `thresholds.sell > thresholds.buy`.
 */
export function parseLogisticModel(text: string, source: string): LogisticModel {
  const fail = (problem: string): never => {
    throw new ConfigError(`Cannot load model "${source}": ${problem}`);
  };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    return fail(`not valid JSON: ${(error as Error).message}`);
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    return fail("must be a JSON object");
  }
  const fields = raw as Record<string, unknown>;
  if (fields.format !== MODEL_FORMAT) {
    fail(
      `"format" must be ${JSON.stringify(MODEL_FORMAT)}, got ${JSON.stringify(fields.format)}`,
    );
  }
  if (!(SUPPORTED_FORMAT_VERSIONS as readonly unknown[]).includes(fields.formatVersion)) {
    fail(
      `"formatVersion" ${JSON.stringify(fields.formatVersion)} is not supported (supported: ${
        SUPPORTED_FORMAT_VERSIONS.join(", ")
      })`,
    );
  }
  const parsed = LogisticModelFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue.path.map(String).join(".");
    if (issue.code === "unrecognized_keys") {
      fail(
        `unknown field ${
          issue.keys.map((key) => `"${field ? field + "." : ""}${key}"`).join(", ")
        }`,
      );
    }
    fail(`"${field}" ${describeIssue(issue)}`);
  }
  const file = parsed.data!;
  const seen = new Set<string>();
  for (const name of file.features) {
    if (!isFeatureName(name)) {
      fail(`unknown feature "${name}" in "features" (known: ${FEATURE_NAMES.join(", ")})`);
    }
    if (seen.has(name)) fail(`feature "${name}" appears twice in "features"`);
    seen.add(name);
  }
  const featureCount = file.features.length;
  const sameLength = (what: string, length: number) => {
    if (length !== featureCount) {
      fail(`"${what}" has ${length} entries but "features" has ${featureCount}`);
    }
  };
  sameLength("weights", file.weights.length);
  if (file.scaling) {
    sameLength("scaling.mean", file.scaling.mean.length);
    sameLength("scaling.scale", file.scaling.scale.length);
    const zeroAt = file.scaling.scale.findIndex((scale) => scale === 0);
    if (zeroAt >= 0) fail(`"scaling.scale.${zeroAt}" must not be 0`);
  }
  if (file.thresholds.sell > file.thresholds.buy) {
    fail(
      `"thresholds.sell" (${file.thresholds.sell}) must not exceed "thresholds.buy" (${file.thresholds.buy})`,
    );
  }
  return new LogisticModel(file);
}

/** Reads and parses a model file; a missing or unreadable file is a {@link ConfigError}. */
export function loadLogisticModel(
  path: string,
  readFile: (path: string) => string = (filePath) => Deno.readTextFileSync(filePath),
): LogisticModel {
  let text: string;
  try {
    text = readFile(path);
  } catch (error) {
    const why = error instanceof Deno.errors.NotFound ? "file not found" : (error as Error).message;
    throw new ConfigError(`Cannot load model "${path}": ${why}`);
  }
  return parseLogisticModel(text, path);
}

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case "invalid_type":
      return issue.input === undefined
        ? `is required (${issue.expected})`
        : `must be a ${issue.expected}`;
    case "too_small":
      return `must be ${issue.inclusive ? ">=" : ">"} ${issue.minimum}${
        issue.origin === "array" ? " items" : ""
      }`;
    case "too_big":
      return `must be ${issue.inclusive ? "<=" : "<"} ${issue.maximum}`;
    default:
      return issue.message.charAt(0).toLowerCase() + issue.message.slice(1);
  }
}
