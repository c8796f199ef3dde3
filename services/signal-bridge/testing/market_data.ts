/**
 * Sample market data for tests and benches: quotes, trades and books of a symbol
 * (AAPL by default) on the "sim" exchange, and the envelope market-data would wrap
 * them in.
 * @module
 */
import type { Envelope } from "../../../lib/envelope.ts";
import type { Book, Quote, Trade } from "../../../lib/types.ts";

/** Fields of a sample message that differ from the defaults. */
export interface SampleFields {
  /** Default "AAPL". */
  readonly symbol?: string;
  /** Exchange time, epoch ms; default the `receivedTs` given. */
  readonly exchangeTs?: number;
}

/**
 * A quote one cent either side of `mid`, received at `receivedTs` (epoch ms), with
 * sizes of 1 unless given.
 */
export function sampleQuote(
  mid: number,
  receivedTs: number,
  fields: SampleFields & Partial<Pick<Quote, "bidPrice" | "bidSize" | "askPrice" | "askSize">> = {},
): Quote {
  return {
    symbol: fields.symbol ?? "AAPL",
    bidPrice: fields.bidPrice ?? mid - 0.01,
    bidSize: fields.bidSize ?? 1,
    askPrice: fields.askPrice ?? mid + 0.01,
    askSize: fields.askSize ?? 1,
    exchange: "sim",
    exchangeTs: fields.exchangeTs ?? receivedTs,
    receivedTs,
  };
}

/** A trade of `size` at `price`, received at `receivedTs` (epoch ms). */
export function sampleTrade(
  price: number,
  size: number,
  receivedTs = 1,
  fields: SampleFields = {},
): Trade {
  return {
    symbol: fields.symbol ?? "AAPL",
    price,
    size,
    exchange: "sim",
    exchangeTs: fields.exchangeTs ?? receivedTs,
    receivedTs,
  };
}

/** A book of `[price, size]` levels, best first, received at `receivedTs` (epoch ms). */
export function sampleBook(
  bids: [number, number][],
  asks: [number, number][],
  receivedTs = 1,
  fields: SampleFields = {},
): Book {
  return {
    symbol: fields.symbol ?? "AAPL",
    bids,
    asks,
    mid: null,
    spreadBps: null,
    imbalance: null,
    crossed: false,
    exchange: "sim",
    exchangeTs: fields.exchangeTs ?? receivedTs,
    receivedTs,
  };
}

let sequence = 0;

/**
 * An envelope of the market-data publisher carrying `body`, with the next sequence
 * number and `trace` (default 32 `t`s).
 */
export function marketDataEnvelope(
  type: string,
  body: unknown,
  trace = "t".repeat(32),
): Envelope {
  return {
    v: 2,
    type,
    seq: ++sequence,
    pub: "market-data/market_data",
    epoch: 1,
    ts: 0,
    trace,
    body,
  };
}
