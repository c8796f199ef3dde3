/**
 * The live view `deno task start` shows on a terminal, refreshed every second: each
 * service up and ready (and its restarts), ticks per second, signals, approvals and
 * denials by reason, orders and fills, open orders, positions and P&L per symbol, the
 * trading state, and tick-to-trade p50/p99 over the last ten seconds. A pure function of
 * snapshots (snapshot.ts), so a test renders it without a terminal.
 * @module
 */
import { SERVICES } from "../../lib/metrics.ts";
import type { SupervisedService } from "./supervisor.ts";
import { quantileBetween } from "./prom_text.ts";
import type { ServiceView, Snapshot } from "./snapshot.ts";

/** What the view shows besides the snapshots. */
export interface ViewInfo {
  /** Where the services' log lines go. */
  readonly logPath: string;
  /** The supervisor's view of each service. */
  readonly supervised: readonly Readonly<SupervisedService>[];
}

const n0 = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const n2 = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const num = (
  x: number | undefined,
) => (x === undefined || !Number.isFinite(x) ? "-" : n0.format(x));
const money = (x: number | undefined) =>
  x === undefined || !Number.isFinite(x) ? "-" : n2.format(x);
const ms = (us: number | undefined) => (us === undefined ? "-" : `${(us / 1000).toFixed(2)} ms`);

function table(rows: string[][], rightAlign: ReadonlySet<number> = new Set()): string[] {
  const width = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) =>
    r.map((c, i) => (rightAlign.has(i) ? c.padStart(width[i]) : c.padEnd(width[i]))).join("  ")
      .trimEnd()
  );
}

function view(snapshot: Snapshot | undefined, service: string): ServiceView | undefined {
  return snapshot?.services.find((s) => s.service === service);
}

/** The counter `name` of `service` in `now`, and its rate per second since `prev`. */
function counter(
  now: Snapshot,
  prev: Snapshot | undefined,
  service: string,
  name: string,
  labels: Record<string, string> = {},
): { total?: number; perS?: number } {
  const total = view(now, service)?.metrics?.sum(name, labels);
  const before = view(prev, service)?.metrics?.sum(name, labels);
  const dt = prev ? (now.at - prev.at) / 1000 : 0;
  const perS = total !== undefined && before !== undefined && dt > 0
    ? Math.max(0, (total - before) / dt)
    : undefined;
  return { total, perS };
}

/**
 * The view as text. `prev` is the snapshot of a second ago (for rates), `older` one of
 * about ten seconds ago (for the tick-to-trade quantiles).
 */
export function renderView(
  now: Snapshot,
  prev: Snapshot | undefined,
  older: Snapshot | undefined,
  info: ViewInfo,
): string {
  const lines: string[] = [];
  lines.push(
    `trading system   ${new Date(now.at).toISOString().slice(0, 19).replace("T", " ")} UTC   ` +
      `logs: ${info.logPath}   Ctrl-C stops`,
    "",
  );
  const rows = [["service", "up", "ready", "restarts", "not ready because"]];
  const order = (name: string) => SERVICES.indexOf(name as (typeof SERVICES)[number]);
  for (const sv of [...info.supervised].sort((a, b) => order(a.service) - order(b.service))) {
    const v = view(now, sv.service);
    const failing = v
      ? (v.reachable
        ? Object.entries(v.checks).filter(([, ok]) => !ok).map(([k]) => k).join(", ")
        : v.error ?? "")
      : "";
    rows.push([
      sv.service,
      sv.state === "running" && v?.reachable
        ? "yes"
        : sv.state === "running"
        ? "starting"
        : sv.state,
      v?.ready ? "yes" : "no",
      String(sv.restarts),
      failing,
    ]);
  }
  lines.push(...table(rows), "");

  const ticks = counter(now, prev, "market-data", "market_data_messages_processed_total");
  const signals = counter(now, prev, "signal-bridge", "signal_bridge_signals_generated_total");
  const approvals = counter(now, prev, "risk-manager", "risk_manager_checks_performed_total", {
    check_type: "all_checks",
    result: "pass",
  });
  const denials = counter(now, prev, "risk-manager", "risk_manager_risk_failures_total");
  const orders = counter(now, prev, "execution-engine", "execution_engine_orders_submitted_total");
  const fills = counter(now, prev, "execution-engine", "execution_engine_fills_total");
  lines.push(
    `ticks/s ${num(ticks.perS)}   signals ${num(signals.total)}   approvals ${
      num(approvals.total)
    }   denials ${num(denials.total)}   orders ${num(orders.total)}   fills ${
      num(fills.total)
    }   open orders ${num(now.openOrders)}`,
  );
  const byReason = view(now, "risk-manager")?.metrics?.sumBy(
    "risk_manager_risk_failures_total",
    "failure_type",
  );
  const reasons = [...(byReason ?? [])].filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]);
  lines.push(
    `denials by reason: ${
      reasons.length ? reasons.map(([k, v]) => `${k} ${num(v)}`).join(", ") : "none"
    }`,
  );
  const risk = now.risk;
  lines.push(
    risk
      ? `trading state: ${risk.state}   breaker: ${
        risk.breakerTripped ? "TRIPPED" : "off"
      }   daily P&L: ${money(risk.dailyPnl)}`
      : "trading state: unknown (risk-manager not answering)",
  );
  const ee = view(now, "execution-engine")?.metrics;
  const eeBefore = view(older, "execution-engine")?.metrics;
  const hist = "execution_engine_tick_to_trade_latency_us";
  lines.push(
    `tick-to-trade (last 10 s): p50 ${ms(ee && quantileBetween(eeBefore, ee, hist, 0.5))}   p99 ${
      ms(ee && quantileBetween(eeBefore, ee, hist, 0.99))
    }`,
    "",
  );
  const held = (risk?.positions ?? []).filter((p) => p.qty !== 0 || p.realized !== 0);
  if (held.length === 0) {
    lines.push("no positions");
  } else {
    const prows = [["symbol", "position", "avg price", "market value", "unrealized", "realized"]];
    for (const p of held) {
      prows.push([
        p.symbol,
        String(p.qty),
        money(p.avgPrice),
        money(p.marketValue),
        money(p.unrealized),
        money(p.realized),
      ]);
    }
    lines.push(...table(prows, new Set([1, 2, 3, 4, 5])));
  }
  return lines.join("\n");
}
