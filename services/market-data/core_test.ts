import assert from "node:assert/strict";
import { createServiceMetrics } from "../../lib/metrics.ts";
import { metric } from "../../lib/testing/messaging.ts";
import {
  type Bar,
  type LuldBand,
  type OneSidedQuote,
  OneSidedQuoteSchema,
  type Quote,
  SCHEMAS,
  type Trade,
  type TradeCorrection,
  type TradingStatus,
} from "../../lib/types.ts";
import { UtcHours } from "../../lib/market_session.ts";
import { nowMs } from "../../lib/clock.ts";
import { BOOK_TIMING_INTERVAL_MS, type CoreLog, MarketDataCore, type Outgoing } from "./core.ts";
import { type ParseReason, parseTimestamp } from "./alpaca_protocol.ts";
import {
  CANCEL_ERROR,
  CANCEL_ERROR_PY,
  CORRECTION,
  CRYPTO_TRADE_TEXT,
  DATA_FIXTURES,
  LULD,
  REST_QUOTE_EMPTY,
  STATUS_HALT,
  STATUS_RESUME,
  STOCK_QUOTE,
  STOCK_TRADE_BATCH,
} from "./testing/alpaca_fixtures.ts";
import { type CoreRecorder, MarketDataMetrics } from "./metrics.ts";
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
    lateCorrection: (symbol, action, outcome) =>
      void reported.push(`${outcome} ${action} ${symbol}`),
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

/** A {@link CoreRecorder} that logs every call, in order, with what the sink published by then. */
function callLog(instrumented: boolean) {
  const calls: string[] = [];
  const out: Outgoing[] = [];
  const log = (name: string) => (...args: unknown[]) =>
    void calls.push(
      `${name}(${args.filter((a) => typeof a === "string").join(",")}) after ${out.length}`,
    );
  const recorder: CoreRecorder = {
    instrumented,
    messageProcessed: log("messageProcessed"),
    frameHandled: (receivedTs, nowEpochMs) => {
      calls.push(`frameHandled after ${out.length}`);
      assert.ok(nowEpochMs >= receivedTs, "the frame's end read after its receipt");
    },
    bookUpdated: (symbol, updateType, elapsedUs) => {
      calls.push(`bookUpdated(${symbol},${updateType}) after ${out.length}`);
      assert.ok(elapsedUs >= 0);
    },
    bookCrossed: log("bookCrossed"),
    parseError: log("parseError"),
    correction: log("correction"),
    tradeExcluded: log("tradeExcluded"),
    marketState: log("marketState"),
  };
  const core = new MarketDataCore({
    exchange: "sim",
    symbols: ["AAPL", "BTC/USD"],
    bars: ["1s"],
    sink: (message) => out.push(message),
    metrics: recorder,
  });
  return { core, calls, out };
}

const BOOK_AND_TRADE = [
  { T: "o", S: "AAPL", t: TS, b: [{ p: 10, s: 1 }], a: [{ p: 10.01, s: 1 }], r: true },
  { T: "t", S: "AAPL", p: 10, s: 1, t: TS },
];

Deno.test("MarketDataCore tallies a frame's data messages and records the frame once, after its last publish", () => {
  const { core, calls, out } = callLog(true);
  core.handle({ receivedTs: nowMs(), frame: BOOK_AND_TRADE });
  core.handle({ receivedTs: nowMs(), frame: [BOOK_AND_TRADE[1]] });
  assert.equal(out.length, 3);
  assert.deepEqual(calls, [
    "bookUpdated(AAPL,snapshot) after 0",
    "messageProcessed(orderbook,AAPL) after 1",
    "messageProcessed(trade,AAPL) after 2",
    "frameHandled after 2",
    "messageProcessed(trade,AAPL) after 3",
    "frameHandled after 3",
  ]);
});

Deno.test("MarketDataCore times every snapshot and a book's first delta of a frame once BOOK_TIMING_INTERVAL_MS have passed since its last timed one", () => {
  const { core, calls } = callLog(true);
  const update = (symbol: string, reset: boolean, n: number) => ({
    T: "o",
    S: symbol,
    t: TS,
    b: [{ p: 10 - n / 100, s: 1 }],
    a: [{ p: 10.01 + n / 100, s: 1 }],
    ...(reset ? { r: true } : {}),
  });
  const deltas = (symbol: string) => [1, 2, 3].map((n) => update(symbol, false, n));
  const timed = () => {
    const out = calls.filter((c) => c.startsWith("bookUpdated")).map((c) => c.split(" ")[0]);
    calls.length = 0;
    return out;
  };
  const t0 = TS_MS;
  // A snapshot is timed, and the book's first delta; not the next ones of the frame.
  core.handle({ receivedTs: t0, frame: [update("AAPL", true, 0), ...deltas("AAPL")] });
  assert.deepEqual(timed(), ["bookUpdated(AAPL,snapshot)", "bookUpdated(AAPL,delta)"]);
  // The first delta of each book, once the interval passed; a snapshot always.
  core.handle({
    receivedTs: t0 + BOOK_TIMING_INTERVAL_MS,
    frame: [...deltas("AAPL"), ...deltas("BTC/USD"), update("AAPL", true, 0)],
  });
  assert.deepEqual(timed(), [
    "bookUpdated(AAPL,delta)",
    "bookUpdated(BTC/USD,delta)",
    "bookUpdated(AAPL,snapshot)",
  ]);
  core.handle({
    receivedTs: t0 + 1.5 * BOOK_TIMING_INTERVAL_MS,
    frame: [...deltas("AAPL"), ...deltas("BTC/USD")],
  });
  assert.deepEqual(timed(), [], "within the interval of both books");
  core.handle({ receivedTs: t0 + 2 * BOOK_TIMING_INTERVAL_MS, frame: deltas("BTC/USD") });
  assert.deepEqual(timed(), ["bookUpdated(BTC/USD,delta)"]);
  assert.equal(core.stats.messages, 4 + 7 + 6 + 3, "every update is counted");
});

Deno.test("MarketDataCore with an uninstrumented recorder neither tallies nor times (instrumentation off costs nothing per message)", () => {
  const { core, calls, out } = callLog(false);
  core.handle({ receivedTs: nowMs(), frame: BOOK_AND_TRADE });
  assert.equal(out.length, 2);
  assert.deepEqual(calls, []);
  assert.equal(core.stats.messages, 2, "the core's own counts go on");
});

/** The bodies of one type the core published. */
function published<T>(out: Outgoing[], type: Outgoing["type"]): T[] {
  return out.filter((o) => o.type === type).map((o) => o.body as T);
}

Deno.test("MarketDataCore publishes every message it makes from Alpaca's fixtures in a valid wire shape", () => {
  using s = coreHarness({ symbols: ["AAPL", "SPY", "MKR/USD", "CRV/USD"] });
  s.core.handle({ receivedTs: nowMs(), frame: JSON.stringify(DATA_FIXTURES) });
  s.core.handle({ receivedTs: nowMs(), frame: `[${CRYPTO_TRADE_TEXT}]` });
  assert.equal(s.core.stats.parseErrors, 0);
  for (const o of s.out) SCHEMAS[o.type].parse(o.body);
  assert.deepEqual([...new Set(s.out.map((o) => o.type))].sort(), [
    "book",
    "luld_band",
    "quote",
    "trade",
    "trade_correction",
    "trading_status",
  ]);
});

Deno.test("MarketDataCore counts every message kind under its own message_type", async () => {
  using s = coreHarness({ symbols: ["AAPL", "SPY"] });
  s.core.handle({ receivedTs: nowMs(), frame: JSON.stringify(DATA_FIXTURES) });
  const count = (message_type: string, symbol = "other") =>
    metric(s.metrics.registry, "market_data_messages_processed_total", {
      message_type,
      symbol,
      exchange: "alpaca",
    });
  assert.equal(await count("daily_bar", "SPY"), 1);
  assert.equal(await count("updated_bar", "AAPL"), 1);
  assert.equal(await count("correction"), 1);
  assert.equal(await count("cancel_error"), 2);
  assert.equal(await count("status", "AAPL"), 1);
  assert.equal(await count("luld"), 1);
  assert.equal(await count("imbalance"), 1);
  assert.equal(
    s.out.filter((o) => o.type === "bar").length,
    0,
    "exchange bars are not republished",
  );
});

Deno.test("MarketDataCore keeps odd lots and Form T trades out of bar prices and the last price", () => {
  using s = coreHarness({ symbols: ["AAPL"], bars: ["1s"], barGraceMs: 0 });
  s.core.handle({ receivedTs: nowMs(), frame: STOCK_TRADE_BATCH });
  const trades = published<Trade>(s.out, "trade");
  assert.deepEqual(trades.map((t) => t.eligible), [false, false, false]);
  assert.equal(s.core.lastPrice("AAPL"), null);
  assert.equal(s.core.stats.excludedTrades, 3);
  using alone = coreHarness({ symbols: ["AAPL"], bars: ["1s"] });
  alone.core.handle({ receivedTs: nowMs(), frame: STOCK_TRADE_BATCH });
  assert.equal(alone.core.flushBars(), 0, "no price-eligible trade: no bar");
  const at = "2023-04-06T11:54:26.9Z";
  s.core.handle({
    receivedTs: nowMs(),
    frame: JSON.stringify([{
      T: "t",
      S: "AAPL",
      i: 9,
      x: "P",
      p: 163,
      s: 100,
      c: ["@"],
      z: "C",
      t: at,
    }]),
  });
  assert.equal(s.core.lastPrice("AAPL"), 163);
  s.core.flushBars();
  const [bar] = published<Bar>(s.out, "bar");
  assert.deepEqual([bar.open, bar.close, bar.volume, bar.trades], [163, 163, 177, 1]);
});

const GOOGL_PRINT = {
  T: "t",
  S: "GOOGL",
  i: 465,
  x: "D",
  p: 105.31,
  s: 300,
  z: "C",
  t: CANCEL_ERROR.t,
};

Deno.test("MarketDataCore takes a cancelled print out of its open bar and the last price", async () => {
  using s = coreHarness({ symbols: ["GOOGL"], bars: ["1m"], barGraceMs: 0 });
  const before = { ...GOOGL_PRINT, i: 464, p: 105.2, s: 100 };
  s.core.handle({ receivedTs: nowMs(), frame: JSON.stringify([before, GOOGL_PRINT]) });
  assert.equal(s.core.lastPrice("GOOGL"), 105.31);
  s.core.handle({ receivedTs: nowMs(), frame: JSON.stringify([CANCEL_ERROR]) });
  const [correction] = published<TradeCorrection>(s.out, "trade_correction");
  assert.deepEqual(
    { ...correction, receivedTs: 0 },
    {
      symbol: "GOOGL",
      action: "cancel",
      tradeId: "465",
      originalPrice: 105.31,
      originalSize: 300,
      correctedPrice: null,
      correctedSize: null,
      outcome: "applied",
      lastPrice: 105.2,
      exchange: "alpaca",
      exchangeTs: parseTimestamp(CANCEL_ERROR.t),
      receivedTs: 0,
    },
  );
  s.core.flushBars();
  const [bar] = published<Bar>(s.out, "bar");
  assert.deepEqual([bar.high, bar.volume, bar.trades], [105.2, 100, 1]);
  assert.equal(
    await metric(s.metrics.registry, "market_data_trade_corrections_total", {
      exchange: "alpaca",
      action: "cancel",
      outcome: "applied",
    }),
    1,
  );
});

Deno.test("MarketDataCore counts a cancel for a published bar as late, and one for an unseen trade as unknown", async () => {
  const reported: string[] = [];
  using s = coreHarness({ symbols: ["GOOGL"], bars: ["1s"], barGraceMs: 0 });
  const core = new MarketDataCore({
    exchange: "alpaca",
    symbols: ["GOOGL"],
    bars: ["1s"],
    barGraceMs: 0,
    sink: (m) => s.out.push(m),
    metrics: new MarketDataMetrics(s.metrics.families, { exchange: "alpaca", symbols: ["GOOGL"] }),
    log: {
      parseError: () => {},
      lateTrade: () => {},
      lateCorrection: (_symbol, action, outcome) => void reported.push(`${outcome} ${action}`),
    },
  });
  core.handle({ receivedTs: nowMs(), frame: JSON.stringify([CANCEL_ERROR_PY]) });
  core.handle({ receivedTs: nowMs(), frame: JSON.stringify([GOOGL_PRINT]) });
  core.closeBars(Date.parse(CANCEL_ERROR.t) + 5000);
  core.handle({ receivedTs: nowMs(), frame: JSON.stringify([CANCEL_ERROR]) });
  assert.deepEqual(published<TradeCorrection>(s.out, "trade_correction").map((c) => c.outcome), [
    "unknown",
    "late",
  ]);
  assert.deepEqual(reported, ["unknown cancel", "late cancel"]);
  assert.equal(core.lastPrice("GOOGL"), null, "the late cancel still mends the last price");
  assert.deepEqual([core.stats.lateCorrections, core.stats.unknownCorrections], [1, 1]);
  assert.equal(
    await metric(s.metrics.registry, "market_data_trade_corrections_total", {
      exchange: "alpaca",
      action: "cancel",
      outcome: "late",
    }),
    1,
  );
});

Deno.test("MarketDataCore takes a cancelled print out of the minute bar still open after its second bar closed", () => {
  using s = coreHarness({ symbols: ["GOOGL"], bars: ["1s", "1m"], barGraceMs: 0 });
  const before = { ...GOOGL_PRINT, i: 464, p: 105.2, s: 100 };
  const ts = Date.parse(CANCEL_ERROR.t);
  s.core.handle({ receivedTs: nowMs(), frame: JSON.stringify([before, GOOGL_PRINT]) });
  assert.equal(s.core.closeBars(ts + 5_000), 1, "the second's bar is published");
  s.core.handle({ receivedTs: nowMs(), frame: JSON.stringify([CANCEL_ERROR]) });
  assert.equal(published<TradeCorrection>(s.out, "trade_correction")[0].outcome, "late");
  assert.equal(s.core.closeBars(ts + 120_000), 1, "the minute's bar is published");
  const minute = published<Bar>(s.out, "bar").find((b) => b.interval === "1m")!;
  assert.deepEqual([minute.high, minute.volume, minute.trades], [105.2, 100, 1]);
  // Both its bars closed: the ledger keeps no bar entry, and the cancel is still late.
  s.core.handle({
    receivedTs: nowMs(),
    frame: JSON.stringify([{ ...CANCEL_ERROR, i: 464, p: 105.2, s: 100 }]),
  });
  const outcomes = published<TradeCorrection>(s.out, "trade_correction").map((c) => c.outcome);
  assert.deepEqual(outcomes, ["late", "late"]);
  assert.equal(s.core.lastPrice("GOOGL"), null, "the late cancel still mends the last price");
});

Deno.test("MarketDataCore replaces a corrected print in its open bar and in the last price", () => {
  using s = coreHarness({ symbols: ["EEM"], bars: ["1m"], barGraceMs: 0 });
  // The print Alpaca's correction fixture names, as it was first sent (its own fields).
  const original = {
    T: "t",
    S: "EEM",
    i: CORRECTION.oi,
    x: CORRECTION.x,
    p: CORRECTION.op,
    s: CORRECTION.os,
    c: CORRECTION.oc,
    z: CORRECTION.z,
    t: CORRECTION.t,
  };
  s.core.handle({ receivedTs: nowMs(), frame: JSON.stringify([original, CORRECTION]) });
  const [correction] = published<TradeCorrection>(s.out, "trade_correction");
  assert.deepEqual(
    [correction.outcome, correction.correctedPrice, correction.lastPrice],
    ["applied", 39.1809, null],
    "a qualified contingent trade (7) never sets the last price",
  );
  assert.equal(s.core.flushBars(), 0, "nor a bar's price");
  // The same correction of a regular print: the corrected price takes its place.
  using r = coreHarness({ symbols: ["EEM"], bars: ["1m"], barGraceMs: 0 });
  r.core.handle({
    receivedTs: nowMs(),
    frame: JSON.stringify([
      { ...original, c: [" "] },
      { ...original, i: 1, p: 39.17, s: 100, c: [" "] },
      { ...CORRECTION, oc: [" "], cc: [" "] },
    ]),
  });
  assert.equal(r.core.lastPrice("EEM"), 39.17, "the later print stays the last price");
  r.core.flushBars();
  const [bar] = published<Bar>(r.out, "bar");
  assert.deepEqual(
    [bar.open, bar.high, bar.close, bar.volume],
    [39.1809, 39.1809, 39.17, 440100],
    "the corrected print keeps the original's place: open, not close",
  );
});

Deno.test("MarketDataCore publishes a quote with a missing side as a one_sided_quote", () => {
  using s = coreHarness({ symbols: ["AAPL"] });
  s.core.handle({
    receivedTs: nowMs(),
    frame: JSON.stringify([
      { T: "q", S: "AAPL", ...REST_QUOTE_EMPTY },
      { ...STOCK_QUOTE, S: "AAPL", ap: 0, as: 0 },
      { ...STOCK_QUOTE, S: "AAPL", bs: 0 },
      { ...STOCK_QUOTE, S: "AAPL" },
    ]),
  });
  const oneSided = published<OneSidedQuote>(s.out, "one_sided_quote");
  assert.deepEqual(oneSided.map((q) => [q.bidPrice, q.bidSize, q.askPrice, q.askSize]), [
    [null, 0, null, 0],
    [87.66, 1, null, 0],
    [null, 0, 87.68, 4],
  ]);
  for (const q of oneSided) OneSidedQuoteSchema.parse(q);
  assert.equal(published<Quote>(s.out, "quote").length, 1);
  assert.equal(s.core.stats.oneSidedQuotes, 3);
});

Deno.test("MarketDataCore publishes a halt at once, holds it across sessions and clears it on resumption", async () => {
  using s = coreHarness({ symbols: ["AAPL", "BTC/USD"] });
  s.core.publishStatus(nowMs(), true);
  assert.deepEqual(published<TradingStatus>(s.out, "trading_status").map((t) => t.state), [
    "open",
    "open",
  ]);
  s.out.length = 0;
  s.core.handle({ receivedTs: nowMs(), frame: JSON.stringify([STATUS_HALT]) });
  const [halt] = published<TradingStatus>(s.out, "trading_status");
  assert.deepEqual([halt.symbol, halt.state, halt.reason, halt.haltCode, halt.haltReasonCode], [
    "AAPL",
    "halted",
    "trading_halt",
    "H",
    "T12",
  ]);
  assert.equal(
    await metric(s.metrics.registry, "market_data_market_state", { symbol: "AAPL" }),
    3,
  );
  s.core.setSchedule(
    new UtcHours({ open: "00:00", close: "00:01" }),
    Date.parse("2025-01-04T12:00:00Z"),
  );
  assert.equal(s.core.statusOf("AAPL", Date.parse("2025-01-04T12:00:00Z")).state, "halted");
  s.out.length = 0;
  s.core.handle({ receivedTs: nowMs(), frame: JSON.stringify([{ ...STATUS_RESUME, S: "AAPL" }]) });
  const [resumed] = published<TradingStatus>(s.out, "trading_status");
  assert.equal(resumed.state, "closed", "resumed, but on a Saturday");
  assert.equal(resumed.reason, "outside_session");
  assert.equal(s.core.statusOf("BTC/USD", Date.parse("2025-01-04T12:00:00Z")).state, "open");
});

Deno.test("MarketDataCore publishes LULD bands", () => {
  using s = coreHarness({ symbols: ["IONM"] });
  s.core.handle({ receivedTs: 5, frame: JSON.stringify([LULD]) });
  assert.deepEqual(published<LuldBand>(s.out, "luld_band"), [{
    symbol: "IONM",
    limitUp: 3.24,
    limitDown: 2.65,
    indicator: "B",
    exchange: "alpaca",
    exchangeTs: parseTimestamp(LULD.t),
    receivedTs: 5,
  }]);
});
