/**
 * The Alpaca market data WebSocket v2 wire format: parses a frame (a JSON array of
 * messages tagged by `T`) into normalised feed messages, and builds the client's
 * actions. Pure functions, no I/O. The sim and replay feeds speak the same format,
 * so every feed goes through one parser.
 *
 * Data (docs.alpaca.markets/docs/real-time-stock-pricing-data and
 * real-time-crypto-pricing-data; fixtures in `testing/alpaca_fixtures.ts`):
 * - `t` trade (`S`,`p`,`s`,`t`,`i`; stocks also `x` exchange, `c` conditions, `z` tape);
 * - `q` quote (`bp`,`bs`,`ap`,`as`; a side may be 0/0: it is then missing);
 * - `b` minute bar, `d` daily bar, `u` updated bar (`o`,`h`,`l`,`c`,`v`,`n`,`vw`);
 * - `c` trade correction (`x`, original `oi`,`op`,`os`,`oc`, corrected `ci`,`cp`,`cs`,`cc`);
 * - `x` trade cancel/error (`i`,`x`,`p`,`s`, `a` "C" cancel or "E" error);
 * - `s` trading status (`sc`,`sm`,`rc`,`rm`), `l` LULD band (`u`,`d`,`i`), `i` order
 *   imbalance (`p`);
 * - `o` crypto order book (`b`/`a` arrays of `{p,s}`, `r` true for a reset snapshot).
 * Control: `success` (`msg` connected or authenticated), `error` (`code`,`msg`),
 * `subscription` (the current lists; lists may be missing).
 *
 * Numbers: crypto trade ids exceed 2^53 (`"i":3447222699101865076` in Alpaca's own
 * example), which `JSON.parse` would round. {@link parseFrame} quotes every integer of 16
 * digits or more under the keys `i`, `oi` and `ci` before parsing (one native regex test
 * per frame; the replacement runs only when such a number is present), so ids stay exact
 * as strings.
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
  /** The trade id, exact (ids above 2^53 arrive as strings). */
  readonly tradeId?: string;
  /** The exchange code where it traded (`x`; stocks only). */
  readonly venue?: string;
  /** Trade conditions (`c`; stocks only). */
  readonly conditions?: readonly string[];
  /** The tape (`z`: A, B, C, O; stocks only). */
  readonly tape?: string;
}
/**
 * A top-of-book quote. Prices and sizes are as sent: a side whose price or size is 0 is
 * missing (the core publishes such a quote as a `one_sided_quote`).
 */
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
/** A bar computed by the exchange: minute (`b`), daily (`d`) or updated minute (`u`). */
export interface BarMsg {
  readonly kind: "bar" | "daily_bar" | "updated_bar";
  readonly symbol: string;
  readonly open: number;
  readonly high: number;
  readonly low: number;
  readonly close: number;
  readonly volume: number;
  readonly exchangeTs: number;
}
/** A trade correction (`c`): the trade `originalId` is replaced by `correctedId`. */
export interface CorrectionMsg {
  readonly kind: "correction";
  readonly symbol: string;
  readonly venue?: string;
  readonly tape?: string;
  readonly originalId: string;
  readonly originalPrice: number;
  readonly originalSize: number;
  readonly originalConditions: readonly string[];
  readonly correctedId: string;
  readonly correctedPrice: number;
  readonly correctedSize: number;
  readonly correctedConditions: readonly string[];
  readonly exchangeTs: number;
}
/** A trade cancel or error (`x`): the trade `tradeId` did not stand. */
export interface CancelErrorMsg {
  readonly kind: "cancel_error";
  readonly symbol: string;
  readonly venue?: string;
  readonly tape?: string;
  readonly tradeId: string;
  readonly price: number;
  readonly size: number;
  /** `C` cancel, `E` error (both take the trade out). */
  readonly action: string;
  readonly exchangeTs: number;
}
/** A trading status (`s`): `statusCode` per tape (CTA `2` halt, `3` resume; UTP `H`, `P`, `Q`, `T`). */
export interface StatusMsg {
  readonly kind: "status";
  readonly symbol: string;
  readonly statusCode: string;
  readonly statusMessage: string;
  readonly reasonCode: string;
  readonly reasonMessage: string;
  readonly tape?: string;
  readonly exchangeTs: number;
}
/** A Limit Up-Limit Down band (`l`). */
export interface LuldMsg {
  readonly kind: "luld";
  readonly symbol: string;
  readonly limitUp: number;
  readonly limitDown: number;
  readonly indicator: string;
  readonly tape?: string;
  readonly exchangeTs: number;
}
/** An order imbalance (`i`), typically sent during LULD halts. */
export interface ImbalanceMsg {
  readonly kind: "imbalance";
  readonly symbol: string;
  readonly price: number;
  readonly tape?: string;
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
  | CorrectionMsg
  | CancelErrorMsg
  | StatusMsg
  | LuldMsg
  | ImbalanceMsg
  | SuccessMsg
  | ErrorMsg
  | SubscriptionMsg;

/** The market data kinds: the `message_type` label values. */
export const DATA_KINDS = [
  "trade",
  "quote",
  "orderbook",
  "bar",
  "daily_bar",
  "updated_bar",
  "correction",
  "cancel_error",
  "status",
  "luld",
  "imbalance",
] as const;
/** One of {@link DATA_KINDS}. */
export type DataKind = typeof DATA_KINDS[number];

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

/** An id key followed by 16 digits: the shortest an integer at or above 2^53 can be. */
const LONG_DIGITS = /"(?:i|oi|ci)"\s*:\s*-?\d{16}/;
/** An id key (`i`, `oi`, `ci`) holding an integer of 16 digits or more. */
const LONG_ID = /([{,]\s*"(?:i|oi|ci)"\s*:\s*)(-?\d{16,})(?=\s*[,}])/g;

/**
 * Quotes the long integer ids of a frame's text (`"i":3447222699101865076` becomes
 * `"i":"3447222699101865076"`) so that `JSON.parse` keeps every digit. Only a key at the
 * start of an object member is matched, never text inside a string (a quote inside a JSON
 * string is escaped), and only integers (no fraction or exponent follows).
 *
 * @example
 * ```ts
 * quoteLongIds('[{"T":"t","i":3447222699101865076}]'); // '[{"T":"t","i":"3447222699101865076"}]'
 * ```
 */
export function quoteLongIds(text: string): string {
  return LONG_DIGITS.test(text) ? text.replace(LONG_ID, '$1"$2"') : text;
}

/** Parses a text frame. Never throws: a bad frame gives errors, good messages survive. */
export function parseFrame(text: string): ParsedFrame {
  let raw: unknown;
  try {
    raw = JSON.parse(quoteLongIds(text));
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
/** A short code string (exchange, tape, condition, status code), or undefined. */
function code(v: unknown, max = 8): string | undefined {
  return typeof v === "string" && v.length <= max ? v : undefined;
}
/** A trade id as an exact string: a safe integer, or the digits {@link quoteLongIds} kept. */
function tradeIdOf(v: unknown): string | undefined {
  if (typeof v === "number") return Number.isSafeInteger(v) ? String(v) : undefined;
  if (typeof v === "string" && v.length > 0 && v.length <= 40) return v;
  return undefined;
}
/** Trade conditions: a list of short strings (missing: none). Undefined when malformed. */
function conditionsOf(v: unknown): string[] | undefined {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.length > 16) return undefined;
  for (const c of v) if (typeof c !== "string" || c.length > 4) return undefined;
  return v as string[];
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
    case "d":
    case "u":
    case "o":
    case "c":
    case "x":
    case "s":
    case "l":
    case "i":
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

type DataType = "t" | "q" | "b" | "d" | "u" | "o" | "c" | "x" | "s" | "l" | "i";

const BAR_KINDS = { b: "bar", d: "daily_bar", u: "updated_bar" } as const;

function parseData(type: DataType, message: Obj): FeedMessage | ParseError {
  const symbol = message.S;
  if (!isSymbol(symbol)) return fail("invalid_symbol", "S is not a symbol");
  const exchangeTs = parseTimestamp(message.t);
  if (exchangeTs === undefined) return fail("invalid_timestamp", "t is not an RFC 3339 time");
  const tape = code(message.z);
  switch (type) {
    case "t": {
      if (!isPositive(message.p) || !isSize(message.s)) {
        return fail("invalid_field", "trade p or s");
      }
      const conditions = conditionsOf(message.c);
      if (conditions === undefined) return fail("invalid_field", "trade c");
      const trade: {
        kind: "trade";
        symbol: string;
        price: number;
        size: number;
        exchangeTs: number;
        tradeId?: string;
        venue?: string;
        conditions?: readonly string[];
        tape?: string;
      } = { kind: "trade", symbol, price: message.p, size: message.s, exchangeTs };
      // Assigned, not spread: this is the hottest path of the feed.
      const tradeId = tradeIdOf(message.i);
      if (tradeId !== undefined) trade.tradeId = tradeId;
      const venue = code(message.x);
      if (venue !== undefined) trade.venue = venue;
      if (conditions.length > 0) trade.conditions = conditions;
      if (tape !== undefined) trade.tape = tape;
      return trade;
    }
    case "q": {
      if (
        !isSize(message.bp) || !isSize(message.bs) || !isSize(message.ap) || !isSize(message.as)
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
    case "b":
    case "d":
    case "u": {
      if (
        !isPositive(message.o) || !isPositive(message.h) || !isPositive(message.l) ||
        !isPositive(message.c) ||
        !isSize(message.v)
      ) {
        return fail("invalid_field", "bar o, h, l, c or v");
      }
      return {
        kind: BAR_KINDS[type],
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
    case "c": {
      const originalId = tradeIdOf(message.oi);
      const correctedId = tradeIdOf(message.ci);
      const originalConditions = conditionsOf(message.oc);
      const correctedConditions = conditionsOf(message.cc);
      if (
        originalId === undefined || correctedId === undefined || !isPositive(message.op) ||
        !isSize(message.os) || !isPositive(message.cp) || !isSize(message.cs) ||
        originalConditions === undefined || correctedConditions === undefined
      ) {
        return fail("invalid_field", "correction oi, op, os, oc, ci, cp, cs or cc");
      }
      const venue = code(message.x);
      return {
        kind: "correction",
        symbol,
        ...(venue !== undefined ? { venue } : {}),
        ...(tape !== undefined ? { tape } : {}),
        originalId,
        originalPrice: message.op,
        originalSize: message.os,
        originalConditions,
        correctedId,
        correctedPrice: message.cp,
        correctedSize: message.cs,
        correctedConditions,
        exchangeTs,
      };
    }
    case "x": {
      const tradeId = tradeIdOf(message.i);
      const action = code(message.a, 2);
      if (
        tradeId === undefined || !isPositive(message.p) || !isSize(message.s) ||
        action === undefined
      ) {
        return fail("invalid_field", "cancel/error i, p, s or a");
      }
      const venue = code(message.x);
      return {
        kind: "cancel_error",
        symbol,
        ...(venue !== undefined ? { venue } : {}),
        ...(tape !== undefined ? { tape } : {}),
        tradeId,
        price: message.p,
        size: message.s,
        action,
        exchangeTs,
      };
    }
    case "s": {
      const statusCode = code(message.sc);
      const reasonCode = code(message.rc ?? "");
      if (statusCode === undefined || reasonCode === undefined) {
        return fail("invalid_field", "status sc or rc");
      }
      return {
        kind: "status",
        symbol,
        statusCode,
        statusMessage: typeof message.sm === "string" ? message.sm.slice(0, 100) : "",
        reasonCode,
        reasonMessage: typeof message.rm === "string" ? message.rm.slice(0, 100) : "",
        ...(tape !== undefined ? { tape } : {}),
        exchangeTs,
      };
    }
    case "l": {
      if (!isPositive(message.u) || !isPositive(message.d) || message.d > message.u) {
        return fail("invalid_field", "LULD u or d");
      }
      return {
        kind: "luld",
        symbol,
        limitUp: message.u,
        limitDown: message.d,
        indicator: code(message.i, 4) ?? "",
        ...(tape !== undefined ? { tape } : {}),
        exchangeTs,
      };
    }
    case "i": {
      if (!isSize(message.p)) return fail("invalid_field", "imbalance p");
      return {
        kind: "imbalance",
        symbol,
        price: message.p,
        ...(tape !== undefined ? { tape } : {}),
        exchangeTs,
      };
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
 * The seconds (`YYYY-MM-DDTHH:MM:SS`) and zone of the last timestamp the regular expression
 * parsed, and their epoch ms: a feed's timestamps share them for a whole second, so the next
 * ones need only their fraction read ({@link parseTimestamp}).
 */
let lastSeconds = "";
let lastZone = "";
let lastBase = 0;

/** The length of `YYYY-MM-DDTHH:MM:SS`. */
const SECONDS_LENGTH = 19;

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
  if (lastSeconds !== "" && value.startsWith(lastSeconds)) {
    const fast = sameSecond(value);
    if (fast !== undefined) return fast;
  }
  const match = RFC3339.exec(value);
  if (!match) return undefined;
  const fraction = match[2];
  const base = Date.parse(match[1] + match[3]); // seconds + zone
  if (!Number.isFinite(base) || base < 0) return undefined;
  lastSeconds = match[1];
  lastZone = match[3];
  lastBase = base;
  return fraction === undefined ? base : base + Number("0." + fraction) * 1000;
}

/**
 * {@link parseTimestamp} for a value that starts with the last parsed seconds: its epoch ms when
 * the rest is an optional `.` and 1-9 digits followed by the last zone, else `undefined` (then the
 * regular expression decides).
 */
function sameSecond(value: string): number | undefined {
  let end = SECONDS_LENGTH;
  if (value.charCodeAt(end) === 46 /* . */) {
    end++;
    while (end < value.length && end - SECONDS_LENGTH <= 9) {
      const c = value.charCodeAt(end);
      if (c < 48 || c > 57) break;
      end++;
    }
    const digits = end - SECONDS_LENGTH - 1;
    if (digits < 1 || digits > 9) return undefined;
  }
  if (value.length - end !== lastZone.length || !value.endsWith(lastZone)) return undefined;
  return end === SECONDS_LENGTH
    ? lastBase
    : lastBase + Number("0." + value.slice(SECONDS_LENGTH + 1, end)) * 1000;
}

/** Formats epoch milliseconds as RFC 3339 (millisecond precision), as the sim feed sends it. */
export function formatTimestamp(ms: number): string {
  return new Date(Math.floor(ms)).toISOString();
}

/** The `auth` action. */
export function authAction(key: string, secret: string): string {
  return JSON.stringify({ action: "auth", key, secret });
}

/** What {@link subscribeAction} subscribes besides trades, quotes and bars. */
export interface SubscribeOptions {
  /** Crypto endpoint: order books too. */
  readonly crypto: boolean;
  /**
   * Stock endpoint: trading statuses (halts) and LULD bands too. Corrections and
   * cancel/errors need no list: Alpaca subscribes them with the trades.
   */
  readonly statuses?: boolean;
}

/**
 * The `subscribe` action for a set of symbols: trades, quotes and bars for all; order
 * books for crypto; statuses and LULD bands for stocks when asked.
 */
export function subscribeAction(symbols: readonly string[], options: SubscribeOptions): string {
  const list = [...symbols];
  return JSON.stringify({
    action: "subscribe",
    trades: list,
    quotes: list,
    bars: list,
    ...(options.crypto ? { orderbooks: list } : {}),
    ...(!options.crypto && options.statuses ? { statuses: list, lulds: list } : {}),
  });
}
