/**
 * The risk-manager's metrics: check outcomes and latencies, denials, the business
 * gauges (positions, P&L, portfolio) and the trading state and breaker gauges.
 * @module
 */
import type { Families } from "../../lib/metrics.ts";
import { CHECK_TYPES, type CheckType, type Denial, failureType } from "./denial.ts";
import type { CheckRecorder, RiskManagerCore } from "./core.ts";
import { STATE_GAUGE, type TradingStatus } from "./trading_state.ts";

/**
 * Records into the service's families. Symbol labels are the configured symbols, else
 * `"other"` (positions in other symbols are summed there).
 */
export class RiskManagerMetrics implements CheckRecorder {
  readonly #f: Families<"risk-manager">;
  readonly #symbols: ReadonlySet<string>;
  /** Label children per check type, so the hot path does not hash label objects. */
  readonly #perCheck = new Map<
    CheckType,
    { latency: { observe(v: number): void }; pass: { inc(): void }; fail: { inc(): void } }
  >();

  constructor(
    families: Families<"risk-manager">,
    symbols: readonly string[],
    readonly strategy: string,
    dailyLossLimit: number,
  ) {
    this.#f = families;
    this.#symbols = new Set(symbols);
    families.risk_manager_daily_loss_limit_usd.set(dailyLossLimit);
    for (const t of CHECK_TYPES) {
      const checks = families.risk_manager_checks_performed_total;
      for (const result of ["pass", "fail"]) checks.inc({ check_type: t, result }, 0);
      this.#perCheck.set(t, {
        latency: families.risk_manager_pretrade_check_latency_us.labels({ check_type: t }),
        pass: checks.labels({ check_type: t, result: "pass" }),
        fail: checks.labels({ check_type: t, result: "fail" }),
      });
    }
  }

  /** {@link CheckRecorder}: one check's outcome and latency. */
  check(type: CheckType, passed: boolean, latencyUs: number): void {
    const c = this.#perCheck.get(type)!;
    c.latency.observe(latencyUs);
    (passed ? c.pass : c.fail).inc();
  }

  /** A denial: `risk_manager_risk_failures_total{failure_type, symbol}`. */
  denied(denial: Denial, symbol: string): void {
    this.#f.risk_manager_risk_failures_total.inc({
      failure_type: failureType(denial.code),
      symbol: this.#label(symbol),
    });
  }

  /** The trading state and breaker gauges. */
  state(status: TradingStatus): void {
    this.#f.risk_manager_trading_state.set(STATE_GAUGE[status.state]);
    this.#f.risk_manager_circuit_breaker_tripped.set(status.breakerTripped ? 1 : 0);
  }

  /** Sets every business gauge from the core's positions and P&L. */
  portfolio(core: RiskManagerCore): void {
    const rows = new Map<string, { long: number; short: number; unreal: number; real: number }>();
    for (const s of this.#symbols) rows.set(s, { long: 0, short: 0, unreal: 0, real: 0 });
    let net = 0;
    for (const p of core.positions()) {
      const label = this.#label(p.symbol);
      let r = rows.get(label);
      if (!r) rows.set(label, r = { long: 0, short: 0, unreal: 0, real: 0 });
      if (p.qty > 0) r.long += p.marketValue;
      else if (p.qty < 0) r.short += -p.marketValue;
      r.unreal += p.unrealized;
      r.real += p.realized;
      net += p.marketValue;
    }
    const f = this.#f;
    for (const [symbol, r] of rows) {
      f.trading_position_value_usd.set({ symbol, side: "long" }, r.long);
      f.trading_position_value_usd.set({ symbol, side: "short" }, r.short);
      f.trading_unrealized_pnl_usd.set({ symbol }, r.unreal);
      f.trading_realized_pnl_usd.set({ symbol, strategy: this.strategy }, r.real);
    }
    f.trading_open_positions_count.set(core.openPositionCount());
    f.trading_portfolio_value_usd.set(net);
    f.risk_manager_daily_pnl_usd.set(core.dailyPnl());
  }

  #label(symbol: string): string {
    return this.#symbols.has(symbol) ? symbol : "other";
  }
}
