/**
 * Execution-engine micro benchmarks on the paper venue (`sim`, latency 0 so the figures
 * are the core's own cost, not the configured artificial venue delay).
 *
 * Besides `Deno.bench`'s figures, the module prints the p50/p99 over 20,000 orders of
 * - the order submission latency as the core observes it
 *   (`execution_engine_order_submission_latency_us`: the venue call), and
 * - the whole `handleOrder` (durable journal write in a WAL file, venue call, state
 *   change and ack report written to the outbox),
 * since `deno bench` reports p75/p99 but not p50. With `BENCH_SMOKE=1` (bench/smoke.ts) the
 * loops run 200 orders each and the cases a minimal number of iterations.
 */
import { createServiceMetrics } from "../lib/metrics.ts";
import type { Order } from "../lib/types.ts";
import { ExecutionEngineCore } from "../services/execution-engine/core.ts";
import { Journal } from "../services/execution-engine/journal.ts";
import { ExecutionEngineMetrics } from "../services/execution-engine/metrics.ts";
import type { SubmitResult, Venue } from "../services/execution-engine/venue.ts";
import { DelegatingVenue } from "../services/execution-engine/testing/delegating_venue.ts";
import { makeOrder, makeQuote, makeTrade } from "../services/execution-engine/testing/fixtures.ts";
import { makePaperVenue } from "../services/execution-engine/testing/paper_venue.ts";
import { handleOrder } from "../services/execution-engine/testing/handle_order.ts";
import { benchOptions, loopCount } from "./smoke.ts";

const SYMBOLS = ["AAPL", "MSFT", "SPY", "BTC/USD"];
let orders = 0;

/** A market order of 10 AAPL, buys and sells in turn. */
function order(): Order {
  orders++;
  return makeOrder({ side: orders % 2 === 0 ? "buy" : "sell" });
}

/** The paper venue with each `submit` timed (µs) into `timed`. */
class TimedVenue extends DelegatingVenue {
  constructor(inner: Venue, private readonly timed: number[]) {
    super(inner);
  }

  override async submit(order: Order): Promise<SubmitResult> {
    const startedAt = performance.now();
    const result = await this.inner.submit(order);
    this.timed.push((performance.now() - startedAt) * 1000);
    return result;
  }
}

function setup(
  journalPath: string,
  timed?: number[],
  durability: "process" | "power" = "process",
) {
  const serviceMetrics = createServiceMetrics("execution-engine", {
    defaultMetrics: false,
    sampleMs: 3_600_000,
  });
  // Venue callbacks (fills) run on demand, outside the timed section.
  const { venue: paper, scheduler, prices } = makePaperVenue({
    seed: 7,
    slippageBps: 1,
    partialFillProbability: 0.3,
    rejectProbability: 0.02,
    buyingPower: 1e15,
    symbols: SYMBOLS,
  });
  prices.quote(makeQuote({ bidPrice: 228.1, askPrice: 228.12 }));
  prices.trade(makeTrade({ price: 228.11 }));
  const venue: Venue = timed ? new TimedVenue(paper, timed) : paper;
  const journal = new Journal(journalPath, { durability });
  const core = new ExecutionEngineCore({
    journal,
    venue,
    metrics: new ExecutionEngineMetrics(serviceMetrics.families, {
      exchange: venue.name,
      symbols: SYMBOLS,
    }),
    sink: () => Promise.resolve(),
  });
  const fill = () => scheduler.run(1000);
  return { core, journal, fill, serviceMetrics };
}

const pct = (xs: number[], p: number) => {
  const v = [...xs].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.floor(p * v.length))].toFixed(1);
};

// ---- p50/p99 over 20,000 orders, journal in a WAL file ----
{
  const count = loopCount(20_000);
  const dir = Deno.makeTempDirSync();
  const venueUs: number[] = [];
  const wholeUs: number[] = [];
  const { core, journal, fill, serviceMetrics } = setup(`${dir}/bench.sqlite`, venueUs);
  for (let i = 0; i < count; i++) {
    const next = order();
    const startedAt = performance.now();
    await handleOrder(core, next, "bench");
    wholeUs.push((performance.now() - startedAt) * 1000);
    fill();
    await core.settle();
  }
  journal.close();
  serviceMetrics.stop();
  Deno.removeSync(dir, { recursive: true });
  console.log(
    `execution-engine paper venue, ${count} orders: order submission (venue call) ` +
      `p50=${pct(venueUs, 0.5)}µs p99=${pct(venueUs, 0.99)}µs; handleOrder incl. ` +
      `journal write and ack report (durability process) p50=${pct(wholeUs, 0.5)}µs ` +
      `p99=${pct(wholeUs, 0.99)}µs`,
  );
}

// ---- the cost of durability: handleOrder's journal commits in each setting ----
for (const durability of ["process", "power"] as const) {
  const count = loopCount(2000);
  const dir = Deno.makeTempDirSync();
  const wholeUs: number[] = [];
  const { core, journal, fill, serviceMetrics } = setup(
    `${dir}/bench.sqlite`,
    undefined,
    durability,
  );
  for (let i = 0; i < count; i++) {
    const next = order();
    const startedAt = performance.now();
    await handleOrder(core, next, "bench");
    wholeUs.push((performance.now() - startedAt) * 1000);
    fill();
    await core.settle();
  }
  journal.close();
  serviceMetrics.stop();
  Deno.removeSync(dir, { recursive: true });
  console.log(
    `execution-engine handleOrder (journal write, venue call, ack report), durability ` +
      `${durability}, ${count} orders: p50=${pct(wholeUs, 0.5)}µs p99=${pct(wholeUs, 0.99)}µs`,
  );
}

// ---- group commit: eight orders drained together share their journal commits ----
{
  const runs = Math.ceil(loopCount(2000) / 8);
  const count = runs * 8;
  const dir = Deno.makeTempDirSync();
  const perOrderUs: number[] = [];
  const { core, journal, fill, serviceMetrics } = setup(`${dir}/bench.sqlite`, undefined, "power");
  const commitsBefore = journal.commitStats.commits;
  for (let i = 0; i < runs; i++) {
    const startedAt = performance.now();
    await Promise.all(Array.from({ length: 8 }, () => handleOrder(core, order(), "bench")));
    const us = (performance.now() - startedAt) * 1000 / 8;
    for (let k = 0; k < 8; k++) perOrderUs.push(us);
    fill();
    await core.settle();
  }
  const commits = journal.commitStats.commits - commitsBefore;
  journal.close();
  serviceMetrics.stop();
  Deno.removeSync(dir, { recursive: true });
  console.log(
    `execution-engine handleOrder, 8 orders per run, durability power, ${count} orders: ` +
      `per order p50=${pct(perOrderUs, 0.5)}µs p99=${pct(perOrderUs, 0.99)}µs; ` +
      `${commits} commits (${(commits / count).toFixed(2)} per order, fills included)`,
  );
}

const dir = Deno.makeTempDirSync();
const file = setup(`${dir}/bench.sqlite`);
const mem = setup(":memory:");

Deno.bench(
  "submit an order on the paper venue (journal in a WAL file)",
  benchOptions({ group: "submit", baseline: true }),
  async () => {
    await handleOrder(file.core, order(), "bench");
    file.fill();
    await file.core.settle();
  },
);

Deno.bench(
  "submit an order on the paper venue (journal in memory)",
  benchOptions({ group: "submit" }),
  async () => {
    await handleOrder(mem.core, order(), "bench");
    mem.fill();
    await mem.core.settle();
  },
);

Deno.bench("refuse a duplicate order (journal look-up only)", benchOptions(), async (b) => {
  const again = order();
  await handleOrder(mem.core, again, "bench");
  mem.fill();
  await mem.core.settle();
  b.start();
  await handleOrder(mem.core, again, "bench");
  b.end();
});

globalThis.addEventListener("unload", () => {
  file.journal.close();
  mem.journal.close();
  Deno.removeSync(dir, { recursive: true });
});
