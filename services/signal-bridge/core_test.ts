import assert from "node:assert/strict";
import type { Quote, Signal, Trade } from "../../lib/types.ts";
import type { Model, Prediction } from "./model.ts";
import { RulesModel } from "./rules_model.ts";
import { isExpired, type Outcome, SignalBridgeCore, type SignalBridgeCoreOptions } from "./core.ts";
import type { FeatureName } from "./symbol_features.ts";

const params = {
  emaFast: 2,
  emaSlow: 3,
  macdSignal: 2,
  rsiPeriod: 2,
  returnsWindow: 1,
  volatilityWindow: 2,
  tradeFlowWindow: 2,
  imbalanceLevels: 1,
};

/** A model that says whatever the test sets, reading only the mid. */
class FixedModel implements Model {
  readonly kind = "rules" as const;
  readonly name = "fixed";
  readonly version = "9";
  calls = 0;
  constructor(
    public next: Prediction,
    readonly features: readonly FeatureName[] = ["mid"],
  ) {}
  predict(): Prediction {
    this.calls++;
    return this.next;
  }
}

function engine(model: Model, over: Partial<SignalBridgeCoreOptions> = {}): SignalBridgeCore {
  return new SignalBridgeCore({
    symbols: ["AAPL", "MSFT"],
    model,
    features: params,
    maxDataAgeMs: 1000,
    signalTtlMs: 5000,
    minIntervalMs: 100,
    minConfidence: 0.55,
    ...over,
  });
}

let seq = 0;
function quote(mid: number, receivedTs: number, symbol = "AAPL"): { type: "quote"; body: Quote } {
  return {
    type: "quote",
    body: {
      symbol,
      bidPrice: mid - 0.01,
      bidSize: 1,
      askPrice: mid + 0.01,
      askSize: 1,
      exchange: "sim",
      exchangeTs: ++seq,
      receivedTs,
    },
  };
}

function signalOf(o: Outcome): Signal {
  assert.equal(o.kind, "signal", `expected a signal, got ${JSON.stringify(o)}`);
  return (o as { signal: Signal }).signal;
}

function reasonOf(o: Outcome): string | undefined {
  return o.kind === "suppressed" ? o.reason : undefined;
}

Deno.test("SignalBridgeCore emits a complete signal with expiry, model and the features used", () => {
  const m = new FixedModel({ action: "buy", confidence: 0.8 });
  const e = engine(m, { newId: () => "id-1" });
  const s = signalOf(e.onMessage(quote(100, 10_000), 10_050));
  assert.deepEqual(s, {
    id: "id-1",
    symbol: "AAPL",
    action: "buy",
    confidence: 0.8,
    model: "fixed",
    modelVersion: "9",
    features: { mid: 100 },
    price: 100,
    createdAt: 10_050,
    expiresAt: 15_050,
    tickTs: 10_000,
  });
  assert.equal(isExpired(s, 15_049), false);
  assert.equal(isExpired(s, 15_050), true);
});

Deno.test("SignalBridgeCore produces no signal from stale data", () => {
  const m = new FixedModel({ action: "buy", confidence: 0.8 });
  const e = engine(m);
  assert.equal(reasonOf(e.onMessage(quote(100, 10_000), 11_001)), "stale_data");
  assert.equal(m.calls, 0);
  // The features still took the price in, so the next fresh update signals.
  assert.equal(e.features("AAPL")?.mid, 100);
  assert.equal(e.onMessage(quote(101, 11_000), 11_001).kind, "signal");
});

Deno.test("SignalBridgeCore treats a fresh trade on a stale price as stale", () => {
  const e = engine(new FixedModel({ action: "buy", confidence: 0.8 }));
  e.onMessage(quote(100, 0), 5_000);
  const trade: Trade = {
    symbol: "AAPL",
    price: 100,
    size: 1,
    exchange: "sim",
    exchangeTs: 1,
    receivedTs: 5_000,
  };
  assert.equal(reasonOf(e.onMessage({ type: "trade", body: trade }, 5_000)), "stale_data");
});

Deno.test("SignalBridgeCore waits for every feature the model reads to warm up", () => {
  const m = new FixedModel({ action: "buy", confidence: 0.9 }, ["rsi"]);
  const e = engine(m, { minIntervalMs: 0 });
  // rsiPeriod 2 needs three prices.
  assert.equal(reasonOf(e.onMessage(quote(100, 0), 0)), "warmup");
  assert.equal(reasonOf(e.onMessage(quote(101, 1), 1)), "warmup");
  assert.equal(e.onMessage(quote(102, 2), 2).kind, "signal");
  assert.equal(m.calls, 1);
});

Deno.test("SignalBridgeCore with the rule model warms up then signals on a steady rise", () => {
  const e = engine(new RulesModel(), { minIntervalMs: 0 });
  const outcomes = Array.from({ length: 10 }, (_, i) => e.onMessage(quote(100 + i, i), i));
  assert.equal(reasonOf(outcomes[0]), "warmup");
  const first = outcomes.findIndex((o) => o.kind === "signal");
  assert.ok(first > 0);
  assert.ok(outcomes.slice(0, first).every((o) => reasonOf(o) === "warmup"));
  const s = signalOf(outcomes[first]);
  // RSI is 100 on a steady rise: mean reversion sells.
  assert.equal(s.action, "sell");
  assert.deepEqual(Object.keys(s.features).sort(), ["rsi", "trend_z"]);
});

Deno.test("SignalBridgeCore spaces signals of one symbol by minIntervalMs, not across symbols", () => {
  const e = engine(new FixedModel({ action: "sell", confidence: 0.7 }), { minIntervalMs: 100 });
  assert.equal(e.onMessage(quote(100, 0), 0).kind, "signal");
  assert.equal(reasonOf(e.onMessage(quote(101, 50), 50)), "min_interval");
  assert.equal(e.onMessage(quote(400, 50, "MSFT"), 50).kind, "signal");
  assert.equal(reasonOf(e.onMessage(quote(102, 99), 99)), "min_interval");
  assert.equal(e.onMessage(quote(103, 100), 100).kind, "signal");
});

Deno.test("SignalBridgeCore suppresses weak advice below minConfidence", () => {
  const m = new FixedModel({ action: "buy", confidence: 0.54 });
  const e = engine(m);
  const o = e.onMessage(quote(100, 0), 0);
  assert.equal(reasonOf(o), "below_threshold");
  assert.equal(typeof (o as { inferenceUs?: number }).inferenceUs, "number");
});

Deno.test("SignalBridgeCore publishes one flat after a live signal, then suppresses flats", () => {
  const m = new FixedModel({ action: "flat", confidence: 0.5 });
  const e = engine(m, { minIntervalMs: 0 });
  assert.equal(reasonOf(e.onMessage(quote(100, 0), 0)), "flat");
  m.next = { action: "buy", confidence: 0.9 };
  assert.equal(signalOf(e.onMessage(quote(101, 1), 1)).action, "buy");
  m.next = { action: "flat", confidence: 0.5 };
  assert.equal(signalOf(e.onMessage(quote(102, 2), 2)).action, "flat");
  assert.equal(reasonOf(e.onMessage(quote(103, 3), 3)), "flat");
});

Deno.test("SignalBridgeCore does not publish a flat once the previous signal has expired", () => {
  const m = new FixedModel({ action: "buy", confidence: 0.9 });
  const e = engine(m, { minIntervalMs: 0, signalTtlMs: 10, maxDataAgeMs: 1e9 });
  assert.equal(e.onMessage(quote(100, 0), 0).kind, "signal");
  m.next = { action: "flat", confidence: 0.5 };
  assert.equal(reasonOf(e.onMessage(quote(101, 10), 10)), "flat");
});

Deno.test("SignalBridgeCore counts unknown symbols and crossed quotes, and ignores bars and repeats", () => {
  const e = engine(new FixedModel({ action: "buy", confidence: 0.9 }));
  assert.equal(reasonOf(e.onMessage(quote(1, 0, "ZZZ"), 0)), "unknown_symbol");
  const crossed = quote(100, 0);
  crossed.body.bidPrice = 101;
  assert.equal(reasonOf(e.onMessage(crossed, 0)), "bad_data");
  assert.deepEqual(e.onMessage({ type: "bar", body: { symbol: "AAPL" } }, 0), {
    kind: "ignored",
    symbol: "AAPL",
    why: "bar",
  });
  const q = quote(100, 0);
  e.onMessage(q, 0);
  assert.equal(e.onMessage(q, 0).kind, "ignored");
});

Deno.test("SignalBridgeCore.snapshot() reports each symbol's features and last action", () => {
  const e = engine(new FixedModel({ action: "sell", confidence: 0.9 }));
  e.onMessage(quote(100, 0), 0);
  const snap = e.snapshot();
  assert.deepEqual(Object.keys(snap), ["AAPL", "MSFT"]);
  assert.equal(snap.AAPL.features.mid, 100);
  assert.equal(snap.AAPL.lastAction, "sell");
  assert.equal(snap.MSFT.lastSignalAt, null);
});
