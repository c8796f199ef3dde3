/**
 * Risk-manager micro benchmarks: the full pre-trade check run (`onSignal`, all checks,
 * approval recorded in SQLite in memory), a denial, a fill, a mark, and the gauges.
 *
 * Besides `Deno.bench`'s figures, the module prints the p50/p99 of the core's own
 * `all_checks` latency (the `risk_manager_pretrade_check_latency_us{check_type="all_checks"}`
 * observation, per-check metrics on) over 20,000 approvals, and of the whole `onSignal`
 * including the approval's durable SQLite write (a WAL file in a temp directory), since
 * `deno bench` reports p75/p99 but not p50. It also prints the p50/p99 of an approval made
 * durable (state and orders outbox) in each `durability` (`process`: synchronous NORMAL,
 * `power`: FULL): two files with a commit each, one database with one commit, and eight
 * approvals in one group commit. The timed `Deno.bench` cases use SQLite in memory. With
 * `BENCH_SMOKE=1` (bench/smoke.ts) the loops run 200 signals each and the cases a minimal
 * number of iterations.
 */
import type { ExecutionReport, Signal } from "../lib/types.ts";
import { ALWAYS_OPEN } from "../lib/market_session.ts";
import { createServiceMetrics } from "../lib/metrics.ts";
import { type CheckRecorder, RiskManagerCore } from "../services/risk-manager/core.ts";
import { RiskManagerMetrics } from "../services/risk-manager/metrics.ts";
import { StateStore } from "../services/risk-manager/state_store.ts";
import { OutboxJournal } from "../lib/messaging/outbox_journal.ts";
import {
  LIMITS as TEST_LIMITS,
  setMark,
  SYMBOLS as TEST_SYMBOLS,
} from "../services/risk-manager/testing/fixtures.ts";
import { benchOptions, loopCount } from "./smoke.ts";

const SYMBOLS = [...TEST_SYMBOLS, "SPY"];
/** The test limits, with an order rate no bench loop reaches. */
const LIMITS = { ...TEST_LIMITS, maxOrdersPerSecond: 1e12 };

/** A core marked at today's prices, long AAPL and short MSFT. */
function benchCore(recorder?: CheckRecorder, store = StateStore.open(":memory:")): RiskManagerCore {
  const core = new RiskManagerCore({
    symbols: SYMBOLS,
    strategy: "default",
    sizing: { notionalPerOrder: 5000, minQty: 0.001 },
    limits: LIMITS,
    markMaxAgeMs: 1e12,
    store,
    recorder,
    // The sim's default: every market open (without a schedule the checks fail closed).
    session: { schedule: ALWAYS_OPEN },
  });
  const now = Date.now();
  setMark(core, "AAPL", 228, now);
  setMark(core, "MSFT", 415, now);
  setMark(core, "SPY", 592, now);
  setMark(core, "BTC/USD", 97250, now);
  // A few positions, so exposure and P&L have something to add up.
  core.onExecutionReport(report("seed-1", "AAPL", "buy", 10, 227, "filled"), now);
  core.onExecutionReport(report("seed-2", "MSFT", "sell", 5, 416, "filled"), now);
  return core;
}

/** A fill (`filled`) or a report without a fill, stamped now. */
function report(
  clientOrderId: string,
  symbol: string,
  side: "buy" | "sell",
  qty: number,
  price: number,
  state: ExecutionReport["state"],
): ExecutionReport {
  const filled = state === "filled";
  return {
    clientOrderId,
    symbol,
    side,
    kind: filled ? "fill" : "cancel",
    state,
    orderQty: qty,
    lastQty: filled ? qty : 0,
    lastPrice: filled ? price : 0,
    cumQty: filled ? qty : 0,
    avgPrice: filled ? price : 0,
    leavesQty: 0,
    venue: "sim",
    strategy: "default",
    ts: Date.now(),
  };
}

/** Cancels an approved AAPL order, so open orders and positions stay as they were. */
function cancel(clientOrderId: string, side: "buy" | "sell", qty: number): ExecutionReport {
  return report(clientOrderId, "AAPL", side, qty, 0, "canceled");
}

let signals = 0;
/** A signal valid for a long time from now, alternately a buy and a sell. */
function signal(symbol = "AAPL", price = 228): Signal {
  const now = Date.now();
  return {
    id: `b-${++signals}`,
    symbol,
    action: signals % 2 ? "buy" : "sell",
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

// ---- p50/p99 of the core's own all_checks measurement, as in production ----
const serviceMetrics = createServiceMetrics("risk-manager", {
  defaultMetrics: false,
  sampleMs: 3_600_000,
});
const metrics = new RiskManagerMetrics(serviceMetrics.families, SYMBOLS, "default", 5000);
{
  const count = loopCount(20_000);
  const dir = Deno.makeTempDirSync();
  const allChecksUs: number[] = [];
  const onSignalUs: number[] = [];
  const recorder: CheckRecorder = {
    check(type, passed, latencyUs) {
      metrics.check(type, passed, latencyUs);
      if (type === "all_checks") allChecksUs.push(latencyUs);
    },
  };
  const store = StateStore.open(`${dir}/bench.sqlite`, { durability: "process" });
  const core = benchCore(recorder, store);
  for (let i = 0; i < count; i++) {
    const next = signal();
    const startedAt = performance.now();
    const decision = core.onSignal(next, Date.now());
    store.flush(); // its group commit, alone
    onSignalUs.push((performance.now() - startedAt) * 1000);
    if (!decision.approved) throw new Error(decision.denial.message);
    const { order } = decision;
    core.onExecutionReport(cancel(order.clientOrderId, order.side, order.qty), Date.now());
  }
  store.close();
  Deno.removeSync(dir, { recursive: true });
  const percentile = (values: number[], p: number) => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))].toFixed(1);
  };
  console.log(
    `risk-manager pre-trade checks, ${count} approved signals with metrics: ` +
      `all_checks p50=${percentile(allChecksUs, 0.5)}µs p99=${percentile(allChecksUs, 0.99)}µs; ` +
      `onSignal incl. SQLite record (durability process) p50=${percentile(onSignalUs, 0.5)}µs ` +
      `p99=${percentile(onSignalUs, 0.99)}µs`,
  );
}

// ---- the cost of durability: an approval's commits (state, orders outbox) ----
// "two files": the state database and the outbox in its own file, a commit each (the
// release before issue 17); "one database": the outbox attached to the state database,
// one group commit per approval; "batch of 8": eight approvals drained together, one
// commit for all (per approval: the batch's time / 8).
for (const durability of ["process", "power"] as const) {
  for (const layout of ["two files", "one database", "batch of 8"] as const) {
    const dir = Deno.makeTempDirSync();
    const store = StateStore.open(`${dir}/bench.sqlite`, { durability });
    const { journal } = layout === "two files"
      ? await OutboxJournal.open(`${dir}/outbox.sqlite`, "rm/orders", { durability })
      : OutboxJournal.attach(store.journalDb.db, store.journalDb.group, "rm/orders");
    const core = benchCore(undefined, store);
    const approvalUs: number[] = [];
    const n = loopCount(2000);
    const batch = layout === "batch of 8" ? 8 : 1;
    for (let i = 1; i <= n; i += batch) {
      const startedAt = performance.now();
      const orders = [];
      for (let k = 0; k < batch; k++) {
        const decision = core.onSignal(signal(), Date.now());
        if (!decision.approved) throw new Error(decision.denial.message);
        // What the orders channel does next: the order journaled before it leaves.
        journal.append([{ seq: i + k, frame: JSON.stringify(decision.order) }], i + k);
        orders.push(decision.order);
      }
      store.flush(); // the group commit (both files: the state's; the outbox committed itself)
      const us = (performance.now() - startedAt) * 1000 / batch;
      for (let k = 0; k < batch; k++) approvalUs.push(us);
      for (const order of orders) {
        core.onExecutionReport(cancel(order.clientOrderId, order.side, order.qty), Date.now());
      }
      journal.deleteUpTo(i + batch - 1);
      store.flush();
    }
    journal.close();
    store.close();
    Deno.removeSync(dir, { recursive: true });
    const sorted = [...approvalUs].sort((a, b) => a - b);
    const at = (p: number) => sorted[Math.min(n - 1, Math.floor(p * n))].toFixed(1);
    console.log(
      `risk-manager approval made durable, ${layout}, durability ${durability} ` +
        `(${n} approvals): p50=${at(0.5)}µs p99=${at(0.99)}µs`,
    );
  }
}

/** Approves one signal on `core` (timed) and cancels the order (not timed). */
function approveOne(core: RiskManagerCore, b: Deno.BenchContext): void {
  const next = signal();
  b.start();
  const decision = core.onSignal(next, Date.now());
  b.end();
  if (decision.approved) {
    const { order } = decision;
    core.onExecutionReport(cancel(order.clientOrderId, order.side, order.qty), Date.now());
  }
}

const plain = benchCore();
Deno.bench(
  "pre-trade checks: approve a signal (no metrics)",
  benchOptions({ group: "pretrade", baseline: true }),
  (b) => approveOne(plain, b),
);

const metered = benchCore(metrics);
Deno.bench(
  "pre-trade checks: approve a signal (with per-check metrics)",
  benchOptions({ group: "pretrade" }),
  (b) => approveOne(metered, b),
);

const denier = benchCore(metrics);
denier.trip("bench", "bench", Date.now());
Deno.bench(
  "pre-trade checks: deny at the circuit breaker",
  benchOptions({ group: "pretrade" }),
  () => {
    denier.onSignal(signal(), Date.now());
  },
);

const filler = benchCore();
let fills = 0;
Deno.bench("execution report: apply a fill (SQLite in memory)", benchOptions(), () => {
  filler.onExecutionReport(
    report(`f-${++fills}`, "SPY", fills % 2 ? "buy" : "sell", 3, 592, "filled"),
    Date.now(),
  );
});

const marker = benchCore();
const quote = { symbol: "AAPL", bidPrice: 227.99, askPrice: 228.01, bidSize: 1, askSize: 1 };
Deno.bench("market data: apply a quote mark", benchOptions(), () => {
  marker.onMarketData("quote", quote, Date.now());
});

// What a mark's prime adds (RiskManagerCore.prime: buy and sell, every check), at most every
// PRIME_GAP_MS: the cost of keeping the decision path warm at a high tick rate.
Deno.bench("market data: prime the decision path for AAPL (buy and sell)", benchOptions(), () => {
  marker.prime("AAPL", Date.now());
});

Deno.bench("metrics: refresh every business gauge", benchOptions(), () => {
  metrics.portfolio(metered);
});
