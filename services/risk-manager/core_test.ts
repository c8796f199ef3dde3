import assert from "node:assert/strict";
import { ALWAYS_OPEN } from "../../lib/market_session.ts";
import type {
  Signal,
  TradingStatus as MarketStatus,
  VenuePositionsAnswer,
} from "../../lib/types.ts";
import type { DenialCode } from "./denial.ts";
import { type Decision, RiskManagerCore } from "./core.ts";
import { StateStore } from "./state_store.ts";
import { type Limits, PRE_TRADE_CHECKS } from "./checks.ts";
import { ArrayRecorder, coreWith, fill, LIMITS, setMark, signal, T0 } from "./testing/fixtures.ts";
import type { TradingStateChange } from "./trading_state.ts";

function approved(d: Decision) {
  assert.ok(d.approved, d.approved ? "" : d.denial.message);
  return d.order;
}
function denied(d: Decision, code: DenialCode) {
  assert.ok(!d.approved, "expected a denial");
  assert.equal(d.denial.code, code, d.denial.message);
  return d.denial;
}
/** Approves a buy/sell of AAPL and fills it completely at `price`. */
function trade(
  e: RiskManagerCore,
  action: "buy" | "sell",
  price = 100,
  over: Partial<Signal> = {},
) {
  const o = approved(e.onSignal(signal({ action, price, ...over }), T0));
  e.onExecutionReport(fill(o.clientOrderId, o.side, o.qty, price, { symbol: o.symbol }), T0);
  return o;
}

Deno.test("RiskManagerCore approves a signal into a sized market order with a deterministic id", () => {
  const rec = new ArrayRecorder();
  const e = coreWith({ recorder: rec });
  const s = signal();
  const o = approved(e.onSignal(s, T0));
  assert.equal(o.clientOrderId, `rm-${s.id}`);
  assert.equal(o.signalId, s.id);
  assert.equal(o.side, "buy");
  assert.equal(o.qty, 10);
  assert.equal(o.type, "market");
  assert.equal(o.timeInForce, "day");
  assert.equal(o.tickTs, s.tickTs);
  assert.equal(o.strategy, "default");
  assert.ok(rec.checks.every((c) => c.passed));
  assert.equal(rec.checks.at(-1)?.type, "all_checks");
  assert.equal(new Set(rec.checks.map((c) => c.type)).size, 19);
});

Deno.test("RiskManagerCore sizes crypto in minQty steps with a gtc order", () => {
  const e = coreWith();
  const o = approved(e.onSignal(signal({ symbol: "BTC/USD", price: 100000 }), T0));
  assert.equal(o.qty, 0.01);
  assert.equal(o.timeInForce, "gtc");
});

Deno.test("RiskManagerCore denies a replayed signal so it never becomes two orders", () => {
  const e = coreWith();
  const s = signal();
  approved(e.onSignal(s, T0));
  denied(e.onSignal(s, T0), "DUPLICATE_SIGNAL");
  denied(e.onSignal({ ...s }, T0 + 1), "DUPLICATE_SIGNAL");
});

Deno.test("RiskManagerCore denies an expired signal and accepts one expiring now", () => {
  const e = coreWith();
  denied(e.onSignal(signal({ expiresAt: T0 - 1 }), T0), "SIGNAL_EXPIRED");
  approved(e.onSignal(signal({ expiresAt: T0 }), T0));
});

Deno.test("RiskManagerCore denies a symbol outside the configured set", () => {
  const e = coreWith();
  denied(e.onSignal(signal({ symbol: "TSLA" }), T0), "SYMBOL_NOT_TRADED");
});

Deno.test("RiskManagerCore max_order_qty passes at the limit and denies above it", () => {
  approved(coreWith({ limits: { maxOrderQty: 10 } }).onSignal(signal(), T0));
  const d = denied(
    coreWith({ limits: { maxOrderQty: 9 } }).onSignal(signal(), T0),
    "MAX_ORDER_QTY_EXCEEDED",
  );
  assert.equal(d.check, "max_order_qty");
  assert.deepEqual(d.details, { qty: 10, max: 9 });
  assert.equal(d.message, "MAX_ORDER_QTY_EXCEEDED: qty=10, max=9");
});

Deno.test("RiskManagerCore max_order_notional passes at the limit and denies above it", () => {
  approved(coreWith({ limits: { maxOrderNotional: 1000 } }).onSignal(signal(), T0));
  denied(
    coreWith({ limits: { maxOrderNotional: 999.99 } }).onSignal(signal(), T0),
    "MAX_ORDER_NOTIONAL_EXCEEDED",
  );
});

Deno.test("RiskManagerCore price_collar passes at the collar and denies beyond it", () => {
  const e = coreWith({ limits: { priceCollarBps: 100 } });
  approved(e.onSignal(signal({ price: 101 }), T0));
  approved(e.onSignal(signal({ price: 99 }), T0));
  denied(e.onSignal(signal({ price: 101.02 }), T0), "PRICE_COLLAR_BREACHED");
  denied(e.onSignal(signal({ price: 98.98 }), T0), "PRICE_COLLAR_BREACHED");
});

Deno.test("RiskManagerCore price_collar denies without a mark or with a stale one", () => {
  const e = coreWith({ markMaxAgeMs: 1000 });
  denied(e.onSignal(signal({ symbol: "MSFT", price: 400 }), T0 + 1001), "STALE_REFERENCE_PRICE");
  approved(e.onSignal(signal({ symbol: "MSFT", price: 400 }), T0 + 1000));
  assert.equal(e.onMarketData("quote", { symbol: "ZZZ", bidPrice: 1, askPrice: 1 }, T0), null);
  assert.equal(e.mark("ZZZ"), undefined, "no marks for symbols neither traded nor held");
  const fresh = coreWith({ symbols: ["AAPL", "SPY"] });
  denied(fresh.onSignal(signal({ symbol: "SPY", price: 500 }), T0), "NO_REFERENCE_PRICE");
});

Deno.test("RiskManagerCore position_limit counts fills and open orders, at and above the limit", () => {
  const e = coreWith({ limits: { maxPositionQty: 30 } });
  trade(e, "buy"); // long 10
  approved(e.onSignal(signal(), T0)); // open buy 10: worst case 20
  approved(e.onSignal(signal(), T0)); // worst case 30, at the limit
  denied(e.onSignal(signal(), T0), "POSITION_LIMIT_EXCEEDED");
});

Deno.test("RiskManagerCore position_limit lets an order that reduces an oversized position through", () => {
  const e = coreWith({ limits: { maxPositionQty: 5 } });
  e.onExecutionReport(fill("ext-1", "buy", 10, 100), T0); // long 10 from outside
  denied(e.onSignal(signal(), T0), "POSITION_LIMIT_EXCEEDED");
  approved(e.onSignal(signal({ action: "sell" }), T0));
});

Deno.test("RiskManagerCore gross_exposure passes at the limit and denies above it", () => {
  const e = coreWith({ limits: { maxGrossExposure: 2000 } });
  trade(e, "buy"); // 1000 gross
  approved(e.onSignal(signal(), T0)); // worst case 2000
  denied(e.onSignal(signal(), T0), "GROSS_EXPOSURE_EXCEEDED");
  // Other symbols count too, and a reducing sell is allowed above the limit.
  const f = coreWith({ limits: { maxGrossExposure: 1500 } });
  f.onExecutionReport(fill("ext-1", "buy", 2, 400, { symbol: "MSFT" }), T0);
  f.onExecutionReport(fill("ext-2", "buy", 10, 100), T0);
  denied(f.onSignal(signal(), T0), "GROSS_EXPOSURE_EXCEEDED");
  approved(f.onSignal(signal({ action: "sell" }), T0));
});

Deno.test("RiskManagerCore net_exposure passes at the limit and denies above it", () => {
  const e = coreWith({ limits: { maxNetExposure: 1800 } });
  trade(e, "buy"); // net +1000
  approved(e.onSignal(signal({ symbol: "MSFT", price: 400 }), T0)); // 2 MSFT: 1800
  const f = coreWith({ limits: { maxNetExposure: 1799 } });
  trade(f, "buy");
  denied(f.onSignal(signal({ symbol: "MSFT", price: 400 }), T0), "NET_EXPOSURE_EXCEEDED");
  // A sell lowers net exposure, so it passes; shorts count as negative.
  approved(f.onSignal(signal({ symbol: "MSFT", action: "sell", price: 400 }), T0));
});

Deno.test("RiskManagerCore max_open_orders passes up to the limit and frees a slot on a final report", () => {
  const e = coreWith({ limits: { maxOpenOrders: 2 } });
  const a = approved(e.onSignal(signal(), T0));
  approved(e.onSignal(signal(), T0));
  denied(e.onSignal(signal(), T0), "MAX_OPEN_ORDERS_EXCEEDED");
  e.onExecutionReport(fill(a.clientOrderId, "buy", 10, 100), T0);
  approved(e.onSignal(signal(), T0));
  assert.equal(e.openOrders().length, 2);
});

Deno.test("RiskManagerCore order_rate allows the configured rate and refuses the next order", () => {
  const e = coreWith({ limits: { maxOrdersPerSecond: 3 } });
  for (let i = 0; i < 3; i++) approved(e.onSignal(signal(), T0));
  denied(e.onSignal(signal(), T0), "ORDER_RATE_EXCEEDED");
  denied(e.onSignal(signal(), T0 + 333), "ORDER_RATE_EXCEEDED");
  approved(e.onSignal(signal(), T0 + 334));
});

Deno.test("RiskManagerCore daily loss at the limit trips the breaker and halts trading", () => {
  const changes: TradingStateChange[] = [];
  const e = coreWith({ limits: { dailyLossLimit: 500 }, onStateChange: (c) => changes.push(c) });
  trade(e, "buy"); // long 10 @ 100
  setMark(e, "AAPL", 50.01, T0);
  assert.ok(Math.abs(e.dailyPnl() + 499.9) < 1e-6);
  assert.equal(e.status.breakerTripped, false);
  approved(e.onSignal(signal({ price: 50.01 }), T0));
  setMark(e, "AAPL", 50, T0); // long 10 @ 100 and 10 open: -500
  assert.equal(e.dailyPnl(), -500);
  assert.equal(e.status.breakerTripped, true);
  assert.equal(e.status.state, "HALTED");
  assert.equal(changes.length, 1);
  assert.equal(changes[0].event.state, "HALTED");
  assert.equal(changes[0].event.actor, "system");
  denied(e.onSignal(signal({ price: 50 }), T0), "CIRCUIT_BREAKER_TRIGGERED");
});

Deno.test("RiskManagerCore after a reset within the loss denies new risk but lets positions reduce", () => {
  const e = coreWith({ limits: { dailyLossLimit: 500 } });
  trade(e, "buy");
  setMark(e, "AAPL", 40, T0);
  assert.ok(e.status.breakerTripped);
  assert.ok(e.reset("checked", "ops", T0));
  assert.equal(e.status.state, "ACTIVE");
  denied(e.onSignal(signal({ price: 40 }), T0), "DAILY_LOSS_LIMIT_EXCEEDED");
  setMark(e, "AAPL", 39, T0); // still breached: no new trip after the reset
  assert.equal(e.status.breakerTripped, false);
  // A 25-share sell would flip the long 10 into new risk; closing it is allowed.
  denied(e.onSignal(signal({ action: "sell", price: 39 }), T0), "DAILY_LOSS_LIMIT_EXCEEDED");
  const o = approved(e.onSignal(signal({ action: "flat", price: 39 }), T0));
  assert.equal(o.side, "sell");
  assert.equal(o.qty, 10);
});

Deno.test("RiskManagerCore circuit breaker denies every order until reset", () => {
  const e = coreWith();
  trade(e, "buy");
  assert.ok(e.trip("manual test", "ops", T0));
  assert.equal(e.trip("again", "ops", T0), null);
  denied(e.onSignal(signal({ action: "sell" }), T0), "CIRCUIT_BREAKER_TRIGGERED");
  denied(e.onSignal(signal({ action: "flat" }), T0), "CIRCUIT_BREAKER_TRIGGERED");
  e.reset("done", "ops", T0);
  approved(e.onSignal(signal(), T0));
});

Deno.test("RiskManagerCore HALTED denies every order", () => {
  const e = coreWith();
  trade(e, "buy");
  e.setState("HALTED", "maintenance", "ops", T0);
  denied(e.onSignal(signal(), T0), "TRADING_HALTED");
  denied(e.onSignal(signal({ action: "flat" }), T0), "TRADING_HALTED");
});

Deno.test("RiskManagerCore REDUCING accepts only reducing orders and never flips a position", () => {
  const e = coreWith();
  e.onExecutionReport(fill("ext-1", "buy", 4, 100), T0); // long 4
  e.setState("REDUCING", "wind down", "ops", T0);
  denied(e.onSignal(signal({ action: "buy" }), T0), "REDUCING_ONLY");
  const o = approved(e.onSignal(signal({ action: "sell" }), T0));
  assert.equal(o.qty, 4, "a 10-share sell is cut to the 4 held");
  // The open sell already covers the position: another sell would flip it.
  denied(e.onSignal(signal({ action: "sell" }), T0), "REDUCING_ONLY");
  e.onExecutionReport(fill(o.clientOrderId, "sell", 4, 100), T0);
  assert.equal(e.positions().find((p) => p.symbol === "AAPL")?.qty, 0);
  denied(e.onSignal(signal({ action: "sell" }), T0), "REDUCING_ONLY");
  // Short side: a buy reduces, a sell does not.
  e.onExecutionReport(fill("ext-2", "sell", 3, 100), T0);
  denied(e.onSignal(signal({ action: "sell" }), T0), "REDUCING_ONLY");
  assert.equal(approved(e.onSignal(signal({ action: "buy" }), T0)).qty, 3);
});

Deno.test("RiskManagerCore flat signal closes the open position and nothing more", () => {
  const e = coreWith();
  denied(e.onSignal(signal({ action: "flat" }), T0), "NO_POSITION_TO_CLOSE");
  e.onExecutionReport(fill("ext-1", "sell", 7, 100), T0); // short 7
  const o = approved(e.onSignal(signal({ action: "flat" }), T0));
  assert.equal(o.side, "buy");
  assert.equal(o.qty, 7);
  denied(e.onSignal(signal({ action: "flat" }), T0), "NO_POSITION_TO_CLOSE");
});

Deno.test("RiskManagerCore denies a signal whose notional buys less than one unit", () => {
  const e = coreWith();
  setMark(e, "MSFT", 1500, T0);
  denied(e.onSignal(signal({ symbol: "MSFT", price: 1500 }), T0), "QTY_BELOW_MINIMUM");
});

Deno.test("RiskManagerCore keeps P&L through partial fills, duplicates and a reversal", () => {
  const e = coreWith();
  const o = approved(e.onSignal(signal(), T0));
  const id = o.clientOrderId;
  const r1 = fill(id, "buy", 4, 100, { orderQty: 10, cumQty: 4 });
  assert.equal(e.onExecutionReport(r1, T0).kind, "fill");
  assert.equal(e.onExecutionReport(r1, T0).kind, "duplicate");
  e.onExecutionReport(fill(id, "buy", 6, 102, { orderQty: 10, cumQty: 10 }), T0);
  let p = e.positions().find((x) => x.symbol === "AAPL")!;
  assert.equal(p.qty, 10);
  assert.ok(Math.abs(p.avgPrice - 101.2) < 1e-9);
  assert.equal(e.openOrders().length, 0);
  // Sell 15 from outside: realise 10 * (105 - 101.2) = 38, then short 5 @ 105.
  const out = e.onExecutionReport(fill("ext-9", "sell", 15, 105), T0);
  assert.ok(out.unknownOrder);
  p = e.positions().find((x) => x.symbol === "AAPL")!;
  assert.equal(p.qty, -5);
  assert.equal(p.avgPrice, 105);
  assert.ok(Math.abs(p.realized - 38) < 1e-9);
  setMark(e, "AAPL", 104, T0);
  p = e.positions().find((x) => x.symbol === "AAPL")!;
  assert.equal(p.side, "short");
  assert.equal(p.unrealized, 5);
  assert.ok(Math.abs(e.dailyPnl() - 43) < 1e-9);
});

Deno.test("RiskManagerCore applies a fill whose earlier report was missed at the order's average", () => {
  const e = coreWith();
  const o = approved(e.onSignal(signal(), T0));
  e.onExecutionReport(
    fill(o.clientOrderId, "buy", 4, 103, { orderQty: 10, cumQty: 10, avgPrice: 101 }),
    T0,
  );
  const p = e.positions().find((x) => x.symbol === "AAPL")!;
  assert.equal(p.qty, 10);
  assert.equal(p.avgPrice, 101);
});

Deno.test("RiskManagerCore frees an order's slot on reject, cancel and expire without a fill", () => {
  const e = coreWith();
  for (const state of ["rejected", "canceled", "expired"] as const) {
    const o = approved(e.onSignal(signal(), T0));
    const out = e.onExecutionReport(
      fill(o.clientOrderId, "buy", 0, 0, {
        kind: state === "rejected" ? "reject" : state === "canceled" ? "cancel" : "expire",
        state,
        orderQty: 10,
        cumQty: 0,
      }),
      T0,
    );
    assert.equal(out.kind, "status");
  }
  assert.equal(e.openOrders().length, 0);
  assert.equal(e.openPositionCount(), 0);
});

Deno.test("RiskManagerCore starts a new daily P&L at the UTC day boundary", () => {
  const e = coreWith();
  trade(e, "buy");
  setMark(e, "AAPL", 90, T0);
  assert.equal(e.dailyPnl(), -100);
  const tomorrow = T0 + 86_400_000;
  setMark(e, "AAPL", 91, tomorrow);
  assert.equal(e.daily.day, "2026-11-25");
  assert.equal(e.dailyPnl(), 10);
});

Deno.test("RiskManagerCore.setState() refuses to leave HALTED while the breaker is tripped", () => {
  const e = coreWith();
  e.trip("test", "ops", T0);
  const r = e.setState("ACTIVE", "try", "ops", T0);
  assert.ok(r && "code" in r && r.code === "BREAKER_TRIPPED");
  assert.equal(e.status.state, "HALTED");
});

Deno.test("RiskManagerCore leaves memory untouched when a report cannot be stored, so a retry applies it once", () => {
  const store = StateStore.open(":memory:");
  const e = coreWith({ store });
  const o = approved(e.onSignal(signal(), T0));
  const r = fill(o.clientOrderId, "buy", 10, 100);
  const real = store.transaction.bind(store);
  store.transaction = () => {
    throw new Error("disk I/O error");
  };
  assert.throws(() => e.onExecutionReport(r, T0), /disk I\/O error/);
  assert.equal(e.positions().find((p) => p.symbol === "AAPL")?.qty ?? 0, 0);
  assert.equal(e.daily.realized, 0);
  assert.equal(e.openOrders().length, 1);
  store.transaction = real;
  assert.equal(e.onExecutionReport(r, T0).kind, "fill");
  assert.equal(e.positions().find((p) => p.symbol === "AAPL")?.qty, 10);
  assert.equal(e.openOrders().length, 0);
});

Deno.test("RiskManagerCore times each check run up to the denial with one clock read each", () => {
  const rec = new ArrayRecorder();
  let ms = 0;
  const e = coreWith({ recorder: rec, clock: () => ms++ });
  const s = signal();
  approved(e.onSignal(s, T0));
  rec.checks.length = 0;
  denied(e.onSignal(s, T0), "DUPLICATE_SIGNAL");
  assert.deepEqual(rec.checks, [
    { type: "duplicate_signal", passed: false, us: 1000 },
    { type: "all_checks", passed: false, us: 2000 },
  ]);
  rec.checks.length = 0;
  denied(e.onSignal(signal({ symbol: "TSLA" }), T0), "SYMBOL_NOT_TRADED");
  assert.deepEqual(rec.checks.map((c) => [c.type, c.passed]), [
    ["duplicate_signal", true],
    ["signal_expired", true],
    ["symbol", false],
    ["all_checks", false],
  ]);
});

Deno.test("RiskManagerCore latches a loss it finds on a signal, judging the signal on the state it found", () => {
  const store = StateStore.open(":memory:");
  const first = coreWith({ store, limits: { dailyLossLimit: 5000 } });
  trade(first, "buy"); // long 10 @ 100
  setMark(first, "AAPL", 40, T0); // -600: within this limit
  first.flushMarks();
  // Restarted with a lower limit: the stored loss is beyond it, and nothing has latched it.
  const changes: TradingStateChange[] = [];
  const e = new RiskManagerCore({
    symbols: ["AAPL"],
    strategy: "default",
    sizing: { notionalPerOrder: 1000, minQty: 0.001 },
    limits: { ...LIMITS, dailyLossLimit: 500 },
    markMaxAgeMs: 5000,
    store,
    onStateChange: (c) => changes.push(c),
    session: { schedule: ALWAYS_OPEN },
  });
  assert.equal(e.status.breakerTripped, false);
  denied(e.onSignal(signal({ price: 40 }), T0), "NO_REFERENCE_PRICE");
  assert.equal(e.status.breakerTripped, true, "the bookkeeping after the checks tripped it");
  assert.equal(changes.length, 1);
  denied(e.onSignal(signal({ price: 40 }), T0), "CIRCUIT_BREAKER_TRIGGERED");
});

// ---------- reducing orders are always possible (issue 14, item 1) ----------

/** Fills `qty` AAPL at `price` as one order from outside (a position the book holds). */
function hold(e: RiskManagerCore, side: "buy" | "sell", qty: number, price = 100) {
  e.onExecutionReport(fill(`ext-${side}-${qty}-${Math.random()}`, side, qty, price), T0);
}

Deno.test("RiskManagerCore flat closes a position grown past max_order_notional in one order, in ACTIVE and REDUCING", () => {
  // The case: six buys of 5,000 make 300 AAPL at 100, a 30,000 notional.
  for (const state of ["ACTIVE", "REDUCING"] as const) {
    const e = coreWith({ sizing: { notionalPerOrder: 5000, minQty: 0.001 } });
    for (let i = 0; i < 6; i++) trade(e, "buy");
    if (state === "REDUCING") e.setState("REDUCING", "wind down", "ops", T0);
    const o = approved(e.onSignal(signal({ action: "flat" }), T0));
    assert.equal(o.side, "sell");
    assert.equal(o.qty, 300, state);
  }
});

Deno.test("RiskManagerCore flat closes the largest position the limits allow, at and just past max_order_qty", () => {
  for (const state of ["ACTIVE", "REDUCING"] as const) {
    // maxPositionQty 2000 is twice maxOrderQty: built in 1000-share orders (100,000 each).
    const e = coreWith({
      limits: {
        maxOrderQty: 1000,
        maxOrderNotional: 100_000,
        maxPositionQty: 2000,
        maxNetExposure: 250_000,
      },
      sizing: { notionalPerOrder: 100_000, minQty: 0.001 },
    });
    trade(e, "buy");
    trade(e, "buy");
    denied(e.onSignal(signal(), T0), "POSITION_LIMIT_EXCEEDED");
    if (state === "REDUCING") e.setState("REDUCING", "wind down", "ops", T0);
    const o = approved(e.onSignal(signal({ action: "flat" }), T0));
    assert.equal(o.qty, 2000, `${state}: 2000 > maxOrderQty 1000, and it only reduces`);
  }
  // Short side, and a position just past the limits (held from outside).
  const e = coreWith({ limits: { maxOrderQty: 1000, maxPositionQty: 2000 } });
  hold(e, "sell", 2001);
  assert.equal(approved(e.onSignal(signal({ action: "flat" }), T0)).qty, 2001);
});

Deno.test("RiskManagerCore keeps max_order_qty and max_order_notional for orders that grow or flip a position", () => {
  const e = coreWith({
    limits: { maxOrderQty: 15, maxOrderNotional: 1500 },
    sizing: { notionalPerOrder: 2000, minQty: 0.001 },
  });
  denied(e.onSignal(signal(), T0), "MAX_ORDER_QTY_EXCEEDED"); // 20 > 15, opens a position
  hold(e, "buy", 20);
  // A 20-share sell of a long 20 only reduces: allowed past both limits.
  assert.equal(approved(e.onSignal(signal({ action: "sell" }), T0)).qty, 20);
  // Long 19 with nothing open on the sell side: a 20-share sell would flip it.
  const f = coreWith({
    limits: { maxOrderQty: 15, maxOrderNotional: 2500 },
    sizing: { notionalPerOrder: 2000, minQty: 0.001 },
  });
  hold(f, "buy", 19);
  denied(f.onSignal(signal({ action: "sell" }), T0), "MAX_ORDER_QTY_EXCEEDED");
});

Deno.test("RiskManagerCore lets a reducing order past max_open_orders, and no other", () => {
  const e = coreWith({ limits: { maxOpenOrders: 2 } });
  hold(e, "buy", 50);
  approved(e.onSignal(signal(), T0));
  approved(e.onSignal(signal(), T0)); // 2 open: at the limit
  denied(e.onSignal(signal(), T0), "MAX_OPEN_ORDERS_EXCEEDED");
  approved(e.onSignal(signal({ action: "sell" }), T0)); // reduces the long 50
  assert.equal(approved(e.onSignal(signal({ action: "flat" }), T0)).qty, 40);
  assert.equal(e.openOrders().length, 4);
});

Deno.test("RiskManagerCore keeps a reserved share of the order rate for reducing orders", () => {
  // 10 a second, 20% reserved: 8 new-risk orders in a burst, then 2 exits.
  const e = coreWith({ limits: { maxOrdersPerSecond: 10, exitRateReserve: 0.2 } });
  hold(e, "buy", 500);
  setMark(e, "MSFT", 400, T0);
  for (let i = 0; i < 8; i++) approved(e.onSignal(signal({ symbol: "MSFT", price: 400 }), T0));
  const d = denied(e.onSignal(signal({ symbol: "MSFT", price: 400 }), T0), "ORDER_RATE_EXCEEDED");
  assert.equal(d.details.reserved, 2);
  approved(e.onSignal(signal({ action: "sell" }), T0));
  approved(e.onSignal(signal({ action: "sell" }), T0));
  denied(e.onSignal(signal({ action: "sell" }), T0), "ORDER_RATE_EXCEEDED"); // the venue's limit
  // Below one reserved token (a bucket of 1): nothing is reserved, the one token is shared.
  const f = coreWith({ limits: { maxOrdersPerSecond: 1, exitRateReserve: 0.2 } });
  approved(f.onSignal(signal(), T0));
});

// ---------- exposure counts every open order (issue 14, item 2) ----------

Deno.test("RiskManagerCore gross_exposure counts open orders in every symbol, at and just past the limit", () => {
  // The case: AAPL 1,000 pending, then MSFT 800 would make 1,800 once both fill.
  const at = coreWith({ limits: { maxGrossExposure: 1800 } });
  approved(at.onSignal(signal(), T0)); // AAPL 10 @ 100
  approved(at.onSignal(signal({ symbol: "MSFT", price: 400 }), T0)); // MSFT 2 @ 400: 1,800
  denied(at.onSignal(signal({ symbol: "BTC/USD", price: 100000 }), T0), "GROSS_EXPOSURE_EXCEEDED");
  const past = coreWith({ limits: { maxGrossExposure: 1799.99 } });
  approved(past.onSignal(signal(), T0));
  const d = denied(
    past.onSignal(signal({ symbol: "MSFT", price: 400 }), T0),
    "GROSS_EXPOSURE_EXCEEDED",
  );
  assert.equal(d.details.gross, 1800);
  // A pending sell counts at its worst too: short 10 AAPL is 1,000 gross.
  const short = coreWith({ limits: { maxGrossExposure: 1799.99 } });
  approved(short.onSignal(signal({ action: "sell" }), T0));
  denied(short.onSignal(signal({ symbol: "MSFT", price: 400 }), T0), "GROSS_EXPOSURE_EXCEEDED");
});

Deno.test("RiskManagerCore net_exposure counts open orders in every symbol, at and just past the limit", () => {
  const at = coreWith({ limits: { maxNetExposure: 1800 } });
  approved(at.onSignal(signal(), T0)); // +1,000 if it fills
  approved(at.onSignal(signal({ symbol: "MSFT", price: 400 }), T0)); // +1,800
  const past = coreWith({ limits: { maxNetExposure: 1799.99 } });
  approved(past.onSignal(signal(), T0));
  denied(past.onSignal(signal({ symbol: "MSFT", price: 400 }), T0), "NET_EXPOSURE_EXCEEDED");
  // Opposite sides offset in the worst case only as far as they must: a pending sell of
  // MSFT does not make room for more AAPL (it may never fill).
  approved(past.onSignal(signal({ symbol: "MSFT", action: "sell", price: 400 }), T0));
  denied(past.onSignal(signal(), T0), "NET_EXPOSURE_EXCEEDED");
});

// ---------- fills booked once, priced by what they added (issue 14, item 5) ----------

Deno.test("RiskManagerCore prices a fill whose earlier report was missed by the averages' difference", () => {
  // The venue: 4 @ 100, 3 @ 101 (report missed), 3 @ 102: average 100.9.
  const e = coreWith();
  const o = approved(e.onSignal(signal(), T0));
  e.onExecutionReport(fill(o.clientOrderId, "buy", 4, 100, { orderQty: 10, cumQty: 4 }), T0);
  e.onExecutionReport(
    fill(o.clientOrderId, "buy", 3, 102, { orderQty: 10, cumQty: 10, avgPrice: 100.9 }),
    T0,
  );
  const p = e.positions().find((x) => x.symbol === "AAPL")!;
  assert.equal(p.qty, 10);
  assert.ok(Math.abs(p.avgPrice - 100.9) < 1e-9, `average ${p.avgPrice}, the venue's is 100.9`);
});

Deno.test("RiskManagerCore books a fill carried by a non-fill report once, and the late fill report is a duplicate", () => {
  const e = coreWith();
  const o = approved(e.onSignal(signal(), T0));
  // A cancel after a partial fill whose fill report never came: 6 filled at 101.
  const cancel = fill(o.clientOrderId, "buy", 0, 0, {
    kind: "cancel",
    state: "canceled",
    orderQty: 10,
    cumQty: 6,
    avgPrice: 101,
    leavesQty: 0,
  });
  assert.equal(e.onExecutionReport(cancel, T0).kind, "fill");
  const late = fill(o.clientOrderId, "buy", 6, 101, { orderQty: 10, cumQty: 6 });
  assert.equal(e.onExecutionReport(late, T0).kind, "duplicate");
  const p = e.positions().find((x) => x.symbol === "AAPL")!;
  assert.equal(p.qty, 6);
  assert.equal(p.avgPrice, 101);
  assert.equal(e.openOrders().length, 0);
});

Deno.test("RiskManagerCore never books a fill at price 0: without a venue price it takes the reference", () => {
  const e = coreWith();
  const o = approved(e.onSignal(signal(), T0));
  const out = e.onExecutionReport(
    fill(o.clientOrderId, "buy", 10, 0, { avgPrice: 0, lastPrice: 0 }),
    T0,
  );
  assert.equal(out.kind, "fill");
  assert.equal(out.priced, "reference");
  const p = e.positions().find((x) => x.symbol === "AAPL")!;
  assert.equal(p.qty, 10);
  assert.equal(p.avgPrice, 100, "the mark the order was checked against");
});

Deno.test("RiskManagerCore does not re-apply a report redelivered after its closed order left memory", () => {
  const store = StateStore.open(":memory:");
  const e = coreWith({ store });
  const o = approved(e.onSignal(signal(), T0));
  const r = fill(o.clientOrderId, "buy", 10, 100);
  e.onExecutionReport(r, T0);
  const later = T0 + 2 * 86_400_000;
  e.pruneClosedOrders(later);
  assert.equal(e.ordersInMemory(), 0);
  const again = e.onExecutionReport(r, later);
  assert.equal(again.kind, "duplicate");
  assert.equal(again.unknownOrder, false);
  // And after a restart, which loads only what memory needs.
  const restarted = coreWith({ store });
  const third = restarted.onExecutionReport(r, later);
  assert.equal(third.kind, "duplicate");
  assert.equal(third.unknownOrder, false);
  assert.equal(restarted.positions().find((x) => x.symbol === "AAPL")!.qty, 10);
});

// ---------- orders expire; no approvals without a consumer (issue 14, item 3) ----------

Deno.test("RiskManagerCore gives every order an expiry of orderTtlMs and frees its slot when it is reported expired", () => {
  const e = coreWith({ orderTtlMs: 30_000, limits: { maxOpenOrders: 1 } });
  const o = approved(e.onSignal(signal(), T0));
  assert.equal(o.expiresAt, T0 + 30_000);
  denied(e.onSignal(signal(), T0), "MAX_OPEN_ORDERS_EXCEEDED");
  e.onExecutionReport(
    fill(o.clientOrderId, "buy", 0, 0, {
      kind: "expire",
      state: "expired",
      orderQty: 10,
      cumQty: 0,
      reason: "order_expired",
    }),
    T0 + 30_001,
  );
  assert.equal(e.openOrders().length, 0);
  setMark(e, "AAPL", 100, T0 + 30_001);
  approved(e.onSignal(signal({ expiresAt: T0 + 60_000 }), T0 + 30_001));
});

Deno.test("RiskManagerCore approves nothing while the orders channel has no live consumer, and nothing at a full outbox", () => {
  let live = false;
  let pending = 0;
  const e = coreWith({
    ordersChannel: { live: () => live, pending: () => pending },
    maxOutboxPending: 3,
  });
  hold(e, "buy", 50);
  denied(e.onSignal(signal(), T0), "ORDERS_CHANNEL_DOWN");
  denied(e.onSignal(signal({ action: "flat" }), T0), "ORDERS_CHANNEL_DOWN");
  live = true;
  pending = 2; // just below the bound
  approved(e.onSignal(signal(), T0));
  pending = 3; // at it
  const d = denied(e.onSignal(signal({ action: "flat" }), T0), "OUTBOX_FULL");
  assert.equal(d.check, "orders_channel");
  assert.deepEqual(d.details, { pending: 3, max: 3 });
});

// ---------- open orders nobody owns (issue 14, item 6) ----------

Deno.test("RiskManagerCore closes an open order the engine never received once it expired, not before", () => {
  const e = coreWith({ orderTtlMs: 30_000, limits: { maxOpenOrders: 1 } });
  const o = approved(e.onSignal(signal(), T0));
  assert.deepEqual(e.reconcileRequest(), [o.clientOrderId]);
  const unknown = {
    requestId: "r-1",
    orders: [{ clientOrderId: o.clientOrderId, known: false as const }],
    at: T0,
  };
  // At its expiry the engine could still send it: kept.
  assert.equal(e.onOrderStatus(unknown, T0 + 30_000).orphans.length, 0);
  assert.equal(e.openOrders().length, 1);
  const { orphans } = e.onOrderStatus(unknown, T0 + 30_001);
  assert.deepEqual(orphans.map((x) => [x.clientOrderId, x.closeReason]), [
    [o.clientOrderId, "orphan_expired"],
  ]);
  assert.equal(e.openOrders().length, 0, "its slot is free");
  assert.deepEqual(e.reconcileRequest(), []);
});

Deno.test("RiskManagerCore applies what the engine's journal holds of an open order, booking a fill it missed", () => {
  const e = coreWith();
  const o = approved(e.onSignal(signal(), T0));
  const report = fill(o.clientOrderId, "buy", 0, 0, {
    kind: "status",
    state: "filled",
    orderQty: 10,
    cumQty: 10,
    avgPrice: 100.5,
  });
  const { applied } = e.onOrderStatus({
    requestId: "r-1",
    orders: [{ clientOrderId: o.clientOrderId, known: true, report }],
    at: T0,
  }, T0);
  assert.equal(applied, 1);
  assert.equal(e.openOrders().length, 0);
  const p = e.positions().find((x) => x.symbol === "AAPL")!;
  assert.equal(p.qty, 10);
  assert.equal(p.avgPrice, 100.5);
});

Deno.test("RiskManagerCore.warm() runs every check for each symbol and action, and changes and records nothing", () => {
  const recorded: string[] = [];
  const store = StateStore.open(":memory:");
  const core = coreWith({ store, recorder: { check: (type) => void recorded.push(type) } });
  setMark(core, "AAPL", 100, T0);
  const ran = core.warm(T0, 3);
  assert.equal(ran, 3 * core.symbols.size * 3 * PRE_TRADE_CHECKS.length);
  assert.deepEqual(recorded, [], "no check is recorded");
  assert.equal(store.orderRows(), 0, "nothing is stored");
  // A signal is decided as on a core that was never warmed.
  const cold = coreWith({});
  setMark(cold, "AAPL", 100, T0);
  const a = core.onSignal(signal(), T0);
  const b = cold.onSignal(signal(), T0);
  assert.equal(a.approved, true);
  assert.equal(b.approved, true);
  if (a.approved && b.approved) assert.equal(a.order.qty, b.order.qty);
  store.close();
});

Deno.test("RiskManagerCore.prime() runs every check for one traded symbol, buy and sell, and changes and records nothing", () => {
  const recorded: string[] = [];
  const store = StateStore.open(":memory:");
  const core = coreWith({ store, recorder: { check: (type) => void recorded.push(type) } });
  setMark(core, "AAPL", 100, T0);
  assert.equal(core.prime("AAPL", T0), 2 * PRE_TRADE_CHECKS.length);
  assert.equal(core.prime("ZZZZ", T0), 0, "a symbol not traded is not primed");
  assert.deepEqual(recorded, []);
  assert.equal(store.orderRows(), 0);
  assert.equal(core.openOrders().length, 0);
  const d = core.onSignal(signal(), T0);
  assert.equal(d.approved, true);
  store.close();
});

Deno.test("RiskManagerCore decides alike with or without warm-ups and primes between, at whatever time they run", () => {
  // Each script runs on two identical cores; one is warmed and primed between its decisions,
  // at times ahead of them too (a wall clock stepped forward). The decisions must be equal.
  const scripts: {
    limits: Partial<Limits>;
    run: (core: RiskManagerCore, warm: (t: number) => void) => Decision[];
  }[] = [];
  // The order rate at its last token: a prime's refill must not lend tokens to a later decision.
  const rateSignals = [signal(), signal()].map((s) => ({ ...s, expiresAt: T0 + 10_000 }));
  scripts.push({
    limits: { maxOrdersPerSecond: 1, exitRateReserve: 0 },
    run: (core, warm) => {
      const out = [core.onSignal(rateSignals[0], T0)];
      warm(T0 + 1000);
      out.push(core.onSignal(rateSignals[1], T0 + 500));
      return out;
    },
  });
  // Ten approvals empty a 10/s bucket; 100 ms later one token is back, exactly, and only one.
  const burst = Array.from({ length: 12 }, () => signal({ expiresAt: T0 + 10_000 }));
  scripts.push({
    limits: { maxOrdersPerSecond: 10, exitRateReserve: 0 },
    run: (core, warm) => {
      const out = burst.slice(0, 10).map((s) => core.onSignal(s, T0));
      warm(T0 + 8);
      out.push(core.onSignal(burst[10], T0 + 100), core.onSignal(burst[11], T0 + 100));
      return out;
    },
  });
  // Exposure at the limit across symbols, the pooled rows reused by every warm-up in between.
  const exposure = [
    signal(),
    signal({ symbol: "MSFT", price: 400 }),
    signal({ symbol: "BTC/USD", price: 100000 }),
    signal({ symbol: "MSFT", action: "sell", price: 400 }),
    signal({ action: "sell" }),
  ];
  scripts.push({
    limits: { maxGrossExposure: 1800, maxNetExposure: 1800 },
    run: (core, warm) =>
      exposure.map((s) => {
        warm(T0);
        return core.onSignal(s, T0);
      }),
  });
  for (const [i, script] of scripts.entries()) {
    const plain = coreWith({ limits: script.limits });
    const primed = coreWith({ limits: script.limits });
    const want = script.run(plain, () => {});
    const got = script.run(primed, (t) => {
      primed.warm(t, 2);
      for (const symbol of primed.symbols) primed.prime(symbol, t);
    });
    assert.deepEqual(got, want, `script ${i}`);
    assert.ok(
      want.some((d) => d.approved) && want.some((d) => !d.approved),
      `script ${i} decides both ways`,
    );
  }
});

// ---------- sessions, halts and LULD bands (issue 16) ----------

/** A trading status of `symbol` computed at T0. */
function statusOf(symbol: string, state: MarketStatus["state"], reason: MarketStatus["reason"]) {
  return {
    symbol,
    state,
    reason,
    nextOpen: null,
    nextClose: null,
    exchange: "alpaca",
    at: T0,
  } satisfies MarketStatus;
}

Deno.test("RiskManagerCore denies a stock SESSION_UNKNOWN until market-data's first status when no schedule is configured, and trades crypto meanwhile", () => {
  const e = coreWith({ session: {} }); // the Alpaca feed: no fallback schedule
  const d = denied(e.onSignal(signal(), T0), "SESSION_UNKNOWN");
  assert.equal(d.check, "market_session");
  approved(e.onSignal(signal({ symbol: "BTC/USD", price: 100000 }), T0));
  e.onTradingStatus(statusOf("AAPL", "open", "regular_session"), T0);
  approved(e.onSignal(signal(), T0));
});

Deno.test("RiskManagerCore denies SESSION_UNKNOWN once a stock's status is older than its bound", () => {
  const e = coreWith({ session: { statusMaxAgeMs: 15_000 } });
  e.onTradingStatus(statusOf("AAPL", "open", "regular_session"), T0);
  setMark(e, "AAPL", 100, T0 + 15_001);
  approved(e.onSignal(signal({ expiresAt: T0 + 60_000 }), T0 + 15_000));
  const d = denied(e.onSignal(signal({ expiresAt: T0 + 60_000 }), T0 + 15_001), "SESSION_UNKNOWN");
  assert.deepEqual(d.details, { symbol: "AAPL", reason: "stale_status", ageMs: 15_001 });
});

Deno.test("RiskManagerCore denies even a flat in a halted or closed market: nothing can fill there", () => {
  const e = coreWith();
  hold(e, "buy", 50);
  e.onTradingStatus(statusOf("AAPL", "halted", "trading_halt"), T0);
  denied(e.onSignal(signal({ action: "flat" }), T0), "SYMBOL_HALTED");
  e.onTradingStatus(statusOf("AAPL", "closed", "outside_session"), T0);
  denied(e.onSignal(signal({ action: "flat" }), T0), "MARKET_CLOSED");
  e.onTradingStatus(statusOf("AAPL", "open", "regular_session"), T0);
  assert.equal(approved(e.onSignal(signal({ action: "flat" }), T0)).qty, 50);
});

Deno.test("RiskManagerCore sends no market order in extended hours, even with extendedHours set", () => {
  const e = coreWith({ session: { schedule: ALWAYS_OPEN, extendedHours: true } });
  e.onTradingStatus(statusOf("AAPL", "extended", "extended_session"), T0);
  const d = denied(e.onSignal(signal(), T0), "MARKET_CLOSED");
  assert.equal(d.details.type, "market");
});

Deno.test("RiskManagerCore denies an order whose reference price is outside the symbol's LULD band", () => {
  const e = coreWith();
  const band = {
    symbol: "AAPL",
    limitUp: 99,
    limitDown: 90,
    indicator: "B",
    exchange: "alpaca",
    exchangeTs: T0,
    receivedTs: T0,
  };
  e.onLuldBand(band, T0);
  const d = denied(e.onSignal(signal(), T0), "PRICE_OUTSIDE_LULD_BAND");
  assert.deepEqual(d.details, { price: 100, limitDown: 90, limitUp: 99 });
  e.onLuldBand({ ...band, limitUp: 105, limitDown: 95 }, T0);
  approved(e.onSignal(signal(), T0));
});

Deno.test("RiskManagerCore keeps no status or band of a symbol it neither trades nor holds", () => {
  const e = coreWith();
  assert.equal(e.onTradingStatus(statusOf("TSLA", "halted", "trading_halt"), T0), null);
  const band = {
    symbol: "TSLA",
    limitUp: 1,
    limitDown: 0.5,
    indicator: "B",
    exchange: "alpaca",
    exchangeTs: T0,
    receivedTs: T0,
  };
  assert.equal(e.onLuldBand(band, T0), null);
  assert.deepEqual(e.markets(T0), []);
});

// ---------- one-sided books, excluded prints, corrections (issue 16) ----------

Deno.test("RiskManagerCore buys nothing against a missing ask and sells against the bid that is there", () => {
  const e = coreWith();
  hold(e, "buy", 20);
  const bidOnly = {
    symbol: "AAPL",
    bidPrice: 99.5,
    bidSize: 100,
    askPrice: null,
    askSize: 0,
    exchange: "alpaca",
    exchangeTs: T0,
    receivedTs: T0,
  };
  assert.equal(e.onMarketData("one_sided_quote", bidOnly, T0)?.missing, "ask");
  const d = denied(e.onSignal(signal({ price: 99.5 }), T0), "NO_REFERENCE_PRICE");
  assert.equal(d.details.missing, "ask");
  const o = approved(e.onSignal(signal({ action: "flat", price: 99.5 }), T0));
  assert.deepEqual([o.side, o.qty], ["sell", 20]);
  assert.equal(e.positions().find((p) => p.symbol === "AAPL")?.mark, 99.5, "marked at the bid");
});

Deno.test("RiskManagerCore marks at neither an excluded print nor a cancelled one", () => {
  const e = coreWith({ markMaxAgeMs: 1000 });
  hold(e, "buy", 10);
  const later = T0 + 2000; // the quoted mid is stale: prints mark the position
  const trade = { symbol: "AAPL", price: 104, size: 100, exchange: "V", exchangeTs: later };
  assert.equal(e.onMarketData("trade", { ...trade, receivedTs: later }, later)?.price, 104);
  assert.equal(
    e.onMarketData("trade", { ...trade, price: 80, eligible: false, receivedTs: later }, later),
    null,
  );
  assert.equal(e.mark("AAPL")?.price, 104);
  e.onMarketData("trade_correction", {
    symbol: "AAPL",
    action: "cancel",
    tradeId: "7",
    originalPrice: 104,
    originalSize: 100,
    correctedPrice: null,
    correctedSize: null,
    outcome: "applied",
    lastPrice: 101,
    exchange: "V",
    exchangeTs: later,
    receivedTs: later,
  }, later);
  assert.equal(e.mark("AAPL")?.price, 101);
  assert.equal(e.positions().find((p) => p.symbol === "AAPL")?.unrealized, 10);
});

// ---------- rejections from execution-engine (issue 16) ----------

/** The reject report of order `o` with `reason`. */
function rejectOf(o: { clientOrderId: string; qty: number }, reason: string, state = "rejected") {
  return fill(o.clientOrderId, "buy", 0, 0, {
    kind: state === "rejected" ? "reject" : "expire",
    state: state as "rejected" | "expired",
    orderQty: o.qty,
    cumQty: 0,
    avgPrice: 0,
    leavesQty: 0,
    reason,
  });
}

Deno.test("RiskManagerCore halts trading on an account_blocked or invalid_time_in_force rejection", () => {
  for (const reason of ["account_blocked", "invalid_time_in_force"]) {
    const changes: TradingStateChange[] = [];
    const e = coreWith({ onStateChange: (c) => changes.push(c) });
    const o = approved(e.onSignal(signal(), T0));
    const outcome = e.onExecutionReport(rejectOf(o, reason), T0);
    assert.deepEqual(outcome.rejection, { label: reason, reason, action: "halt", halted: true });
    assert.equal(e.status.state, "HALTED", reason);
    assert.equal(e.status.breakerTripped, false, "the breaker is not the brake for this");
    assert.equal(e.status.actor, "execution-engine");
    assert.equal(changes.length, 1);
    denied(e.onSignal(signal(), T0), "TRADING_HALTED");
  }
});

Deno.test("RiskManagerCore counts market_closed, session_unknown, rate_limited and order_expired without a state change", () => {
  for (
    const [reason, state] of [
      ["market_closed", "rejected"],
      ["session_unknown", "rejected"],
      ["rate_limited", "rejected"],
      ["order_expired", "expired"],
      ["insufficient_buying_power", "rejected"],
    ]
  ) {
    const e = coreWith();
    const o = approved(e.onSignal(signal(), T0));
    const outcome = e.onExecutionReport(rejectOf(o, reason, state), T0);
    const label = reason === "insufficient_buying_power" ? "other" : reason;
    assert.deepEqual(outcome.rejection, { label, reason, action: "count", halted: false });
    assert.equal(e.status.state, "ACTIVE", reason);
    assert.equal(e.openOrders().length, 0, "the order is closed");
  }
});

Deno.test("RiskManagerCore treats a rejection once: a redelivered one, or a venue's own expiry, is none", () => {
  const e = coreWith();
  const o = approved(e.onSignal(signal(), T0));
  assert.ok(e.onExecutionReport(rejectOf(o, "market_closed"), T0).rejection);
  assert.equal(e.onExecutionReport(rejectOf(o, "market_closed"), T0).rejection, undefined);
  const p = approved(e.onSignal(signal(), T0));
  // A day order the venue expired at the close carries no reason: not a rejection.
  const expired = fill(p.clientOrderId, "buy", 0, 0, {
    kind: "expire",
    state: "expired",
    orderQty: p.qty,
    cumQty: 0,
    avgPrice: 0,
  });
  assert.equal(e.onExecutionReport(expired, T0).rejection, undefined);
});

// ---------- positions reconciled with the venue (issue 16) ----------

let venueReads = 0;

/** A `venue_positions` answer holding `positions` (symbol -> qty), read after the one before. */
function venueAnswer(
  positions: Record<string, number | [number, number]>,
  over: Partial<VenuePositionsAnswer> = {},
): VenuePositionsAnswer {
  return {
    requestId: `pos-${Math.random()}`,
    venue: "alpaca",
    readAt: T0 + ++venueReads,
    positions: Object.entries(positions).map(([symbol, v]) => ({
      symbol,
      qty: Array.isArray(v) ? v[0] : v,
      avgEntryPrice: Array.isArray(v) ? v[1] : 0,
      updatedAt: T0,
    })),
    truncated: false,
    at: T0,
    ...over,
  };
}

Deno.test("RiskManagerCore halts trading on a position mismatch confirmed by two quiet answers with a read between, once", () => {
  const changes: TradingStateChange[] = [];
  const e = coreWith({ onStateChange: (c) => changes.push(c) });
  hold(e, "buy", 10);
  const first = e.onVenuePositions(venueAnswer({ AAPL: 12 }), T0);
  assert.deepEqual(first.differences.map((d) => [d.symbol, d.ours, d.venue, d.status]), [
    ["AAPL", 10, 12, "suspect"],
  ]);
  assert.equal(e.status.state, "ACTIVE", "one answer is not enough: a fill may be in flight");
  const second = e.onVenuePositions(venueAnswer({ AAPL: 12 }), T0 + 5000);
  assert.deepEqual(second.newMismatches.map((d) => d.symbol), ["AAPL"]);
  assert.deepEqual(second.applied, [{ symbol: "AAPL", action: "halted", from: 10, to: 10 }]);
  assert.equal(second.policy, "halt");
  assert.equal(e.status.state, "HALTED");
  assert.equal(e.status.actor, "reconciliation");
  assert.match(e.status.reason, /AAPL ours=10 venue=12/);
  assert.equal(e.positions().find((p) => p.symbol === "AAPL")?.qty, 10, "the book is left alone");
  // An operator resumes: the same mismatch does not halt again, and it is still shown.
  e.setState("ACTIVE", "checked by hand", "ops", T0 + 6000);
  const third = e.onVenuePositions(venueAnswer({ AAPL: 12 }), T0 + 10_000);
  assert.deepEqual(third.newMismatches, []);
  assert.deepEqual(third.mismatched.map((d) => d.symbol), ["AAPL"]);
  assert.equal(e.status.state, "ACTIVE");
  assert.equal(changes.length, 2);
  // Agreement resolves it.
  const fourth = e.onVenuePositions(venueAnswer({ AAPL: 10 }), T0 + 15_000);
  assert.deepEqual(fourth.resolved, ["AAPL"]);
  assert.deepEqual(fourth.mismatched, []);
  assert.equal(e.lastReconciliation, fourth);
});

Deno.test("RiskManagerCore counts no mismatch while the symbol has an open order or traded between answers", () => {
  const e = coreWith();
  const o = approved(e.onSignal(signal(), T0));
  // The venue filled it; its report is on the way.
  for (let i = 0; i < 3; i++) {
    const r = e.onVenuePositions(venueAnswer({ AAPL: 10 }), T0 + i);
    assert.deepEqual(r.differences.map((d) => d.status), ["in_flight"]);
  }
  e.onExecutionReport(fill(o.clientOrderId, "buy", 10, 100), T0 + 3);
  assert.deepEqual(e.onVenuePositions(venueAnswer({ AAPL: 10 }), T0 + 4).differences, []);
  // A difference, then a report between the two answers: not confirmed yet.
  assert.equal(
    e.onVenuePositions(venueAnswer({ AAPL: 11 }), T0 + 5).differences[0].status,
    "suspect",
  );
  // Two fills between the answers (a buy and a sell from outside): the position is back
  // at 10, but something happened, so the difference is not confirmed yet.
  hold(e, "buy", 1);
  hold(e, "sell", 1);
  const r = e.onVenuePositions(venueAnswer({ AAPL: 11 }), T0 + 6);
  assert.deepEqual(r.newMismatches, [], "activity since the last answer");
  assert.equal(e.onVenuePositions(venueAnswer({ AAPL: 11 }), T0 + 7).newMismatches.length, 1);
});

Deno.test("RiskManagerCore adopts the venue's quantity under adopt, its average cost as documented, the day's P&L unchanged", () => {
  const e = coreWith({ positionMismatch: "adopt" });
  hold(e, "buy", 10, 100);
  setMark(e, "AAPL", 110, T0); // +100 unrealised
  setMark(e, "MSFT", 400, T0);
  const pnlBefore = e.dailyPnl();
  const realizedBefore = e.positions().find((p) => p.symbol === "AAPL")!.realized;
  const answer = { AAPL: 15, MSFT: [-3, 390] as [number, number], SPY: 2 };
  e.onVenuePositions(venueAnswer(answer), T0);
  const r = e.onVenuePositions(venueAnswer(answer), T0);
  assert.equal(e.status.state, "ACTIVE", "adopt does not halt");
  assert.deepEqual(r.applied.map((a) => [a.symbol, a.action, a.from, a.to, a.avgPrice]), [
    ["AAPL", "adopted", 10, 15, 100], // same side, no venue price: our average
    ["MSFT", "adopted", 0, -3, 390], // the venue's average entry price
    ["SPY", "adopted", 0, 2, 0], // no price known at all: 0 (documented)
  ]);
  assert.deepEqual(r.mismatched, [], "adopted: the book agrees");
  const aapl = e.positions().find((p) => p.symbol === "AAPL")!;
  assert.deepEqual([aapl.qty, aapl.avgPrice, aapl.realized], [15, 100, realizedBefore]);
  assert.ok(Math.abs(e.dailyPnl() - pnlBefore) < 1e-9, "adopting is no trading gain or loss");
  assert.deepEqual(e.onVenuePositions(venueAnswer(answer), T0).differences, []);
});

Deno.test("RiskManagerCore adopting a flipped position prices it at the mark", () => {
  const e = coreWith({ positionMismatch: "adopt" });
  hold(e, "buy", 10, 100);
  setMark(e, "AAPL", 105, T0);
  e.onVenuePositions(venueAnswer({ AAPL: -4 }), T0);
  const r = e.onVenuePositions(venueAnswer({ AAPL: -4 }), T0);
  assert.deepEqual(r.applied.map((a) => [a.to, a.avgPrice]), [[-4, 105]]);
  assert.ok(Math.abs(e.positions().find((p) => p.symbol === "AAPL")!.unrealized) < 1e-9);
});

Deno.test("RiskManagerCore keeps an adoption it could not store undone, and adopts on a later answer", () => {
  const store = StateStore.open(":memory:");
  const e = coreWith({ store, positionMismatch: "adopt" });
  hold(e, "buy", 10, 100);
  e.onVenuePositions(venueAnswer({ AAPL: 12 }), T0);
  const put = store.putPosition.bind(store);
  store.putPosition = () => {
    throw new Error("disk I/O error");
  };
  assert.throws(() => e.onVenuePositions(venueAnswer({ AAPL: 12 }), T0), /disk I\/O error/);
  assert.equal(e.positions().find((p) => p.symbol === "AAPL")?.qty, 10);
  store.putPosition = put;
  assert.equal(e.onVenuePositions(venueAnswer({ AAPL: 12 }), T0).applied.length, 0);
  assert.equal(e.onVenuePositions(venueAnswer({ AAPL: 12 }), T0).applied.length, 1);
  assert.equal(e.positions().find((p) => p.symbol === "AAPL")?.qty, 12);
});

Deno.test("RiskManagerCore takes no mismatch from venue positions read before a fill the book already has", () => {
  const e = coreWith();
  const o = approved(e.onSignal(signal(), T0));
  // The stream update of the fill was lost: the report came from the engine's look-up,
  // and Alpaca's positions are read again only every accountPollMs.
  e.onExecutionReport(fill(o.clientOrderId, "buy", 10, 100), T0);
  const stale = venueAnswer({});
  for (let i = 0; i < 5; i++) {
    const r = e.onVenuePositions({ ...stale, requestId: `r-${i}` }, T0 + i * 5000);
    assert.deepEqual(r.newMismatches, [], `answer ${i}`);
    assert.equal(r.differences[0].status, "suspect");
  }
  assert.equal(e.status.state, "ACTIVE");
  assert.deepEqual(e.onVenuePositions(venueAnswer({ AAPL: 10 }), T0 + 30_000).differences, []);
});
