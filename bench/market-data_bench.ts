/**
 * market-data micro benchmarks: order book updates/s and messages/s through the
 * service core (parse, books, bars, metrics; publishing to a no-op sink).
 * Run: `deno bench -A bench/market-data_bench.ts`.
 */
import { createServiceMetrics } from "../lib/metrics.ts";
import { nowMs } from "../lib/clock.ts";
import { MarketDataCore } from "../services/market-data/core.ts";
import { OrderBook } from "../services/market-data/order_book.ts";
import { SimMarket } from "../services/market-data/sim_market.ts";

const SYMBOLS = ["AAPL", "MSFT", "SPY", "BTC/USD"];
const sim = new SimMarket({
  seed: 42,
  symbols: SYMBOLS,
  ticksPerSecond: 10_000,
  bookDepth: 10,
  startPrices: { AAPL: 228.14, MSFT: 415.3, SPY: 592.6, "BTC/USD": 97250 },
  tickSize: { "BTC/USD": 0.5 },
});
// 100k messages of realistic sim traffic, cut into 50-message frames (10k/s at a 5 ms timer).
const msgs = sim.due(10_000, Date.parse("2024-03-01T15:00:00Z"));
const FRAME = 50;
const frames: unknown[][] = [];
for (let i = 0; i + FRAME <= msgs.length; i += FRAME) frames.push(msgs.slice(i, i + FRAME));
const textFrames = frames.map((f) => JSON.stringify(f));

const metrics = createServiceMetrics("market-data", { defaultMetrics: false, sampleMs: 60_000 });
let sunk = 0;
const core = new MarketDataCore({
  exchange: "sim",
  symbols: SYMBOLS,
  bars: ["1s", "1m"],
  sink: () => void sunk++,
  metrics: metrics.families,
});
const bookOnly = frames.map((f) => f.filter((m) => (m as { T: string }).T === "o"));
let i = 0;
let j = 0;
let k = 0;

Deno.bench(`core.handle: sim frame of ${FRAME} messages (decoded)`, { group: "core" }, () => {
  core.handle({ receivedTs: nowMs(), frame: frames[i++ % frames.length] });
});

Deno.bench(`core.handle: Alpaca text frame of ${FRAME} messages (JSON.parse included)`, {
  group: "core",
}, () => {
  core.handle({ receivedTs: nowMs(), frame: textFrames[j++ % textFrames.length] });
});

Deno.bench("core.handle: order book deltas only (per frame)", { group: "core" }, () => {
  core.handle({ receivedTs: nowMs(), frame: bookOnly[k++ % bookOnly.length] });
});

// Raw OrderBook: one delta of 3 levels then top() and levels(10), as the core does per update.
const book = new OrderBook("AAPL");
book.apply(
  Array.from({ length: 10 }, (_, n) => ({ price: 228.14 - n / 100, size: 100 })),
  Array.from({ length: 10 }, (_, n) => ({ price: 228.15 + n / 100, size: 100 })),
  true,
);
let seed = 7;
const rnd = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
const deltas = Array.from({ length: 4096 }, () => {
  const side = rnd() < 0.5;
  return {
    bids: side
      ? [{
        price: Math.round((228.14 - Math.floor(rnd() * 12) / 100) * 100) / 100,
        size: rnd() < 0.1 ? 0 : 100,
      }]
      : [],
    asks: side ? [] : [{
      price: Math.round((228.15 + Math.floor(rnd() * 12) / 100) * 100) / 100,
      size: rnd() < 0.1 ? 0 : 100,
    }],
  };
});
let d = 0;
Deno.bench("OrderBook.apply delta + top() + levels(10)", { group: "book" }, () => {
  const x = deltas[d++ & 4095];
  book.apply(x.bids, x.asks, false);
  book.top(10);
  book.levels(10);
});
