/**
 * signal-bridge micro benchmarks: model inference (the figure behind
 * `signal_bridge_inference_latency_us`; its p99 is in the `p99` column of
 * `deno task bench`), one feature update, and a whole market message through the
 * engine (features, gates, inference, signal).
 */
import { loadConfig } from "../lib/config.ts";
import type { Quote, Trade } from "../lib/types.ts";
import { loadLogisticModel } from "../services/signal-bridge/logistic_model.ts";
import { RulesModel } from "../services/signal-bridge/rules_model.ts";
import { SignalBridgeCore } from "../services/signal-bridge/core.ts";
import { SymbolFeatures } from "../services/signal-bridge/symbol_features.ts";

const config = loadConfig({ args: [], env: {} });
const sb = config.signalBridge;
const logistic = loadLogisticModel(
  new URL("../config/models/logistic_v1.json", import.meta.url).pathname,
);
const rules = new RulesModel(sb.rules);

// Warm features on a fixed random walk so every feature is defined.
let seed = 7;
const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
const warm = new SymbolFeatures("AAPL", sb.features);
let mid = 228.14;
let ts = 1;
function quote(): Quote {
  mid = Math.max(1, mid + Math.round((rand() - 0.5) * 4) * 0.01);
  ts++;
  return {
    symbol: "AAPL",
    bidPrice: mid - 0.01,
    bidSize: 100 + Math.floor(rand() * 500),
    askPrice: mid + 0.01,
    askSize: 100 + Math.floor(rand() * 500),
    exchange: "sim",
    exchangeTs: ts,
    receivedTs: ts,
  };
}
function trade(): Trade {
  return {
    symbol: "AAPL",
    price: mid + (rand() < 0.5 ? 0.01 : -0.01),
    size: 1 + Math.floor(rand() * 100),
    exchange: "sim",
    exchangeTs: ts,
    receivedTs: ts,
  };
}
for (let i = 0; i < 500; i++) {
  warm.onQuote(quote());
  warm.onTrade(trade());
}
const x = warm.values;

Deno.bench("inference: rules model predict()", { group: "inference", baseline: true }, () => {
  rules.predict(x);
});

Deno.bench("inference: logistic_v1 model predict()", { group: "inference" }, () => {
  logistic.predict(x);
});

Deno.bench("features: one quote update (all price features)", { group: "features" }, () => {
  warm.onQuote(quote());
});

Deno.bench("features: one trade update (trade flow)", { group: "features" }, () => {
  warm.onTrade(trade());
});

const engine = new SignalBridgeCore({
  symbols: config.symbols,
  model: rules,
  features: sb.features,
  maxDataAgeMs: Number.MAX_SAFE_INTEGER,
  signalTtlMs: sb.signalTtlMs,
  minIntervalMs: 0,
  minConfidence: sb.minConfidence,
});
for (let i = 0; i < 500; i++) engine.onMessage({ type: "quote", body: quote() }, ts);

Deno.bench("engine: one quote through features, gates and the rules model", {
  group: "engine",
}, () => {
  engine.onMessage({ type: "quote", body: quote() }, ts);
});
