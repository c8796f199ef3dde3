/**
 * The pre-trade checks: what a check sees ({@link CheckContext}, computed once per
 * signal by the core), one pure function per check, and {@link PRE_TRADE_CHECKS}, the
 * table the core runs in order until the first denial.
 *
 * Adding a check: a code in denial.ts (and its `check_type` in `CHECK_TYPES`), a function
 * here, a row in the table, a test in checks_test.ts; a figure it needs that the context
 * lacks goes into {@link CheckContext} and the core's `#checkContext`.
 * @module
 */
import type { Config } from "../../lib/config.ts";
import type { Signal } from "../../lib/types.ts";
import { lossReached } from "./daily_loss.ts";
import { type CheckType, type Denial, deny, round2 } from "./denial.ts";
import type { Band, SymbolMarket } from "./market_state.ts";
import { type Mark, markHasSide } from "./marks.ts";
import { cleanQty, isCrypto, QTY_EPSILON } from "./sizing.ts";
import type { TradingStatus } from "./trading_state.ts";

/** The limits of `riskManager.limits`. */
export type Limits = Config["riskManager"]["limits"];
/** The sizing of `riskManager.sizing`. */
export type Sizing = Config["riskManager"]["sizing"];

/** Unfilled quantity of a symbol's open orders, by side. */
export interface Leaves {
  readonly buy: number;
  readonly sell: number;
}

/**
 * Everything the checks read about one signal, computed once before they run. Prices and
 * exposures are USD, quantities are in shares or coins, times epoch ms.
 */
export interface CheckContext {
  readonly signal: Signal;
  /** When the signal is checked, epoch ms. */
  readonly now: number;
  readonly limits: Limits;
  readonly sizing: Sizing;
  /** How old a mark may be and still count as a reference price, ms. */
  readonly markMaxAgeMs: number;
  /** The client order id the signal would get. */
  readonly clientOrderId: string;
  /** True when that id was used before (a replayed signal). */
  readonly clientOrderIdUsed: boolean;
  /** True when the signal's symbol is a configured one. */
  readonly symbolTraded: boolean;
  /** The trading state and breaker as the signal found them. */
  readonly status: TradingStatus;
  /** The signed position in the symbol. */
  readonly position: number;
  /** Unfilled quantity of the symbol's open orders, by side. */
  readonly leaves: Leaves;
  /** The order's side (`flat` closes the position: sell a long, buy a short). */
  readonly side: "buy" | "sell";
  /** How much an order on {@link side} can trade and still only reduce the position. */
  readonly reducibleQty: number;
  /** The symbol's mark, if any (fresh or not). */
  readonly mark: Mark | undefined;
  /** The reference price: the mark when fresh, else the signal's price. */
  readonly price: number;
  /** The sized quantity (0 when nothing can be traded). */
  readonly qty: number;
  /** `qty * price`. */
  readonly notional: number;
  /** True when the order only reduces the position, even if every open order on its side fills first. */
  readonly reduces: boolean;
  /** The worst-case position: every open order on this side fills, then this one. */
  readonly projectedPosition: number;
  /** Gross market value of the positions before the order (this symbol at `price`). */
  readonly grossBefore: number;
  /** Gross market value with the worst-case position. */
  readonly grossAfter: number;
  /** Net market value of the positions before the order (this symbol at `price`). */
  readonly netBefore: number;
  /** Net market value with the worst-case position. */
  readonly netAfter: number;
  /** Orders approved and not yet final. */
  readonly openOrders: number;
  /** Order-rate tokens available now. */
  readonly rateTokens: number;
  /** Order-rate tokens an order that adds risk must leave for reducing orders. */
  readonly rateReserve: number;
  /** The daily P&L now. */
  readonly dailyPnl: number;
  /** True when the orders channel has a live consumer (execution-engine talked to it recently). */
  readonly ordersChannelLive: boolean;
  /** Orders handed to the orders channel and not yet acknowledged. */
  readonly outboxPending: number;
  /** No order is approved while `outboxPending` is at or above this. */
  readonly maxOutboxPending: number;
  /** The symbol's market now: session, halt (market_state.ts). */
  readonly market: SymbolMarket;
  /** `session.extendedHours`: a limit `day` order may trade in Alpaca's extended hours. */
  readonly extendedHours: boolean;
  /** The order the signal would become: its type, time in force and limit price (if any). */
  readonly orderType: "market" | "limit";
  readonly timeInForce: "day" | "gtc" | "ioc";
  readonly limitPrice?: number;
  /** The symbol's current LULD band, if one is known. */
  readonly band: Band | undefined;
}

/**
 * How much a `side` order can trade and still only reduce `position`, with every open
 * order on that side filled first; 0 when it would add to (or open) a position.
 */
export function reducibleQty(position: number, side: "buy" | "sell", leaves: Leaves): number {
  if (side === "sell" && position > 0) return cleanQty(Math.max(0, position - leaves.sell));
  if (side === "buy" && position < 0) return cleanQty(Math.max(0, -position - leaves.buy));
  return 0;
}

/** Denies a replayed signal: its client order id was used before. */
export function checkDuplicateSignal(ctx: CheckContext): Denial | null {
  return ctx.clientOrderIdUsed
    ? deny("DUPLICATE_SIGNAL", { clientOrderId: ctx.clientOrderId })
    : null;
}

/** Denies a signal that expired before `now` (one expiring now passes). */
export function checkSignalExpired(ctx: CheckContext): Denial | null {
  return ctx.signal.expiresAt < ctx.now
    ? deny("SIGNAL_EXPIRED", { expiresAt: ctx.signal.expiresAt, now: Math.round(ctx.now) })
    : null;
}

/** Denies a symbol outside the configured set. */
export function checkSymbol(ctx: CheckContext): Denial | null {
  return ctx.symbolTraded ? null : deny("SYMBOL_NOT_TRADED", { symbol: ctx.signal.symbol });
}

/** Denies every order while the breaker is tripped. */
export function checkCircuitBreaker(ctx: CheckContext): Denial | null {
  return ctx.status.breakerTripped
    ? deny("CIRCUIT_BREAKER_TRIGGERED", { reason: ctx.status.reason })
    : null;
}

/** Denies every order when HALTED, and in REDUCING a buy/sell that cannot reduce the position. */
export function checkTradingState(ctx: CheckContext): Denial | null {
  const { status } = ctx;
  if (status.state === "HALTED") return deny("TRADING_HALTED", { reason: status.reason });
  if (status.state === "REDUCING" && ctx.signal.action !== "flat" && ctx.reducibleQty <= 0) {
    return deny("REDUCING_ONLY", { side: ctx.side, position: ctx.position });
  }
  return null;
}

/**
 * Denies every order while the orders channel has no live consumer (it would wait in the
 * outbox and expire), or while its outbox holds `maxOutboxPending` orders or more.
 */
export function checkOrdersChannel(ctx: CheckContext): Denial | null {
  if (!ctx.ordersChannelLive) return deny("ORDERS_CHANNEL_DOWN", { pending: ctx.outboxPending });
  return ctx.outboxPending >= ctx.maxOutboxPending
    ? deny("OUTBOX_FULL", { pending: ctx.outboxPending, max: ctx.maxOutboxPending })
    : null;
}

/**
 * Denies an order the market would not take now, reducing ones too (nothing fills there):
 * `SYMBOL_HALTED` while the listing market halts the symbol, `SESSION_UNKNOWN` while its
 * session cannot be told (no status yet, or a stale one), `MARKET_CLOSED` outside the
 * regular session, except a limit `day` order in extended hours when `extendedHours` is
 * set (Alpaca's rule for pre-market and after-hours orders). Crypto is always open.
 */
export function checkMarketSession(ctx: CheckContext): Denial | null {
  const { market } = ctx;
  const symbol = ctx.signal.symbol;
  switch (market.state) {
    case "open":
      return null;
    case "halted":
      return deny("SYMBOL_HALTED", { symbol, reason: market.reason });
    case "unknown":
      return deny("SESSION_UNKNOWN", {
        symbol,
        reason: market.reason,
        ...(market.ageMs === undefined ? {} : { ageMs: Math.round(market.ageMs) }),
      });
    case "extended":
      if (ctx.extendedHours && ctx.orderType === "limit" && ctx.timeInForce === "day") {
        return null;
      }
      return deny("MARKET_CLOSED", {
        symbol,
        state: "extended",
        type: ctx.orderType,
        timeInForce: ctx.timeInForce,
        extendedHours: String(ctx.extendedHours),
      });
    case "closed":
      return deny("MARKET_CLOSED", { symbol, state: "closed", reason: market.reason });
  }
}

/** Denies a signal sized to nothing: a `flat` with nothing to close, or less than one unit. */
export function checkSizing(ctx: CheckContext): Denial | null {
  if (ctx.qty > 0) return null;
  if (ctx.signal.action === "flat") return deny("NO_POSITION_TO_CLOSE", { position: ctx.position });
  return deny("QTY_BELOW_MINIMUM", {
    notional: ctx.sizing.notionalPerOrder,
    price: ctx.price,
    minQty: isCrypto(ctx.signal.symbol) ? ctx.sizing.minQty : 1,
  });
}

/**
 * Denies a quantity above `maxOrderQty`, unless the order only reduces the position (a
 * limit that stops risk growing must never stop a position from closing).
 */
export function checkMaxOrderQty(ctx: CheckContext): Denial | null {
  const max = ctx.limits.maxOrderQty;
  return ctx.qty > max && !ctx.reduces
    ? deny("MAX_ORDER_QTY_EXCEEDED", { qty: ctx.qty, max })
    : null;
}

/** Denies a notional above `maxOrderNotional`, unless the order only reduces the position. */
export function checkMaxOrderNotional(ctx: CheckContext): Denial | null {
  const max = ctx.limits.maxOrderNotional;
  return ctx.notional > max + 1e-9 && !ctx.reduces
    ? deny("MAX_ORDER_NOTIONAL_EXCEEDED", { notional: round2(ctx.notional), max })
    : null;
}

/**
 * Denies without a mark, with a mark older than `markMaxAgeMs`, when the book lacks the
 * side the order would trade against (a buy needs an ask, a sell a bid: a one-sided
 * market), or when the signal's price is more than `priceCollarBps` away from the mark.
 */
export function checkPriceCollar(ctx: CheckContext): Denial | null {
  const { mark, signal } = ctx;
  if (mark === undefined) return deny("NO_REFERENCE_PRICE", { symbol: signal.symbol });
  const age = ctx.now - mark.ts;
  if (age > ctx.markMaxAgeMs) {
    return deny("STALE_REFERENCE_PRICE", { ageMs: Math.round(age), max: ctx.markMaxAgeMs });
  }
  if (!markHasSide(mark, ctx.side)) {
    return deny("NO_REFERENCE_PRICE", {
      symbol: signal.symbol,
      side: ctx.side,
      missing: ctx.side === "buy" ? "ask" : "bid",
    });
  }
  const bps = (Math.abs(signal.price - mark.price) / mark.price) * 10_000;
  const max = ctx.limits.priceCollarBps;
  return bps > max + 1e-6
    ? deny("PRICE_COLLAR_BREACHED", { price: signal.price, mid: mark.price, bps: round2(bps), max })
    : null;
}

/**
 * Denies an order whose limit price (a market order: its reference price) lies outside the
 * symbol's current LULD band, when one is known: the market cannot trade there. Reducing
 * orders too.
 */
export function checkLuldBand(ctx: CheckContext): Denial | null {
  const { band } = ctx;
  if (band === undefined) return null;
  const price = ctx.orderType === "limit" && ctx.limitPrice !== undefined
    ? ctx.limitPrice
    : ctx.price;
  return price < band.limitDown || price > band.limitUp
    ? deny("PRICE_OUTSIDE_LULD_BAND", {
      price,
      limitDown: band.limitDown,
      limitUp: band.limitUp,
    })
    : null;
}

/** Denies a worst-case position beyond `maxPositionQty`, unless the order reduces. */
export function checkPositionLimit(ctx: CheckContext): Denial | null {
  const max = ctx.limits.maxPositionQty;
  return Math.abs(ctx.projectedPosition) > max + QTY_EPSILON && !ctx.reduces
    ? deny("POSITION_LIMIT_EXCEEDED", { projected: cleanQty(ctx.projectedPosition), max })
    : null;
}

/** Denies a worst-case gross exposure beyond `maxGrossExposure`, unless it does not grow. */
export function checkGrossExposure(ctx: CheckContext): Denial | null {
  const max = ctx.limits.maxGrossExposure;
  return ctx.grossAfter > max + 1e-9 && ctx.grossAfter > ctx.grossBefore
    ? deny("GROSS_EXPOSURE_EXCEEDED", { gross: round2(ctx.grossAfter), max })
    : null;
}

/** Denies a worst-case net exposure beyond `maxNetExposure` in size, unless it does not grow. */
export function checkNetExposure(ctx: CheckContext): Denial | null {
  const max = ctx.limits.maxNetExposure;
  return Math.abs(ctx.netAfter) > max + 1e-9 && Math.abs(ctx.netAfter) > Math.abs(ctx.netBefore)
    ? deny("NET_EXPOSURE_EXCEEDED", { net: round2(ctx.netAfter), max })
    : null;
}

/**
 * Denies an order that would make more than `maxOpenOrders` open orders, unless it only
 * reduces the position.
 */
export function checkMaxOpenOrders(ctx: CheckContext): Denial | null {
  const max = ctx.limits.maxOpenOrders;
  return ctx.openOrders + 1 > max && !ctx.reduces
    ? deny("MAX_OPEN_ORDERS_EXCEEDED", { open: ctx.openOrders, max })
    : null;
}

/**
 * Denies an order when the order-rate bucket has no whole token, or, for an order that
 * adds risk, when taking one would dip into the tokens reserved for reducing orders. The
 * bucket protects the venue too, so a reducing order needs a token like any other.
 */
export function checkOrderRate(ctx: CheckContext): Denial | null {
  const need = ctx.reduces ? 1 : 1 + ctx.rateReserve;
  return ctx.rateTokens < need
    ? deny("ORDER_RATE_EXCEEDED", {
      max: ctx.limits.maxOrdersPerSecond,
      reserved: ctx.rateReserve,
    })
    : null;
}

/** Denies an order that adds risk once the daily loss reached `dailyLossLimit`. */
export function checkDailyLoss(ctx: CheckContext): Denial | null {
  const limit = ctx.limits.dailyLossLimit;
  return lossReached(ctx.dailyPnl, limit) && !ctx.reduces
    ? deny("DAILY_LOSS_LIMIT_EXCEEDED", { pnl: round2(ctx.dailyPnl), limit })
    : null;
}

/** One row of {@link PRE_TRADE_CHECKS}. */
export interface PreTradeCheck {
  /** The `check_type` label value of its outcomes and latency. */
  readonly type: Exclude<CheckType, "all_checks">;
  /** The check: a denial, or null when it passes. Pure: reads only the context. */
  readonly check: (ctx: CheckContext) => Denial | null;
}

/** The pre-trade checks in the order they run (the order of `CHECK_TYPES`); the first denial stops the run. */
export const PRE_TRADE_CHECKS: readonly PreTradeCheck[] = Object.freeze([
  { type: "duplicate_signal", check: checkDuplicateSignal },
  { type: "signal_expired", check: checkSignalExpired },
  { type: "symbol", check: checkSymbol },
  { type: "circuit_breaker", check: checkCircuitBreaker },
  { type: "trading_state", check: checkTradingState },
  { type: "orders_channel", check: checkOrdersChannel },
  { type: "market_session", check: checkMarketSession },
  { type: "sizing", check: checkSizing },
  { type: "max_order_qty", check: checkMaxOrderQty },
  { type: "max_order_notional", check: checkMaxOrderNotional },
  { type: "price_collar", check: checkPriceCollar },
  { type: "luld_band", check: checkLuldBand },
  { type: "position_limit", check: checkPositionLimit },
  { type: "gross_exposure", check: checkGrossExposure },
  { type: "net_exposure", check: checkNetExposure },
  { type: "max_open_orders", check: checkMaxOpenOrders },
  { type: "order_rate", check: checkOrderRate },
  { type: "daily_loss", check: checkDailyLoss },
]);
