/**
 * The Alpaca market data WebSocket v2 wire format: parses a frame (a JSON array of
 * messages tagged by `T`) into normalised feed messages, and builds the client's
 * actions. Pure functions, no I/O. The sim and replay feeds speak the same format,
 * so every feed goes through one parser.
 *
 * Data: `t` trade (`S`,`p`,`s`,`t`,`i`), `q` quote (`bp`,`bs`,`ap`,`as`), `b` bar
 * (`o`,`h`,`l`,`c`,`v`,`n`,`vw`), `o` crypto order book (`b`/`a` arrays of
 * `{p,s}`, `r` true for a reset snapshot). Control: `success` (`msg` connected or
 * authenticated), `error` (`code`,`msg`), `subscription` (the current lists).
 * @module
 */
import type { LevelUpdate } from "./order_book.ts";

/** A trade print. */
export interface TradeMsg {
  readonly kind: "trade";
  readonly symbol: string;
  readonly price: number;
  readonly size: number;
  readonly exchangeTs: number;
  readonly tradeId?: string;
}
/** A top-of-book quote. */
export interface QuoteMsg {
  readonly kind: "quote";
  readonly symbol: string;
  readonly bidPrice: number;
  readonly bidSize: number;
  readonly askPrice: number;
  readonly askSize: number;
  readonly exchangeTs: number;
}
/** An order book snapshot (`reset`) or delta. */
export interface OrderbookMsg {
  readonly kind: "orderbook";
  readonly symbol: string;
  readonly bids: readonly LevelUpdate[];
  readonly asks: readonly LevelUpdate[];
  readonly reset: boolean;
  readonly exchangeTs: number;
}
/** A minute bar computed by the exchange. */
export interface BarMsg {
  readonly kind: "bar";
  readonly symbol: string;
  readonly open: number;
  readonly high: number;
  readonly low: number;
  readonly close: number;
  readonly volume: number;
  readonly exchangeTs: number;
}
/** `success` control message (`connected`, `authenticated`). */
export interface SuccessMsg {
  readonly kind: "success";
  readonly msg: string;
}
/** `error` control message. */
export interface ErrorMsg {
  readonly kind: "error";
  readonly code: number;
  readonly msg: string;
}
/** `subscription` control message: what the server now sends us. */
export interface SubscriptionMsg {
  readonly kind: "subscription";
  readonly lists: Readonly<Record<string, readonly string[]>>;
}
/** Any message a frame can hold. */
export type FeedMessage =
  | TradeMsg
  | QuoteMsg
  | OrderbookMsg
  | BarMsg
  | SuccessMsg
  | ErrorMsg
  | SubscriptionMsg;
/** The market data kinds (the `message_type` label values). */
export type DataKind = "trade" | "quote" | "orderbook" | "bar";

/** Reasons a frame or message could not be parsed (the `reason` label values). */
export const PARSE_REASONS = [
  "invalid_json",
  "not_array",
  "not_object",
  "unknown_type",
  "invalid_symbol",
  "invalid_field",
  "invalid_timestamp",
] as const;
/** One of {@link PARSE_REASONS}. */
export type ParseReason = typeof PARSE_REASONS[number];

/** A message that could not be parsed, with a stable reason code and a short detail. */
export interface ParseError {
  readonly reason: ParseReason;
  readonly detail: string;
}

/** The result of parsing one frame: the good messages and an error per bad one. */
export interface ParsedFrame {
  readonly messages: FeedMessage[];
  readonly errors: ParseError[];
}

/** Parses a text frame. Never throws: a bad frame gives errors, good messages survive. */
export function parseFrame(text: string): ParsedFrame {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { messages: [], errors: [{ reason: "invalid_json", detail: "frame is not JSON" }] };
  }
  return parseMessages(raw);
}

/** Parses an already-decoded frame (a JSON array of messages). Never throws. */
export function parseMessages(raw: unknown): ParsedFrame {
  const messages: FeedMessage[] = [];
  const errors: ParseError[] = [];
  if (!Array.isArray(raw)) {
    errors.push({ reason: "not_array", detail: "frame is not a JSON array" });
    return { messages, errors };
  }
  for (const item of raw) {
    const result = parseMessage(item);
    if ("reason" in result) errors.push(result);
    else messages.push(result);
  }
  return { messages, errors };
}

type Obj = Record<string, unknown>;

const fail = (reason: ParseReason, detail: string): ParseError => ({ reason, detail });

function isPositive(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v) && v > 0;
}
function isSize(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v) && v >= 0;
}
function isSymbol(v: unknown): v is string {
  return typeof v === "string" && v.length > 0 && v.length <= 20;
}

/** Parses one message object. Returns a {@link ParseError} value instead of throwing. */
export function parseMessage(item: unknown): FeedMessage | ParseError {
  if (item === null || typeof item !== "object" || Array.isArray(item)) {
    return fail("not_object", "message is not an object");
  }
  const message = item as Obj;
  const type = message.T;
  switch (type) {
    case "t":
    case "q":
    case "b":
    case "o":
      return parseData(type, message);
    case "success":
      return typeof message.msg === "string"
        ? { kind: "success", msg: message.msg }
        : fail("invalid_field", "success without msg");
    case "error":
      return typeof message.code === "number" && Number.isInteger(message.code)
        ? {
          kind: "error",
          code: message.code,
          msg: typeof message.msg === "string" ? message.msg : "",
        }
        : fail("invalid_field", "error without an integer code");
    case "subscription": {
      const lists: Record<string, string[]> = {};
      for (const [list, symbols] of Object.entries(message)) {
        if (list === "T") continue;
        if (!Array.isArray(symbols) || !symbols.every((symbol) => typeof symbol === "string")) {
          return fail("invalid_field", `subscription ${list} is not a list of symbols`);
        }
        lists[list] = symbols as string[];
      }
      return { kind: "subscription", lists };
    }
    default:
      return fail(
        "unknown_type",
        `unknown T ${typeof type === "string" ? type.slice(0, 20) : typeof type}`,
      );
  }
}

function parseData(type: "t" | "q" | "b" | "o", message: Obj): FeedMessage | ParseError {
  const symbol = message.S;
  if (!isSymbol(symbol)) return fail("invalid_symbol", "S is not a symbol");
  const exchangeTs = parseTimestamp(message.t);
  if (exchangeTs === undefined) return fail("invalid_timestamp", "t is not an RFC 3339 time");
  switch (type) {
    case "t": {
      if (!isPositive(message.p) || !isSize(message.s)) {
        return fail("invalid_field", "trade p or s");
      }
      const id = message.i;
      return {
        kind: "trade",
        symbol,
        price: message.p,
        size: message.s,
        exchangeTs,
        ...(typeof id === "number" || typeof id === "string" ? { tradeId: String(id) } : {}),
      };
    }
    case "q": {
      if (
        !isPositive(message.bp) || !isSize(message.bs) || !isPositive(message.ap) ||
        !isSize(message.as)
      ) {
        return fail("invalid_field", "quote bp, bs, ap or as");
      }
      return {
        kind: "quote",
        symbol,
        bidPrice: message.bp,
        bidSize: message.bs,
        askPrice: message.ap,
        askSize: message.as,
        exchangeTs,
      };
    }
    case "b": {
      if (
        !isPositive(message.o) || !isPositive(message.h) || !isPositive(message.l) ||
        !isPositive(message.c) ||
        !isSize(message.v)
      ) {
        return fail("invalid_field", "bar o, h, l, c or v");
      }
      return {
        kind: "bar",
        symbol,
        open: message.o,
        high: message.h,
        low: message.l,
        close: message.c,
        volume: message.v,
        exchangeTs,
      };
    }
    case "o": {
      const bids = parseLevels(message.b);
      const asks = parseLevels(message.a);
      if (bids === undefined || asks === undefined) {
        return fail("invalid_field", "orderbook b or a is not a list of {p, s} levels");
      }
      if (message.r !== undefined && typeof message.r !== "boolean") {
        return fail("invalid_field", "r");
      }
      return { kind: "orderbook", symbol, bids, asks, reset: message.r === true, exchangeTs };
    }
  }
}

function parseLevels(value: unknown): LevelUpdate[] | undefined {
  if (value === undefined) return [];
  if (!Array.isArray(value)) return undefined;
  const out: LevelUpdate[] = new Array(value.length);
  for (let i = 0; i < value.length; i++) {
    const level = value[i] as Obj | null;
    if (level === null || typeof level !== "object" || !isPositive(level.p) || !isSize(level.s)) {
      return undefined;
    }
    out[i] = { price: level.p, size: level.s };
  }
  return out;
}

const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Parses an RFC 3339 timestamp with up to nanosecond precision into epoch
 * milliseconds (fractional); `undefined` when it is not one.
 *
 * @example
 * ```ts
 * parseTimestamp("2021-02-22T15:51:44.208123456Z"); // 1614009104208.1235
 * ```
 */
export function parseTimestamp(value: unknown): number | undefined {
  if (typeof value !== "string" || value.length > 40) return undefined;
  const match = RFC3339.exec(value);
  if (!match) return undefined;
  const fraction = match[2];
  const base = Date.parse(match[1] + match[3]); // seconds + zone
  if (!Number.isFinite(base) || base < 0) return undefined;
  return fraction === undefined ? base : base + Number("0." + fraction) * 1000;
}

/** Formats epoch milliseconds as RFC 3339 (millisecond precision), as the sim feed sends it. */
export function formatTimestamp(ms: number): string {
  return new Date(Math.floor(ms)).toISOString();
}

/** The `auth` action. */
export function authAction(key: string, secret: string): string {
  return JSON.stringify({ action: "auth", key, secret });
}

/**
 * The `subscribe` action for a set of symbols: trades and quotes for all, bars for
 * all, and order books for crypto symbols (those with a `/`).
 */
export function subscribeAction(symbols: readonly string[], crypto: boolean): string {
  const list = [...symbols];
  return JSON.stringify({
    action: "subscribe",
    trades: list,
    quotes: list,
    bars: list,
    ...(crypto ? { orderbooks: list } : {}),
  });
}
