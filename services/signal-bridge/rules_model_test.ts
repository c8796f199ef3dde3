import assert from "node:assert/strict";
import { RulesModel } from "./rules_model.ts";
import { FEATURE_NAMES, type FeatureValues } from "./symbol_features.ts";

function x(rsi: number, trend_z: number): FeatureValues {
  const v = Object.fromEntries(FEATURE_NAMES.map((n) => [n, 0])) as FeatureValues;
  return { ...v, rsi, trend_z };
}

const m = new RulesModel({ overbought: 70, oversold: 30, trendEntry: 1.5 });

Deno.test("RulesModel sells when RSI is overbought and buys when oversold, whatever the trend", () => {
  assert.deepEqual(m.predict(x(85, 5)), { action: "sell", confidence: 0.75 });
  assert.deepEqual(m.predict(x(15, -5)), { action: "buy", confidence: 0.75 });
  assert.equal(m.predict(x(100, 0)).confidence, 1);
});

Deno.test("RulesModel follows a strong trend when RSI is neutral", () => {
  assert.deepEqual(m.predict(x(50, 1.5)), { action: "buy", confidence: 0.5 });
  const down = m.predict(x(50, -3));
  assert.equal(down.action, "sell");
  assert.ok(Math.abs(down.confidence - (1 - 0.5 * Math.exp(-1))) < 1e-12);
});

Deno.test("RulesModel is flat with a neutral RSI and a weak trend", () => {
  assert.deepEqual(m.predict(x(55, 1.4)), { action: "flat", confidence: 0.5 });
});

Deno.test("RulesModel names the features it reads", () => {
  assert.deepEqual([...m.features], ["rsi", "trend_z"]);
  assert.equal(m.kind, "rules");
});
