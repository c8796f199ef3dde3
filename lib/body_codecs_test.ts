import assert from "node:assert/strict";
import { decodeFrame, encode, encodeFrame, type Envelope } from "./envelope.ts";
import { SCHEMAS } from "./types.ts";

const env = (type: string, body: unknown): Envelope => ({
  v: 2,
  type,
  seq: 1,
  pub: "market-data/market_data",
  epoch: 1,
  ts: 2,
  trace: "ab".repeat(16),
  body,
});

const trade = {
  symbol: "AAPL",
  price: 228.14,
  size: 37,
  exchange: "sim",
  exchangeTs: 1_764_620_000_123.25,
  receivedTs: 1_764_620_000_124.5,
};
const quote = {
  symbol: "BTC/USD",
  bidPrice: 97250,
  bidSize: 0.5,
  askPrice: 97250.5,
  askSize: 0.25,
  exchange: "alpaca",
  exchangeTs: 1_764_620_000_123,
  receivedTs: 1_764_620_000_124,
};
const book = {
  symbol: "AAPL",
  bids: [[228.14, 300], [228.13, 0.001]] as [number, number][],
  asks: [[228.15, 200]] as [number, number][],
  mid: 228.145,
  spreadBps: 0.438,
  imbalance: -0.2,
  crossed: false,
  exchange: "sim",
  exchangeTs: 1_764_620_000_123,
  receivedTs: 1_764_620_000_124,
};

/** The codec byte of the record `encode` writes. */
const codecOf = (e: Envelope) => encode(e)[1];
const roundTrip = (e: Envelope) => decodeFrame(encodeFrame([e]))[0];

Deno.test("trade, quote and book bodies travel in their fixed layouts and come back equal", () => {
  const cases: [string, unknown, number][] = [
    ["trade", trade, 1],
    ["trade", { ...trade, tradeId: "3447222699101865076", eligible: false }, 1],
    ["trade", { ...trade, eligible: true }, 1],
    ["quote", quote, 2],
    ["book", book, 3],
    ["book", { ...book, bids: [], asks: [], mid: null, spreadBps: null, imbalance: null }, 3],
    ["book", { ...book, crossed: true, symbol: "ÄÖÜ" }, 3],
  ];
  for (const [type, body, codec] of cases) {
    const e = env(type, body);
    assert.equal(codecOf(e), codec, `${type} codec`);
    const back = roundTrip(e);
    assert.deepEqual(back.env, e, type);
    assert.equal(back.checked, true, `${type} is checked by its layout`);
  }
});

Deno.test("a layout is used only when it holds the body exactly; any other body goes as JSON", () => {
  const odd: unknown[] = [
    { ...trade, extra: 1 },
    { ...trade, price: "228.14" },
    { ...trade, tradeId: 12 },
    { ...book, bids: [[1, 2, 3]] },
    { ...book, mid: "x" },
    [1, 2],
    null,
    { ...quote, symbol: "S".repeat(300) },
  ];
  for (const body of odd) {
    const type = Array.isArray(body) || body === null
      ? "book"
      : "price" in (body as object)
      ? "trade"
      : "bids" in (body as object)
      ? "book"
      : "quote";
    const e = env(type, body);
    assert.equal(codecOf(e), 0, JSON.stringify(body)?.slice(0, 60));
    assert.deepEqual(roundTrip(e).env, e);
    assert.equal(roundTrip(e).checked, false, "a JSON body still goes through its schema");
  }
});

Deno.test("reading a layout checks exactly what the type's schema checks", () => {
  // Each variant is written in its layout (the JS types fit); `checked` must say what
  // zod says of the body read back.
  const variants: [keyof typeof SCHEMAS, Record<string, unknown>][] = [
    ["trade", trade],
    ["trade", { ...trade, price: 0 }],
    ["trade", { ...trade, price: -1 }],
    ["trade", { ...trade, price: Infinity }],
    ["trade", { ...trade, size: -0.1 }],
    ["trade", { ...trade, size: 0 }],
    ["trade", { ...trade, symbol: "" }],
    ["trade", { ...trade, symbol: "X".repeat(21) }],
    ["trade", { ...trade, receivedTs: -1 }],
    ["trade", { ...trade, exchangeTs: NaN }],
    ["quote", quote],
    ["quote", { ...quote, askPrice: 0 }],
    ["quote", { ...quote, bidSize: -1 }],
    ["book", book],
    ["book", { ...book, bids: [[0, 1]] }],
    ["book", { ...book, asks: [[1, -1]] }],
    ["book", { ...book, asks: [[1, Infinity]] }],
    ["book", { ...book, mid: 0 }],
    ["book", { ...book, mid: -5 }],
    ["book", { ...book, imbalance: 1.5 }],
    ["book", { ...book, imbalance: -1 }],
    ["book", { ...book, spreadBps: Infinity }],
    ["book", { ...book, spreadBps: -3 }],
    ["book", { ...book, exchangeTs: -1 }],
  ];
  for (const [type, body] of variants) {
    const e = env(type, body);
    assert.notEqual(codecOf(e), 0, `${type} ${JSON.stringify(body)} uses its layout`);
    const back = roundTrip(e);
    const zod = SCHEMAS[type].safeParse(back.env.body).success;
    assert.equal(back.checked, zod, `${type} ${JSON.stringify(body)}: checked ${back.checked}`);
  }
});

Deno.test("a book's level counts cannot make the reader run past its body", () => {
  const record = encode(env("book", book));
  // symbol and exchange come first: 1 + 4 + 1 + 3 bytes after the header, then crossed.
  const at = 57 + "book".length + "market-data/market_data".length + 9;
  new DataView(record.buffer).setUint16(at + 1, 60_000, true);
  assert.throws(() => decodeFrame(record.toBase64()), /Cannot decode envelope/);
});
