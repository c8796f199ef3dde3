/**
 * Risk-manager micro benchmarks: the full pre-trade check run (`onSignal`, all checks,
 * approval recorded in SQLite in memory), a denial, a fill, a mark, and the gauges.
 *
 * Besides `Deno.bench`'s figures, the module prints the p50/p99 of the engine's own
 * `all_checks` latency (the `risk_manager_pretrade_check_latency_us{check_type="all_checks"}`
 * observation, per-check metrics on) over 20,000 approvals, and of the whole `onSignal`
 * including the approval's durable SQLite write (a WAL file in a temp directory), since
 * `deno bench` reports p75/p99 but not p50. The timed `Deno.bench` cases use SQLite in memory.
 */
import type { ExecutionReport, Signal } from "../lib/types.ts";
import { createServiceMetrics } from "../lib/metrics.ts";
import type { CheckType } from "../services/risk-manager/denial.ts";
import { RiskManagerCore } from "../services/risk-manager/core.ts";
import { RiskManagerMetrics } from "../services/risk-manager/metrics.ts";
import { StateStore } from "../services/risk-manager/state_store.ts";

const SYMBOLS = ["AAPL", "MSFT", "SPY", "BTC/USD"];
const LIMITS = {
  maxOrderQty: 1000,
  maxOrderNotional: 25000,
  maxPositionQty: 2000,
  maxGrossExposure: 250000,
  maxNetExposure: 150000,
  maxOpenOrders: 20,
  priceCollarBps: 100,
  maxOrdersPerSecond: 1e12,
  dailyLossLimit: 5000,
};

function engine(
  recorder?: { check(t: CheckType, p: boolean, us: number): void },
  store = StateStore.open(":memory:"),
): RiskManagerCore {
  const e = new RiskManagerCore({
    symbols: SYMBOLS,
    strategy: "default",
    sizing: { notionalPerOrder: 5000, minQty: 0.001 },
    limits: LIMITS,
    markMaxAgeMs: 1e12,
    store,
    recorder,
  });
  const now = Date.now();
  e.onMark("AAPL", 228, now);
  e.onMark("MSFT", 415, now);
  e.onMark("SPY", 592, now);
  e.onMark("BTC/USD", 97250, now);
  // A few positions, so exposure and P&L have something to add up.
  e.onExecutionReport(report("seed-1", "AAPL", "buy", 10, 227, "filled"), now);
  e.onExecutionReport(report("seed-2", "MSFT", "sell", 5, 416, "filled"), now);
  return e;
}

function report(
  id: string,
  symbol: string,
  side: "buy" | "sell",
  qty: number,
  price: number,
  state: ExecutionReport["state"],
): ExecutionReport {
  const fill = state === "filled";
  return {
    clientOrderId: id,
    symbol,
    side,
    kind: fill ? "fill" : "cancel",
    state,
    orderQty: qty,
    lastQty: fill ? qty : 0,
    lastPrice: fill ? price : 0,
    cumQty: fill ? qty : 0,
    avgPrice: fill ? price : 0,
    leavesQty: 0,
    venue: "sim",
    strategy: "default",
    ts: Date.now(),
  };
}

function cancel(id: string, side: "buy" | "sell", qty: number): ExecutionReport {
  return report(id, "AAPL", side, qty, 0, "canceled");
}

let n = 0;
function signal(symbol = "AAPL", price = 228): Signal {
  const now = Date.now();
  return {
    id: `b-${++n}`,
    symbol,
    action: n % 2 ? "buy" : "sell",
    confidence: 0.7,
    model: "rules",
    modelVersion: "1",
    features: {},
    price,
    createdAt: now,
    expiresAt: now + 1e9,
    tickTs: now,
  };
}

// ---- p50/p99 of the engine's own all_checks measurement, as in production ----
const m = createServiceMetrics("risk-manager", { defaultMetrics: false, sampleMs: 3_600_000 });
const rm = new RiskManagerMetrics(m.families, SYMBOLS, "default", 5000);
{
  const dir = Deno.makeTempDirSync();
  const checks: number[] = [];
  const whole: number[] = [];
  const recorder = {
    check(t: CheckType, p: boolean, us: number) {
      rm.check(t, p, us);
      if (t === "all_checks") checks.push(us);
    },
  };
  const store = StateStore.open(`${dir}/bench.sqlite`);
  const e = engine(recorder, store);
  for (let i = 0; i < 20_000; i++) {
    const s = signal();
    const t = performance.now();
    const d = e.onSignal(s, Date.now());
    whole.push((performance.now() - t) * 1000);
    if (!d.approved) throw new Error(d.denial.message);
    e.onExecutionReport(cancel(d.order.clientOrderId, d.order.side, d.order.qty), Date.now());
  }
  store.close();
  Deno.removeSync(dir, { recursive: true });
  const pct = (xs: number[], p: number) => {
    const v = [...xs].sort((a, b) => a - b);
    return v[Math.min(v.length - 1, Math.floor(p * v.length))].toFixed(1);
  };
  console.log(
    `risk-manager pre-trade checks, 20000 approved signals with metrics: ` +
      `all_checks p50=${pct(checks, 0.5)}µs p99=${pct(checks, 0.99)}µs; ` +
      `onSignal incl. durable SQLite record p50=${pct(whole, 0.5)}µs p99=${pct(whole, 0.99)}µs`,
  );
}

const plain = engine();
Deno.bench(
  "pre-trade checks: approve a signal (no metrics)",
  { group: "pretrade", baseline: true },
  (b) => {
    const s = signal();
    b.start();
    const d = plain.onSignal(s, Date.now());
    b.end();
    if (d.approved) {
      plain.onExecutionReport(cancel(d.order.clientOrderId, d.order.side, d.order.qty), Date.now());
    }
  },
);

const metered = engine(rm);
Deno.bench(
  "pre-trade checks: approve a signal (with per-check metrics)",
  { group: "pretrade" },
  (b) => {
    const s = signal();
    b.start();
    const d = metered.onSignal(s, Date.now());
    b.end();
    if (d.approved) {
      metered.onExecutionReport(
        cancel(d.order.clientOrderId, d.order.side, d.order.qty),
        Date.now(),
      );
    }
  },
);

const denier = engine(rm);
denier.trip("bench", "bench", Date.now());
Deno.bench("pre-trade checks: deny at the circuit breaker", { group: "pretrade" }, () => {
  denier.onSignal(signal(), Date.now());
});

const filler = engine();
let fills = 0;
Deno.bench("execution report: apply a fill (SQLite in memory)", () => {
  filler.onExecutionReport(
    report(`f-${++fills}`, "SPY", fills % 2 ? "buy" : "sell", 3, 592, "filled"),
    Date.now(),
  );
});

const marker = engine();
const quote = { symbol: "AAPL", bidPrice: 227.99, askPrice: 228.01, bidSize: 1, askSize: 1 };
Deno.bench("market data: apply a quote mark", () => {
  marker.onMarketData("quote", quote, Date.now());
});

Deno.bench("metrics: refresh every business gauge", () => {
  rm.portfolio(metered);
});
