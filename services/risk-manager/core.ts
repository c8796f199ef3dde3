/**
 * The risk-manager's core: turns signals into approved orders or denials, keeps
 * positions and P&L from execution reports and marks, and owns the trading state and
 * circuit breaker. No sockets, no HTTP: the service wires it, tests drive it.
 * @module
 */
import type { Config } from "../../lib/config.ts";
import type { ExecutionReport, Order, Signal, TradingState } from "../../lib/types.ts";
import { clientOrderIdFor } from "./client_order_id.ts";
import { type CheckType, type Denial, deny } from "./denial.ts";
import { type Mark, MarkBook } from "./marks.ts";
import { OrderRateLimiter } from "./order_rate.ts";
import { type FillEffect, type Position, PositionBook } from "./position_book.ts";
import { cleanQty, isCrypto, QTY_EPSILON, sizeOrder } from "./sizing.ts";
import type { DailyPnl, OrderRecord, StateStore } from "./state_store.ts";
import {
  type StateError,
  type TradingStateChange,
  TradingStateMachine,
  type TradingStatus,
} from "./trading_state.ts";

/** The limits of `riskManager.limits`. */
export type Limits = Config["riskManager"]["limits"];

/** Receives the outcome and latency of every check run (the metrics implement it). */
export interface CheckRecorder {
  check(type: CheckType, passed: boolean, latencyUs: number): void;
}

/** What the engine needs from config. */
export interface RiskManagerCoreOptions {
  readonly symbols: readonly string[];
  readonly strategy: string;
  readonly sizing: Config["riskManager"]["sizing"];
  readonly limits: Limits;
  readonly markMaxAgeMs: number;
  readonly store: StateStore;
  readonly recorder?: CheckRecorder;
  /** Called after every trading state or breaker change (already persisted). */
  readonly onStateChange?: (change: TradingStateChange) => void;
  /** A monotonic clock in ms for check latencies; default `performance.now`. */
  readonly clock?: () => number;
}

/** The outcome of a signal. */
export type Decision =
  | { readonly approved: true; readonly order: Order }
  | {
    readonly approved: false;
    readonly denial: Denial;
    readonly signalId: string;
    readonly symbol: string;
  };

/** The outcome of an execution report. */
export interface ReportOutcome {
  /** `fill` applied a fill; `duplicate` was a fill already applied; `status` changed no position. */
  readonly kind: "fill" | "duplicate" | "status";
  /** True when the report was for an order this risk-manager never approved. */
  readonly unknownOrder: boolean;
  readonly effect?: FillEffect;
}

/** Per-symbol view for the admin API. */
export interface PositionView extends Position {
  readonly side: "long" | "short" | "flat";
  readonly marketValue: number;
  readonly unrealized: number;
}

const FINAL_STATES = new Set(["filled", "canceled", "rejected", "expired"]);
const DAY_MS = 86_400_000;

/**
 * The risk engine. All methods are synchronous; each state change is committed to the
 * store before the method returns.
 *
 * @example
 * ```ts
 * const engine = new RiskManagerCore({ ...config.riskManager, symbols: config.symbols, store });
 * engine.onMark("AAPL", 100, Date.now());
 * const d = engine.onSignal(signal, Date.now());
 * if (d.approved) sender.send("order", d.order);
 * ```
 */
export class RiskManagerCore {
  readonly symbols: ReadonlySet<string>;
  readonly limits: Limits;
  readonly #o: RiskManagerCoreOptions;
  readonly #store: StateStore;
  readonly #book: PositionBook;
  readonly #marks: MarkBook;
  readonly #rate: OrderRateLimiter;
  readonly #state: TradingStateMachine;
  readonly #orders = new Map<string, OrderRecord>();
  readonly #open = new Map<string, OrderRecord>();
  readonly #clock: () => number;
  #daily: DailyPnl & { lossLatched: boolean };
  #dayEnd = 0;
  #dirtyMarks = new Set<string>();
  #lap = 0;
  #laps = 0;
  readonly #lapType: CheckType[] = [];
  readonly #lapPassed: boolean[] = [];
  readonly #lapUs: number[] = [];

  constructor(options: RiskManagerCoreOptions) {
    this.#o = options;
    this.symbols = new Set(options.symbols);
    this.limits = options.limits;
    this.#store = options.store;
    this.#clock = options.clock ?? (() => performance.now());
    const saved = this.#store.load();
    this.#book = new PositionBook(saved.positions);
    this.#marks = new MarkBook(options.markMaxAgeMs);
    this.#rate = new OrderRateLimiter(options.limits.maxOrdersPerSecond);
    this.#state = new TradingStateMachine(saved.status ?? undefined);
    for (const o of saved.orders) {
      this.#orders.set(o.clientOrderId, o);
      if (o.open) this.#open.set(o.clientOrderId, o);
    }
    const d = saved.daily as (DailyPnl & { lossLatched?: boolean }) | null;
    this.#daily = d
      ? { ...d, lossLatched: d.lossLatched ?? false }
      : { day: "", realized: 0, unrealizedAtStart: 0, lossLatched: false };
    if (this.#daily.day) this.#dayEnd = Date.parse(this.#daily.day + "T00:00:00Z") + DAY_MS;
  }

  // ---------- signals ----------

  /**
   * Runs the pre-trade checks on `signal` at `now` (epoch ms); approves or denies it.
   * An approval is recorded (store, open orders, rate) before this returns; the
   * `all_checks` latency covers the checks, not that write.
   */
  onSignal(signal: Signal, now: number): Decision {
    const t0 = this.#clock();
    this.#lap = t0;
    this.#rollDay(now);
    this.#laps = 0;
    const out = this.#evaluate(signal, now);
    const denied = "code" in out;
    const rec = this.#o.recorder;
    if (rec) {
      // Metrics are written after the run, so all_checks times the checks themselves.
      const us = (this.#clock() - t0) * 1000;
      for (let i = 0; i < this.#laps; i++) {
        rec.check(this.#lapType[i], this.#lapPassed[i], this.#lapUs[i]);
      }
      rec.check("all_checks", !denied, us);
    }
    if (denied) return { approved: false, denial: out, signalId: signal.id, symbol: signal.symbol };
    this.#store.putOrder(out.record);
    this.#orders.set(out.record.clientOrderId, out.record);
    this.#open.set(out.record.clientOrderId, out.record);
    this.#rate.take(now);
    return { approved: true, order: out.order };
  }

  /**
   * Runs one check; with a recorder, times it from the end of the previous one (one clock
   * read) and buffers the outcome for {@link onSignal} to record after the run.
   */
  #step(type: CheckType, fn: () => Denial | null): Denial | null {
    const rec = this.#o.recorder;
    if (!rec) return fn();
    const d = fn();
    const t = this.#clock();
    const i = this.#laps++;
    this.#lapType[i] = type;
    this.#lapPassed[i] = d === null;
    this.#lapUs[i] = (t - this.#lap) * 1000;
    this.#lap = t;
    return d;
  }

  #evaluate(s: Signal, now: number): Denial | { order: Order; record: OrderRecord } {
    const L = this.limits;
    const coid = clientOrderIdFor(s.id);
    let d = this.#step(
      "duplicate_signal",
      () => this.#orders.has(coid) ? deny("DUPLICATE_SIGNAL", { clientOrderId: coid }) : null,
    );
    if (d) return d;
    d = this.#step(
      "signal_expired",
      () =>
        s.expiresAt < now
          ? deny("SIGNAL_EXPIRED", { expiresAt: s.expiresAt, now: Math.round(now) })
          : null,
    );
    if (d) return d;
    d = this.#step(
      "symbol",
      () => this.symbols.has(s.symbol) ? null : deny("SYMBOL_NOT_TRADED", { symbol: s.symbol }),
    );
    if (d) return d;
    const status = this.#state.status;
    d = this.#step(
      "circuit_breaker",
      () =>
        status.breakerTripped ? deny("CIRCUIT_BREAKER_TRIGGERED", { reason: status.reason }) : null,
    );
    if (d) return d;

    const pos = this.#book.qty(s.symbol);
    const leaves = this.#leaves(s.symbol);
    const side: "buy" | "sell" = s.action === "flat" ? (pos > 0 ? "sell" : "buy") : s.action;
    const reducible = this.#reducible(pos, side, leaves);

    d = this.#step("trading_state", () => {
      if (status.state === "HALTED") return deny("TRADING_HALTED", { reason: status.reason });
      if (status.state === "REDUCING" && s.action !== "flat" && reducible <= 0) {
        return deny("REDUCING_ONLY", { side, position: pos });
      }
      return null;
    });
    if (d) return d;

    const mark = this.#marks.get(s.symbol);
    const fresh = mark !== undefined && now - mark.ts <= this.#o.markMaxAgeMs;
    const price = fresh ? mark.price : s.price;
    let qty = 0;
    d = this.#step("sizing", () => {
      if (s.action === "flat") {
        qty = reducible;
        return qty > 0 ? null : deny("NO_POSITION_TO_CLOSE", { position: pos });
      }
      qty = sizeOrder(s.symbol, this.#o.sizing.notionalPerOrder, price, this.#o.sizing.minQty);
      if (status.state === "REDUCING") qty = Math.min(qty, reducible);
      return qty > 0 ? null : deny("QTY_BELOW_MINIMUM", {
        notional: this.#o.sizing.notionalPerOrder,
        price,
        minQty: isCrypto(s.symbol) ? this.#o.sizing.minQty : 1,
      });
    });
    if (d) return d;
    const notional = qty * price;
    // Reduces the position even if every open order on the same side fills first.
    const reducing = qty <= reducible + QTY_EPSILON;

    d = this.#step(
      "max_order_qty",
      () =>
        qty > L.maxOrderQty ? deny("MAX_ORDER_QTY_EXCEEDED", { qty, max: L.maxOrderQty }) : null,
    );
    if (d) return d;
    d = this.#step(
      "max_order_notional",
      () =>
        notional > L.maxOrderNotional + 1e-9
          ? deny("MAX_ORDER_NOTIONAL_EXCEEDED", {
            notional: round2(notional),
            max: L.maxOrderNotional,
          })
          : null,
    );
    if (d) return d;
    d = this.#step("price_collar", () => this.#collar(s, mark, now));
    if (d) return d;

    // Worst case: every open order on this side fills, then this one.
    const projected = side === "buy" ? pos + leaves.buy + qty : pos - leaves.sell - qty;
    d = this.#step(
      "position_limit",
      () =>
        Math.abs(projected) > L.maxPositionQty + QTY_EPSILON && !reducing
          ? deny("POSITION_LIMIT_EXCEEDED", {
            projected: cleanQty(projected),
            max: L.maxPositionQty,
          })
          : null,
    );
    if (d) return d;

    // Exposure with this symbol valued at the reference price, before and after the order.
    const exp = this.#book.exposure();
    const booked = PositionBook.marketValue(this.#book.get(s.symbol));
    const own = pos * price;
    const ownAfter = projected * price;
    const grossBefore = exp.gross - Math.abs(booked) + Math.abs(own);
    const grossAfter = grossBefore - Math.abs(own) + Math.abs(ownAfter);
    d = this.#step(
      "gross_exposure",
      () =>
        grossAfter > L.maxGrossExposure + 1e-9 && grossAfter > grossBefore
          ? deny("GROSS_EXPOSURE_EXCEEDED", { gross: round2(grossAfter), max: L.maxGrossExposure })
          : null,
    );
    if (d) return d;
    const netBefore = exp.net - booked + own;
    const netAfter = netBefore - own + ownAfter;
    d = this.#step(
      "net_exposure",
      () =>
        Math.abs(netAfter) > L.maxNetExposure + 1e-9 && Math.abs(netAfter) > Math.abs(netBefore)
          ? deny("NET_EXPOSURE_EXCEEDED", { net: round2(netAfter), max: L.maxNetExposure })
          : null,
    );
    if (d) return d;
    d = this.#step(
      "max_open_orders",
      () =>
        this.#open.size + 1 > L.maxOpenOrders
          ? deny("MAX_OPEN_ORDERS_EXCEEDED", { open: this.#open.size, max: L.maxOpenOrders })
          : null,
    );
    if (d) return d;
    d = this.#step(
      "order_rate",
      () =>
        this.#rate.available(now) < 1
          ? deny("ORDER_RATE_EXCEEDED", { max: L.maxOrdersPerSecond })
          : null,
    );
    if (d) return d;
    d = this.#step("daily_loss", () => {
      this.#checkLoss(now);
      const pnl = this.dailyPnl();
      return pnl <= -L.dailyLossLimit && !reducing
        ? deny("DAILY_LOSS_LIMIT_EXCEEDED", { pnl: round2(pnl), limit: L.dailyLossLimit })
        : null;
    });
    if (d) return d;

    const order: Order = {
      clientOrderId: coid,
      signalId: s.id,
      symbol: s.symbol,
      side,
      qty,
      type: "market",
      timeInForce: isCrypto(s.symbol) ? "gtc" : "day",
      strategy: this.#o.strategy,
      createdAt: now,
      tickTs: s.tickTs,
    };
    const record: OrderRecord = {
      clientOrderId: coid,
      signalId: s.id,
      symbol: s.symbol,
      side,
      qty,
      cumQty: 0,
      open: true,
      createdAt: now,
    };
    return { order, record };
  }

  #collar(s: Signal, mark: Mark | undefined, now: number): Denial | null {
    if (mark === undefined) return deny("NO_REFERENCE_PRICE", { symbol: s.symbol });
    const age = now - mark.ts;
    if (age > this.#o.markMaxAgeMs) {
      return deny("STALE_REFERENCE_PRICE", { ageMs: Math.round(age), max: this.#o.markMaxAgeMs });
    }
    const bps = (Math.abs(s.price - mark.price) / mark.price) * 10_000;
    return bps > this.limits.priceCollarBps + 1e-6
      ? deny("PRICE_COLLAR_BREACHED", {
        price: s.price,
        mid: mark.price,
        bps: round2(bps),
        max: this.limits.priceCollarBps,
      })
      : null;
  }

  /** Open (unfilled) quantity of this symbol's open orders, by side. */
  #leaves(symbol: string): { buy: number; sell: number } {
    let buy = 0;
    let sell = 0;
    for (const o of this.#open.values()) {
      if (o.symbol !== symbol) continue;
      const left = Math.max(0, o.qty - o.cumQty);
      if (o.side === "buy") buy += left;
      else sell += left;
    }
    return { buy, sell };
  }

  /** How much a `side` order can trade and still only reduce `pos`, open orders included. */
  #reducible(pos: number, side: "buy" | "sell", leaves: { buy: number; sell: number }): number {
    if (side === "sell" && pos > 0) return cleanQty(Math.max(0, pos - leaves.sell));
    if (side === "buy" && pos < 0) return cleanQty(Math.max(0, -pos - leaves.buy));
    return 0;
  }

  // ---------- execution reports and marks ----------

  /**
   * Applies an execution report. A fill is applied once: a report whose `cumQty` is
   * not above what was already applied for that order is a duplicate.
   */
  onExecutionReport(r: ExecutionReport, now: number): ReportOutcome {
    this.#rollDay(now);
    let rec = this.#orders.get(r.clientOrderId);
    const unknownOrder = rec === undefined;
    rec ??= {
      clientOrderId: r.clientOrderId,
      signalId: "",
      symbol: r.symbol,
      side: r.side,
      qty: r.orderQty,
      cumQty: 0,
      open: true,
      createdAt: now,
    };
    const final = FINAL_STATES.has(r.state);
    const delta = cleanQty(r.cumQty - rec.cumQty);
    const isFill = r.kind === "fill" || r.lastQty > 0;
    const next: OrderRecord = {
      ...rec,
      cumQty: delta > 0 ? r.cumQty : rec.cumQty,
      open: rec.open && !final,
    };
    const undoPosition = this.#book.get(r.symbol);
    const undoDaily = this.#daily;
    let done: { kind: ReportOutcome["kind"]; effect?: FillEffect };
    try {
      done = this.#commitReport(r, next, isFill, delta);
    } catch (error) {
      // Nothing was stored: put memory back so a retry applies the report exactly once.
      this.#book.restore(undoPosition);
      this.#daily = undoDaily;
      throw error;
    }
    this.#orders.set(next.clientOrderId, next);
    if (next.open) this.#open.set(next.clientOrderId, next);
    else this.#open.delete(next.clientOrderId);
    if (done.kind === "fill") this.#checkLoss(now);
    return { ...done, unknownOrder };
  }

  /** Applies a report to the book and stores it in one transaction (memory first). */
  #commitReport(
    r: ExecutionReport,
    next: OrderRecord,
    isFill: boolean,
    delta: number,
  ): { kind: ReportOutcome["kind"]; effect?: FillEffect } {
    let effect: FillEffect | undefined;
    let kind = "status" as ReportOutcome["kind"];
    this.#store.transaction(() => {
      if (isFill && delta > 0) {
        // A missed report shows as a jump in cumQty: price the jump at the order's average.
        const price = Math.abs(delta - r.lastQty) < QTY_EPSILON || r.avgPrice <= 0
          ? r.lastPrice
          : r.avgPrice;
        effect = this.#book.applyFill(r.symbol, r.side, delta, price);
        if (this.#marks.get(r.symbol) === undefined) this.#book.mark(r.symbol, price);
        this.#daily = { ...this.#daily, realized: this.#daily.realized + effect.realized };
        this.#store.putPosition(this.#book.get(r.symbol));
        this.#store.putDaily(this.#daily);
        kind = "fill";
      } else if (isFill) {
        kind = "duplicate";
      }
      this.#store.putOrder(next);
    });
    return { kind, effect };
  }

  /** Updates the reference price of a symbol from a market data message. */
  onMarketData(type: string, body: unknown, now: number): Mark | null {
    const symbol = (body as { symbol?: unknown }).symbol;
    if (typeof symbol !== "string") return null;
    // Marks only for symbols traded or held, so a wide feed cannot grow the map.
    if (!this.symbols.has(symbol) && this.#book.qty(symbol) === 0) return null;
    const m = this.#marks.update(type, body, now);
    if (m === null) return null;
    this.#applyMark(symbol, m.price, now);
    return m;
  }

  /** Sets a mark directly (tests, benches). */
  onMark(symbol: string, price: number, now: number): void {
    this.#marks.update("quote", {
      symbol,
      bidPrice: price,
      askPrice: price,
    }, now);
    this.#applyMark(symbol, price, now);
  }

  #applyMark(symbol: string, price: number, now: number): void {
    this.#rollDay(now);
    if (!this.symbols.has(symbol) && this.#book.qty(symbol) === 0) return;
    this.#book.mark(symbol, price);
    this.#dirtyMarks.add(symbol);
    if (this.#book.qty(symbol) !== 0) this.#checkLoss(now);
  }

  /** Persists the marks that changed since the last flush (call every few seconds). */
  flushMarks(): void {
    if (this.#dirtyMarks.size === 0) return;
    this.#store.transaction(() => {
      for (const s of this.#dirtyMarks) this.#store.putPosition(this.#book.get(s));
    });
    this.#dirtyMarks.clear();
  }

  // ---------- P&L and the breaker ----------

  /** Daily P&L: realised today plus the change of unrealised P&L since the day began, USD. */
  dailyPnl(): number {
    return this.#daily.realized + this.#book.totalUnrealized() - this.#daily.unrealizedAtStart;
  }

  /** The trading day's bookkeeping. */
  get daily(): DailyPnl {
    return this.#daily;
  }

  #rollDay(now: number): void {
    if (now < this.#dayEnd) return;
    const start = Math.floor(now / DAY_MS) * DAY_MS;
    this.#dayEnd = start + DAY_MS;
    this.#daily = {
      day: new Date(start).toISOString().slice(0, 10),
      realized: 0,
      unrealizedAtStart: this.#book.totalUnrealized(),
      lossLatched: false,
    };
    this.#store.putDaily(this.#daily);
  }

  /**
   * Trips the breaker when the daily loss first reaches the limit. Edge-triggered: after
   * a manual reset it trips again only once P&L has recovered and fallen back.
   */
  #checkLoss(now: number): void {
    const breached = this.dailyPnl() <= -this.limits.dailyLossLimit;
    if (breached === this.#daily.lossLatched) return;
    this.#daily = { ...this.#daily, lossLatched: breached };
    this.#store.putDaily(this.#daily);
    if (breached) {
      this.#apply(this.#state.trip(
        `daily loss ${round2(-this.dailyPnl())} reached the limit ${this.limits.dailyLossLimit}`,
        "system",
        now,
      ));
    }
  }

  /** The trading state and breaker. */
  get status(): TradingStatus {
    return this.#state.status;
  }

  /** Trips the breaker by hand; null when already tripped. */
  trip(reason: string, actor: string, now: number): TradingStateChange | null {
    return this.#apply(this.#state.trip(reason, actor, now));
  }

  /** Resets the breaker (back to ACTIVE); null when not tripped. */
  reset(reason: string, actor: string, now: number): TradingStateChange | null {
    return this.#apply(this.#state.reset(reason, actor, now));
  }

  /** Sets the state by hand; a {@link StateError} while the breaker is tripped. */
  setState(
    state: TradingState,
    reason: string,
    actor: string,
    now: number,
  ): TradingStateChange | null | StateError {
    const c = this.#state.set(state, reason, actor, now);
    if (c === null || !("event" in c)) return c;
    return this.#apply(c);
  }

  #apply(c: TradingStateChange | null): TradingStateChange | null {
    if (c === null) return null;
    this.#store.putStatus(this.#state.status);
    this.#o.onStateChange?.(c);
    return c;
  }

  // ---------- views ----------

  /** Every position with a quantity or a configured symbol, with its value and P&L. */
  positions(): PositionView[] {
    return this.#book.all().map((p) => ({
      ...p,
      side: p.qty > 0 ? "long" as const : p.qty < 0 ? "short" as const : "flat" as const,
      marketValue: PositionBook.marketValue(p),
      unrealized: PositionBook.unrealized(p),
    }));
  }

  /** Gross and net market value of the positions, USD. */
  exposure(): { gross: number; net: number } {
    return this.#book.exposure();
  }

  /** Number of non-zero positions. */
  openPositionCount(): number {
    return this.#book.openCount();
  }

  /** Orders approved and not yet final. */
  openOrders(): OrderRecord[] {
    return [...this.#open.values()];
  }

  /** The reference price of a symbol, if any. */
  mark(symbol: string): Mark | undefined {
    return this.#marks.get(symbol);
  }

  /** Forgets closed orders older than `maxAgeMs` (their signals expired long ago). */
  purgeClosedOrders(now: number, maxAgeMs = DAY_MS): number {
    const before = now - maxAgeMs;
    for (const [id, o] of this.#orders) {
      if (!o.open && o.createdAt < before) this.#orders.delete(id);
    }
    return this.#store.purgeClosedOrders(before);
  }
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
