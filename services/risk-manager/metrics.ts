/**
 * The risk-manager's metrics: check outcomes and latencies, denials, the business
 * gauges (positions, P&L, portfolio) and the trading state and breaker gauges.
 * @module
 */
import { type Families, observeWithExemplar, zeroSeries } from "../../lib/metrics.ts";
import { boundCounter, boundHistogram } from "../../lib/bound_metrics.ts";
import { exemplarOf, type TraceContextLike } from "../../lib/tracing.ts";
import type { CheckRecorder, PositionView } from "./core.ts";
import {
  CHECK_TYPES,
  type CheckType,
  type Denial,
  DENIAL_CODES,
  type DenialCode,
  failureType,
} from "./denial.ts";
import { type Rejection, REJECTION_LABELS } from "./rejections.ts";
import { STATE_GAUGE, type TradingStatus } from "./trading_state.ts";

/** What the business gauges are read from (the core). */
export interface PortfolioView {
  /** Every position with its market value and P&L, USD. */
  positions(): readonly PositionView[];
  /** Number of non-zero positions. */
  openPositionCount(): number;
  /** The daily P&L, USD. */
  dailyPnl(): number;
}

/** The pre-bound label children of one check type. */
interface CheckChildren {
  readonly latency: { observe(latencyUs: number): void };
  readonly pass: { inc(): void };
  readonly fail: { inc(): void };
}

/** One symbol label's row of the business gauges, USD. */
interface SymbolRow {
  long: number;
  short: number;
  unrealized: number;
  realized: number;
}

/**
 * Records into the service's families. Symbol labels are the configured symbols, else
 * `"other"` (positions in other symbols are summed there).
 *
 * @example
 * ```ts
 * const metrics = new RiskManagerMetrics(ctx.metrics.families, config.symbols, "default", 5000);
 * const core = new RiskManagerCore({ ...options, recorder: metrics });
 * metrics.portfolio(core);
 * ```
 */
export class RiskManagerMetrics implements CheckRecorder {
  readonly #families: Families<"risk-manager">;
  readonly #symbols: ReadonlySet<string>;
  /** Label children per check type, so the hot path does not hash label objects. */
  readonly #perCheck = new Map<CheckType, CheckChildren>();
  readonly #recorded: { observe(latencyUs: number): void };

  /**
   * Sets `risk_manager_daily_loss_limit_usd` to `dailyLossLimit` (USD) and creates at 0
   * every check's pass/fail series, every denial's failure series (per configured symbol
   * and `other`), every symbol label's position mismatch series, the mismatched-symbols
   * gauge and every rejection reason's series, so the first event of each kind is a step
   * alerts see.
   */
  constructor(
    families: Families<"risk-manager">,
    symbols: readonly string[],
    readonly strategy: string,
    dailyLossLimit: number,
  ) {
    this.#families = families;
    this.#symbols = new Set(symbols);
    families.risk_manager_daily_loss_limit_usd.set(dailyLossLimit);
    this.#recorded = boundHistogram(families.risk_manager_decision_record_latency_seconds);
    zeroSeries(families.risk_manager_risk_failures_total, {
      failure_type: (Object.keys(DENIAL_CODES) as DenialCode[]).map(failureType),
      symbol: [...this.#symbols, "other"],
    });
    const checks = families.risk_manager_checks_performed_total;
    for (const type of CHECK_TYPES) {
      for (const result of ["pass", "fail"]) checks.inc({ check_type: type, result }, 0);
      this.#perCheck.set(type, {
        latency: boundHistogram(families.risk_manager_pretrade_check_latency_us, {
          check_type: type,
        }),
        pass: boundCounter(checks, { check_type: type, result: "pass" }),
        fail: boundCounter(checks, { check_type: type, result: "fail" }),
      });
    }
    for (const symbol of [...symbols, "other"]) {
      families.risk_manager_position_mismatches_total.inc({ symbol }, 0);
    }
    families.risk_manager_position_mismatched_symbols.set(0);
    for (const reason of REJECTION_LABELS) {
      families.risk_manager_venue_rejections_total.inc({ reason }, 0);
    }
  }

  /**
   * {@link CheckRecorder}: one check's outcome and latency (µs). With the trace context of the
   * signal (forced sampled once the approval made it an order's: lib/tracing.ts), a sampled
   * trace becomes the latency bucket's exemplar.
   */
  check(type: CheckType, passed: boolean, latencyUs: number, trace?: TraceContextLike): void {
    const children = this.#perCheck.get(type)!;
    const exemplar = exemplarOf(trace);
    // The bound child cannot carry an exemplar: only a sampled trace pays for the labelled call.
    if (exemplar === undefined) children.latency.observe(latencyUs);
    else {
      observeWithExemplar(
        this.#families.risk_manager_pretrade_check_latency_us,
        { check_type: type },
        latencyUs,
        exemplar,
      );
    }
    (passed ? children.pass : children.fail).inc();
  }

  /**
   * {@link CheckRecorder}: an approval's durable record (µs from the decision to its commit),
   * as `risk_manager_decision_record_latency_seconds`; the order's trace, when sampled, is the
   * bucket's exemplar (a slow commit on the panel links to its order's trace).
   */
  recorded(latencyUs: number, trace?: TraceContextLike): void {
    const exemplar = exemplarOf(trace);
    if (exemplar === undefined) this.#recorded.observe(latencyUs / 1e6);
    else {
      observeWithExemplar(
        this.#families.risk_manager_decision_record_latency_seconds,
        {},
        latencyUs / 1e6,
        exemplar,
      );
    }
  }

  /** A denial: `risk_manager_risk_failures_total{failure_type, symbol}`. */
  denied(denial: Denial, symbol: string): void {
    this.#families.risk_manager_risk_failures_total.inc({
      failure_type: failureType(denial.code),
      symbol: this.#label(symbol),
    });
  }

  /** An open order execution-engine never received, closed once expired: `risk_manager_orphan_orders_closed_total`. */
  orphanClosed(): void {
    this.#families.risk_manager_orphan_orders_closed_total.inc();
  }

  /** A position that became mismatched with the venue's: `risk_manager_position_mismatches_total`. */
  positionMismatch(symbol: string): void {
    this.#families.risk_manager_position_mismatches_total.inc({ symbol: this.#label(symbol) });
  }

  /** How many symbols are mismatched now: `risk_manager_position_mismatched_symbols`. */
  mismatchedSymbols(count: number): void {
    this.#families.risk_manager_position_mismatched_symbols.set(count);
  }

  /** A rejection received from execution-engine: `risk_manager_venue_rejections_total`. */
  venueRejection(rejection: Rejection): void {
    this.#families.risk_manager_venue_rejections_total.inc({ reason: rejection.label });
  }

  /** The trading state and breaker gauges. */
  state(status: TradingStatus): void {
    this.#families.risk_manager_trading_state.set(STATE_GAUGE[status.state]);
    this.#families.risk_manager_circuit_breaker_tripped.set(status.breakerTripped ? 1 : 0);
  }

  /** Sets every business gauge from the positions and P&L of `portfolio`. */
  portfolio(portfolio: PortfolioView): void {
    const rows = new Map<string, SymbolRow>();
    for (const symbol of this.#symbols) {
      rows.set(symbol, { long: 0, short: 0, unrealized: 0, realized: 0 });
    }
    let net = 0;
    for (const position of portfolio.positions()) {
      const label = this.#label(position.symbol);
      let row = rows.get(label);
      if (!row) rows.set(label, row = { long: 0, short: 0, unrealized: 0, realized: 0 });
      if (position.qty > 0) row.long += position.marketValue;
      else if (position.qty < 0) row.short += -position.marketValue;
      row.unrealized += position.unrealized;
      row.realized += position.realized;
      net += position.marketValue;
    }
    const families = this.#families;
    for (const [symbol, row] of rows) {
      families.trading_position_value_usd.set({ symbol, side: "long" }, row.long);
      families.trading_position_value_usd.set({ symbol, side: "short" }, row.short);
      families.trading_unrealized_pnl_usd.set({ symbol }, row.unrealized);
      families.trading_realized_pnl_usd.set({ symbol, strategy: this.strategy }, row.realized);
    }
    families.trading_open_positions_count.set(portfolio.openPositionCount());
    families.trading_portfolio_value_usd.set(net);
    families.risk_manager_daily_pnl_usd.set(portfolio.dailyPnl());
  }

  #label(symbol: string): string {
    return this.#symbols.has(symbol) ? symbol : "other";
  }
}
