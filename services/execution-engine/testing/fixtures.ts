/**
 * Fixtures of the execution-engine tests and bench: orders, market data (the prices the
 * paper exchange fills against), envelopes and temporary directories.
 * @module
 */
import type { Envelope } from "../../../lib/envelope.ts";
import type { Book, Order, Quote, Trade } from "../../../lib/types.ts";

let made = 0;

/** A valid market order with a fresh client order id; fields may be overridden. */
export function makeOrder(over: Partial<Order> = {}): Order {
  made++;
  return {
    clientOrderId: `t-${Date.now().toString(36)}-${made}`,
    signalId: `sig-${made}`,
    symbol: "AAPL",
    side: "buy",
    qty: 10,
    type: "market",
    timeInForce: "day",
    strategy: "default",
    createdAt: Date.now(),
    tickTs: Date.now(),
    ...over,
  };
}

/** An AAPL quote, 99.99 bid / 100.01 ask, received now; fields may be overridden. */
export function makeQuote(over: Partial<Quote> = {}): Quote {
  const now = Date.now();
  return {
    symbol: "AAPL",
    bidPrice: 99.99,
    bidSize: 100,
    askPrice: 100.01,
    askSize: 100,
    exchange: "sim",
    exchangeTs: now,
    receivedTs: now,
    ...over,
  };
}

/** An AAPL trade print at 100, received now; fields may be overridden. */
export function makeTrade(over: Partial<Trade> = {}): Trade {
  const now = Date.now();
  return {
    symbol: "AAPL",
    price: 100,
    size: 1,
    exchange: "sim",
    exchangeTs: now,
    receivedTs: now,
    ...over,
  };
}

/** An AAPL book, best 99.99 bid / 100.01 ask, received now; fields may be overridden. */
export function makeBook(over: Partial<Book> = {}): Book {
  const now = Date.now();
  return {
    symbol: "AAPL",
    bids: [[99.99, 100]],
    asks: [[100.01, 100]],
    mid: 100,
    spreadBps: 2,
    imbalance: 0,
    crossed: false,
    exchange: "sim",
    exchangeTs: now,
    receivedTs: now,
    ...over,
  };
}

/** An envelope of `type` carrying `body`, as a socket hands it to a handler. */
export function makeEnvelope<T>(type: string, body: T, trace = "trace-test"): Envelope<T> {
  const now = Date.now();
  return { v: 2, type, seq: 1, pub: "test/test", epoch: now, ts: now, trace, body };
}

/** A temporary directory removed by the returned function. */
export async function tempDir(): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await Deno.makeTempDir({ prefix: "ee-test-" });
  return { path, remove: () => Deno.remove(path, { recursive: true }).catch(() => {}) };
}
