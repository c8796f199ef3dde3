/**
 * Test fixtures of the risk-manager (tests and bench/risk-manager_bench.ts): limits,
 * signals, reports, a check recorder, marks fed through the market-data path, and a core
 * on an in-memory store.
 * @module
 */
import type { Envelope } from "../../../lib/envelope.ts";
import { ALWAYS_OPEN } from "../../../lib/market_session.ts";
import type { ExecutionReport, Signal } from "../../../lib/types.ts";
import type { CheckType } from "../denial.ts";
import type { CheckContext, Limits } from "../checks.ts";
import { RiskManagerCore, type RiskManagerCoreOptions } from "../core.ts";
import { StateStore } from "../state_store.ts";

/** Generous limits; tests tighten the one they exercise. */
export const LIMITS: Limits = {
  maxOrderQty: 1000,
  maxOrderNotional: 25000,
  maxPositionQty: 2000,
  maxGrossExposure: 250000,
  maxNetExposure: 150000,
  maxOpenOrders: 20,
  priceCollarBps: 100,
  maxOrdersPerSecond: 1000,
  dailyLossLimit: 5000,
  exitRateReserve: 0.2,
};

/** The symbols of the fixtures. */
export const SYMBOLS = ["AAPL", "MSFT", "BTC/USD"] as const;

/** A time inside one UTC day (2026-11-24T12:00:00Z). */
export const T0 = Date.UTC(2026, 10, 24, 12);

let n = 0;
/** A buy signal for AAPL at 100 by default, valid for 5 s from T0. */
export function signal(over: Partial<Signal> = {}): Signal {
  return {
    id: `sig-${++n}`,
    symbol: "AAPL",
    action: "buy",
    confidence: 0.8,
    model: "rules",
    modelVersion: "1",
    features: {},
    price: 100,
    createdAt: T0,
    expiresAt: T0 + 5000,
    tickTs: T0 - 1,
    ...over,
  };
}

/** A fill report for `clientOrderId`. */
export function fill(
  clientOrderId: string,
  side: "buy" | "sell",
  lastQty: number,
  lastPrice: number,
  over: Partial<ExecutionReport> = {},
): ExecutionReport {
  const cumQty = over.cumQty ?? lastQty;
  const orderQty = over.orderQty ?? cumQty;
  return {
    clientOrderId,
    symbol: "AAPL",
    side,
    kind: "fill",
    state: cumQty >= orderQty ? "filled" : "partially_filled",
    orderQty,
    lastQty,
    lastPrice,
    cumQty,
    avgPrice: lastPrice,
    leavesQty: Math.max(0, orderQty - cumQty),
    venue: "sim",
    strategy: "default",
    ts: T0,
    ...over,
  };
}

/**
 * A context every pre-trade check passes: a buy of 10 AAPL at 100 (marked at 100 at T0)
 * from a flat book, with `over` applied. Derived figures are not recomputed: set every
 * figure a test depends on.
 */
export function checkContext(over: Partial<CheckContext> = {}): CheckContext {
  return {
    signal: signal(),
    now: T0,
    limits: LIMITS,
    sizing: { notionalPerOrder: 1000, minQty: 0.001 },
    markMaxAgeMs: 5000,
    clientOrderId: "rm-sig-0",
    clientOrderIdUsed: false,
    symbolTraded: true,
    status: { state: "ACTIVE", breakerTripped: false, reason: "start", actor: "system", since: 0 },
    position: 0,
    leaves: { buy: 0, sell: 0 },
    side: "buy",
    reducibleQty: 0,
    mark: { price: 100, ts: T0, source: "quote" },
    price: 100,
    qty: 10,
    notional: 1000,
    reduces: false,
    projectedPosition: 10,
    grossBefore: 0,
    grossAfter: 1000,
    netBefore: 0,
    netAfter: 1000,
    openOrders: 0,
    rateTokens: 1000,
    rateReserve: 0,
    dailyPnl: 0,
    ordersChannelLive: true,
    outboxPending: 0,
    maxOutboxPending: 1000,
    market: { state: "open", reason: "regular_session", source: "status", ageMs: 0 },
    extendedHours: false,
    orderType: "market",
    timeInForce: "day",
    band: undefined,
    ...over,
  };
}

let seq = 0;
/** An envelope of `type` carrying `body`, as a subscriber hands it to a handler. */
export function envelope<T>(
  type: string,
  body: T,
  trace = "0123456789abcdef0123456789abcdef",
): Envelope<T> {
  return { v: 2, type, seq: ++seq, pub: "test/peer", epoch: T0, ts: Date.now(), trace, body };
}

/** Records every check outcome. */
export class ArrayRecorder {
  readonly checks: { type: CheckType; passed: boolean; us: number }[] = [];
  check(type: CheckType, passed: boolean, us: number): void {
    this.checks.push({ type, passed, us });
  }
}

/**
 * Marks `symbol` at `price` at `now` (epoch ms) the way the service does: a quote with
 * bid = ask = `price` through {@link RiskManagerCore.onMarketData}. Returns false when the
 * core ignored it (a symbol neither traded nor held, or a price that is not positive).
 */
export function setMark(
  core: RiskManagerCore,
  symbol: string,
  price: number,
  now: number,
): boolean {
  return core.onMarketData("quote", { symbol, bidPrice: price, askPrice: price }, now) !== null;
}

/**
 * A core on `store` (default: in memory) with AAPL, MSFT and BTC/USD marked at 100, 400
 * and 100,000 at T0, their markets always open (the sim's default schedule) unless
 * `session` says otherwise.
 */
export function coreWith(
  over: Partial<Omit<RiskManagerCoreOptions, "limits">> & { limits?: Partial<Limits> } = {},
): RiskManagerCore {
  const core = new RiskManagerCore({
    symbols: SYMBOLS,
    strategy: "default",
    sizing: { notionalPerOrder: 1000, minQty: 0.001 },
    markMaxAgeMs: 5000,
    store: StateStore.open(":memory:"),
    startedAt: T0,
    session: { schedule: ALWAYS_OPEN },
    ...over,
    limits: { ...LIMITS, ...over.limits },
  });
  setMark(core, "AAPL", 100, T0);
  setMark(core, "MSFT", 400, T0);
  setMark(core, "BTC/USD", 100000, T0);
  return core;
}
