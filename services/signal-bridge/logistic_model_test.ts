import assert from "node:assert/strict";
import { ConfigError } from "../../lib/config.ts";
import { loadLogisticModel, parseLogisticModel, sigmoid } from "./logistic_model.ts";
import { FEATURE_NAMES, type FeatureValues } from "./symbol_features.ts";

const good = {
  format: "signal-bridge/logistic",
  formatVersion: 1,
  name: "test_model",
  version: "2.1.0",
  features: ["trend_z", "rsi"],
  scaling: { mean: [0, 50], scale: [2, 10] },
  weights: [1, -0.5],
  intercept: 0.25,
  thresholds: { buy: 0.6, sell: 0.4 },
};

function x(v: Partial<FeatureValues>): FeatureValues {
  return { ...Object.fromEntries(FEATURE_NAMES.map((n) => [n, 0])), ...v } as FeatureValues;
}

function refused(raw: unknown, pattern: RegExp): void {
  const text = typeof raw === "string" ? raw : JSON.stringify(raw);
  assert.throws(
    () => parseLogisticModel(text, "m.json"),
    (e: unknown) =>
      e instanceof ConfigError && /m\.json/.test(e.message) && pattern.test(e.message),
  );
}

Deno.test("LogisticModel computes the scaled logistic probability and thresholds it", () => {
  const m = parseLogisticModel(JSON.stringify(good), "m.json");
  assert.equal(m.name, "test_model");
  assert.equal(m.version, "2.1.0");
  const p = m.probability(x({ trend_z: 3, rsi: 40 }));
  assert.ok(Math.abs(p - 1 / (1 + Math.exp(-(0.25 + 1.5 + 0.5)))) < 1e-12);
  assert.deepEqual(m.predict(x({ trend_z: 3, rsi: 40 })), { action: "buy", confidence: p });
  const down = m.predict(x({ trend_z: -3, rsi: 70 }));
  assert.equal(down.action, "sell");
  assert.ok(down.confidence > 0.6);
  assert.equal(m.predict(x({ trend_z: 0, rsi: 50 })).action, "flat");
});

Deno.test("LogisticModel without scaling uses the raw feature values", () => {
  const { scaling: _, ...plain } = good;
  const m = parseLogisticModel(JSON.stringify(plain), "m.json");
  assert.ok(Math.abs(m.probability(x({ trend_z: 1, rsi: 2 })) - sigmoid(0.25 + 1 - 1)) < 1e-12);
});

Deno.test("sigmoid() stays finite for large inputs", () => {
  assert.equal(sigmoid(0), 0.5);
  assert.equal(sigmoid(1000), 1);
  assert.equal(sigmoid(-1000), 0);
});

Deno.test("loadLogisticModel() refuses a missing file with a ConfigError naming it", () => {
  assert.throws(
    () => loadLogisticModel("/nonexistent/model.json"),
    (e: unknown) => e instanceof ConfigError && e.message.includes("/nonexistent/model.json"),
  );
});

Deno.test("parseLogisticModel() refuses malformed JSON", () => {
  refused("{not json", /JSON/);
  refused("[1, 2]", /object/);
});

Deno.test("parseLogisticModel() refuses an unknown feature name and says which", () => {
  refused({ ...good, features: ["trend_z", "moon_phase"] }, /moon_phase/);
  refused({ ...good, features: ["rsi", "rsi"] }, /twice/);
});

Deno.test("parseLogisticModel() refuses an unsupported format version or tag", () => {
  refused({ ...good, formatVersion: 2 }, /formatVersion/);
  refused({ ...good, format: "onnx" }, /format/);
});

Deno.test("parseLogisticModel() refuses arrays whose lengths disagree with the features", () => {
  refused({ ...good, weights: [1] }, /weights/);
  refused({ ...good, scaling: { mean: [0], scale: [1, 1] } }, /scaling\.mean/);
  refused({ ...good, scaling: { mean: [0, 0], scale: [1, 0] } }, /scaling\.scale/);
});

Deno.test("parseLogisticModel() refuses missing, mistyped and unknown fields", () => {
  const { intercept: _, ...noIntercept } = good;
  refused(noIntercept, /intercept/);
  refused({ ...good, weights: [1, "x"] }, /weights/);
  refused({ ...good, bias: 1 }, /bias/);
  refused({ ...good, thresholds: { buy: 0.3, sell: 0.7 } }, /thresholds/);
});

Deno.test("the shipped sample model file loads", () => {
  const path = new URL("../../config/models/logistic_v1.json", import.meta.url).pathname;
  const m = loadLogisticModel(path);
  assert.equal(m.name, "logistic_v1");
  assert.ok(m.features.length > 0);
});
