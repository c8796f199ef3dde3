/**
 * The domain messages that cross the wire, as zod schemas and their types.
 *
 * Every body travels inside a messaging envelope (`lib/envelope.ts`) whose `type`
 * is one of {@link MESSAGE_TYPES}; {@link SCHEMAS} validates a body by type so a
 * subscriber can refuse a malformed message without throwing into its handler.
 *
 * Times are epoch milliseconds (floats allowed, for sub-millisecond latency);
 * prices and sizes are plain numbers on the wire and exact ticks inside the book.
 * `tickTs` is the time market-data received the exchange message that led to a
 * signal or order: it travels down the pipeline to measure tick-to-trade latency.
 * @module
 */
import { z } from "zod";

const symbol = z.string().min(1).max(20);
const price = z.number().positive().finite();
const size = z.number().nonnegative().finite();
const ts = z.number().nonnegative().finite();
const level = z.tuple([price, size]);

/** A normalised trade print. */
export const TradeSchema = z.object({
  symbol,
  price,
  size,
  exchange: z.string(),
  exchangeTs: ts,
  receivedTs: ts,
  tradeId: z.string().optional(),
  /**
   * `false` when the print's trade conditions keep it out of a bar's prices and the last
   * price (odd lot, average price, Form T...: Alpaca's own bar rule, see market-data's
   * README); absent or `true` when it may set them.
   */
  eligible: z.boolean().optional(),
});
export type Trade = z.infer<typeof TradeSchema>;

/** A normalised top-of-book quote. */
export const QuoteSchema = z.object({
  symbol,
  bidPrice: price,
  bidSize: size,
  askPrice: price,
  askSize: size,
  exchange: z.string(),
  exchangeTs: ts,
  receivedTs: ts,
});
export type Quote = z.infer<typeof QuoteSchema>;

/**
 * A top-of-book quote with a side missing: a side whose price or size is zero on the wire
 * (Alpaca sends 0/0 for an empty side) is `null` here, so no one trades against it. A quote
 * with both sides present is a {@link QuoteSchema} `quote` instead.
 */
export const OneSidedQuoteSchema = z.object({
  symbol,
  bidPrice: price.nullable(),
  bidSize: size,
  askPrice: price.nullable(),
  askSize: size,
  exchange: z.string(),
  exchangeTs: ts,
  receivedTs: ts,
});
export type OneSidedQuote = z.infer<typeof OneSidedQuoteSchema>;

/**
 * Market states of a symbol: `open` (regular session, or around the clock for crypto),
 * `extended` (Alpaca's pre-market or after-hours: only limit `day` orders flagged
 * `extended_hours` trade), `closed`, `halted` (a trading halt or volatility pause reported
 * by the listing market).
 */
export const MARKET_STATES = ["open", "extended", "closed", "halted"] as const;
export type MarketState = typeof MARKET_STATES[number];

/**
 * Why a symbol is in its state: `regular_session`, `extended_session`, `outside_session`,
 * `always_open` (crypto, or no hours configured), `session_unknown` (the exchange clock
 * could not be read yet), `trading_halt`, `volatility_pause`, `quotation_only` (quotes
 * resumed, trading not yet).
 */
export const MARKET_STATE_REASONS = [
  "regular_session",
  "extended_session",
  "outside_session",
  "always_open",
  "session_unknown",
  "trading_halt",
  "volatility_pause",
  "quotation_only",
] as const;
export type MarketStateReason = typeof MARKET_STATE_REASONS[number];

/**
 * A symbol's trading status, published by market-data on every change and again every
 * `session.publishMs`, so a subscriber that joins late learns it: whether the session is
 * open, and whether the listing market halted the symbol.
 */
export const TradingStatusSchema = z.object({
  symbol,
  state: z.enum(MARKET_STATES),
  reason: z.enum(MARKET_STATE_REASONS),
  /** The exchange's status and reason codes of a halt (`sc`, `rc`), when one is in force. */
  haltCode: z.string().max(8).optional(),
  haltReasonCode: z.string().max(8).optional(),
  /** When the regular session next opens and closes (epoch ms), when known. */
  nextOpen: ts.nullable(),
  nextClose: ts.nullable(),
  exchange: z.string(),
  /** When market-data computed this state (epoch ms). */
  at: ts,
});
export type TradingStatus = z.infer<typeof TradingStatusSchema>;

/** A Limit Up-Limit Down price band of a stock, as its listing market published it. */
export const LuldBandSchema = z.object({
  symbol,
  limitUp: price,
  limitDown: price,
  /** The LULD indicator of the message (`i`), e.g. `B`. */
  indicator: z.string().max(4),
  exchange: z.string(),
  exchangeTs: ts,
  receivedTs: ts,
});
export type LuldBand = z.infer<typeof LuldBandSchema>;

/**
 * A correction (`correct`: the print's price or size changed) or cancel (`cancel`: the print
 * did not happen, or was an error) of an earlier trade, with the outcome of applying it:
 * `applied` (taken out of, or replaced in, the open bars), `late` (its bars were already
 * published; only the last price was mended), `unknown` (the trade was never seen, or too
 * long ago). `lastPrice` is the symbol's last eligible trade price after it (null when no
 * eligible trade is left): a consumer replaces its last price with it.
 */
export const TradeCorrectionSchema = z.object({
  symbol,
  action: z.enum(["cancel", "correct"]),
  tradeId: z.string().max(40),
  originalPrice: price,
  originalSize: size,
  correctedPrice: price.nullable(),
  correctedSize: size.nullable(),
  outcome: z.enum(["applied", "late", "unknown"]),
  lastPrice: price.nullable(),
  exchange: z.string(),
  exchangeTs: ts,
  receivedTs: ts,
});
export type TradeCorrection = z.infer<typeof TradeCorrectionSchema>;

/**
 * The positions the venue holds (Alpaca's `GET /v2/positions`, kept current by the
 * `position_qty` of fills), as execution-engine serves them on `GET /admin/venue/positions`
 * for reconciliation with risk-manager's book. `qty` is signed (short below zero).
 */
export const VenuePositionsSchema = z.object({
  venue: z.string(),
  /** When the positions were last read in full from the venue (epoch ms; 0: never). */
  readAt: ts,
  positions: z.array(z.object({
    symbol,
    qty: z.number().finite(),
    /** The venue's average entry price, USD (0 when the venue does not say). */
    avgEntryPrice: z.number().nonnegative().finite(),
    /** When this position last changed (a full read, or a fill's `position_qty`), epoch ms. */
    updatedAt: ts,
  })),
});
export type VenuePositions = z.infer<typeof VenuePositionsSchema>;

/** The most positions one `venue_positions` answer carries. */
export const MAX_VENUE_POSITIONS = 1000;

/**
 * Risk-manager asks execution-engine for the venue's positions (on the `orders` channel,
 * in order behind every order sent before it): answered by a `venue_positions`.
 */
export const PositionsRequestSchema = z.object({
  requestId: z.string().min(1).max(64),
  at: ts,
});
export type PositionsRequest = z.infer<typeof PositionsRequestSchema>;

/**
 * Execution-engine's answer to a `positions_request` (on the `execution_reports` channel,
 * behind every report sent before it): the venue's positions as {@link VenuePositionsSchema}
 * (Alpaca's, or the paper venue's net fills from the journal), at most
 * {@link MAX_VENUE_POSITIONS} of them by symbol; `truncated` when the venue held more.
 */
export const VenuePositionsAnswerSchema = VenuePositionsSchema.extend({
  requestId: z.string().min(1).max(64),
  positions: VenuePositionsSchema.shape.positions.max(MAX_VENUE_POSITIONS),
  truncated: z.boolean(),
  /** When execution-engine answered (epoch ms). */
  at: ts,
});
export type VenuePositionsAnswer = z.infer<typeof VenuePositionsAnswerSchema>;

/** The top levels of an order book after an update, with derived figures. */
export const BookSchema = z.object({
  symbol,
  bids: z.array(level),
  asks: z.array(level),
  mid: price.nullable(),
  spreadBps: z.number().finite().nullable(),
  imbalance: z.number().min(-1).max(1).nullable(),
  crossed: z.boolean(),
  exchange: z.string(),
  exchangeTs: ts,
  receivedTs: ts,
});
export type Book = z.infer<typeof BookSchema>;

/** A time bar, closed by a timer. */
export const BarSchema = z.object({
  symbol,
  interval: z.enum(["1s", "5s", "1m", "5m"]),
  start: ts,
  end: ts,
  open: price,
  high: price,
  low: price,
  close: price,
  volume: size,
  trades: z.number().int().nonnegative(),
  vwap: price,
});
export type Bar = z.infer<typeof BarSchema>;

/** A trading signal from signal-bridge. */
export const SignalSchema = z.object({
  id: z.string().min(1).max(100),
  symbol,
  action: z.enum(["buy", "sell", "flat"]),
  confidence: z.number().min(0).max(1),
  model: z.string(),
  modelVersion: z.string(),
  features: z.record(z.string(), z.number()),
  price: price,
  createdAt: ts,
  expiresAt: ts,
  tickTs: ts,
});
export type Signal = z.infer<typeof SignalSchema>;

/** Order sides. */
export const SIDES = ["buy", "sell"] as const;
/** Order types. */
export const ORDER_TYPES = ["market", "limit"] as const;

/** An order approved by risk-manager, sent to execution-engine over the reliable channel. */
export const OrderSchema = z.object({
  clientOrderId: z.string().min(1).max(48),
  signalId: z.string(),
  symbol,
  side: z.enum(SIDES),
  qty: z.number().positive().finite(),
  type: z.enum(ORDER_TYPES),
  limitPrice: price.optional(),
  timeInForce: z.enum(["day", "gtc", "ioc"]),
  strategy: z.string(),
  createdAt: ts,
  tickTs: ts,
  /**
   * When the order expires, epoch ms: execution-engine never sends it to the venue after
   * this, and reports it `expired` (reason `order_expired`) instead. Absent: it never
   * expires (orders journaled before the field existed).
   */
  expiresAt: ts.optional(),
});
export type Order = z.infer<typeof OrderSchema>;

/** Order states of the execution-engine's state machine. */
export const ORDER_STATES = [
  "new",
  "accepted",
  "partially_filled",
  "filled",
  "canceled",
  "rejected",
  "expired",
] as const;
export type OrderState = typeof ORDER_STATES[number];

/** An execution report for every order state change. */
export const ExecutionReportSchema = z.object({
  clientOrderId: z.string().min(1),
  venueOrderId: z.string().optional(),
  symbol,
  side: z.enum(SIDES),
  /** `status`: the order as the engine's journal holds it, in answer to an `order_status_request`. */
  kind: z.enum(["ack", "fill", "reject", "cancel", "expire", "status"]),
  state: z.enum(ORDER_STATES),
  orderQty: z.number().positive(),
  lastQty: size,
  lastPrice: z.number().nonnegative(),
  cumQty: size,
  avgPrice: z.number().nonnegative(),
  leavesQty: size,
  reason: z.string().optional(),
  venue: z.string(),
  strategy: z.string(),
  ts: ts,
});
export type ExecutionReport = z.infer<typeof ExecutionReportSchema>;

/** The most orders one `order_status_request` may ask about. */
export const MAX_STATUS_REQUEST = 500;

/**
 * Risk-manager asks execution-engine about its open orders (on the `orders` channel,
 * in order behind every order sent before it): answered by an `order_status`.
 */
export const OrderStatusRequestSchema = z.object({
  requestId: z.string().min(1).max(64),
  clientOrderIds: z.array(z.string().min(1).max(48)).max(MAX_STATUS_REQUEST),
  at: ts,
});
export type OrderStatusRequest = z.infer<typeof OrderStatusRequestSchema>;

/**
 * Execution-engine's answer to an `order_status_request` (on the `execution_reports`
 * channel): for each id, the order as its journal holds it (an execution report of
 * kind `status`), or `known: false` when it never received that order.
 */
export const OrderStatusSchema = z.object({
  requestId: z.string().min(1).max(64),
  orders: z.array(
    z.union([
      z.object({ clientOrderId: z.string().min(1).max(48), known: z.literal(false) }),
      z.object({
        clientOrderId: z.string().min(1).max(48),
        known: z.literal(true),
        report: ExecutionReportSchema,
      }),
    ]),
  ).max(MAX_STATUS_REQUEST),
  at: ts,
});
export type OrderStatus = z.infer<typeof OrderStatusSchema>;

/** Trading states of the risk-manager. */
export const TRADING_STATES = ["ACTIVE", "REDUCING", "HALTED"] as const;
export type TradingState = typeof TRADING_STATES[number];

/** A trading state change, published by risk-manager. */
export const TradingStateEventSchema = z.object({
  state: z.enum(TRADING_STATES),
  previous: z.enum(TRADING_STATES),
  reason: z.string(),
  actor: z.string(),
  at: ts,
});
export type TradingStateEvent = z.infer<typeof TradingStateEventSchema>;

/** A denied signal, published by risk-manager (the denial's stable code and figures). */
export const RiskDenialEventSchema = z.object({
  signalId: z.string(),
  symbol,
  /** A stable denial code such as `MAX_ORDER_QTY_EXCEEDED`. */
  code: z.string().regex(/^[A-Z_]+$/),
  /** The check that denied it (a `check_type` label value). */
  check: z.string(),
  /** `CODE: key=value, …` */
  message: z.string(),
  at: ts,
});
export type RiskDenialEvent = z.infer<typeof RiskDenialEventSchema>;

/** Envelope `type` values and the schema of each body. */
export const SCHEMAS = {
  trade: TradeSchema,
  quote: QuoteSchema,
  book: BookSchema,
  bar: BarSchema,
  one_sided_quote: OneSidedQuoteSchema,
  trading_status: TradingStatusSchema,
  luld_band: LuldBandSchema,
  trade_correction: TradeCorrectionSchema,
  signal: SignalSchema,
  order: OrderSchema,
  order_status_request: OrderStatusRequestSchema,
  positions_request: PositionsRequestSchema,
  execution_report: ExecutionReportSchema,
  order_status: OrderStatusSchema,
  venue_positions: VenuePositionsAnswerSchema,
  trading_state: TradingStateEventSchema,
  risk_denial: RiskDenialEventSchema,
} as const;
export type MessageType = keyof typeof SCHEMAS;
/** Every message type. */
export const MESSAGE_TYPES = Object.keys(SCHEMAS) as MessageType[];

/**
 * Validators by type, in the form lib/messaging's subscribers take: each returns
 * the parsed body or throws.
 */
export function validatorsFor(
  types: readonly MessageType[],
): Record<string, (body: unknown) => unknown> {
  const out: Record<string, (body: unknown) => unknown> = {};
  for (const t of types) {
    const schema = SCHEMAS[t];
    const fast = FAST_CHECKS[t];
    out[t] = fast === undefined
      ? (body) => schema.parse(body)
      : (body) => (fast(body) ? body : schema.parse(body));
  }
  return out;
}

// Fast paths for the market-data types, which every subscriber validates at the
// full feed rate (a book through zod costs ~5 µs, this check ~0.5 µs). Each accepts
// only a body its zod schema accepts unchanged: a plain object with exactly the
// schema's keys and valid values (zod would return an equal copy). Anything else,
// valid or not, goes to zod, which returns the parsed copy or throws its usual error.

type Rec = Record<string, unknown>;

function isObj(b: unknown): b is Rec {
  return typeof b === "object" && b !== null && !Array.isArray(b);
}
function isSym(v: unknown): boolean {
  return typeof v === "string" && v.length >= 1 && v.length <= 20;
}
function isPrice(v: unknown): boolean {
  return typeof v === "number" && Number.isFinite(v) && v > 0;
}
function isNonNeg(v: unknown): boolean {
  return typeof v === "number" && Number.isFinite(v) && v >= 0;
}
function keyCount(b: Rec): number {
  let n = 0;
  for (const k in b) if (Object.hasOwn(b, k)) n++;
  return n;
}
function isLevels(v: unknown): boolean {
  if (!Array.isArray(v)) return false;
  for (let i = 0; i < v.length; i++) {
    const l = v[i];
    if (!Array.isArray(l) || l.length !== 2 || !isPrice(l[0]) || !isNonNeg(l[1])) return false;
  }
  return true;
}

const FAST_CHECKS: Partial<Record<MessageType, (b: unknown) => boolean>> = {
  trade: (b) =>
    isObj(b) && isSym(b.symbol) && isPrice(b.price) && isNonNeg(b.size) &&
    typeof b.exchange === "string" && isNonNeg(b.exchangeTs) && isNonNeg(b.receivedTs) &&
    (!Object.hasOwn(b, "tradeId") || typeof b.tradeId === "string") &&
    (!Object.hasOwn(b, "eligible") || typeof b.eligible === "boolean") &&
    keyCount(b) === 6 + (Object.hasOwn(b, "tradeId") ? 1 : 0) +
        (Object.hasOwn(b, "eligible") ? 1 : 0),
  quote: (b) =>
    isObj(b) && isSym(b.symbol) && isPrice(b.bidPrice) && isNonNeg(b.bidSize) &&
    isPrice(b.askPrice) && isNonNeg(b.askSize) && typeof b.exchange === "string" &&
    isNonNeg(b.exchangeTs) && isNonNeg(b.receivedTs) && keyCount(b) === 8,
  book: (b) =>
    isObj(b) && isSym(b.symbol) && isLevels(b.bids) && isLevels(b.asks) &&
    (b.mid === null || isPrice(b.mid)) &&
    (b.spreadBps === null || (typeof b.spreadBps === "number" && Number.isFinite(b.spreadBps))) &&
    (b.imbalance === null ||
      (typeof b.imbalance === "number" && b.imbalance >= -1 && b.imbalance <= 1)) &&
    typeof b.crossed === "boolean" && typeof b.exchange === "string" &&
    isNonNeg(b.exchangeTs) && isNonNeg(b.receivedTs) && keyCount(b) === 10,
};
