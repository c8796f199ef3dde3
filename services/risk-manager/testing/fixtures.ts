/**
 * Test fixtures of the risk-manager: limits, signals, reports and an engine on an
 * in-memory store.
 * @module
 */
import type { ExecutionReport, Signal } from "../../../lib/types.ts";
import type { CheckType } from "../denial.ts";
import { type Limits, RiskManagerCore, type RiskManagerCoreOptions } from "../core.ts";
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

/** Records every check outcome. */
export class ArrayRecorder {
  readonly checks: { type: CheckType; passed: boolean; us: number }[] = [];
  check(type: CheckType, passed: boolean, us: number): void {
    this.checks.push({ type, passed, us });
  }
}

/** An engine on `store` (default: in memory) with AAPL marked at 100 (quote mid) at T0. */
export function coreWith(
  over: Partial<Omit<RiskManagerCoreOptions, "limits">> & { limits?: Partial<Limits> } = {},
): RiskManagerCore {
  const e = new RiskManagerCore({
    symbols: SYMBOLS,
    strategy: "default",
    sizing: { notionalPerOrder: 1000, minQty: 0.001 },
    markMaxAgeMs: 5000,
    store: StateStore.open(":memory:"),
    ...over,
    limits: { ...LIMITS, ...over.limits },
  });
  e.onMark("AAPL", 100, T0);
  e.onMark("MSFT", 400, T0);
  e.onMark("BTC/USD", 100000, T0);
  return e;
}
