import assert from "node:assert/strict";
import { createServiceMetrics } from "../../lib/metrics.ts";
import { metric } from "../../lib/testing/messaging.ts";
import { SCHEMAS } from "../../lib/types.ts";
import { nowMs } from "../../lib/clock.ts";
import { type CoreLog, MarketDataCore, type Outgoing } from "./core.ts";
import type { ParseReason } from "./alpaca_protocol.ts";
import { MarketDataMetrics } from "./metrics.ts";
import { coreHarness } from "./testing/core_harness.ts";
import { SIM_TRAFFIC_SYMBOLS, simTrafficFrames } from "./testing/sim_traffic.ts";

const TS = "2024-03-01T15:00:00.250Z";
const TS_MS = Date.parse(TS);

function setup(symbols = ["AAPL", "BTC/USD"]) {
  return coreHarness({ symbols, barGraceMs: 100 });
}

Deno.test("MarketDataCore.handle() publishes a trade and a quote that satisfy the wire schemas", async () => {
  using s = setup();
  const receivedTs = nowMs();
  const n = s.core.handle({
    receivedTs,
    frame: JSON.stringify([
      { T: "t", S: "AAPL", p: 128.14, s: 10, t: TS, i: 7 },
      { T: "q", S: "AAPL", bp: 128.13, bs: 1, ap: 128.15, as: 2, t: TS },
    ]),
  });
  assert.equal(n, 2);
  assert.deepEqual(s.out.map((o) => o.type), ["trade", "quote"]);
  for (const o of s.out) SCHEMAS[o.type].parse(o.body);
  assert.equal((s.out[0].body as { receivedTs: number }).receivedTs, receivedTs);
  assert.equal((s.out[0].body as { price: number }).price, 128.14);
  assert.equal(
    await metric(s.metrics.registry, "market_data_messages_processed_total", {
      message_type: "trade",
      symbol: "AAPL",
      exchange: "alpaca",
    }),
    1,
  );
  const text = await s.metrics.registry.metrics();
  assert.match(
    text,
    /market_data_websocket_latency_us_count\{exchange="alpaca",message_type="quote",symbol="AAPL"\} 1/,
  );
});

Deno.test("MarketDataCore.handle() applies order book snapshots and deltas and publishes the top", async () => {
  using s = setup();
  s.core.handle({
    receivedTs: nowMs(),
    frame: [
      {
        T: "o",
        S: "BTC/USD",
        t: TS,
        b: [{ p: 97250, s: 1 }, { p: 97249.5, s: 2 }],
        a: [{ p: 97250.5, s: 3 }],
        r: true,
      },
      { T: "o", S: "BTC/USD", t: TS, b: [{ p: 97250, s: 0 }], a: [] },
    ],
  });
  assert.deepEqual(s.out.map((o) => o.type), ["book", "book"]);
  const last = SCHEMAS.book.parse(s.out[1].body);
  assert.deepEqual(last.bids, [[97249.5, 2]]);
  assert.deepEqual(last.asks, [[97250.5, 3]]);
  assert.equal(last.mid, 97250);
  assert.equal(last.crossed, false);
  const text = await s.metrics.registry.metrics();
  assert.match(
    text,
    /market_data_orderbook_update_latency_us_count\{symbol="BTC\/USD",update_type="snapshot"\} 1/,
  );
  assert.match(
    text,
    /market_data_orderbook_update_latency_us_count\{symbol="BTC\/USD",update_type="delta"\} 1/,
  );
});

Deno.test("MarketDataCore counts a crossed and a locked book", async () => {
  using s = setup();
  s.core.handle({
    receivedTs: nowMs(),
    frame: [
      { T: "o", S: "BTC/USD", t: TS, b: [{ p: 101, s: 1 }], a: [{ p: 100, s: 1 }], r: true },
      { T: "o", S: "BTC/USD", t: TS, b: [{ p: 101, s: 0 }, { p: 100, s: 1 }] },
    ],
  });
  assert.equal((s.out[0].body as { crossed: boolean }).crossed, true);
  assert.equal(
    await metric(s.metrics.registry, "market_data_book_crossed_total", {
      symbol: "BTC/USD",
      kind: "crossed",
    }),
    1,
  );
  assert.equal(
    await metric(s.metrics.registry, "market_data_book_crossed_total", {
      symbol: "BTC/USD",
      kind: "locked",
    }),
    1,
  );
});

Deno.test("MarketDataCore labels an unconfigured symbol as other and builds no book for it", async () => {
  using s = setup(["AAPL"]);
  s.core.handle({
    receivedTs: nowMs(),
    frame: [
      { T: "t", S: "ZZZZ", p: 1, s: 1, t: TS },
      { T: "o", S: "ETH/USD", t: TS, b: [{ p: 1, s: 1 }], r: true },
    ],
  });
  assert.equal(
    await metric(s.metrics.registry, "market_data_messages_processed_total", {
      symbol: "other",
      message_type: "trade",
    }),
    1,
  );
  assert.equal(s.core.book("ETH/USD"), undefined);
  assert.equal(
    await metric(s.metrics.registry, "market_data_parse_errors_total", {
      reason: "invalid_symbol",
    }),
    1,
  );
});

Deno.test("MarketDataCore.closeBars() publishes bars from trades without a later trade", () => {
  using s = setup();
  s.core.handle({ receivedTs: nowMs(), frame: [{ T: "t", S: "AAPL", p: 128.14, s: 10, t: TS }] });
  s.out.length = 0;
  assert.equal(s.core.closeBars(TS_MS + 100), 0);
  assert.equal(s.core.closeBars(TS_MS + 850), 1);
  const bar = SCHEMAS.bar.parse(s.out[0].body);
  assert.equal(bar.interval, "1s");
  assert.equal(bar.close, 128.14);
  assert.equal(s.core.flushBars(), 1); // the 1m bar
});

Deno.test("MarketDataCore counts a late trade and still publishes it", () => {
  using s = setup();
  s.core.closeBars(TS_MS + 5000);
  s.core.handle({ receivedTs: nowMs(), frame: [{ T: "t", S: "AAPL", p: 1, s: 1, t: TS }] });
  assert.equal(s.core.stats.lateTrades, 1);
  assert.equal(s.out.length, 1);
});

Deno.test("MarketDataCore counts exchange bars but does not republish them", async () => {
  using s = setup();
  s.core.handle({
    receivedTs: nowMs(),
    frame: [{ T: "b", S: "AAPL", o: 1, h: 2, l: 1, c: 2, v: 5, t: TS }],
  });
  assert.equal(s.out.length, 0);
  assert.equal(
    await metric(s.metrics.registry, "market_data_messages_processed_total", {
      message_type: "bar",
    }),
    1,
  );
});

Deno.test("MarketDataCore survives 10k random malformed frames, counts them and keeps working", async () => {
  using s = setup();
  let seed = 99;
  const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
  const good = JSON.stringify([
    { T: "o", S: "BTC/USD", t: TS, b: [{ p: 1, s: 1 }], a: [{ p: 2, s: 1 }], r: true },
    { T: "t", S: "AAPL", p: 1, s: 1, t: TS },
  ]);
  const junk: unknown[] = [null, 1, "x", [], {}, [{ T: "o", S: "BTC/USD", t: TS, b: "no" }], [{
    T: "q",
  }], [[[]]]];
  for (let i = 0; i < 10_000; i++) {
    if (i % 2 === 0) {
      const chars = [...good];
      for (let k = 0; k < 4; k++) {
        chars[Math.floor(random() * chars.length)] = String.fromCharCode(
          32 + Math.floor(random() * 95),
        );
      }
      s.core.handle({ receivedTs: nowMs(), frame: chars.join("") });
    } else {
      const bad = junk[Math.floor(random() * junk.length)];
      s.core.handle({
        receivedTs: nowMs(),
        frame: typeof bad === "string" ? bad : JSON.stringify(bad),
      });
    }
  }
  assert.ok(s.core.stats.parseErrors > 5000);
  for (const o of s.out) SCHEMAS[o.type].parse(o.body);
  const before = s.out.length;
  s.core.handle({ receivedTs: nowMs(), frame: good });
  assert.equal(s.out.length, before + 2);
  assert.ok(
    await metric(s.metrics.registry, "market_data_parse_errors_total", { reason: "invalid_json" }) >
      0,
  );
});

Deno.test("MarketDataCore publishes every data message of realistic sim traffic without a parse error", () => {
  using s = coreHarness({ exchange: "sim", symbols: [...SIM_TRAFFIC_SYMBOLS] });
  let messages = 0;
  for (const frame of simTrafficFrames(500)) {
    messages += frame.length;
    s.core.handle({ receivedTs: nowMs(), frame });
  }
  assert.equal(s.core.stats.parseErrors, 0);
  assert.equal(s.core.stats.messages, messages);
  assert.equal(s.out.length, messages, "sim traffic holds no exchange bars");
  for (const o of s.out.slice(0, 200)) SCHEMAS[o.type].parse(o.body);
});

Deno.test("MarketDataCore reports parse errors and late trades to its log", () => {
  const reported: string[] = [];
  const log: CoreLog = {
    parseError: (reason: ParseReason) => void reported.push(reason),
    lateTrade: (symbol) => void reported.push(`late ${symbol}`),
  };
  const core = new MarketDataCore({
    exchange: "sim",
    symbols: ["AAPL"],
    bars: ["1s"],
    sink: () => {},
    log,
    barGraceMs: 0,
  });
  core.handle({ receivedTs: nowMs(), frame: "not json" });
  core.closeBars(TS_MS + 5000);
  core.handle({ receivedTs: nowMs(), frame: [{ T: "t", S: "AAPL", p: 1, s: 1, t: TS }] });
  assert.deepEqual(reported, ["invalid_json", "late AAPL"]);
});

Deno.test("MarketDataCore records into the MarketDataMetrics it is given", async () => {
  const metrics = createServiceMetrics("market-data", { defaultMetrics: false });
  try {
    const out: Outgoing[] = [];
    const core = new MarketDataCore({
      exchange: "sim",
      symbols: ["AAPL"],
      bars: ["1s"],
      sink: (message) => out.push(message),
      metrics: new MarketDataMetrics(metrics.families, { exchange: "sim", symbols: ["AAPL"] }),
    });
    core.handle({ receivedTs: nowMs(), frame: [{ T: "t", S: "AAPL", p: 1, s: 1, t: TS }] });
    assert.equal(out.length, 1);
    assert.equal(
      await metric(metrics.registry, "market_data_messages_processed_total", {
        message_type: "trade",
        symbol: "AAPL",
        exchange: "sim",
      }),
      1,
    );
  } finally {
    metrics.stop();
  }
});
