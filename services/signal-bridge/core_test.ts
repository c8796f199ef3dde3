import assert from "node:assert/strict";
import type { Signal } from "../../lib/types.ts";
import type { Model } from "./model.ts";
import { RulesModel } from "./rules_model.ts";
import {
  type MarketMessage,
  type Outcome,
  SignalBridgeCore,
  type SignalBridgeCoreOptions,
} from "./core.ts";
import { FixedModel } from "./testing/fixed_model.ts";
import { SMALL_FEATURES } from "./testing/fixtures.ts";
import { sampleBook, sampleQuote, sampleTrade } from "./testing/market_data.ts";

function core(model: Model, overrides: Partial<SignalBridgeCoreOptions> = {}): SignalBridgeCore {
  return new SignalBridgeCore({
    symbols: ["AAPL", "MSFT"],
    model,
    features: SMALL_FEATURES,
    maxDataAgeMs: 1000,
    signalTtlMs: 5000,
    minIntervalMs: 100,
    minConfidence: 0.55,
    ...overrides,
  });
}

function quote(mid: number, receivedTs: number, symbol = "AAPL"): MarketMessage {
  return { type: "quote", body: sampleQuote(mid, receivedTs, { symbol }) };
}

function signalOf(outcome: Outcome): Signal {
  assert.equal(outcome.kind, "signal", `expected a signal, got ${JSON.stringify(outcome)}`);
  return (outcome as { signal: Signal }).signal;
}

function reasonOf(outcome: Outcome): string | undefined {
  return outcome.kind === "suppressed" ? outcome.reason : undefined;
}

Deno.test("SignalBridgeCore emits a complete signal with expiry, model and the features used", () => {
  const model = new FixedModel({ action: "buy", confidence: 0.8 });
  const signalBridge = core(model, { newId: () => "id-1" });
  const signal = signalOf(signalBridge.onMessage(quote(100, 10_000), 10_050));
  assert.deepEqual(signal, {
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
});

Deno.test("SignalBridgeCore produces no signal from stale data", () => {
  const model = new FixedModel({ action: "buy", confidence: 0.8 });
  const signalBridge = core(model);
  assert.equal(reasonOf(signalBridge.onMessage(quote(100, 10_000), 11_001)), "stale_data");
  assert.equal(model.calls, 0);
  // The features still took the price in, so the next fresh update signals.
  assert.equal(signalBridge.snapshot().AAPL.features.mid, 100);
  assert.equal(signalBridge.onMessage(quote(101, 11_000), 11_001).kind, "signal");
});

Deno.test("SignalBridgeCore treats a fresh trade on a stale price as stale", () => {
  const signalBridge = core(new FixedModel({ action: "buy", confidence: 0.8 }));
  signalBridge.onMessage(quote(100, 0), 5_000);
  const trade = sampleTrade(100, 1, 5_000, { exchangeTs: 1 });
  assert.equal(
    reasonOf(signalBridge.onMessage({ type: "trade", body: trade }, 5_000)),
    "stale_data",
  );
});

Deno.test("SignalBridgeCore waits for every feature the model reads to warm up", () => {
  const model = new FixedModel({ action: "buy", confidence: 0.9 }, ["rsi"]);
  const signalBridge = core(model, { minIntervalMs: 0 });
  // rsiPeriod 2 needs three prices.
  assert.equal(reasonOf(signalBridge.onMessage(quote(100, 0), 0)), "warmup");
  assert.equal(reasonOf(signalBridge.onMessage(quote(101, 1), 1)), "warmup");
  assert.equal(signalBridge.onMessage(quote(102, 2), 2).kind, "signal");
  assert.equal(model.calls, 1);
});

Deno.test("SignalBridgeCore with the rule model warms up then signals on a steady rise", () => {
  const signalBridge = core(new RulesModel(), { minIntervalMs: 0 });
  const outcomes = Array.from(
    { length: 10 },
    (_, i) => signalBridge.onMessage(quote(100 + i, i), i),
  );
  assert.equal(reasonOf(outcomes[0]), "warmup");
  const first = outcomes.findIndex((outcome) => outcome.kind === "signal");
  assert.ok(first > 0);
  assert.ok(outcomes.slice(0, first).every((outcome) => reasonOf(outcome) === "warmup"));
  const signal = signalOf(outcomes[first]);
  // RSI is 100 on a steady rise: mean reversion sells.
  assert.equal(signal.action, "sell");
  assert.deepEqual(Object.keys(signal.features).sort(), ["rsi", "trend_z"]);
});

Deno.test("SignalBridgeCore spaces signals of one symbol by minIntervalMs, not across symbols", () => {
  const signalBridge = core(new FixedModel({ action: "sell", confidence: 0.7 }), {
    minIntervalMs: 100,
  });
  assert.equal(signalBridge.onMessage(quote(100, 0), 0).kind, "signal");
  assert.equal(reasonOf(signalBridge.onMessage(quote(101, 50), 50)), "min_interval");
  assert.equal(signalBridge.onMessage(quote(400, 50, "MSFT"), 50).kind, "signal");
  assert.equal(reasonOf(signalBridge.onMessage(quote(102, 99), 99)), "min_interval");
  assert.equal(signalBridge.onMessage(quote(103, 100), 100).kind, "signal");
});

Deno.test("SignalBridgeCore suppresses weak advice below minConfidence", () => {
  const signalBridge = core(new FixedModel({ action: "buy", confidence: 0.54 }));
  const outcome = signalBridge.onMessage(quote(100, 0), 0);
  assert.equal(reasonOf(outcome), "below_threshold");
  assert.equal(typeof (outcome as { inferenceUs?: number }).inferenceUs, "number");
});

Deno.test("SignalBridgeCore publishes one flat after a live signal, then suppresses flats", () => {
  const model = new FixedModel({ action: "flat", confidence: 0.5 });
  const signalBridge = core(model, { minIntervalMs: 0 });
  assert.equal(reasonOf(signalBridge.onMessage(quote(100, 0), 0)), "flat");
  model.next = { action: "buy", confidence: 0.9 };
  assert.equal(signalOf(signalBridge.onMessage(quote(101, 1), 1)).action, "buy");
  model.next = { action: "flat", confidence: 0.5 };
  assert.equal(signalOf(signalBridge.onMessage(quote(102, 2), 2)).action, "flat");
  assert.equal(reasonOf(signalBridge.onMessage(quote(103, 3), 3)), "flat");
});

Deno.test("SignalBridgeCore does not publish a flat once the previous signal has expired", () => {
  const model = new FixedModel({ action: "buy", confidence: 0.9 });
  const signalBridge = core(model, { minIntervalMs: 0, signalTtlMs: 10, maxDataAgeMs: 1e9 });
  assert.equal(signalBridge.onMessage(quote(100, 0), 0).kind, "signal");
  model.next = { action: "flat", confidence: 0.5 };
  assert.equal(reasonOf(signalBridge.onMessage(quote(101, 10), 10)), "flat");
});

Deno.test("SignalBridgeCore counts unknown symbols and crossed quotes, and ignores bars and repeats", () => {
  const signalBridge = core(new FixedModel({ action: "buy", confidence: 0.9 }));
  assert.equal(reasonOf(signalBridge.onMessage(quote(1, 0, "ZZZ"), 0)), "unknown_symbol");
  const crossed: MarketMessage = {
    type: "quote",
    body: sampleQuote(100, 0, { bidPrice: 101 }),
  };
  assert.equal(reasonOf(signalBridge.onMessage(crossed, 0)), "bad_data");
  assert.deepEqual(signalBridge.onMessage({ type: "bar", body: { symbol: "AAPL" } }, 0), {
    kind: "ignored",
    symbol: "AAPL",
    why: "bar",
  });
  const repeated = quote(100, 0);
  signalBridge.onMessage(repeated, 0);
  assert.deepEqual(signalBridge.onMessage(repeated, 0), {
    kind: "ignored",
    symbol: "AAPL",
    why: "duplicate",
  });
});

Deno.test("SignalBridgeCore signals from a book, refuses a crossed one and ignores a repeat", () => {
  const signalBridge = core(new FixedModel({ action: "buy", confidence: 0.9 }));
  const crossed = sampleBook([[101, 1]], [[100, 1]], 0);
  assert.equal(reasonOf(signalBridge.onMessage({ type: "book", body: crossed }, 0)), "bad_data");
  const book = sampleBook([[99, 5]], [[101, 5]], 0);
  assert.equal(signalOf(signalBridge.onMessage({ type: "book", body: book }, 0)).price, 100);
  assert.equal(signalBridge.onMessage({ type: "book", body: book }, 0).kind, "ignored");
});

Deno.test("SignalBridgeCore.snapshot() reports each symbol's features and last action", () => {
  const signalBridge = core(new FixedModel({ action: "sell", confidence: 0.9 }));
  signalBridge.onMessage(quote(100, 0), 0);
  const snapshot = signalBridge.snapshot();
  assert.deepEqual(Object.keys(snapshot), ["AAPL", "MSFT"]);
  assert.equal(snapshot.AAPL.features.mid, 100);
  assert.equal(snapshot.AAPL.lastAction, "sell");
  assert.equal(snapshot.AAPL.lastSignalAt, 0);
  assert.equal(snapshot.MSFT.lastSignalAt, null);
});

Deno.test("SignalBridgeCore makes no signal on a one-sided market until both sides are back", () => {
  const model = new FixedModel({ action: "buy", confidence: 0.8 });
  const signalBridge = core(model, { minIntervalMs: 0 });
  assert.equal(signalBridge.onMessage(quote(100, 10_000), 10_000).kind, "signal");
  const oneSided: MarketMessage = {
    type: "one_sided_quote",
    body: {
      symbol: "AAPL",
      bidPrice: 99.99,
      bidSize: 3,
      askPrice: null,
      askSize: 0,
      exchange: "alpaca",
      exchangeTs: 10_001,
      receivedTs: 10_001,
    },
  };
  assert.equal(reasonOf(signalBridge.onMessage(oneSided, 10_001)), "one_sided_market");
  // A fresh trade must not sign on the mid from before the ask vanished.
  const trade = sampleTrade(100, 1, 10_002, { exchangeTs: 10_002 });
  assert.equal(
    reasonOf(signalBridge.onMessage({ type: "trade", body: trade }, 10_002)),
    "one_sided_market",
  );
  const calls = model.calls;
  assert.equal(signalBridge.onMessage(quote(100.5, 10_003), 10_003).kind, "signal");
  assert.equal(model.calls, calls + 1);
});

Deno.test("SignalBridgeCore treats a book with an empty side as a one-sided market", () => {
  const signalBridge = core(new FixedModel({ action: "buy", confidence: 0.8 }), {
    minIntervalMs: 0,
  });
  assert.equal(signalBridge.onMessage(quote(100, 10_000), 10_000).kind, "signal");
  const emptyAsks = sampleBook([[99.99, 100]], [], 10_001);
  assert.equal(
    reasonOf(signalBridge.onMessage({ type: "book", body: emptyAsks }, 10_001)),
    "bad_data",
  );
  const trade = sampleTrade(100, 1, 10_002, { exchangeTs: 10_002 });
  assert.equal(
    reasonOf(signalBridge.onMessage({ type: "trade", body: trade }, 10_002)),
    "one_sided_market",
  );
});

Deno.test("SignalBridgeCore ignores trading statuses, LULD bands and trade corrections", () => {
  const model = new FixedModel({ action: "buy", confidence: 0.8 });
  const signalBridge = core(model);
  for (const type of ["trading_status", "luld_band", "trade_correction"] as const) {
    const outcome = signalBridge.onMessage({ type, body: { symbol: "AAPL" } }, 10_000);
    assert.deepEqual(outcome, { kind: "ignored", symbol: "AAPL", why: "not_a_price" });
  }
  assert.equal(model.calls, 0);
});
