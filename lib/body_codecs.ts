/**
 * The body codecs of the wire format (lib/envelope.ts): JSON for every type, and fixed
 * binary layouts for the three market-data types every subscriber reads at the feed's
 * rate (`trade`, `quote`, `book`), where they pay: a 10-level book is written in
 * ~0.3 µs and read in ~0.5 µs instead of ~2.7 µs and ~2.5 µs as JSON (bench/wire_bench.ts).
 *
 * A layout is used only when it holds the body exactly (the type's keys, each of the
 * JS type the layout writes); any other body of that type travels as JSON. Reading a
 * layout checks every value against the type's schema (lib/types.ts) as it goes, so a
 * receiver needs no schema for it (`checked`); a value out of range leaves the body
 * unchecked, and the receiver's schema then refuses it with its usual error.
 *
 * Layouts (integers and floats little-endian; `str` is a one-byte length and UTF-8;
 * `f64?` is NaN for `null`):
 *
 * | codec | type    | fields, in order                                                                 |
 * | ----- | ------- | -------------------------------------------------------------------------------- |
 * | 0     | any     | the body as UTF-8 JSON text (an undefined body is `null`)                        |
 * | 1     | `trade` | u8 bits (1: tradeId present, 2: eligible present, 4: eligible), str symbol, str exchange, [str tradeId], f64 price, f64 size, f64 exchangeTs, f64 receivedTs |
 * | 2     | `quote` | str symbol, str exchange, f64 bidPrice, f64 bidSize, f64 askPrice, f64 askSize, f64 exchangeTs, f64 receivedTs |
 * | 3     | `book`  | str symbol, str exchange, u8 crossed (0/1), u16 bid levels N, u16 ask levels M, f64? mid, f64? spreadBps, f64? imbalance, f64 exchangeTs, f64 receivedTs, N x (f64 price, f64 size), M x (f64 price, f64 size) |
 *
 * @module
 */
import type { ByteReader, ByteWriter } from "./bytes.ts";

/** The body codecs by code. */
export const BODY_CODECS = { 0: "json", 1: "trade", 2: "quote", 3: "book" } as const;

/** A body that could not be read: `not_json` (a JSON body that does not parse) or `bad_envelope`. */
export class BodyDecodeError extends Error {
  /** The decode-error code (lib/envelope.ts). */
  readonly code: "not_json" | "bad_envelope";
  constructor(code: "not_json" | "bad_envelope", message: string) {
    super(message);
    this.name = "BodyDecodeError";
    this.code = code;
  }
}

type Rec = Record<string, unknown>;

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

function isPlainObject(b: unknown): b is Rec {
  return typeof b === "object" && b !== null && !Array.isArray(b);
}

/** Own enumerable keys whose value is not undefined (the keys JSON would write). */
function definedKeys(b: Rec): number {
  let n = 0;
  for (const k in b) if (b[k] !== undefined) n++;
  return n;
}

const num = (v: unknown): v is number => typeof v === "number";
const str = (v: unknown): v is string => typeof v === "string";
const numOrNull = (v: unknown): boolean => v === null || typeof v === "number";

function isLevels(v: unknown): v is [number, number][] {
  if (!Array.isArray(v) || v.length > 0xffff) return false;
  for (let i = 0; i < v.length; i++) {
    const l = v[i];
    if (!Array.isArray(l) || l.length !== 2 || !num(l[0]) || !num(l[1])) return false;
  }
  return true;
}

/**
 * Writes `body` in the codec of `type` (a layout when it holds the body exactly, else
 * JSON) and returns the codec's code.
 *
 * @throws {TypeError} If the body cannot be written as JSON (a BigInt, a cycle).
 */
export function encodeBody(w: ByteWriter, type: string, body: unknown): number {
  if (isPlainObject(body)) {
    const start = w.pos;
    if (type === "book" && writeBook(w, body)) return 3;
    if (type === "quote" && writeQuote(w, body)) return 2;
    if (type === "trade" && writeTrade(w, body)) return 1;
    w.pos = start;
  }
  const text = JSON.stringify(body) ?? "null";
  const at = w.reserve(text.length * 3);
  const { written } = utf8.encodeInto(text, w.buf.subarray(at));
  w.pos = at + written;
  return 0;
}

function writeTrade(w: ByteWriter, b: Rec): boolean {
  const hasId = b.tradeId !== undefined;
  const hasEligible = b.eligible !== undefined;
  if (
    !str(b.symbol) || !str(b.exchange) || !num(b.price) || !num(b.size) ||
    !num(b.exchangeTs) || !num(b.receivedTs) || (hasId && !str(b.tradeId)) ||
    (hasEligible && typeof b.eligible !== "boolean") ||
    definedKeys(b) !== 6 + (hasId ? 1 : 0) + (hasEligible ? 1 : 0)
  ) {
    return false;
  }
  w.u8((hasId ? 1 : 0) | (hasEligible ? 2 : 0) | (b.eligible === true ? 4 : 0));
  if (!w.str8(b.symbol) || !w.str8(b.exchange)) return false;
  if (hasId && !w.str8(b.tradeId as string)) return false;
  w.f64(b.price);
  w.f64(b.size);
  w.f64(b.exchangeTs);
  w.f64(b.receivedTs);
  return true;
}

function writeQuote(w: ByteWriter, b: Rec): boolean {
  if (
    !str(b.symbol) || !str(b.exchange) || !num(b.bidPrice) || !num(b.bidSize) ||
    !num(b.askPrice) || !num(b.askSize) || !num(b.exchangeTs) || !num(b.receivedTs) ||
    definedKeys(b) !== 8
  ) {
    return false;
  }
  if (!w.str8(b.symbol) || !w.str8(b.exchange)) return false;
  w.f64(b.bidPrice);
  w.f64(b.bidSize);
  w.f64(b.askPrice);
  w.f64(b.askSize);
  w.f64(b.exchangeTs);
  w.f64(b.receivedTs);
  return true;
}

function writeBook(w: ByteWriter, b: Rec): boolean {
  if (
    !str(b.symbol) || !str(b.exchange) || typeof b.crossed !== "boolean" ||
    !isLevels(b.bids) || !isLevels(b.asks) || !numOrNull(b.mid) || !numOrNull(b.spreadBps) ||
    !numOrNull(b.imbalance) || !num(b.exchangeTs) || !num(b.receivedTs) || definedKeys(b) !== 10
  ) {
    return false;
  }
  if (!w.str8(b.symbol) || !w.str8(b.exchange)) return false;
  const bids = b.bids;
  const asks = b.asks;
  const at = w.reserve(5 + 40 + 16 * (bids.length + asks.length));
  const view = w.view;
  view.setUint8(at, b.crossed ? 1 : 0);
  view.setUint16(at + 1, bids.length, true);
  view.setUint16(at + 3, asks.length, true);
  view.setFloat64(at + 5, (b.mid as number | null) ?? NaN, true);
  view.setFloat64(at + 13, (b.spreadBps as number | null) ?? NaN, true);
  view.setFloat64(at + 21, (b.imbalance as number | null) ?? NaN, true);
  view.setFloat64(at + 29, b.exchangeTs, true);
  view.setFloat64(at + 37, b.receivedTs, true);
  let o = at + 45;
  for (let i = 0; i < bids.length; i++, o += 16) {
    view.setFloat64(o, bids[i][0], true);
    view.setFloat64(o + 8, bids[i][1], true);
  }
  for (let i = 0; i < asks.length; i++, o += 16) {
    view.setFloat64(o, asks[i][0], true);
    view.setFloat64(o + 8, asks[i][1], true);
  }
  w.pos = o;
  return true;
}

/** A decoded body, and whether every value was checked against its type's schema. */
export interface DecodedBody {
  readonly body: unknown;
  readonly checked: boolean;
}

const isSymbol = (s: string) => s.length >= 1 && s.length <= 20;
const isPrice = (v: number) => v > 0 && v < Infinity;
const isNonNeg = (v: number) => v >= 0 && v < Infinity;

/**
 * Reads a body of `length` bytes in `codec` at the reader's position.
 *
 * @throws {BodyDecodeError} If the bytes do not hold a body of that codec.
 */
export function decodeBody(r: ByteReader, codec: number, length: number): DecodedBody {
  try {
    switch (codec) {
      case 0:
        return readJson(r, length);
      case 1:
        return readTrade(r);
      case 2:
        return readQuote(r);
      case 3:
        return readBook(r);
      default:
        throw new BodyDecodeError("bad_envelope", `body codec ${codec} is unknown`);
    }
  } catch (error) {
    if (error instanceof BodyDecodeError) throw error;
    throw new BodyDecodeError(
      "bad_envelope",
      `the ${length}-byte ${BODY_CODECS[codec as 1]} body is malformed: ${
        (error as Error).message
      }`,
    );
  }
}

function readJson(r: ByteReader, length: number): DecodedBody {
  r.need(length);
  let text: string;
  try {
    text = utf8Decoder.decode(r.buf.subarray(r.pos, r.pos + length));
  } catch {
    throw new BodyDecodeError("not_json", `the ${length}-byte JSON body is not UTF-8`);
  }
  r.pos += length;
  try {
    return { body: JSON.parse(text), checked: false };
  } catch {
    throw new BodyDecodeError("not_json", `the ${length}-byte body is not JSON`);
  }
}

function readTrade(r: ByteReader): DecodedBody {
  const bits = r.u8();
  const symbol = r.str8();
  const exchange = r.str8();
  const tradeId = bits & 1 ? r.str8() : undefined;
  const price = r.f64();
  const size = r.f64();
  const exchangeTs = r.f64();
  const receivedTs = r.f64();
  const body: Rec = { symbol, price, size, exchange, exchangeTs, receivedTs };
  if (tradeId !== undefined) body.tradeId = tradeId;
  if (bits & 2) body.eligible = (bits & 4) !== 0;
  const checked = isSymbol(symbol) && isPrice(price) && isNonNeg(size) &&
    isNonNeg(exchangeTs) && isNonNeg(receivedTs);
  return { body, checked };
}

function readQuote(r: ByteReader): DecodedBody {
  const symbol = r.str8();
  const exchange = r.str8();
  const bidPrice = r.f64();
  const bidSize = r.f64();
  const askPrice = r.f64();
  const askSize = r.f64();
  const exchangeTs = r.f64();
  const receivedTs = r.f64();
  const checked = isSymbol(symbol) && isPrice(bidPrice) && isNonNeg(bidSize) &&
    isPrice(askPrice) && isNonNeg(askSize) && isNonNeg(exchangeTs) && isNonNeg(receivedTs);
  return {
    body: { symbol, bidPrice, bidSize, askPrice, askSize, exchange, exchangeTs, receivedTs },
    checked,
  };
}

function nullable(v: number): number | null {
  return Number.isNaN(v) ? null : v;
}

function readLevels(r: ByteReader, n: number, ok: { ok: boolean }): [number, number][] {
  r.need(16 * n);
  const view = r.view;
  const out = new Array<[number, number]>(n);
  let o = r.pos;
  let valid = true;
  for (let i = 0; i < n; i++, o += 16) {
    const price = view.getFloat64(o, true);
    const size = view.getFloat64(o + 8, true);
    valid = valid && isPrice(price) && isNonNeg(size);
    out[i] = [price, size];
  }
  r.pos = o;
  if (!valid) ok.ok = false;
  return out;
}

function readBook(r: ByteReader): DecodedBody {
  const symbol = r.str8();
  const exchange = r.str8();
  r.need(45);
  const view = r.view;
  const at = r.pos;
  const crossedByte = view.getUint8(at);
  const nBids = view.getUint16(at + 1, true);
  const nAsks = view.getUint16(at + 3, true);
  const mid = nullable(view.getFloat64(at + 5, true));
  const spreadBps = nullable(view.getFloat64(at + 13, true));
  const imbalance = nullable(view.getFloat64(at + 21, true));
  const exchangeTs = view.getFloat64(at + 29, true);
  const receivedTs = view.getFloat64(at + 37, true);
  r.pos = at + 45;
  const levelsOk = { ok: true };
  const bids = readLevels(r, nBids, levelsOk);
  const asks = readLevels(r, nAsks, levelsOk);
  const checked = levelsOk.ok && crossedByte <= 1 && isSymbol(symbol) &&
    (mid === null || isPrice(mid)) &&
    (spreadBps === null || Number.isFinite(spreadBps)) &&
    (imbalance === null || (imbalance >= -1 && imbalance <= 1)) &&
    isNonNeg(exchangeTs) && isNonNeg(receivedTs);
  if (crossedByte > 1) throw new BodyDecodeError("bad_envelope", "book crossed is not 0 or 1");
  return {
    body: {
      symbol,
      bids,
      asks,
      mid,
      spreadBps,
      imbalance,
      crossed: crossedByte === 1,
      exchange,
      exchangeTs,
      receivedTs,
    },
    checked,
  };
}
