/**
 * Execution-engine micro benchmarks on the paper venue (`sim`, latency 0 so the figures
 * are the engine's own cost, not the configured artificial venue delay).
 *
 * Besides `Deno.bench`'s figures, the module prints the p50/p99 over 20,000 orders of
 * - the order submission latency as the engine observes it
 *   (`execution_engine_order_submission_latency_us`: the venue call), and
 * - the whole `handleOrder` (durable journal write in a WAL file, venue call, state
 *   change and ack report written to the outbox),
 * since `deno bench` reports p75/p99 but not p50.
 */
import { createServiceMetrics } from "../lib/metrics.ts";
import type { Order } from "../lib/types.ts";
import { ExecutionEngineCore } from "../services/execution-engine/core.ts";
import { Journal } from "../services/execution-engine/journal.ts";
import { PriceBook } from "../services/execution-engine/price_book.ts";
import { SimVenue } from "../services/execution-engine/sim_venue.ts";
import type { Venue } from "../services/execution-engine/venue.ts";
import { makeQuote, makeTrade } from "../services/execution-engine/testing/fixtures.ts";

const SYMBOLS = ["AAPL", "MSFT", "SPY", "BTC/USD"];
let n = 0;

function order(): Order {
  n++;
  return {
    clientOrderId: `bench-${n}`,
    signalId: `sig-${n}`,
    symbol: "AAPL",
    side: n % 2 === 0 ? "buy" : "sell",
    qty: 10,
    type: "market",
    timeInForce: "day",
    strategy: "default",
    createdAt: Date.now(),
    tickTs: Date.now(),
  };
}

/** Runs queued venue callbacks (fills) on demand, outside the timed section. */
class Queue {
  items: (() => void)[] = [];
  schedule = (fn: () => void) => void this.items.push(fn);
  run() {
    for (let i = 0; i < 1000 && this.items.length > 0; i++) this.items.shift()!();
  }
}

function setup(journalPath: string, timed?: number[]) {
  const m = createServiceMetrics("execution-engine", {
    defaultMetrics: false,
    sampleMs: 3_600_000,
  });
  const prices = new PriceBook();
  prices.quote(makeQuote({ bidPrice: 228.1, askPrice: 228.12 }));
  prices.trade(makeTrade({ price: 228.11 }));
  const q = new Queue();
  const sim = new SimVenue({
    seed: 7,
    latencyMs: 0,
    slippageBps: 1,
    partialFillProbability: 0.3,
    rejectProbability: 0.02,
    buyingPower: 1e15,
    hoursUtc: null,
    symbols: SYMBOLS,
    schedule: q.schedule,
  }, prices);
  let venue: Venue = sim;
  if (timed) {
    venue = Object.assign(Object.create(sim), {
      submit: async (o: Order) => {
        const t = performance.now();
        const r = await sim.submit(o);
        timed.push((performance.now() - t) * 1000);
        return r;
      },
      onEvent: (h: Parameters<Venue["onEvent"]>[0]) => sim.onEvent(h),
    }) as Venue;
  }
  const journal = new Journal(journalPath);
  const engine = new ExecutionEngineCore({
    journal,
    venue,
    metrics: m.families,
    symbols: SYMBOLS,
    sink: () => Promise.resolve(),
  });
  return { engine, journal, q, m };
}

const pct = (xs: number[], p: number) => {
  const v = [...xs].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.floor(p * v.length))].toFixed(1);
};

// ---- p50/p99 over 20,000 orders, journal in a WAL file ----
{
  const dir = Deno.makeTempDirSync();
  const venueUs: number[] = [];
  const wholeUs: number[] = [];
  const { engine, journal, q, m } = setup(`${dir}/bench.sqlite`, venueUs);
  for (let i = 0; i < 20_000; i++) {
    const o = order();
    const t = performance.now();
    await engine.handleOrder(o, "bench");
    wholeUs.push((performance.now() - t) * 1000);
    q.run();
    await engine.settle();
  }
  journal.close();
  m.stop();
  Deno.removeSync(dir, { recursive: true });
  console.log(
    `execution-engine paper venue, 20000 orders: order submission (venue call) ` +
      `p50=${pct(venueUs, 0.5)}µs p99=${pct(venueUs, 0.99)}µs; handleOrder incl. durable ` +
      `journal write and ack report p50=${pct(wholeUs, 0.5)}µs p99=${pct(wholeUs, 0.99)}µs`,
  );
}

const dir = Deno.makeTempDirSync();
const file = setup(`${dir}/bench.sqlite`);
const mem = setup(":memory:");

Deno.bench(
  "submit an order on the paper venue (journal in a WAL file)",
  { group: "submit", baseline: true },
  async () => {
    await file.engine.handleOrder(order(), "bench");
    file.q.run();
    await file.engine.settle();
  },
);

Deno.bench(
  "submit an order on the paper venue (journal in memory)",
  { group: "submit" },
  async () => {
    await mem.engine.handleOrder(order(), "bench");
    mem.q.run();
    await mem.engine.settle();
  },
);

Deno.bench("refuse a duplicate order (journal look-up only)", async (b) => {
  const o = order();
  await mem.engine.handleOrder(o, "bench");
  mem.q.run();
  await mem.engine.settle();
  b.start();
  await mem.engine.handleOrder(o, "bench");
  b.end();
});

globalThis.addEventListener("unload", () => {
  file.journal.close();
  mem.journal.close();
  Deno.removeSync(dir, { recursive: true });
});
