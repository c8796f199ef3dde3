/**
 * signal-bridge micro benchmarks: model inference (the figure behind
 * `signal_bridge_inference_latency_us`; its p99 is in the `p99` column of
 * `deno task bench`), one feature update, and a whole market message through the
 * core (features, gates, inference, signal).
 */
import { loadConfig } from "../lib/config.ts";
import type { Quote, Trade } from "../lib/types.ts";
import { SignalBridgeCore } from "../services/signal-bridge/core.ts";
import { loadLogisticModel } from "../services/signal-bridge/logistic_model.ts";
import { RulesModel } from "../services/signal-bridge/rules_model.ts";
import { SymbolFeatures } from "../services/signal-bridge/symbol_features.ts";
import { seededRandom } from "../services/signal-bridge/testing/fixtures.ts";
import { sampleQuote, sampleTrade } from "../services/signal-bridge/testing/market_data.ts";
import { benchOptions } from "./smoke.ts";

const config = loadConfig({ args: [], env: {} });
const signalBridge = config.signalBridge;
const logistic = loadLogisticModel(
  new URL("../config/models/logistic_v1.json", import.meta.url).pathname,
);
const rules = new RulesModel(signalBridge.rules);

// Warm features on a fixed random walk so every feature is defined.
const random = seededRandom(7);
const warm = new SymbolFeatures("AAPL", signalBridge.features);
let mid = 228.14;
let ts = 1;
/** The next quote of the walk: the mid moves by up to 2 cents, sizes 100-599. */
function quote(): Quote {
  mid = Math.max(1, mid + Math.round((random() - 0.5) * 4) * 0.01);
  ts++;
  const bidSize = 100 + Math.floor(random() * 500);
  const askSize = 100 + Math.floor(random() * 500);
  return sampleQuote(mid, ts, { bidSize, askSize });
}
/** A trade a cent either side of the mid, size 1-100. */
function trade(): Trade {
  const price = mid + (random() < 0.5 ? 0.01 : -0.01);
  return sampleTrade(price, 1 + Math.floor(random() * 100), ts);
}
for (let i = 0; i < 500; i++) {
  warm.onQuote(quote());
  warm.onTrade(trade());
}
const values = warm.values;

Deno.bench(
  "inference: rules model predict()",
  benchOptions({ group: "inference", baseline: true }),
  () => {
    rules.predict(values);
  },
);

Deno.bench("inference: logistic_v1 model predict()", benchOptions({ group: "inference" }), () => {
  logistic.predict(values);
});

Deno.bench(
  "features: one quote update (all price features)",
  benchOptions({ group: "features" }),
  () => {
    warm.onQuote(quote());
  },
);

Deno.bench("features: one trade update (trade flow)", benchOptions({ group: "features" }), () => {
  warm.onTrade(trade());
});

const core = new SignalBridgeCore({
  symbols: config.symbols,
  model: rules,
  features: signalBridge.features,
  maxDataAgeMs: Number.MAX_SAFE_INTEGER,
  signalTtlMs: signalBridge.signalTtlMs,
  minIntervalMs: 0,
  minConfidence: signalBridge.minConfidence,
});
for (let i = 0; i < 500; i++) core.onMessage({ type: "quote", body: quote() }, ts);

Deno.bench(
  "core: one quote through features, gates and the rules model",
  benchOptions({ group: "core" }),
  () => {
    core.onMessage({ type: "quote", body: quote() }, ts);
  },
);
