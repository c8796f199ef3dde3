/**
 * Between the sockets and the core: one method per inbound channel (signals, execution
 * reports, market data) and one for the core's trading state changes. Each takes what
 * arrived, calls the core, and turns the outcome into outgoing messages, metric records
 * and log lines. No socket objects here: the service passes the send and publish
 * functions in, so tests call the handlers directly.
 *
 * Tracing (lib/tracing.ts): every envelope is handled inside its trace (a sampled one in a
 * `risk-manager receive` span, or `risk-manager market data` / `risk-manager report`). An
 * approved signal makes the trace an order's: a `risk-manager order` span under the
 * forced-sampled context, from the start of the checks to the order's hand-off, with two
 * children recorded from the times they took, `risk-manager checks` (the pre-trade checks,
 * `all_checks`) and `risk-manager record` (the approval written to the state store and handed
 * to the orders channel's journaled outbox); the order's envelope carries the order span's
 * context. A denied signal of a sampled trace gets its `risk-manager checks` span only.
 * @module
 */
import { type Context, context, type Span, SpanKind, trace } from "@opentelemetry/api";
import { nowMs } from "../../lib/clock.ts";
import { setImmediate } from "node:timers";
import type { Envelope } from "../../lib/envelope.ts";
import { getLogger } from "../../lib/log.ts";
import { SAMPLED_FLAG } from "../../lib/traceparent.ts";
import {
  type MessageScope,
  ServiceTracer,
  type TraceContextLike,
  type TraceFields,
} from "../../lib/tracing.ts";
import type {
  ExecutionReport,
  LuldBand,
  Order,
  OrderStatus,
  OrderStatusRequest,
  PositionsRequest,
  RiskDenialEvent,
  Signal,
  TradingStateEvent,
  TradingStatus as MarketStatus,
  VenuePositionsAnswer,
} from "../../lib/types.ts";
import { ActivityLog } from "../../lib/activity_log.ts";
import { BurstLog } from "../../lib/burst_log.ts";
import { EXIT } from "../../lib/service.ts";
import { PRIME_GAP_MS, type RiskManagerCore } from "./core.ts";
import type { RiskManagerMetrics } from "./metrics.ts";
import type { TradingStateChange } from "./trading_state.ts";

/** How often a report that could not be stored is tried again, ms. */
export const REPORT_RETRY_MS = 1000;

/** The risk events the handlers publish, by message type. */
export interface RiskEvents {
  readonly trading_state: TradingStateEvent;
  readonly risk_denial: RiskDenialEvent;
}

/** What the handlers need. */
export interface RiskManagerHandlersOptions {
  readonly core: RiskManagerCore;
  readonly metrics: RiskManagerMetrics;
  /**
   * Hands an approved order to the orders channel (journaled before it returns); the
   * promise settles when the order is acknowledged, and rejects when it was not before
   * the channel closed.
   */
  readonly sendOrder: (order: Order, trace: TraceFields) => Promise<unknown>;
  /**
   * Publishes a risk event on the risk events channel, in the trace of the message that caused
   * it (none: a trace of its own); throws when it cannot.
   */
  readonly publishEvent: <T extends keyof RiskEvents>(
    type: T,
    body: RiskEvents[T],
    trace?: TraceFields,
  ) => void;
  /**
   * Hands an `order_status_request` to the orders channel (journaled, in order behind
   * the orders); without it no reconciliation runs.
   */
  readonly sendStatusRequest?: (request: OrderStatusRequest) => Promise<unknown>;
  /**
   * Hands a `positions_request` to the orders channel (journaled, in order behind the
   * orders); without it positions are not reconciled with the venue.
   */
  readonly sendPositionsRequest?: (request: PositionsRequest) => Promise<unknown>;
  /** How often a report that could not be stored is tried again, ms (default {@link REPORT_RETRY_MS}). */
  readonly retryMs?: number;
  /** Ends the process; default `Deno.exit`. */
  readonly exit?: (code: number) => never;
  /** The tracer; default the service's (a no-op with tracing off). */
  readonly tracer?: ServiceTracer;
  /**
   * Whether a mark primes the decision path for its symbol once its message is handled
   * ({@link RiskManagerCore.prime}, at most every {@link PRIME_GAP_MS}); default true.
   */
  readonly prime?: boolean;
  /** The shortest time between two primes, ms (default {@link PRIME_GAP_MS}). */
  readonly primeGapMs?: number;
}

/**
 * The risk-manager's message handlers.
 *
 * @example
 * ```ts
 * const handlers = new RiskManagerHandlers({ core, metrics, sendOrder, publishEvent });
 * signals.onMessage((env) => handlers.onSignal(env));
 * reports.onMessage((env) => handlers.onExecutionReport(env));
 * ```
 */
export class RiskManagerHandlers {
  readonly #core: RiskManagerCore;
  readonly #metrics: RiskManagerMetrics;
  readonly #sendOrder: RiskManagerHandlersOptions["sendOrder"];
  readonly #publishEvent: RiskManagerHandlersOptions["publishEvent"];
  readonly #log = getLogger(["trading", "risk"]);
  /**
   * No line per signal on the latency path: approvals and denials (by code) are counted,
   * one summary line per period; each one's own line is at debug.
   */
  readonly #activity = new ActivityLog(this.#log, "Signals decided");
  readonly #retryMs: number;
  readonly #exit: (code: number) => never;
  readonly #tracer: ServiceTracer;
  readonly #storeLog: BurstLog;
  /** Reports whose handler is waiting for the store (0 or 1: the receiver hands one at a time). */
  #waiting = 0;
  #closing = false;
  readonly #sendStatusRequest: RiskManagerHandlersOptions["sendStatusRequest"];
  /** The reconciliation request waiting for its answer. */
  #outstanding: { requestId: string; at: number } | undefined;
  #requests = 0;
  readonly #sendPositionsRequest: RiskManagerHandlersOptions["sendPositionsRequest"];
  /** The positions request waiting for its answer. */
  #positionsOutstanding: { requestId: string; at: number } | undefined;
  readonly #mismatchLog: BurstLog;
  readonly #rejectionLog: BurstLog;
  readonly #primeLog: BurstLog;
  /** True when positions or marks changed since the gauges were last refreshed. */
  #gaugesStale = false;
  readonly #prime: boolean;
  readonly #primeGapMs: number;
  /** The symbol of the prime waiting for its `setImmediate`, if one is. */
  #primeSymbol: string | undefined;
  /** `performance.now()` of the last prime. */
  #primedAt = -Infinity;
  /** How many primes ran, and how many of them threw (a bug of the checks: onSignal would too). */
  readonly primes = { ran: 0, failed: 0 };
  readonly #runPrime = (): void => {
    const symbol = this.#primeSymbol!;
    this.#primeSymbol = undefined;
    this.#primedAt = performance.now();
    try {
      this.#core.prime(symbol, nowMs());
      this.primes.ran++;
    } catch (error) {
      // The checks only read, so the next decision in this symbol would throw the same; the
      // prime is only a cache warmer and never takes the process down.
      this.primes.failed++;
      this.#primeLog.report({ symbol, error });
    }
  };

  constructor(options: RiskManagerHandlersOptions) {
    this.#core = options.core;
    this.#metrics = options.metrics;
    this.#sendOrder = options.sendOrder;
    this.#publishEvent = options.publishEvent;
    this.#retryMs = options.retryMs ?? REPORT_RETRY_MS;
    this.#prime = options.prime ?? true;
    this.#primeGapMs = options.primeGapMs ?? PRIME_GAP_MS;
    this.#sendStatusRequest = options.sendStatusRequest;
    this.#sendPositionsRequest = options.sendPositionsRequest;
    this.#exit = options.exit ?? ((code) => Deno.exit(code));
    this.#tracer = options.tracer ?? new ServiceTracer("risk-manager");
    this.#storeLog = new BurstLog(
      this.#log,
      "error",
      "Cannot store an execution report; will retry: {error}",
      "Cannot store execution reports: {suppressed} more failures",
    );
    this.#mismatchLog = new BurstLog(
      this.#log,
      "error",
      "Position differs from the venue's with nothing in flight: {symbol} ours={ours} venue={venue}; policy {policy}",
      "Positions differ from the venue's: {suppressed} more symbols",
    );
    this.#rejectionLog = new BurstLog(
      this.#log,
      "warn",
      "Execution-engine rejected an order: {reason} ({action})",
      "Execution-engine rejected {suppressed} more orders",
    );
    this.#primeLog = new BurstLog(
      this.#log,
      "error",
      "Priming the pre-trade checks for {symbol} failed (a signal in it would fail too): {error}",
      "Priming the pre-trade checks failed {suppressed} more times",
    );
  }

  /** Execution reports waiting for the store (the service is not ready while there are any). */
  get pendingReports(): number {
    return this.#waiting;
  }

  /**
   * Shut-down begins: a report still waiting for the store then ends the process
   * ({@link EXIT}.crash) instead of letting the receiver acknowledge it.
   */
  close(): void {
    this.#closing = true;
    this.#activity.close();
    this.#storeLog.close();
    this.#mismatchLog.close();
    this.#rejectionLog.close();
    this.#primeLog.close();
  }

  /**
   * A signal: approved into an order that is sent, or denied (counted, logged and
   * published as a `risk_denial` event). Throws when the approval cannot be stored or the
   * denial cannot be published.
   */
  onSignal(env: Envelope): void {
    const scope = this.#tracer.receive("risk-manager receive", env);
    try {
      scope.run(() => this.#onSignal(env, scope));
    } finally {
      scope.end();
    }
  }

  #onSignal(env: Envelope, scope: MessageScope): void {
    const signal = env.body as Signal;
    const startedAt = nowMs();
    const record = this.#tracer.enabled ? new RecordSpans(this.#tracer) : undefined;
    const decision = this.#core.onSignal(
      signal,
      startedAt,
      this.#orderTrace(scope),
      record?.committed,
    );
    const checkedAt = decision.checksUs === undefined
      ? startedAt
      : startedAt + decision.checksUs / 1000;
    if (decision.approved) {
      this.#approved(decision.order, env, scope, startedAt, checkedAt, record);
      this.#gaugesStale = true;
      return;
    }
    const { denial } = decision;
    if (scope.sampled) {
      this.#tracer.record("risk-manager checks", scope.context, startedAt, checkedAt, {
        attributes: { "trading.denial": denial.code },
      });
    }
    this.#metrics.denied(denial, decision.symbol);
    this.#activity.count(denial.code, {
      code: denial.code,
      detail: denial.message,
      signalId: signal.id,
      symbol: signal.symbol,
    });
    this.#activity.detail("Signal denied", () => ({
      code: denial.code,
      check: denial.check,
      detail: denial.message,
      signalId: signal.id,
      symbol: signal.symbol,
      trace: env.trace,
    }));
    this.#publishEvent("risk_denial", {
      signalId: signal.id,
      symbol: signal.symbol,
      code: denial.code,
      check: denial.check,
      message: denial.message,
      at: Date.now(),
    }, this.#tracer.inject(scope.context, env.trace));
  }

  /**
   * The span context an order of this signal will have (the receive span's, or the incoming
   * one's, forced sampled): the exemplar of an approval's `all_checks`. None with tracing off
   * (its trace would never be exported) or without an incoming context.
   */
  #orderTrace(scope: MessageScope): TraceContextLike | undefined {
    if (!this.#tracer.enabled) return undefined;
    const sc = trace.getSpanContext(scope.context);
    if (sc === undefined) return undefined;
    return { traceId: sc.traceId, spanId: sc.spanId, traceFlags: sc.traceFlags | SAMPLED_FLAG };
  }

  /**
   * An approval: the trace becomes the order's. The order span runs from `startedAt` (the
   * checks' start, epoch ms) to the end of the commit that made the approval durable; its
   * checks child is recorded with the time the checks took (to `checkedAt`, their end), and
   * its record child from there to that commit's end ({@link RecordSpans}: the durable
   * record is most of an approval's time with `durability: power`, so its span shows it).
   */
  #approved(
    order: Order,
    env: Envelope,
    scope: MessageScope,
    startedAt: number,
    checkedAt: number,
    record: RecordSpans | undefined,
  ): void {
    const tracer = this.#tracer;
    const orderCtx = tracer.asOrder(scope.context, env.trace);
    const span = tracer.stage(
      "risk-manager order",
      orderCtx,
      {
        "trading.client_order_id": order.clientOrderId,
        "trading.symbol": order.symbol,
      },
      startedAt,
      SpanKind.PRODUCER,
    );
    const ctx = span === undefined ? orderCtx : trace.setSpan(orderCtx, span);
    tracer.record("risk-manager checks", ctx, startedAt, checkedAt);
    context.with(ctx, () => this.#send(order, tracer.inject(ctx, env.trace)));
    if (record === undefined) {
      tracer.record("risk-manager record", ctx, checkedAt, nowMs());
      tracer.endLater(span);
    } else record.handedOff(ctx, span, checkedAt, nowMs());
  }

  #send(order: Order, fields: TraceFields): void {
    const trace = fields.trace;
    this.#activity.count("approved");
    this.#activity.detail("Order approved", () => ({
      clientOrderId: order.clientOrderId,
      signalId: order.signalId,
      symbol: order.symbol,
      side: order.side,
      qty: order.qty,
      trace,
    }));
    this.#sendOrder(order, fields).then(
      () => this.#log.debug("Order acknowledged", { clientOrderId: order.clientOrderId, trace }),
      (error) =>
        this.#log.warning("Order not acknowledged before close; it stays in the outbox journal", {
          clientOrderId: order.clientOrderId,
          error,
        }),
    );
  }

  /**
   * An execution report, applied and stored before this settles: the receiver
   * acknowledges a report once its handler settles, so a report the store refuses
   * (disk error) makes this return a promise that settles only once a retry (every
   * `retryMs`) stored it. Meanwhile the receiver hands over nothing else, so reports stay
   * in order, and the engine keeps them in its outbox. Never throws and never rejects (a
   * failed handler would be acknowledged); at shut-down a report still waiting ends the
   * process without settling, so the engine sends it again to the next risk-manager.
   */
  onExecutionReport(env: Envelope): Promise<void> | undefined {
    const scope = this.#tracer.receive("risk-manager report", env, {
      "messaging.message.type": env.type,
    });
    try {
      scope.run(() => this.#applyReport(env));
      return undefined;
    } catch (error) {
      this.#storeFailed(env, error);
    } finally {
      scope.end();
    }
    this.#waiting++;
    return new Promise<void>((resolve) => {
      const retry = () => {
        if (this.#closing) {
          this.#log.fatal(
            "Cannot store an execution report before shut-down; exiting unacknowledged",
            {
              clientOrderId: (env.body as ExecutionReport).clientOrderId,
              trace: env.trace,
            },
          );
          this.#exit(EXIT.crash);
          return;
        }
        try {
          this.#applyReport(env);
        } catch (error) {
          this.#storeFailed(env, error);
          setTimeout(retry, this.#retryMs);
          return;
        }
        this.#waiting--;
        resolve();
      };
      setTimeout(retry, this.#retryMs);
    });
  }

  #storeFailed(env: Envelope, error: unknown): void {
    this.#storeLog.report({
      clientOrderId: (env.body as ExecutionReport).clientOrderId,
      error: error instanceof Error ? error.message : String(error),
    });
  }

  #applyReport(env: Envelope): void {
    if (env.type === "order_status") return this.#applyStatus(env);
    if (env.type === "venue_positions") return this.#applyPositions(env);
    const report = env.body as ExecutionReport;
    const outcome = this.#core.onExecutionReport(report, Date.now());
    if (outcome.rejection) {
      const { rejection } = outcome;
      this.#metrics.venueRejection(rejection);
      this.#rejectionLog.report({
        reason: rejection.reason,
        label: rejection.label,
        action: rejection.halted ? "trading halted" : rejection.action,
        clientOrderId: report.clientOrderId,
        symbol: report.symbol,
        trace: env.trace,
      });
    }
    if (outcome.unknownOrder) {
      this.#log.warning("Execution report for an order this risk-manager did not approve", {
        clientOrderId: report.clientOrderId,
        symbol: report.symbol,
        kind: report.kind,
        trace: env.trace,
      });
    }
    if (outcome.priced === "reference") {
      this.#log.error("Fill reported without a price; booked at the reference price", {
        clientOrderId: report.clientOrderId,
        symbol: report.symbol,
        cumQty: report.cumQty,
        price: outcome.effect?.after.avgPrice,
        trace: env.trace,
      });
    }
    if (outcome.kind === "fill" && outcome.effect) {
      this.#log.info("Fill applied", {
        clientOrderId: report.clientOrderId,
        symbol: report.symbol,
        side: report.side,
        qty: report.lastQty,
        price: report.lastPrice,
        position: outcome.effect.after.qty,
        avgPrice: outcome.effect.after.avgPrice,
        realized: outcome.effect.realized,
        trace: env.trace,
      });
      this.#metrics.portfolio(this.#core);
    } else if (outcome.kind === "duplicate") {
      this.#log.debug("Duplicate fill ignored", {
        clientOrderId: report.clientOrderId,
        cumQty: report.cumQty,
      });
    }
  }

  /** An `order_status` answer: applied through the core; orphans closed are counted and logged. */
  #applyStatus(env: Envelope): void {
    const status = env.body as OrderStatus;
    const { applied, orphans } = this.#core.onOrderStatus(status, Date.now());
    if (this.#outstanding?.requestId === status.requestId) this.#outstanding = undefined;
    for (const orphan of orphans) {
      this.#metrics.orphanClosed();
      this.#log.warning("Open order execution-engine never received closed after it expired", {
        clientOrderId: orphan.clientOrderId,
        symbol: orphan.symbol,
        side: orphan.side,
        qty: orphan.qty,
        expiresAt: orphan.expiresAt,
        trace: env.trace,
      });
    }
    if (orphans.length > 0 || applied > 0) this.#gaugesStale = true;
    this.#log.debug("Open orders reconciled", {
      requestId: status.requestId,
      asked: status.orders.length,
      applied,
      orphans: orphans.length,
    });
  }

  /**
   * A `venue_positions` answer: compared with the book through the core, which applies
   * the mismatch policy; each new mismatch is counted and logged (at a bounded rate), the
   * mismatched-symbols gauge set.
   */
  #applyPositions(env: Envelope): void {
    const answer = env.body as VenuePositionsAnswer;
    const result = this.#core.onVenuePositions(answer, Date.now());
    if (this.#positionsOutstanding?.requestId === answer.requestId) {
      this.#positionsOutstanding = undefined;
    }
    for (const d of result.newMismatches) {
      this.#metrics.positionMismatch(d.symbol);
      this.#mismatchLog.report({
        symbol: d.symbol,
        ours: d.ours,
        venue: d.venue,
        diff: d.diff,
        policy: result.policy,
        venueName: result.venue,
        requestId: result.requestId,
      });
    }
    for (const a of result.applied) {
      if (a.action !== "adopted") continue;
      this.#log.warning("Position adopted from the venue", { ...a, requestId: result.requestId });
      this.#gaugesStale = true;
    }
    for (const symbol of result.resolved) {
      this.#log.info("Position agrees with the venue's again", { symbol });
    }
    this.#metrics.mismatchedSymbols(result.mismatched.length);
    this.#log.debug("Positions reconciled", {
      requestId: result.requestId,
      compared: result.compared,
      differences: result.differences.length,
      mismatched: result.mismatched.length,
    });
  }

  /**
   * Asks execution-engine for the venue's positions at `now` (epoch ms), when the orders
   * channel has a live consumer and no request waits for its answer (one waiting longer
   * than `timeoutMs` is given up). Returns the request sent, if any. Call it at start-up
   * and every `reconcileMs`.
   */
  reconcilePositions(
    now: number,
    live: boolean,
    timeoutMs: number,
  ): PositionsRequest | undefined {
    if (this.#sendPositionsRequest === undefined || !live || this.#closing) return undefined;
    if (
      this.#positionsOutstanding !== undefined && now - this.#positionsOutstanding.at < timeoutMs
    ) {
      return undefined;
    }
    const request: PositionsRequest = {
      requestId: `pos-${now.toString(36)}-${++this.#requests}`,
      at: now,
    };
    this.#positionsOutstanding = { requestId: request.requestId, at: now };
    this.#sendPositionsRequest(request).catch((error) =>
      this.#log.debug("Positions request not acknowledged", {
        requestId: request.requestId,
        error,
      })
    );
    return request;
  }

  /**
   * Asks execution-engine about the open orders at `now` (epoch ms), when the orders
   * channel has a live consumer and no request is waiting for its answer (one waiting
   * longer than `timeoutMs` is given up). Returns the request sent, if any. Call it at
   * start-up and every `reconcileMs`.
   */
  reconcile(now: number, live: boolean, timeoutMs: number): OrderStatusRequest | undefined {
    if (this.#sendStatusRequest === undefined || !live || this.#closing) return undefined;
    if (this.#outstanding !== undefined && now - this.#outstanding.at < timeoutMs) return undefined;
    const clientOrderIds = this.#core.reconcileRequest();
    if (clientOrderIds.length === 0) return undefined;
    const request: OrderStatusRequest = {
      requestId: `rec-${now.toString(36)}-${++this.#requests}`,
      clientOrderIds,
      at: now,
    };
    this.#outstanding = { requestId: request.requestId, at: now };
    this.#sendStatusRequest(request).catch((error) =>
      this.#log.debug("Reconciliation request not acknowledged", {
        requestId: request.requestId,
        error,
      })
    );
    return request;
  }

  /**
   * Market data: a `trading_status` or `luld_band` updates the symbol's market as the
   * checks see it (a change of state is logged: a halt as a warning); a `quote`, `book`,
   * `one_sided_quote`, `trade` or `trade_correction` its mark.
   */
  onMarketData(env: Envelope): void {
    const scope = this.#tracer.receive("risk-manager market data", env);
    try {
      scope.run(() => this.#onMarketData(env));
    } finally {
      scope.end();
    }
  }

  #onMarketData(env: Envelope): void {
    const now = Date.now();
    if (env.type === "trading_status") {
      const status = env.body as MarketStatus;
      const change = this.#core.onTradingStatus(status, now);
      if (change === null) return;
      const fields = {
        symbol: status.symbol,
        state: change.after.state,
        reason: change.after.reason,
        previous: change.before.state,
        previousReason: change.before.reason,
      };
      if (change.after.state === "halted") this.#log.warning("Symbol halted", fields);
      else this.#log.info("Symbol market state changed", fields);
      return;
    }
    if (env.type === "luld_band") {
      this.#core.onLuldBand(env.body as LuldBand, now);
      return;
    }
    if (this.#core.onMarketData(env.type, env.body, now)) {
      this.#gaugesStale = true;
      if (this.#prime) this.#primeSoon((env.body as { symbol: string }).symbol);
    }
  }

  /**
   * Primes the decision path for `symbol` once the messages already here are handled (a
   * `setImmediate`: a signal that arrived with the mark is decided first, never made to wait for
   * the prime), unless a prime ran less than {@link PRIME_GAP_MS} ago. A later mark before it runs
   * changes the symbol it primes: the newest tick is the likeliest to bring a signal.
   */
  #primeSoon(symbol: string): void {
    if (this.#primeSymbol !== undefined) {
      this.#primeSymbol = symbol;
      return;
    }
    if (performance.now() - this.#primedAt < this.#primeGapMs) return;
    this.#primeSymbol = symbol;
    setImmediate(this.#runPrime);
  }

  /**
   * A trading state or breaker change of the core (already persisted): sets the state
   * gauges, logs it, and publishes it as a `trading_state` event (a failure to publish is
   * logged, never thrown).
   */
  onStateChange(change: TradingStateChange): void {
    this.#metrics.state(this.#core.status);
    const fields = {
      state: change.event.state,
      previous: change.event.previous,
      breakerTripped: change.breakerTripped,
      reason: change.event.reason,
      actor: change.event.actor,
    };
    if (change.breakerChanged && change.breakerTripped) {
      this.#log.error("Circuit breaker tripped", fields);
    } else {
      this.#log.warning("Trading state changed", fields);
    }
    try {
      this.#publishEvent("trading_state", change.event);
    } catch (error) {
      this.#log.error("Cannot publish a trading state event", { error });
    }
  }

  /** Refreshes the business gauges when an approval or a mark changed them (call on a timer). */
  refreshGauges(): void {
    if (!this.#gaugesStale) return;
    this.#gaugesStale = false;
    this.#metrics.portfolio(this.#core);
  }
}

/**
 * The end of an approval's trace in risk-manager: its `risk-manager record` span, from the
 * checks' end to the end of the commit that made the approval durable, and the end of its
 * `risk-manager order` span there. The commit ends after the handler returned (the group
 * commit runs when the synchronous run ends), or, with a flush, before it handed off: the
 * spans are written once both the hand-off ({@link RecordSpans.handedOff}) and the commit
 * ({@link RecordSpans.committed}) happened, in either order. A commit that fails ends the
 * process, and the spans with it.
 */
export class RecordSpans {
  readonly #tracer: ServiceTracer;
  #committedAt: number | undefined;
  #handOff:
    | { ctx: Context; span: Span | undefined; checkedAt: number; handedOffAt: number }
    | undefined;

  constructor(tracer: ServiceTracer) {
    this.#tracer = tracer;
  }

  /** The core's `onRecorded`: `committedAt` is the `performance.now()` the commit ended at. */
  readonly committed = (committedAt: number): void => {
    this.#committedAt = performance.timeOrigin + committedAt;
    this.#write();
  };

  /** The order was handed to the orders channel at `handedOffAt` (epoch ms). */
  handedOff(ctx: Context, span: Span | undefined, checkedAt: number, handedOffAt: number): void {
    this.#handOff = { ctx, span, checkedAt, handedOffAt };
    this.#write();
  }

  #write(): void {
    const handOff = this.#handOff;
    const committedAt = this.#committedAt;
    if (handOff === undefined || committedAt === undefined) return;
    this.#handOff = undefined;
    const end = Math.max(committedAt, handOff.handedOffAt);
    this.#tracer.record("risk-manager record", handOff.ctx, handOff.checkedAt, end);
    this.#tracer.endLater(handOff.span, end);
  }
}
