/**
 * market-data micro benchmarks: order book updates/s and messages/s through the
 * service core (parse, books, bars, metrics; publishing to a no-op sink).
 * Run: `deno bench -A bench/market-data_bench.ts`.
 */
import { createServiceMetrics } from "../lib/metrics.ts";
import { nowMs } from "../lib/clock.ts";
import { MarketDataCore } from "../services/market-data/core.ts";
import { MarketDataMetrics } from "../services/market-data/metrics.ts";
import { OrderBook } from "../services/market-data/order_book.ts";
import { parseFrame } from "../services/market-data/alpaca_protocol.ts";
import {
  SIM_TRAFFIC_SYMBOLS,
  simTrafficFrames,
} from "../services/market-data/testing/sim_traffic.ts";
import { benchOptions } from "./smoke.ts";

// 100k messages of realistic sim traffic, cut into 50-message frames (10k/s at a 5 ms timer).
const FRAME = 50;
const frames = simTrafficFrames(10_000, FRAME);
const textFrames = frames.map((frame) => JSON.stringify(frame));

const metrics = createServiceMetrics("market-data", { defaultMetrics: false, sampleMs: 60_000 });
let sunk = 0;
const core = new MarketDataCore({
  exchange: "sim",
  symbols: SIM_TRAFFIC_SYMBOLS,
  bars: ["1s", "1m"],
  sink: () => void sunk++,
  metrics: new MarketDataMetrics(metrics.families, {
    exchange: "sim",
    symbols: SIM_TRAFFIC_SYMBOLS,
  }),
});
const bookOnly = frames.map((frame) =>
  frame.filter((message) => (message as { T: string }).T === "o")
);
let decodedIndex = 0;
let textIndex = 0;
let bookIndex = 0;

Deno.bench(
  `core.handle: sim frame of ${FRAME} messages (decoded)`,
  benchOptions({ group: "core" }),
  () => {
    core.handle({ receivedTs: nowMs(), frame: frames[decodedIndex++ % frames.length] });
  },
);

Deno.bench(
  `core.handle: Alpaca text frame of ${FRAME} messages (JSON.parse included)`,
  benchOptions({ group: "core" }),
  () => {
    core.handle({ receivedTs: nowMs(), frame: textFrames[textIndex++ % textFrames.length] });
  },
);

Deno.bench(
  "core.handle: order book deltas only (per frame)",
  benchOptions({ group: "core" }),
  () => {
    core.handle({ receivedTs: nowMs(), frame: bookOnly[bookIndex++ % bookOnly.length] });
  },
);

// Raw OrderBook: one delta of 3 levels then top() and levels(10), as the core does per update.
const book = new OrderBook("AAPL");
book.apply(
  Array.from({ length: 10 }, (_, n) => ({ price: 228.14 - n / 100, size: 100 })),
  Array.from({ length: 10 }, (_, n) => ({ price: 228.15 + n / 100, size: 100 })),
  true,
);
let seed = 7;
const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
const deltas = Array.from({ length: 4096 }, () => {
  const bidSide = random() < 0.5;
  return {
    bids: bidSide
      ? [{
        price: Math.round((228.14 - Math.floor(random() * 12) / 100) * 100) / 100,
        size: random() < 0.1 ? 0 : 100,
      }]
      : [],
    asks: bidSide ? [] : [{
      price: Math.round((228.15 + Math.floor(random() * 12) / 100) * 100) / 100,
      size: random() < 0.1 ? 0 : 100,
    }],
  };
});
let deltaIndex = 0;
Deno.bench("OrderBook.apply delta + top() + levels(10)", benchOptions({ group: "book" }), () => {
  const delta = deltas[deltaIndex++ & 4095];
  book.apply(delta.bids, delta.asks, false);
  book.top(10);
  book.levels(10);
});

// Item 5 of issue 16: crypto trade ids above 2^53 kept exact. The parser quotes them before
// JSON.parse; these measure what that costs on a frame that has them and on one that has not.
const cryptoTrade = (n: number) =>
  `{"T":"t","S":"AVAX/USD","p":${
    47 + n / 1000
  },"s":29.205707815,"t":"2024-03-12T10:27:48.858228144Z","i":${
    3447222699101865076n + BigInt(n)
  },"tks":"S"}`;
const bigIdFrame = `[${Array.from({ length: FRAME }, (_, n) => cryptoTrade(n)).join(",")}]`;
// The same frame with ids below 2^53 (15 digits): what the parse costs without quoting.
const smallIdFrame = bigIdFrame.replaceAll(/"i":(\d{15})\d+/g, '"i":$1');
const stockFrame = textFrames[0];
Deno.bench(
  `parseFrame: ${FRAME} crypto trades with ids above 2^53`,
  benchOptions({ group: "parse" }),
  () => {
    parseFrame(bigIdFrame);
  },
);
Deno.bench(
  `parseFrame: the same ${FRAME} crypto trades with 15-digit ids`,
  benchOptions({ group: "parse", baseline: true }),
  () => {
    parseFrame(smallIdFrame);
  },
);
Deno.bench(
  `JSON.parse alone: the same ${FRAME} crypto trades (ids rounded)`,
  benchOptions({ group: "parse" }),
  () => {
    JSON.parse(bigIdFrame);
  },
);
Deno.bench(
  `parseFrame: sim frame of ${FRAME} messages (no long ids)`,
  benchOptions({ group: "parse" }),
  () => {
    parseFrame(stockFrame);
  },
);
Deno.bench(
  `JSON.parse alone: sim frame of ${FRAME} messages`,
  benchOptions({ group: "parse" }),
  () => {
    JSON.parse(stockFrame);
  },
);
