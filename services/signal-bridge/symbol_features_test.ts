import assert from "node:assert/strict";
import type { Quote } from "../../lib/types.ts";
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
  SMALL_FEATURES,
} from "./testing/fixtures.ts";
import { sampleBook, sampleQuote, sampleTrade } from "./testing/market_data.ts";

/** The `i`-th quote of a series: received at 1000 + i ms, three times more bid than ask. */
function quote(mid: number, i: number): Quote {
  return sampleQuote(mid, 1_000 + i, { bidSize: 300, askSize: 100 });
}

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
  const prices = fixedSeries(400);
  const features = new SymbolFeatures("AAPL", params);
  const rows = prices.map((price, i) => {
    features.onQuote(quote(price, i));
    return { ...features.values };
  });
  const column = (name: keyof typeof rows[0]) => rows.map((row) => row[name]);
  const fast = batchEma(prices, 12);
  const slow = batchEma(prices, 26);
  const macd = batchMacd(prices, 12, 26, 9);
  const volatility = batchVolatility(prices, 30);
  const gap = prices.map((_, i) => slow[i] === undefined ? undefined : fast[i]! / slow[i]! - 1);
  assertSeriesClose(column("mid"), prices, "mid");
  assertSeriesClose(column("return_1"), batchReturn(prices, 1), "return_1");
  assertSeriesClose(column("return_n"), batchReturn(prices, 10), "return_n");
  assertSeriesClose(column("ema_fast"), fast, "ema_fast");
  assertSeriesClose(column("ema_slow"), slow, "ema_slow");
  assertSeriesClose(column("ema_gap"), gap, "ema_gap");
  assertSeriesClose(column("rsi"), batchRsi(prices, 14), "rsi");
  assertSeriesClose(column("macd"), macd.macd, "macd");
  assertSeriesClose(column("macd_signal"), macd.signal, "macd_signal");
  assertSeriesClose(column("macd_hist"), macd.hist, "macd_hist");
  assertSeriesClose(column("volatility"), volatility, "volatility");
  assertSeriesClose(
    column("trend_z"),
    prices.map((_, i) =>
      gap[i] === undefined || volatility[i] === undefined
        ? undefined
        : volatility[i] === 0
        ? 0
        : gap[i]! / volatility[i]!
    ),
    "trend_z",
    1e-7,
  );
  const last = rows[rows.length - 1];
  assert.ok(Math.abs(last.spread_bps! - (0.02 / prices[prices.length - 1]) * 1e4) < 1e-9);
  assert.equal(last.book_imbalance, 0.5);
  assert.equal(last.trade_flow, undefined);
});

Deno.test("SymbolFeatures counts a quote and a book with the same mid and time as one update", () => {
  const features = new SymbolFeatures("AAPL");
  features.onQuote(quote(100, 0));
  features.onBook(sampleBook([[99.99, 5]], [[100.01, 5]], 1_000));
  assert.equal(features.priceUpdates, 1);
  features.onBook(sampleBook([[99.99, 5]], [[100.01, 5]], 1_001));
  assert.equal(features.priceUpdates, 2);
});

Deno.test("SymbolFeatures takes spread and imbalance from the top levels of a book", () => {
  const features = new SymbolFeatures("AAPL", { ...SMALL_FEATURES, imbalanceLevels: 2 });
  assert.equal(
    features.onBook(sampleBook([[99, 3], [98, 1], [97, 100]], [[101, 1], [102, 1]])),
    true,
  );
  assert.equal(features.values.mid, 100);
  assert.equal(features.values.spread_bps, 200);
  assert.equal(features.values.book_imbalance, (4 - 2) / 6);
});

Deno.test("SymbolFeatures ignores a crossed or one-sided book and a crossed quote", () => {
  const features = new SymbolFeatures("AAPL");
  assert.equal(features.onBook(sampleBook([[101, 1]], [[100, 1]])), false);
  assert.equal(features.onBook(sampleBook([], [[100, 1]])), false);
  assert.equal(features.onQuote({ ...quote(100, 0), bidPrice: 101, askPrice: 100 }), false);
  assert.equal(features.priceUpdates, 0);
  assert.equal(features.values.mid, undefined);
});

Deno.test("SymbolFeatures signs trades against the mid for the trade flow", () => {
  const features = new SymbolFeatures("AAPL", { ...SMALL_FEATURES, tradeFlowWindow: 3 });
  features.onQuote(quote(100, 0));
  const trades: { price: number; size: number; sign: number }[] = [
    { price: 100.01, size: 2, sign: 1 },
    { price: 99.99, size: 1, sign: -1 },
    { price: 100.01, size: 1, sign: 1 },
    { price: 99.99, size: 4, sign: -1 },
  ];
  const got = trades.map(({ price, size }) => {
    features.onTrade(sampleTrade(price, size));
    return features.values.trade_flow;
  });
  assertSeriesClose(got, batchFlow(trades, 3), "flow");
});

Deno.test("SymbolFeatures leaves every feature undefined before any data", () => {
  const features = new SymbolFeatures("AAPL");
  for (const name of FEATURE_NAMES) assert.equal(features.values[name], undefined, name);
  assert.equal(features.defined(["rsi"]), false);
  assert.equal(isFeatureName("rsi"), true);
  assert.equal(isFeatureName("alpha"), false);
});
