/**
 * The streaming feature set of one symbol: every feature is O(1) per update and
 * undefined until it has seen enough data (warm-up is explicit).
 *
 * Price features (returns, EMAs, RSI, MACD, volatility) run on the mid price from
 * quotes and books; spread and imbalance come from the latest quote or book; the
 * trade flow from trades. Periods and windows count price updates (trades for the
 * flow). A quote and a book carrying the same mid at the same exchange time are one
 * price update, not two.
 * @module
 */
import { DEFAULT_FEATURES } from "../../lib/config.ts";
import type { Book, Quote, Trade } from "../../lib/types.ts";
import { Macd } from "./macd.ts";
import { RealizedVolatility } from "./realized_volatility.ts";
import { RingBuffer } from "./ring_buffer.ts";
import { WilderRsi } from "./rsi.ts";
import { TradeFlow, tradeSign } from "./trade_flow.ts";

/** Every feature a model may name, in a fixed order. */
export const FEATURE_NAMES = [
  "mid",
  "return_1",
  "return_n",
  "ema_fast",
  "ema_slow",
  "ema_gap",
  "rsi",
  "macd",
  "macd_signal",
  "macd_hist",
  "volatility",
  "trend_z",
  "spread_bps",
  "book_imbalance",
  "trade_flow",
] as const;
/** One of {@link FEATURE_NAMES}. */
export type FeatureName = typeof FEATURE_NAMES[number];
/** Feature values; undefined while a feature warms up. */
export type FeatureValues = { [K in FeatureName]: number | undefined };

/** True when `name` is one of {@link FEATURE_NAMES}. */
export function isFeatureName(name: string): name is FeatureName {
  return (FEATURE_NAMES as readonly string[]).includes(name);
}

/** Feature parameters (config `signalBridge.features`; defaults: lib/config.ts `DEFAULT_FEATURES`). */
export interface FeatureParams {
  readonly emaFast: number;
  readonly emaSlow: number;
  readonly macdSignal: number;
  readonly rsiPeriod: number;
  readonly returnsWindow: number;
  readonly volatilityWindow: number;
  readonly tradeFlowWindow: number;
  readonly imbalanceLevels: number;
}

function emptyValues(): FeatureValues {
  const values = {} as FeatureValues;
  for (const name of FEATURE_NAMES) values[name] = undefined;
  return values;
}

/**
 * The features of one symbol.
 *
 * Definitions (p = mid price, r = one-update log return):
 * - `mid`: the latest mid; `return_1`: ln(p_t / p_{t-1}); `return_n`: ln(p_t / p_{t-n}),
 *   n = `returnsWindow`.
 * - `ema_fast`, `ema_slow`: EMAs of p seeded with the simple mean ({@link Ema});
 *   `ema_gap`: ema_fast / ema_slow - 1.
 * - `rsi`: Wilder's RSI over `rsiPeriod` changes (0..100).
 * - `macd`: ema_fast - ema_slow; `macd_signal`: EMA(`macdSignal`) of macd;
 *   `macd_hist`: macd - macd_signal (price units).
 * - `volatility`: sqrt(mean r^2) over the last `volatilityWindow` returns.
 * - `trend_z`: ema_gap / volatility (0 when volatility is 0): the trend in units
 *   of one update's typical move, comparable across symbols.
 * - `spread_bps`: (ask - bid) / mid * 10^4 from the latest quote or book.
 * - `book_imbalance`: (bid size - ask size) / (bid size + ask size) over the top
 *   `imbalanceLevels` levels of the latest book (top of book for a quote), -1..1.
 * - `trade_flow`: {@link TradeFlow} over `tradeFlowWindow` trades, signed by
 *   {@link tradeSign} against the latest mid.
 */
export class SymbolFeatures {
  readonly #values: FeatureValues = emptyValues();
  readonly #macd: Macd;
  readonly #rsi: WilderRsi;
  readonly #volatility: RealizedVolatility;
  readonly #prices: RingBuffer;
  readonly #flow: TradeFlow;
  #lastTradePrice: number | undefined;
  #lastMidTs = -1;
  #priceUpdates = 0;
  #oneSided = false;
  /** `receivedTs` of the latest price update (ms), or -Infinity before the first. */
  lastPriceReceivedTs = -Infinity;

  /** Throws a RangeError when a period or window is not a positive integer, or emaFast >= emaSlow. */
  constructor(readonly symbol: string, readonly params: FeatureParams = DEFAULT_FEATURES) {
    this.#macd = new Macd(params.emaFast, params.emaSlow, params.macdSignal);
    this.#rsi = new WilderRsi(params.rsiPeriod);
    this.#volatility = new RealizedVolatility(params.volatilityWindow);
    this.#prices = new RingBuffer(params.returnsWindow + 1);
    this.#flow = new TradeFlow(params.tradeFlowWindow);
  }

  /** The current values (a live read-only view; copy it to keep it). */
  get values(): Readonly<FeatureValues> {
    return this.#values;
  }

  /**
   * True while the latest top of book lacks a side (a one-sided quote, or a book with an
   * empty side), until a two-sided quote or book arrives: the mid is then not tradable.
   */
  get oneSided(): boolean {
    return this.#oneSided;
  }

  /** A quote with a side missing arrived: the market is one-sided until both sides are back. */
  onOneSidedQuote(): void {
    this.#oneSided = true;
  }

  /** Price updates applied so far. */
  get priceUpdates(): number {
    return this.#priceUpdates;
  }

  /** True when every feature in `names` is defined. */
  defined(names: readonly FeatureName[]): boolean {
    for (const name of names) if (this.#values[name] === undefined) return false;
    return true;
  }

  /**
   * Applies a mid price seen at exchange time `exchangeTs`; returns false when it
   * repeats the previous update (same mid, same exchange time) and changes nothing.
   */
  updateMid(mid: number, exchangeTs: number, receivedTs: number): boolean {
    if (!(mid > 0) || !Number.isFinite(mid)) return false;
    if (mid === this.#values.mid && exchangeTs === this.#lastMidTs) return false;
    this.#lastMidTs = exchangeTs;
    this.lastPriceReceivedTs = receivedTs;
    this.#priceUpdates++;
    const values = this.#values;
    const previousMid = values.mid;
    values.mid = mid;
    values.return_1 = previousMid === undefined ? undefined : Math.log(mid / previousMid);
    this.#prices.push(mid);
    values.return_n = this.#prices.full ? Math.log(mid / this.#prices.oldest()!) : undefined;
    const macd = this.#macd.update(mid);
    values.ema_fast = macd.emaFast;
    values.ema_slow = macd.emaSlow;
    values.ema_gap = macd.emaFast !== undefined && macd.emaSlow !== undefined
      ? macd.emaFast / macd.emaSlow - 1
      : undefined;
    values.macd = macd.macd;
    values.macd_signal = macd.signal;
    values.macd_hist = macd.histogram;
    values.rsi = this.#rsi.update(mid);
    values.volatility = this.#volatility.update(mid);
    values.trend_z = values.ema_gap === undefined || values.volatility === undefined
      ? undefined
      : values.volatility > 0
      ? values.ema_gap / values.volatility
      : 0;
    return true;
  }

  /** Applies a quote: spread, top-of-book imbalance and the mid. Returns true if anything changed. */
  onQuote(quote: Quote): boolean {
    if (!(quote.bidPrice > 0 && quote.askPrice >= quote.bidPrice)) return false;
    this.#oneSided = false;
    const mid = (quote.bidPrice + quote.askPrice) / 2;
    this.#values.spread_bps = ((quote.askPrice - quote.bidPrice) / mid) * 1e4;
    const depth = quote.bidSize + quote.askSize;
    this.#values.book_imbalance = depth > 0 ? (quote.bidSize - quote.askSize) / depth : 0;
    this.updateMid(mid, quote.exchangeTs, quote.receivedTs);
    return true;
  }

  /**
   * Applies a book: spread and mid from the best levels, imbalance over the top
   * `imbalanceLevels`. A book with an empty side or crossed best prices is ignored
   * (returns false); an empty side also makes the market {@link oneSided}.
   */
  onBook(book: Book): boolean {
    const bestBid = book.bids[0]?.[0];
    const bestAsk = book.asks[0]?.[0];
    if (bestBid === undefined || bestAsk === undefined) {
      this.#oneSided = true;
      return false;
    }
    if (bestAsk < bestBid) return false;
    this.#oneSided = false;
    const mid = (bestBid + bestAsk) / 2;
    this.#values.spread_bps = ((bestAsk - bestBid) / mid) * 1e4;
    const levels = this.params.imbalanceLevels;
    let bidSize = 0;
    let askSize = 0;
    for (let i = 0; i < levels && i < book.bids.length; i++) bidSize += book.bids[i][1];
    for (let i = 0; i < levels && i < book.asks.length; i++) askSize += book.asks[i][1];
    const depth = bidSize + askSize;
    this.#values.book_imbalance = depth > 0 ? (bidSize - askSize) / depth : 0;
    this.updateMid(mid, book.exchangeTs, book.receivedTs);
    return true;
  }

  /** Applies a trade to the trade flow. Returns true (a trade always changes the flow window). */
  onTrade(trade: Trade): boolean {
    const sign = tradeSign(trade.price, this.#values.mid, this.#lastTradePrice);
    this.#lastTradePrice = trade.price;
    this.#values.trade_flow = this.#flow.update(sign, trade.size);
    return true;
  }
}
