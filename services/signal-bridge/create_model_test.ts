import assert from "node:assert/strict";
import { ConfigError } from "../../lib/config.ts";
import { createModel } from "./create_model.ts";

const rules = { overbought: 70, oversold: 30, trendEntry: 1.5 };

Deno.test("createModel() builds the rule model for kind rules without reading the model file", () => {
  const m = createModel({ model: { kind: "rules", path: "/nonexistent.json" }, rules }, () => {
    throw new Error("must not read");
  });
  assert.equal(m.kind, "rules");
});

Deno.test("createModel() loads the logistic model file for kind logistic", () => {
  const file = {
    format: "signal-bridge/logistic",
    formatVersion: 1,
    name: "lr",
    version: "1",
    features: ["rsi"],
    weights: [0.1],
    intercept: 0,
    thresholds: { buy: 0.6, sell: 0.4 },
  };
  const m = createModel(
    { model: { kind: "logistic", path: "lr.json" }, rules },
    () => JSON.stringify(file),
  );
  assert.equal(m.kind, "logistic");
  assert.equal(m.name, "lr");
});

Deno.test("createModel() turns a missing logistic model file into a ConfigError", () => {
  assert.throws(
    () => createModel({ model: { kind: "logistic", path: "/nonexistent/lr.json" }, rules }),
    ConfigError,
  );
});
