/**
 * The risk-manager's core: turns signals into approved orders or denials, keeps
 * positions and P&L from execution reports and marks, and owns the trading state and
 * circuit breaker. No sockets, no HTTP: the service wires it, tests drive it.
 *
 * A signal's run: the day rolls over if it must, the {@link CheckContext} is computed
 * once, the checks of {@link PRE_TRADE_CHECKS} run in order until the first denial (each
 * timed), then the loss bookkeeping runs and the outcomes go to the recorder.
 * @module
 */
import type { Schedule } from "../../lib/market_session.ts";
import type {
  ExecutionReport,
  LuldBand,
  Order,
  OrderStatus,
  Signal,
  TradingState,
  TradingStatus as MarketStatus,
  VenuePositionsAnswer,
} from "../../lib/types.ts";
import {
  type CheckContext,
  type Leaves,
  type Limits,
  PRE_TRADE_CHECKS,
  reducibleQty,
  type Sizing,
} from "./checks.ts";
import { clientOrderIdFor } from "./client_order_id.ts";
import { DailyLoss } from "./daily_loss.ts";
import type { CheckType, Denial } from "./denial.ts";
import { type Mark, MarkBook } from "./marks.ts";
import {
  type Band,
  MarketStates,
  STATUS_MAX_AGE_PERIODS,
  type SymbolMarket,
} from "./market_state.ts";
import {
  type MismatchPolicy,
  type PositionComparison,
  type PositionDifference,
  PositionReconciler,
} from "./position_reconciliation.ts";
import { type Rejection, rejectionOf } from "./rejections.ts";
import { OrderRateLimiter } from "./order_rate.ts";
import { WorstCaseSums } from "./exposure.ts";
import { type FillEffect, type Position, PositionBook } from "./position_book.ts";
import { cleanQty, isCrypto, QTY_EPSILON, sizeOrder } from "./sizing.ts";
import type { DailyPnl, OrderRecord, StateStore } from "./state_store.ts";
import type { TraceContextLike } from "../../lib/tracing.ts";
import {
  isStateError,
  type StateError,
  type TradingStateChange,
  TradingStateMachine,
  type TradingStatus,
} from "./trading_state.ts";

/**
 * Receives the outcome and latency (µs) of every check run (the metrics implement it); an
 * approved signal's `all_checks` comes with the order's trace context (its exemplar).
 */
export interface CheckRecorder {
  check(type: CheckType, passed: boolean, latencyUs: number, trace?: TraceContextLike): void;
  /**
   * An approval became durable: µs from the decision (the checks' end) to the end of
   * the commit that holds it (its order and outbox rows, with the decisions committed
   * with it); `trace` is the order's trace context (its exemplar), as given to `onSignal`.
   */
  recorded?(latencyUs: number, trace?: TraceContextLike): void;
}

/** What the core needs from config, and its store. */
export interface RiskManagerCoreOptions {
  readonly symbols: readonly string[];
  readonly strategy: string;
  readonly sizing: Sizing;
  readonly limits: Limits;
  readonly markMaxAgeMs: number;
  readonly store: StateStore;
  readonly recorder?: CheckRecorder;
  /** Called after every trading state or breaker change (already persisted). */
  readonly onStateChange?: (change: TradingStateChange) => void;
  /** A monotonic clock in ms for check latencies; default `performance.now`. */
  readonly clock?: () => number;
  /**
   * The orders channel as the checks see it: whether it has a live consumer and how many
   * orders wait unacknowledged (default: always live, nothing pending).
   */
  readonly ordersChannel?: { readonly live: () => boolean; readonly pending: () => number };
  /** No order is approved while this many wait on the orders channel (default 1000). */
  readonly maxOutboxPending?: number;
  /** An order expires this long after its approval, ms (default 30,000). */
  readonly orderTtlMs?: number;
  /** When the core starts, epoch ms (what memory loads is judged at it); default `Date.now()`. */
  readonly startedAt?: number;
  /**
   * How long a closed order stays in memory after it closed and after its signal expired,
   * ms (default {@link DEFAULT_ORDER_MEMORY_MS}): a replayed signal that has not expired
   * always finds its order there (`DUPLICATE_SIGNAL`).
   */
  readonly orderMemoryMs?: number;
  /**
   * How long a closed order's row stays in the store, ms (default
   * {@link DEFAULT_ORDER_RETENTION_MS}): a report redelivered within it is recognised and
   * not applied again.
   */
  readonly orderRetentionMs?: number;
  /**
   * How the checks learn each symbol's market (market_state.ts). `schedule`: the configured
   * hours, used while no fresh `trading_status` of a stock is known (the sim and replay
   * feeds; none with Alpaca's: `SESSION_UNKNOWN` until market-data's first status);
   * `statusMaxAgeMs`: how long a status counts (default {@link DEFAULT_STATUS_MAX_AGE_MS});
   * `extendedHours`: `session.extendedHours`. Default: no schedule (fail closed).
   */
  readonly session?: {
    readonly schedule?: Schedule;
    readonly statusMaxAgeMs?: number;
    readonly extendedHours?: boolean;
  };
  /** What a confirmed position mismatch with the venue does (default `halt`). */
  readonly positionMismatch?: MismatchPolicy;
}

/** Default {@link RiskManagerCoreOptions.session} `statusMaxAgeMs`: three of market-data's default 5 s republish periods. */
export const DEFAULT_STATUS_MAX_AGE_MS = STATUS_MAX_AGE_PERIODS * 5000;

/** Default {@link RiskManagerCoreOptions.orderTtlMs}: 30 s. */
export const DEFAULT_ORDER_TTL_MS = 30_000;
/** Default {@link RiskManagerCoreOptions.orderMemoryMs}: a minute. */
export const DEFAULT_ORDER_MEMORY_MS = 60_000;
/** Default {@link RiskManagerCoreOptions.orderRetentionMs}: a week. */
export const DEFAULT_ORDER_RETENTION_MS = 7 * 86_400_000;

/** The outcome of a signal. */
export type Decision =
  & (
    | { readonly approved: true; readonly order: Order }
    | {
      readonly approved: false;
      readonly denial: Denial;
      readonly signalId: string;
      readonly symbol: string;
    }
  )
  & {
    /** How long the checks took (`all_checks`), µs; only with a recorder. */
    readonly checksUs?: number;
  };

/** The outcome of an execution report. */
export interface ReportOutcome {
  /**
   * `fill` applied a fill (any report whose `cumQty` is above what was applied: its kind
   * does not matter); `duplicate` was a fill already applied; `status` changed no position.
   */
  readonly kind: "fill" | "duplicate" | "status";
  /** True when the report was for an order this risk-manager never approved. */
  readonly unknownOrder: boolean;
  readonly effect?: FillEffect;
  /**
   * How a fill was priced: `venue` from the report's own prices (the last execution, or
   * the difference of the averages), `reference` from the mark or the order's reference
   * price because the report carried none (never 0).
   */
  readonly priced?: "venue" | "reference";
  /**
   * Set when the report closed an open order as rejected (or expired unsent,
   * `order_expired`): how risk-manager treats it (rejections.ts), and whether it halted
   * trading now.
   */
  readonly rejection?: Rejection & { readonly halted: boolean };
}

/** What the core did with a `venue_positions` answer: the comparison, the policy and what it changed. */
export interface PositionReconciliation extends PositionComparison {
  readonly policy: MismatchPolicy;
  /** The policy applied to each new mismatch: trading halted, or the venue's quantity adopted. */
  readonly applied: readonly {
    readonly symbol: string;
    readonly action: "halted" | "adopted";
    readonly from: number;
    readonly to: number;
    /** The average cost after adopting, USD. */
    readonly avgPrice?: number;
  }[];
  /** Every symbol still mismatched after it (a halted one until the venue and the book agree). */
  readonly mismatched: readonly PositionDifference[];
}

/** Per-symbol view for the admin API and the gauges (USD figures). */
export interface PositionView extends Position {
  readonly side: "long" | "short" | "flat";
  readonly marketValue: number;
  readonly unrealized: number;
}

const FINAL_STATES = new Set(["filled", "canceled", "rejected", "expired"]);

/** One symbol's position, open leaves and price in the worst-case exposure. */
interface ExposureRow {
  qty: number;
  buy: number;
  sell: number;
  price: number;
}

/** How often the service keeps the checks warm ({@link RiskManagerCore.warm}), ms. */
export const WARM_EVERY_MS = 100;
/**
 * The shortest time between two {@link RiskManagerCore.prime} calls of the handlers, ms: at a
 * high tick rate the code stays hot by itself, and priming every mark would only add work.
 */
export const PRIME_GAP_MS = 5;
const WARM_ACTIONS = ["buy", "sell", "flat"] as const;
/** Rounds of {@link RiskManagerCore.warm} at start-up: enough for V8 to optimize the checks. */
export const WARM_START_ROUNDS = 500;

/**
 * The risk-manager core. All methods are synchronous; each state change is committed to
 * the store before the method returns.
 *
 * @example
 * ```ts
 * const core = new RiskManagerCore({ ...config.riskManager, symbols: config.symbols, store });
 * core.onMarketData("quote", quote, Date.now());
 * const decision = core.onSignal(signal, Date.now());
 * if (decision.approved) sender.send("order", decision.order);
 * ```
 */
export class RiskManagerCore {
  /** The configured symbols. */
  readonly symbols: ReadonlySet<string>;
  /** The configured limits. */
  readonly limits: Limits;
  readonly #options: RiskManagerCoreOptions;
  readonly #store: StateStore;
  readonly #book: PositionBook;
  readonly #marks: MarkBook;
  readonly #rate: OrderRateLimiter;
  /** Order-rate tokens that orders adding risk leave for reducing ones. */
  readonly #rateReserve: number;
  readonly #state: TradingStateMachine;
  readonly #dailyLoss: DailyLoss;
  readonly #markets: MarketStates;
  readonly #reconciler = new PositionReconciler();
  #lastReconciliation: PositionReconciliation | null = null;
  /** The open orders and the recently closed ones, by client order id. */
  readonly #orders = new Map<string, OrderRecord>();
  readonly #memoryMs: number;
  readonly #retentionMs: number;
  /** The orders not yet final, by client order id. */
  readonly #openOrders = new Map<string, OrderRecord>();
  readonly #clock: () => number;
  /** Symbols whose mark changed since the last {@link flushMarks}. */
  readonly #dirtyMarks = new Set<string>();
  /** {@link #gatherExposure}'s rows by symbol, and the pool they come from. */
  readonly #rows = new Map<string, ExposureRow>();
  readonly #rowPool: ExposureRow[] = [];
  #rowsUsed = 0;
  /** Worst-case sums of the symbols other than the signal's, and with it before and after. */
  readonly #others = new WorstCaseSums();
  readonly #before = new WorstCaseSums();
  readonly #after = new WorstCaseSums();
  /** The latency of each check of the current run, µs, recorded after the run. */
  readonly #checkLatencyUs = new Float64Array(PRE_TRADE_CHECKS.length);

  /** Restores the state from `options.store`. Throws when the store cannot be read. */
  constructor(options: RiskManagerCoreOptions) {
    this.#options = options;
    this.symbols = new Set(options.symbols);
    this.limits = options.limits;
    this.#store = options.store;
    this.#clock = options.clock ?? (() => performance.now());
    this.#memoryMs = options.orderMemoryMs ?? DEFAULT_ORDER_MEMORY_MS;
    this.#retentionMs = options.orderRetentionMs ?? DEFAULT_ORDER_RETENTION_MS;
    const saved = this.#store.load((options.startedAt ?? Date.now()) - this.#memoryMs);
    this.#book = new PositionBook(saved.positions);
    this.#marks = new MarkBook(options.markMaxAgeMs);
    this.#markets = new MarketStates({
      schedule: options.session?.schedule,
      statusMaxAgeMs: options.session?.statusMaxAgeMs ?? DEFAULT_STATUS_MAX_AGE_MS,
    });
    this.#rate = new OrderRateLimiter(options.limits.maxOrdersPerSecond);
    this.#rateReserve = Math.floor((options.limits.exitRateReserve ?? 0) * this.#rate.capacity);
    this.#state = new TradingStateMachine(saved.status ?? undefined);
    for (const order of saved.orders) {
      this.#orders.set(order.clientOrderId, order);
      if (order.open) this.#openOrders.set(order.clientOrderId, order);
    }
    this.#dailyLoss = new DailyLoss(options.limits.dailyLossLimit, saved.daily, this.#book);
  }

  // ---------- signals ----------

  /**
   * Runs the pre-trade checks on `signal` at `now` (epoch ms); approves or denies it.
   * An approval is recorded (store, open orders, rate) before this returns. With a
   * recorder, each check's latency runs from the end of the one before, and `all_checks`
   * covers the day roll-over, the context and the checks, not the loss bookkeeping nor
   * the approval's write. `trace` is the trace context the order will have if the signal is
   * approved (the trace becomes an order's then: lib/tracing.ts), given to the recorder with
   * an approval's `all_checks`. `onRecorded` is told when an approval became durable: the
   * `performance.now()` its commit ended at (the handlers end the order's trace spans there).
   * Throws when the approval cannot be stored.
   */
  onSignal(
    signal: Signal,
    now: number,
    trace?: TraceContextLike,
    onRecorded?: (committedAt: number) => void,
  ): Decision {
    const recorder = this.#options.recorder;
    const startedAt = recorder ? this.#clock() : 0;
    this.#rollDay(now);
    const context = this.#checkContext(signal, now);
    let lapStart = recorder ? this.#clock() : 0;
    let denial: Denial | null = null;
    let ran = 0;
    while (denial === null && ran < PRE_TRADE_CHECKS.length) {
      denial = PRE_TRADE_CHECKS[ran].check(context);
      if (recorder) {
        const lapEnd = this.#clock();
        this.#checkLatencyUs[ran] = (lapEnd - lapStart) * 1000;
        lapStart = lapEnd;
      }
      ran++;
    }
    // The checks judged the state as the signal found it; the loss bookkeeping (which
    // may trip the breaker) runs after them, so that they stay pure.
    this.#updateLossLatch(now, context.dailyPnl);
    if (recorder) {
      // Metrics are written after the run, so all_checks times the checks themselves.
      for (let i = 0; i < ran; i++) {
        const passed = i < ran - 1 || denial === null;
        recorder.check(PRE_TRADE_CHECKS[i].type, passed, this.#checkLatencyUs[i]);
      }
      const approved = denial === null;
      recorder.check(
        "all_checks",
        approved,
        (lapStart - startedAt) * 1000,
        approved ? trace : undefined,
      );
    }
    const checksUs = recorder ? (lapStart - startedAt) * 1000 : undefined;
    if (denial !== null) {
      return { approved: false, denial, signalId: signal.id, symbol: signal.symbol, checksUs };
    }
    return {
      approved: true,
      order: this.#approve(context, recorder ? lapStart : undefined, onRecorded, trace),
      checksUs,
    };
  }

  /**
   * Keeps the code of a decision warm: builds the check context and runs every pre-trade
   * check on a synthetic signal for each configured symbol and action, `rounds` times,
   * recording nothing and changing nothing (the context and the checks only read). At the
   * default system's rate (a signal every few hundred ms) V8 would run the checks in its
   * interpreter for minutes and from cold caches; the service calls this many times at
   * start-up and once every {@link WARM_EVERY_MS} after. Returns how many checks ran.
   */
  warm(now: number, rounds = 1): number {
    let ran = 0;
    for (let r = 0; r < rounds; r++) {
      for (const symbol of this.symbols) {
        for (const action of WARM_ACTIONS) ran += this.#warmOne(symbol, action, now, r);
      }
    }
    return ran;
  }

  /**
   * Primes the decision path for a signal expected soon in `symbol`: {@link warm} for that one
   * symbol, buy and sell. A signal follows a tick within a millisecond or so, and the tick's mark
   * reaches risk-manager about when it reaches signal-bridge; run then (the handlers do, once
   * the mark's message is handled, at most every {@link PRIME_GAP_MS}), it leaves the code and
   * the symbol's rows in the caches the decision will read, where the warm-up every
   * {@link WARM_EVERY_MS} cannot: in between, the other services have taken the caches over.
   * Returns how many checks ran (0 for a symbol not configured).
   */
  prime(symbol: string, now: number): number {
    if (!this.symbols.has(symbol)) return 0;
    return this.#warmOne(symbol, "buy", now, 0) + this.#warmOne(symbol, "sell", now, 0);
  }

  /** One synthetic signal's context and every check on it; nothing recorded or changed. */
  #warmOne(symbol: string, action: Signal["action"], now: number, round: number): number {
    const mark = this.#marks.get(symbol);
    const context = this.#checkContext({
      id: `warm-${round}`,
      symbol,
      action,
      confidence: 1,
      model: "warm",
      modelVersion: "0",
      features: {},
      price: mark?.price ?? 100,
      createdAt: now,
      expiresAt: now + 1000,
      tickTs: now,
    }, now);
    for (const check of PRE_TRADE_CHECKS) check.check(context);
    return PRE_TRADE_CHECKS.length;
  }

  /** Everything the checks read about `signal`, from the books as they are now. */
  #checkContext(signal: Signal, now: number): CheckContext {
    const { limits } = this;
    const { sizing, markMaxAgeMs } = this.#options;
    const clientOrderId = clientOrderIdFor(signal.id);
    const status = this.#state.status;
    const position = this.#book.qty(signal.symbol);
    const mark = this.#marks.get(signal.symbol);
    const fresh = mark !== undefined && now - mark.ts <= markMaxAgeMs;
    const price = fresh ? mark.price : signal.price;
    // One pass over the positions and open orders gives this symbol's leaves and every
    // other symbol's worst case; the order's own row is added below once its qty is known.
    const own = this.#gatherExposure(signal.symbol, price);
    const leaves: Leaves = { buy: own.buy, sell: own.sell };
    const side = signal.action === "flat" ? (position > 0 ? "sell" : "buy") : signal.action;
    const reducible = reducibleQty(position, side, leaves);
    let qty: number;
    if (signal.action === "flat") {
      qty = reducible;
    } else {
      qty = sizeOrder(signal.symbol, sizing.notionalPerOrder, price, sizing.minQty);
      if (status.state === "REDUCING") qty = Math.min(qty, reducible);
    }
    // Worst case: every open order on this side fills, then this one.
    const projected = side === "buy" ? position + leaves.buy + qty : position - leaves.sell - qty;
    // Exposure if every open order in every symbol fills at its worst, before and after
    // this one; this symbol valued at the reference price.
    const before = this.#before.copy(this.#others).add(own.qty, own.buy, own.sell, price);
    const after = this.#after.copy(this.#others).add(
      own.qty,
      side === "buy" ? own.buy + qty : own.buy,
      side === "sell" ? own.sell + qty : own.sell,
      price,
    );
    return {
      signal,
      now,
      limits,
      sizing,
      markMaxAgeMs,
      clientOrderId,
      clientOrderIdUsed: this.#orders.has(clientOrderId),
      symbolTraded: this.symbols.has(signal.symbol),
      status,
      position,
      leaves,
      side,
      reducibleQty: reducible,
      mark,
      price,
      qty,
      notional: qty * price,
      // Reduces the position even if every open order on the same side fills first.
      reduces: qty <= reducible + QTY_EPSILON,
      projectedPosition: projected,
      grossBefore: before.gross,
      grossAfter: after.gross,
      netBefore: before.net,
      netAfter: after.net,
      openOrders: this.#openOrders.size,
      rateTokens: this.#rate.peek(now),
      rateReserve: this.#rateReserve,
      dailyPnl: this.dailyPnl(),
      ordersChannelLive: this.#options.ordersChannel?.live() ?? true,
      outboxPending: this.#options.ordersChannel?.pending() ?? 0,
      maxOutboxPending: this.#options.maxOutboxPending ?? 1000,
      market: this.#markets.of(signal.symbol, now),
      extendedHours: this.#options.session?.extendedHours ?? false,
      orderType: "market",
      timeInForce: isCrypto(signal.symbol) ? "gtc" : "day",
      band: this.#markets.band(signal.symbol),
    };
  }

  /**
   * Records an approved order (store, open orders, rate) and returns it; `decidedAt`
   * (the clock at the checks' end) times its durable record, and `onRecorded` is told
   * when that record's commit ended.
   */
  #approve(
    context: CheckContext,
    decidedAt?: number,
    onRecorded?: (committedAt: number) => void,
    trace?: TraceContextLike,
  ): Order {
    const { signal, clientOrderId, side, qty, now } = context;
    const order: Order = {
      clientOrderId,
      signalId: signal.id,
      symbol: signal.symbol,
      side,
      qty,
      type: context.orderType,
      ...(context.limitPrice === undefined ? {} : { limitPrice: context.limitPrice }),
      timeInForce: context.timeInForce,
      strategy: this.#options.strategy,
      createdAt: now,
      tickTs: signal.tickTs,
      expiresAt: now + (this.#options.orderTtlMs ?? DEFAULT_ORDER_TTL_MS),
    };
    const record: OrderRecord = {
      clientOrderId,
      signalId: signal.id,
      symbol: signal.symbol,
      side,
      qty,
      cumQty: 0,
      open: true,
      createdAt: now,
      price: context.price,
      avgPrice: 0,
      signalExpiresAt: signal.expiresAt,
      expiresAt: order.expiresAt,
      closedAt: 0,
    };
    const recorder = this.#options.recorder;
    this.#store.putOrder(
      record,
      decidedAt === undefined || recorder?.recorded === undefined ? onRecorded : (committedAt) => {
        recorder.recorded!((committedAt - decidedAt) * 1000, trace);
        onRecorded?.(committedAt);
      },
    );
    this.#orders.set(clientOrderId, record);
    this.#openOrders.set(clientOrderId, record);
    this.#rate.take(now);
    this.#reconciler.touch(signal.symbol);
    return order;
  }

  /**
   * Fills {@link #others} with the worst-case sums of every position and open order not in
   * `symbol`, and returns `symbol`'s own row (its position and open leaves, valued at
   * `price`), left out of the sums. Other symbols are valued at their mark, else their
   * average cost, else the reference price their open orders were approved at. Reuses
   * its rows: a signal allocates nothing here.
   */
  #gatherExposure(symbol: string, price: number): ExposureRow {
    this.#rows.clear();
    this.#rowsUsed = 0;
    for (const p of this.#book.values()) {
      if (p.qty === 0 && p.symbol !== symbol) continue;
      this.#row(p.symbol, p.mark ?? p.avgPrice).qty = p.qty;
    }
    for (const order of this.#openOrders.values()) {
      const row = this.#row(order.symbol, order.price ?? 0);
      if (row.price <= 0) row.price = order.price ?? 0;
      const left = Math.max(0, order.qty - order.cumQty);
      if (order.side === "buy") row.buy += left;
      else row.sell += left;
    }
    const own = this.#row(symbol, price);
    own.price = price;
    const others = this.#others.reset();
    for (const row of this.#rows.values()) {
      if (row !== own) others.add(row.qty, row.buy, row.sell, row.price);
    }
    return own;
  }

  /** The row of `symbol` in {@link #rows}, a cleared pooled one if it has none yet. */
  #row(symbol: string, price: number): ExposureRow {
    let row = this.#rows.get(symbol);
    if (row !== undefined) return row;
    row = this.#rowPool[this.#rowsUsed];
    if (row === undefined) {
      row = { qty: 0, buy: 0, sell: 0, price };
      this.#rowPool.push(row);
    } else {
      row.qty = 0;
      row.buy = 0;
      row.sell = 0;
      row.price = price;
    }
    this.#rowsUsed++;
    this.#rows.set(symbol, row);
    return row;
  }

  // ---------- execution reports and marks ----------

  /**
   * Applies an execution report at `now` (epoch ms). A fill is applied once: the part of
   * the report's `cumQty` above what was already applied for that order is booked,
   * whatever the report's kind, priced by what it added (see {@link #fillPrice}); a report
   * whose `cumQty` is not above it changes no position. Orders closed long ago are looked
   * up in the store, so a redelivered report of one is not taken for an unknown order.
   * Throws when the report cannot be stored; memory is then left as it was, so a retry
   * applies it exactly once.
   */
  onExecutionReport(report: ExecutionReport, now: number): ReportOutcome {
    this.#rollDay(now);
    let known = this.#orders.get(report.clientOrderId) ??
      this.#store.getOrder(report.clientOrderId);
    const unknownOrder = known === undefined;
    known ??= {
      clientOrderId: report.clientOrderId,
      signalId: "",
      symbol: report.symbol,
      side: report.side,
      qty: report.orderQty,
      cumQty: 0,
      open: true,
      createdAt: now,
      price: 0,
      avgPrice: 0,
      signalExpiresAt: 0,
      closedAt: 0,
    };
    const final = FINAL_STATES.has(report.state);
    const newlyFilled = cleanQty(report.cumQty - known.cumQty);
    const isFill = report.kind === "fill" || report.lastQty > 0;
    const fillPrice = newlyFilled > 0 ? this.#fillPrice(report, known, newlyFilled) : undefined;
    const appliedAvg = fillPrice === undefined
      ? known.avgPrice ?? 0
      : report.cumQty > 0
      ? ((known.avgPrice ?? 0) * known.cumQty + fillPrice.price * newlyFilled) / report.cumQty
      : 0;
    const next: OrderRecord = {
      ...known,
      cumQty: newlyFilled > 0 ? report.cumQty : known.cumQty,
      avgPrice: appliedAvg,
      open: known.open && !final,
      closedAt: known.open && final ? now : known.closedAt ?? 0,
    };
    const undoPosition = this.#book.get(report.symbol);
    const undoDaily = this.#dailyLoss.record;
    let applied: { kind: ReportOutcome["kind"]; effect?: FillEffect };
    try {
      applied = this.#commitReport(report, next, isFill, newlyFilled, fillPrice?.price ?? 0);
    } catch (error) {
      // Nothing was stored: put memory back so a retry applies the report exactly once.
      this.#book.restore(undoPosition);
      this.#dailyLoss.restore(undoDaily);
      throw error;
    }
    this.#orders.set(next.clientOrderId, next);
    if (next.open) this.#openOrders.set(next.clientOrderId, next);
    else this.#openOrders.delete(next.clientOrderId);
    this.#reconciler.touch(report.symbol);
    if (applied.kind === "fill") this.#updateLossLatch(now);
    const rejected = known.open && !next.open &&
      (report.state === "rejected" ||
        (report.state === "expired" && report.reason === "order_expired"));
    return {
      ...applied,
      unknownOrder,
      ...(fillPrice === undefined ? {} : { priced: fillPrice.source }),
      ...(rejected ? { rejection: this.#onRejection(report, now) } : {}),
    };
  }

  /**
   * A rejection that closed an open order: an `account_blocked` or `invalid_time_in_force`
   * halts trading (rejections.ts); the others change nothing more.
   */
  #onRejection(report: ExecutionReport, now: number): Rejection & { halted: boolean } {
    const rejection = rejectionOf(report.reason);
    if (rejection.action !== "halt") return { ...rejection, halted: false };
    const change = this.#state.set(
      "HALTED",
      `execution-engine rejected ${report.clientOrderId}: ${rejection.reason}`,
      "execution-engine",
      now,
    );
    const halted = change !== null && !isStateError(change);
    if (halted) this.#apply(change);
    return { ...rejection, halted };
  }

  /**
   * The price of the `qty` a report added: its last execution when that is all of it;
   * else the difference of the averages (`(avg * cumQty - appliedAvg * applied) / qty`,
   * a missed report's fills); else its average or last price. A report with no price at
   * all is priced at the mark, else the order's reference price, else the position's
   * average cost: never 0.
   */
  #fillPrice(
    report: ExecutionReport,
    known: OrderRecord,
    qty: number,
  ): { price: number; source: "venue" | "reference" } {
    if (report.lastPrice > 0 && Math.abs(report.lastQty - qty) < QTY_EPSILON) {
      return { price: report.lastPrice, source: "venue" };
    }
    if (report.avgPrice > 0) {
      const derived = (report.avgPrice * report.cumQty - (known.avgPrice ?? 0) * known.cumQty) /
        qty;
      if (Number.isFinite(derived) && derived > 0) return { price: derived, source: "venue" };
      return { price: report.avgPrice, source: "venue" };
    }
    if (report.lastPrice > 0) return { price: report.lastPrice, source: "venue" };
    const reference = this.#marks.get(report.symbol)?.price ??
      (known.price !== undefined && known.price > 0 ? known.price : undefined) ??
      this.#book.get(report.symbol).mark ?? this.#book.get(report.symbol).avgPrice;
    return { price: reference, source: "reference" };
  }

  /** Applies a report to the book and stores it in one transaction (memory first). */
  #commitReport(
    report: ExecutionReport,
    next: OrderRecord,
    isFill: boolean,
    newlyFilled: number,
    price: number,
  ): { kind: ReportOutcome["kind"]; effect?: FillEffect } {
    let effect: FillEffect | undefined;
    let kind = "status" as ReportOutcome["kind"];
    this.#store.transaction(() => {
      if (newlyFilled > 0) {
        effect = this.#book.applyFill(report.symbol, report.side, newlyFilled, price);
        if (this.#marks.get(report.symbol) === undefined) this.#book.mark(report.symbol, price);
        this.#dailyLoss.addRealized(effect.realized);
        this.#store.putPosition(this.#book.get(report.symbol));
        this.#store.putDaily(this.#dailyLoss.record);
        kind = "fill";
      } else if (isFill) {
        kind = "duplicate";
      }
      this.#store.putOrder(next);
    });
    return { kind, effect };
  }

  // ---------- reconciliation with execution-engine ----------

  /**
   * The open orders to ask execution-engine about, oldest first (at most `max`). The
   * request travels on the orders channel behind every order sent before it, so an
   * order its answer calls unknown never reached the channel.
   */
  reconcileRequest(max = 500): string[] {
    return [...this.#openOrders.values()]
      .sort((a, b) => a.createdAt - b.createdAt)
      .slice(0, max)
      .map((o) => o.clientOrderId);
  }

  /**
   * Applies execution-engine's answer at `now` (epoch ms): each known order's state goes
   * through {@link onExecutionReport} (a missed fill is booked, a final state closes it);
   * an open order it never received is closed once it expired (`orphan_expired`: the
   * engine would refuse it now) and returned. Throws when the store fails; a retry is
   * harmless.
   */
  onOrderStatus(status: OrderStatus, now: number): { applied: number; orphans: OrderRecord[] } {
    let applied = 0;
    const orphans: OrderRecord[] = [];
    for (const entry of status.orders) {
      if (entry.known) {
        if (this.#openOrders.has(entry.clientOrderId)) {
          this.onExecutionReport(entry.report, now);
          applied++;
        }
        continue;
      }
      const open = this.#openOrders.get(entry.clientOrderId);
      if (open === undefined || !this.#expired(open, now)) continue;
      orphans.push(this.#close(open, "orphan_expired", now));
    }
    return { applied, orphans };
  }

  /** True when `order` may no longer be executed: execution-engine refuses it after its expiry. */
  #expired(order: OrderRecord, now: number): boolean {
    const expiresAt = order.expiresAt && order.expiresAt > 0
      ? order.expiresAt
      : order.createdAt + (this.#options.orderTtlMs ?? DEFAULT_ORDER_TTL_MS);
    return now > expiresAt;
  }

  /** Closes an open order without a final report (stored first); returns the closed record. */
  #close(order: OrderRecord, reason: string, now: number): OrderRecord {
    const closed: OrderRecord = { ...order, open: false, closedAt: now, closeReason: reason };
    this.#store.putOrder(closed);
    this.#orders.set(closed.clientOrderId, closed);
    this.#openOrders.delete(closed.clientOrderId);
    return closed;
  }

  /**
   * Closes one open order by hand at `now` (epoch ms; the admin API): its slot and its
   * exposure are released. Fills reported for it later are still booked.
   */
  closeOrder(
    clientOrderId: string,
    now: number,
  ): { outcome: "closed" | "not_found" | "not_open"; order?: OrderRecord } {
    const open = this.#openOrders.get(clientOrderId);
    if (open !== undefined) return { outcome: "closed", order: this.#close(open, "admin", now) };
    const known = this.order(clientOrderId);
    return known ? { outcome: "not_open", order: known } : { outcome: "not_found" };
  }

  /** One order, from memory or the store (closed ones kept for `orderRetentionMs`). */
  order(clientOrderId: string): OrderRecord | undefined {
    return this.#orders.get(clientOrderId) ?? this.#store.getOrder(clientOrderId);
  }

  // ---------- reconciliation of positions with the venue ----------

  /**
   * Compares a `venue_positions` answer with the book at `now` (epoch ms) and applies the
   * `positionMismatch` policy to each mismatch it confirms (position_reconciliation.ts):
   * `halt` sets the trading state HALTED (once per symbol entering mismatch; an operator
   * sets it back), `adopt` takes the venue's quantity (see {@link #adopt}). Throws when the
   * store fails (an adoption is then undone in memory; the next answer tries again).
   */
  onVenuePositions(answer: VenuePositionsAnswer, now: number): PositionReconciliation {
    const policy = this.#options.positionMismatch ?? "halt";
    const comparison = this.#reconciler.compare(
      answer,
      this.#book,
      (symbol) => this.#hasOpenOrders(symbol),
      now,
    );
    const applied: PositionReconciliation["applied"][number][] = [];
    try {
      this.#applyMismatchPolicy(policy, comparison.newMismatches, applied, now);
    } catch (error) {
      // Not applied: forget the confirmations, so later answers confirm and apply them again.
      for (const d of comparison.newMismatches) this.#reconciler.resolve(d.symbol);
      throw error;
    }
    this.#lastReconciliation = {
      ...comparison,
      policy,
      applied,
      mismatched: this.#reconciler.mismatched(),
    };
    return this.#lastReconciliation;
  }

  #applyMismatchPolicy(
    policy: MismatchPolicy,
    mismatches: readonly PositionDifference[],
    applied: PositionReconciliation["applied"][number][],
    now: number,
  ): void {
    if (policy === "adopt") {
      for (const d of mismatches) {
        const after = this.#adopt(d);
        this.#reconciler.resolve(d.symbol);
        applied.push({
          symbol: d.symbol,
          action: "adopted",
          from: d.ours,
          to: after.qty,
          avgPrice: after.avgPrice,
        });
      }
    } else if (mismatches.length > 0) {
      const what = mismatches.map((d) => `${d.symbol} ours=${d.ours} venue=${d.venue}`).join(", ");
      const change = this.#state.set(
        "HALTED",
        `position mismatch with the venue: ${what}`,
        "reconciliation",
        now,
      );
      if (change !== null && !isStateError(change)) this.#apply(change);
      for (const d of mismatches) {
        applied.push({ symbol: d.symbol, action: "halted", from: d.ours, to: d.ours });
      }
    }
  }

  /**
   * Takes the venue's quantity for a mismatched symbol. Its average cost: the venue's
   * average entry price when it gives one; else the book's own when the position keeps
   * its side; else the mark (so the adopted part carries no unrealised P&L). Realised P&L
   * is unchanged (adopting is not a trade), and the day's unrealised baseline moves by the
   * change of unrealised P&L, so the daily P&L is unchanged too. Stored before it returns.
   */
  #adopt(d: PositionDifference): Position {
    const before = this.#book.get(d.symbol);
    const mark = this.#marks.get(d.symbol)?.price ?? before.mark ?? 0;
    const avgPrice = d.venueAvgPrice > 0
      ? d.venueAvgPrice
      : before.qty !== 0 && Math.sign(before.qty) === Math.sign(d.venue) && before.avgPrice > 0
      ? before.avgPrice
      : mark;
    const undoDaily = this.#dailyLoss.record;
    const { after } = this.#book.adopt(d.symbol, d.venue, avgPrice);
    this.#dailyLoss.shiftBaseline(PositionBook.unrealized(after) - PositionBook.unrealized(before));
    try {
      this.#store.transaction(() => {
        this.#store.putPosition(after);
        this.#store.putDaily(this.#dailyLoss.record);
      });
    } catch (error) {
      this.#book.restore(before);
      this.#dailyLoss.restore(undoDaily);
      throw error;
    }
    return after;
  }

  /** True when `symbol` has an order not yet final. */
  #hasOpenOrders(symbol: string): boolean {
    for (const order of this.#openOrders.values()) if (order.symbol === symbol) return true;
    return false;
  }

  /** The last reconciliation of positions with the venue (null before the first answer). */
  get lastReconciliation(): PositionReconciliation | null {
    return this.#lastReconciliation;
  }

  // ---------- market data ----------

  /**
   * A `trading_status` received at `now` (epoch ms), for a symbol traded or held: returns
   * the symbol's market before and after when it changed, else null.
   */
  onTradingStatus(
    status: MarketStatus,
    now: number,
  ): { readonly before: SymbolMarket; readonly after: SymbolMarket } | null {
    if (!this.#tracks(status.symbol)) return null;
    return this.#markets.onStatus(status, now);
  }

  /** A `luld_band` received at `now` (epoch ms), for a symbol traded or held: its current band. */
  onLuldBand(band: LuldBand, now: number): Band | null {
    if (!this.#tracks(band.symbol)) return null;
    return this.#markets.onBand(band, now);
  }

  /** The market of `symbol` at `now` (epoch ms), as the checks see it. */
  market(symbol: string, now: number): SymbolMarket {
    return this.#markets.of(symbol, now);
  }

  /** Every symbol with a trading status or a LULD band, as the checks see them at `now`. */
  markets(now: number): ReturnType<MarketStates["view"]> {
    return this.#markets.view(now);
  }

  /** True for the symbols whose market data the core keeps: traded or held. */
  #tracks(symbol: unknown): symbol is string {
    return typeof symbol === "string" && (this.symbols.has(symbol) || this.#book.qty(symbol) !== 0);
  }

  /**
   * Updates the reference price of a symbol from a market data message (`quote`, `book`,
   * `one_sided_quote`, `trade` or `trade_correction`; marks.ts) at `now` (epoch ms);
   * returns the new mark, or null when the message changed nothing. Only symbols traded
   * or held are marked, so a wide feed cannot grow the map.
   */
  onMarketData(type: string, body: unknown, now: number): Mark | null {
    const symbol = (body as { symbol?: unknown }).symbol;
    if (!this.#tracks(symbol)) return null;
    const mark = this.#marks.update(type, body, now);
    if (mark === null) return null;
    this.#rollDay(now);
    this.#book.mark(symbol, mark.price);
    this.#dirtyMarks.add(symbol);
    if (this.#book.qty(symbol) !== 0) this.#updateLossLatch(now);
    return mark;
  }

  /** Persists the marks that changed since the last flush (call every few seconds). */
  flushMarks(): void {
    if (this.#dirtyMarks.size === 0) return;
    // No sync of their own: a mark lost to a power cut is replaced by the next quote.
    this.#store.lazy(() => {
      for (const symbol of this.#dirtyMarks) this.#store.putPosition(this.#book.get(symbol));
    });
    this.#dirtyMarks.clear();
  }

  // ---------- P&L and the breaker ----------

  /** Daily P&L: realised today plus the change of unrealised P&L since the day began, USD. */
  dailyPnl(): number {
    return this.#dailyLoss.pnl();
  }

  /** The trading day's bookkeeping. */
  get daily(): DailyPnl {
    return this.#dailyLoss.record;
  }

  #rollDay(now: number): void {
    if (this.#dailyLoss.rollDay(now)) this.#store.putDaily(this.#dailyLoss.record);
  }

  /** Persists a change of the loss latch, and trips the breaker when the loss just reached the limit. */
  #updateLossLatch(now: number, pnl = this.dailyPnl()): void {
    const change = this.#dailyLoss.latch(pnl);
    if (change === null) return;
    this.#store.putDaily(this.#dailyLoss.record);
    if (change === "reached") {
      this.#apply(this.#state.trip(this.#dailyLoss.tripReason(pnl), "system", now));
    }
  }

  /** The trading state and breaker. */
  get status(): TradingStatus {
    return this.#state.status;
  }

  /** Trips the breaker by hand at `now` (epoch ms); null when already tripped. */
  trip(reason: string, actor: string, now: number): TradingStateChange | null {
    return this.#apply(this.#state.trip(reason, actor, now));
  }

  /** Resets the breaker (back to ACTIVE) at `now` (epoch ms); null when not tripped. */
  reset(reason: string, actor: string, now: number): TradingStateChange | null {
    return this.#apply(this.#state.reset(reason, actor, now));
  }

  /**
   * Sets the state by hand at `now` (epoch ms): the change, null when unchanged, or a
   * {@link StateError} while the breaker is tripped.
   */
  setState(
    state: TradingState,
    reason: string,
    actor: string,
    now: number,
  ): TradingStateChange | null | StateError {
    const change = this.#state.set(state, reason, actor, now);
    if (change === null || isStateError(change)) return change;
    return this.#apply(change);
  }

  #apply(change: TradingStateChange | null): TradingStateChange | null {
    if (change === null) return null;
    this.#store.putStatus(this.#state.status);
    this.#options.onStateChange?.(change);
    return change;
  }

  // ---------- views ----------

  /** Every position with a quantity or a configured symbol, with its value and P&L. */
  positions(): PositionView[] {
    return this.#book.all().map((position) => ({
      ...position,
      side: position.qty > 0
        ? "long" as const
        : position.qty < 0
        ? "short" as const
        : "flat" as const,
      marketValue: PositionBook.marketValue(position),
      unrealized: PositionBook.unrealized(position),
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
    return [...this.#openOrders.values()];
  }

  /** The reference price of a symbol, if any. */
  mark(symbol: string): Mark | undefined {
    return this.#marks.get(symbol);
  }

  /**
   * Forgets the closed orders memory no longer needs at `now` (epoch ms): closed, and
   * their signal expired, more than `orderMemoryMs` ago; and deletes up to `limit` rows
   * of orders closed (and whose signals expired) more than `orderRetentionMs` ago.
   * Returns how many were forgotten and deleted. Call it every second or so.
   */
  pruneClosedOrders(now: number, limit = 1000): { forgotten: number; deleted: number } {
    const before = now - this.#memoryMs;
    let forgotten = 0;
    for (const [id, order] of this.#orders) {
      if (order.open) continue;
      if ((order.closedAt ?? 0) < before && (order.signalExpiresAt ?? 0) < before) {
        this.#orders.delete(id);
        forgotten++;
      }
    }
    const deleted = this.#store.purgeClosedOrders(now - this.#retentionMs, limit);
    return { forgotten, deleted };
  }

  /** Orders held in memory: the open ones and the recently closed (tests, diagnostics). */
  ordersInMemory(): number {
    return this.#orders.size;
  }
}
