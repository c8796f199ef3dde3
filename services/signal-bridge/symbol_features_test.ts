import assert from "node:assert/strict";
import type { Book, Quote, Trade } from "../../lib/types.ts";
import { FEATURE_NAMES, isFeatureName, SymbolFeatures } from "./symbol_features.ts";
import {
  assertSeriesClose,
  batchEma,
  batchFlow,
  batchMacd,
  batchReturn,
  batchRsi,
  batchVolatility,
  fixedSeries,
} from "./testing/fixtures.ts";

function quote(mid: number, i: number, half = 0.01, bidSize = 300, askSize = 100): Quote {
  return {
    symbol: "AAPL",
    bidPrice: mid - half,
    bidSize,
    askPrice: mid + half,
    askSize,
    exchange: "sim",
    exchangeTs: 1_000 + i,
    receivedTs: 1_000 + i,
  };
}

function book(bids: [number, number][], asks: [number, number][], ts = 1): Book {
  return {
    symbol: "AAPL",
    bids,
    asks,
    mid: null,
    spreadBps: null,
    imbalance: null,
    crossed: false,
    exchange: "sim",
    exchangeTs: ts,
    receivedTs: ts,
  };
}

const trade = (price: number, size: number): Trade => ({
  symbol: "AAPL",
  price,
  size,
  exchange: "sim",
  exchangeTs: 1,
  receivedTs: 1,
});

Deno.test("SymbolFeatures matches batch recomputations of every price feature on a fixed series", () => {
  const params = {
    emaFast: 12,
    emaSlow: 26,
    macdSignal: 9,
    rsiPeriod: 14,
    returnsWindow: 10,
    volatilityWindow: 30,
    tradeFlowWindow: 5,
    imbalanceLevels: 2,
  };
  const ps = fixedSeries(400);
  const f = new SymbolFeatures("AAPL", params);
  const rows = ps.map((p, i) => {
    f.onQuote(quote(p, i));
    return { ...f.values };
  });
  const col = (k: keyof typeof rows[0]) => rows.map((r) => r[k]);
  const fast = batchEma(ps, 12);
  const slow = batchEma(ps, 26);
  const macd = batchMacd(ps, 12, 26, 9);
  const vol = batchVolatility(ps, 30);
  const gap = ps.map((_, i) => (slow[i] === undefined ? undefined : fast[i]! / slow[i]! - 1));
  assertSeriesClose(col("mid"), ps, "mid");
  assertSeriesClose(col("return_1"), batchReturn(ps, 1), "return_1");
  assertSeriesClose(col("return_n"), batchReturn(ps, 10), "return_n");
  assertSeriesClose(col("ema_fast"), fast, "ema_fast");
  assertSeriesClose(col("ema_slow"), slow, "ema_slow");
  assertSeriesClose(col("ema_gap"), gap, "ema_gap");
  assertSeriesClose(col("rsi"), batchRsi(ps, 14), "rsi");
  assertSeriesClose(col("macd"), macd.macd, "macd");
  assertSeriesClose(col("macd_signal"), macd.signal, "macd_signal");
  assertSeriesClose(col("macd_hist"), macd.hist, "macd_hist");
  assertSeriesClose(col("volatility"), vol, "volatility");
  assertSeriesClose(
    col("trend_z"),
    ps.map((_, i) =>
      gap[i] === undefined || vol[i] === undefined
        ? undefined
        : vol[i] === 0
        ? 0
        : gap[i]! / vol[i]!
    ),
    "trend_z",
    1e-7,
  );
  const last = rows[rows.length - 1];
  assert.ok(Math.abs(last.spread_bps! - (0.02 / ps[ps.length - 1]) * 1e4) < 1e-9);
  assert.equal(last.book_imbalance, 0.5);
  assert.equal(last.trade_flow, undefined);
});

Deno.test("SymbolFeatures counts a quote and a book with the same mid and time as one update", () => {
  const f = new SymbolFeatures("AAPL");
  f.onQuote(quote(100, 0));
  f.onBook(book([[99.99, 5]], [[100.01, 5]], 1_000));
  assert.equal(f.priceUpdates, 1);
  f.onBook(book([[99.99, 5]], [[100.01, 5]], 1_001));
  assert.equal(f.priceUpdates, 2);
});

Deno.test("SymbolFeatures takes spread and imbalance from the top levels of a book", () => {
  const f = new SymbolFeatures("AAPL", {
    emaFast: 2,
    emaSlow: 3,
    macdSignal: 2,
    rsiPeriod: 2,
    returnsWindow: 1,
    volatilityWindow: 2,
    tradeFlowWindow: 2,
    imbalanceLevels: 2,
  });
  assert.equal(f.onBook(book([[99, 3], [98, 1], [97, 100]], [[101, 1], [102, 1]])), true);
  assert.equal(f.values.mid, 100);
  assert.equal(f.values.spread_bps, 200);
  assert.equal(f.values.book_imbalance, (4 - 2) / 6);
});

Deno.test("SymbolFeatures ignores a crossed or one-sided book and a crossed quote", () => {
  const f = new SymbolFeatures("AAPL");
  assert.equal(f.onBook(book([[101, 1]], [[100, 1]])), false);
  assert.equal(f.onBook(book([], [[100, 1]])), false);
  assert.equal(f.onQuote({ ...quote(100, 0), bidPrice: 101, askPrice: 100 }), false);
  assert.equal(f.priceUpdates, 0);
  assert.equal(f.values.mid, undefined);
});

Deno.test("SymbolFeatures signs trades against the mid for the trade flow", () => {
  const f = new SymbolFeatures("AAPL", {
    emaFast: 2,
    emaSlow: 3,
    macdSignal: 2,
    rsiPeriod: 2,
    returnsWindow: 1,
    volatilityWindow: 2,
    tradeFlowWindow: 3,
    imbalanceLevels: 1,
  });
  f.onQuote(quote(100, 0));
  const ts: [number, number, number][] = [[100.01, 2, 1], [99.99, 1, -1], [100.01, 1, 1], [
    99.99,
    4,
    -1,
  ]];
  const got = ts.map(([p, s]) => (f.onTrade(trade(p, s)), f.values.trade_flow));
  assertSeriesClose(got, batchFlow(ts.map(([, size, sign]) => ({ sign, size })), 3), "flow");
});

Deno.test("SymbolFeatures leaves every feature undefined before any data", () => {
  const f = new SymbolFeatures("AAPL");
  assert.deepEqual(f.missing([...FEATURE_NAMES]), [...FEATURE_NAMES]);
  assert.equal(f.defined(["rsi"]), false);
  assert.equal(isFeatureName("rsi"), true);
  assert.equal(isFeatureName("alpha"), false);
});
