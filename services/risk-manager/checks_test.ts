import assert from "node:assert/strict";
import {
  checkCircuitBreaker,
  checkDailyLoss,
  checkDuplicateSignal,
  checkGrossExposure,
  checkLuldBand,
  checkMarketSession,
  checkMaxOpenOrders,
  checkMaxOrderNotional,
  checkMaxOrderQty,
  checkNetExposure,
  checkOrderRate,
  checkOrdersChannel,
  checkPositionLimit,
  checkPriceCollar,
  checkSignalExpired,
  checkSizing,
  checkSymbol,
  checkTradingState,
  PRE_TRADE_CHECKS,
  reducibleQty,
} from "./checks.ts";
import { CHECK_TYPES, type Denial, type DenialCode } from "./denial.ts";
import type { SymbolMarket } from "./market_state.ts";
import { checkContext, LIMITS, signal, T0 } from "./testing/fixtures.ts";

const ACTIVE = { state: "ACTIVE", breakerTripped: false, reason: "", actor: "", since: 0 } as const;

function deniedWith(denial: Denial | null, code: DenialCode): Denial {
  assert.ok(denial, `expected ${code}`);
  assert.equal(denial.code, code, denial.message);
  return denial;
}

Deno.test("PRE_TRADE_CHECKS runs the checks in the order of CHECK_TYPES", () => {
  assert.deepEqual(
    PRE_TRADE_CHECKS.map((c) => c.type),
    CHECK_TYPES.filter((t) => t !== "all_checks"),
  );
});

Deno.test("PRE_TRADE_CHECKS all pass the fixture context, and each denial names its check", () => {
  for (const { type, check } of PRE_TRADE_CHECKS) {
    assert.equal(check(checkContext()), null, type);
  }
  const denial = checkMaxOrderQty(checkContext({ qty: 1001 }));
  assert.equal(denial?.check, "max_order_qty");
});

Deno.test("reducibleQty() counts only what closes the position, open orders first", () => {
  assert.equal(reducibleQty(10, "sell", { buy: 0, sell: 4 }), 6);
  assert.equal(reducibleQty(10, "sell", { buy: 0, sell: 12 }), 0);
  assert.equal(reducibleQty(-5, "buy", { buy: 2, sell: 0 }), 3);
  assert.equal(reducibleQty(10, "buy", { buy: 0, sell: 0 }), 0);
  assert.equal(reducibleQty(0, "sell", { buy: 0, sell: 0 }), 0);
});

Deno.test("checkDuplicateSignal() denies a client order id used before", () => {
  const denial = deniedWith(
    checkDuplicateSignal(checkContext({ clientOrderId: "rm-s1", clientOrderIdUsed: true })),
    "DUPLICATE_SIGNAL",
  );
  assert.equal(denial.message, "DUPLICATE_SIGNAL: clientOrderId=rm-s1");
});

Deno.test("checkSignalExpired() denies a signal expired before now and passes one expiring now", () => {
  const expired = checkContext({ signal: signal({ expiresAt: T0 - 1 }), now: T0 + 0.4 });
  assert.deepEqual(deniedWith(checkSignalExpired(expired), "SIGNAL_EXPIRED").details, {
    expiresAt: T0 - 1,
    now: T0,
  });
  assert.equal(checkSignalExpired(checkContext({ signal: signal({ expiresAt: T0 }) })), null);
});

Deno.test("checkSymbol() denies a symbol outside the configured set", () => {
  const ctx = checkContext({ signal: signal({ symbol: "TSLA" }), symbolTraded: false });
  assert.equal(deniedWith(checkSymbol(ctx), "SYMBOL_NOT_TRADED").details.symbol, "TSLA");
});

Deno.test("checkCircuitBreaker() denies while the breaker is tripped, with its reason", () => {
  const status = { ...ACTIVE, state: "HALTED", breakerTripped: true, reason: "drill" } as const;
  const denial = deniedWith(
    checkCircuitBreaker(checkContext({ status })),
    "CIRCUIT_BREAKER_TRIGGERED",
  );
  assert.equal(denial.details.reason, "drill");
});

Deno.test("checkTradingState() denies when HALTED and a non-reducing buy or sell when REDUCING", () => {
  const halted = checkContext({ status: { ...ACTIVE, state: "HALTED", reason: "maintenance" } });
  deniedWith(checkTradingState(halted), "TRADING_HALTED");
  const reducing = { ...ACTIVE, state: "REDUCING" } as const;
  const adds = checkContext({ status: reducing, position: 4, side: "buy", reducibleQty: 0 });
  assert.deepEqual(deniedWith(checkTradingState(adds), "REDUCING_ONLY").details, {
    side: "buy",
    position: 4,
  });
  const sells = checkContext({ status: reducing, position: 4, side: "sell", reducibleQty: 4 });
  assert.equal(checkTradingState(sells), null);
  const flat = checkContext({ status: reducing, signal: signal({ action: "flat" }) });
  assert.equal(checkTradingState(flat), null, "a flat signal is left to the sizing check");
});

Deno.test("checkSizing() denies a flat with nothing to close and a notional below one unit", () => {
  const flat = checkContext({ signal: signal({ action: "flat" }), qty: 0, position: 0 });
  deniedWith(checkSizing(flat), "NO_POSITION_TO_CLOSE");
  const stock = checkContext({ signal: signal({ symbol: "MSFT" }), qty: 0, price: 1500 });
  assert.deepEqual(deniedWith(checkSizing(stock), "QTY_BELOW_MINIMUM").details, {
    notional: 1000,
    price: 1500,
    minQty: 1,
  });
  const crypto = checkContext({ signal: signal({ symbol: "BTC/USD" }), qty: 0, price: 2e6 });
  assert.equal(deniedWith(checkSizing(crypto), "QTY_BELOW_MINIMUM").details.minQty, 0.001);
});

Deno.test("checkMaxOrderQty() passes at the limit and denies above it", () => {
  const limits = { ...LIMITS, maxOrderQty: 10 };
  assert.equal(checkMaxOrderQty(checkContext({ limits, qty: 10 })), null);
  const denial = deniedWith(
    checkMaxOrderQty(checkContext({ limits, qty: 11 })),
    "MAX_ORDER_QTY_EXCEEDED",
  );
  assert.equal(denial.message, "MAX_ORDER_QTY_EXCEEDED: qty=11, max=10");
});

Deno.test("checkMaxOrderNotional() passes at the limit and denies above it, in cents", () => {
  const limits = { ...LIMITS, maxOrderNotional: 1000 };
  assert.equal(checkMaxOrderNotional(checkContext({ limits, notional: 1000 })), null);
  const denial = deniedWith(
    checkMaxOrderNotional(checkContext({ limits, notional: 1000.004 })),
    "MAX_ORDER_NOTIONAL_EXCEEDED",
  );
  assert.deepEqual(denial.details, { notional: 1000, max: 1000 });
});

Deno.test("checkPriceCollar() denies without a mark, with a stale one, and beyond the collar", () => {
  deniedWith(checkPriceCollar(checkContext({ mark: undefined })), "NO_REFERENCE_PRICE");
  const stale = checkContext({ mark: { price: 100, ts: T0 - 5001, source: "quote" } });
  assert.deepEqual(deniedWith(checkPriceCollar(stale), "STALE_REFERENCE_PRICE").details, {
    ageMs: 5001,
    max: 5000,
  });
  const limits = { ...LIMITS, priceCollarBps: 100 };
  assert.equal(checkPriceCollar(checkContext({ limits, signal: signal({ price: 101 }) })), null);
  const beyond = checkContext({ limits, signal: signal({ price: 98.98 }) });
  assert.deepEqual(deniedWith(checkPriceCollar(beyond), "PRICE_COLLAR_BREACHED").details, {
    price: 98.98,
    mid: 100,
    bps: 102,
    max: 100,
  });
});

Deno.test("checkPositionLimit() denies a worst case beyond the limit unless the order reduces", () => {
  const limits = { ...LIMITS, maxPositionQty: 30 };
  assert.equal(checkPositionLimit(checkContext({ limits, projectedPosition: 30 })), null);
  deniedWith(
    checkPositionLimit(checkContext({ limits, projectedPosition: -31 })),
    "POSITION_LIMIT_EXCEEDED",
  );
  assert.equal(
    checkPositionLimit(checkContext({ limits, projectedPosition: 40, reduces: true })),
    null,
  );
});

Deno.test("checkGrossExposure() denies a worst case beyond the limit unless it does not grow", () => {
  const limits = { ...LIMITS, maxGrossExposure: 2000 };
  const at = checkContext({ limits, grossBefore: 1000, grossAfter: 2000 });
  assert.equal(checkGrossExposure(at), null);
  const beyond = checkContext({ limits, grossBefore: 1000, grossAfter: 2000.5 });
  assert.equal(
    deniedWith(checkGrossExposure(beyond), "GROSS_EXPOSURE_EXCEEDED").details.gross,
    2000.5,
  );
  const shrinking = checkContext({ limits, grossBefore: 3000, grossAfter: 2500 });
  assert.equal(checkGrossExposure(shrinking), null);
});

Deno.test("checkNetExposure() denies a worst case beyond the limit in size unless it does not grow", () => {
  const limits = { ...LIMITS, maxNetExposure: 1800 };
  assert.equal(checkNetExposure(checkContext({ limits, netBefore: 0, netAfter: -1800 })), null);
  const short = checkContext({ limits, netBefore: -1000, netAfter: -1801 });
  assert.equal(deniedWith(checkNetExposure(short), "NET_EXPOSURE_EXCEEDED").details.net, -1801);
  const shrinking = checkContext({ limits, netBefore: 2500, netAfter: 2100 });
  assert.equal(checkNetExposure(shrinking), null);
});

Deno.test("checkMaxOpenOrders() passes up to the limit and denies the next order", () => {
  const limits = { ...LIMITS, maxOpenOrders: 2 };
  assert.equal(checkMaxOpenOrders(checkContext({ limits, openOrders: 1 })), null);
  assert.deepEqual(
    deniedWith(
      checkMaxOpenOrders(checkContext({ limits, openOrders: 2 })),
      "MAX_OPEN_ORDERS_EXCEEDED",
    )
      .details,
    { open: 2, max: 2 },
  );
});

Deno.test("checkOrderRate() denies when less than one token is left", () => {
  assert.equal(checkOrderRate(checkContext({ rateTokens: 1 })), null);
  deniedWith(checkOrderRate(checkContext({ rateTokens: 0.999 })), "ORDER_RATE_EXCEEDED");
});

Deno.test("checkDailyLoss() denies new risk at the loss limit and lets a reducing order through", () => {
  const limits = { ...LIMITS, dailyLossLimit: 500 };
  assert.equal(checkDailyLoss(checkContext({ limits, dailyPnl: -499.99 })), null);
  const denial = deniedWith(
    checkDailyLoss(checkContext({ limits, dailyPnl: -500 })),
    "DAILY_LOSS_LIMIT_EXCEEDED",
  );
  assert.equal(denial.message, "DAILY_LOSS_LIMIT_EXCEEDED: pnl=-500, limit=500");
  assert.equal(checkDailyLoss(checkContext({ limits, dailyPnl: -600, reduces: true })), null);
});

Deno.test("checkOrdersChannel() denies without a live consumer, and at the outbox bound but not below it", () => {
  deniedWith(checkOrdersChannel(checkContext({ ordersChannelLive: false })), "ORDERS_CHANNEL_DOWN");
  assert.equal(checkOrdersChannel(checkContext({ outboxPending: 999 })), null);
  deniedWith(checkOrdersChannel(checkContext({ outboxPending: 1000 })), "OUTBOX_FULL");
});

Deno.test("checkOrderRate() leaves the reserved tokens to reducing orders", () => {
  const adding = { rateReserve: 2, reduces: false };
  assert.equal(checkOrderRate(checkContext({ ...adding, rateTokens: 3 })), null);
  deniedWith(checkOrderRate(checkContext({ ...adding, rateTokens: 2.99 })), "ORDER_RATE_EXCEEDED");
  const reducing = { rateReserve: 2, reduces: true };
  assert.equal(checkOrderRate(checkContext({ ...reducing, rateTokens: 1 })), null);
  deniedWith(
    checkOrderRate(checkContext({ ...reducing, rateTokens: 0.99 })),
    "ORDER_RATE_EXCEEDED",
  );
});

Deno.test("checkMaxOrderQty(), checkMaxOrderNotional() and checkMaxOpenOrders() let a reducing order through", () => {
  const big = { qty: 5000, notional: 500_000, openOrders: 20, reduces: true };
  assert.equal(checkMaxOrderQty(checkContext(big)), null);
  assert.equal(checkMaxOrderNotional(checkContext(big)), null);
  assert.equal(checkMaxOpenOrders(checkContext(big)), null);
  const adding = { ...big, reduces: false };
  deniedWith(checkMaxOrderQty(checkContext(adding)), "MAX_ORDER_QTY_EXCEEDED");
  deniedWith(checkMaxOrderNotional(checkContext(adding)), "MAX_ORDER_NOTIONAL_EXCEEDED");
  deniedWith(checkMaxOpenOrders(checkContext(adding)), "MAX_OPEN_ORDERS_EXCEEDED");
});

const market = (state: SymbolMarket["state"], reason = "regular_session"): SymbolMarket => ({
  state,
  reason,
  source: "status",
  ageMs: 1,
});

Deno.test("checkMarketSession() passes an open market and denies a halted one, reducing orders too", () => {
  assert.equal(checkMarketSession(checkContext({ market: market("open") })), null);
  const halted = checkContext({ market: market("halted", "trading_halt"), reduces: true });
  assert.deepEqual(deniedWith(checkMarketSession(halted), "SYMBOL_HALTED").details, {
    symbol: "AAPL",
    reason: "trading_halt",
  });
});

Deno.test("checkMarketSession() denies a closed market, reducing orders too, and an unknown one as SESSION_UNKNOWN", () => {
  const closed = checkContext({ market: market("closed", "outside_session"), reduces: true });
  assert.equal(deniedWith(checkMarketSession(closed), "MARKET_CLOSED").details.state, "closed");
  const stale = { state: "unknown", reason: "stale_status", source: "none", ageMs: 20_000.4 };
  const unknown = checkContext({ market: stale as SymbolMarket });
  assert.deepEqual(deniedWith(checkMarketSession(unknown), "SESSION_UNKNOWN").details, {
    symbol: "AAPL",
    reason: "stale_status",
    ageMs: 20_000,
  });
  const never = checkContext({ market: { state: "unknown", reason: "no_status", source: "none" } });
  assert.deepEqual(deniedWith(checkMarketSession(never), "SESSION_UNKNOWN").details, {
    symbol: "AAPL",
    reason: "no_status",
  });
});

Deno.test("checkMarketSession() lets only a limit day order through extended hours, and only when extendedHours is set", () => {
  const extended = market("extended", "extended_session");
  const limitDay = { market: extended, orderType: "limit", timeInForce: "day" } as const;
  assert.equal(checkMarketSession(checkContext({ ...limitDay, extendedHours: true })), null);
  deniedWith(
    checkMarketSession(checkContext({ ...limitDay, extendedHours: false })),
    "MARKET_CLOSED",
  );
  const marketOrder = checkContext({ market: extended, extendedHours: true });
  assert.equal(deniedWith(checkMarketSession(marketOrder), "MARKET_CLOSED").details.type, "market");
  const limitGtc = checkContext({ ...limitDay, timeInForce: "gtc", extendedHours: true });
  deniedWith(checkMarketSession(limitGtc), "MARKET_CLOSED");
});

Deno.test("checkLuldBand() denies a reference price outside the band, at its edges passes, and passes without a band", () => {
  const band = { limitDown: 95, limitUp: 105, receivedAt: T0 };
  assert.equal(checkLuldBand(checkContext({ band: undefined, price: 1000 })), null);
  assert.equal(checkLuldBand(checkContext({ band, price: 95 })), null);
  assert.equal(checkLuldBand(checkContext({ band, price: 105 })), null);
  assert.deepEqual(
    deniedWith(checkLuldBand(checkContext({ band, price: 105.01 })), "PRICE_OUTSIDE_LULD_BAND")
      .details,
    { price: 105.01, limitDown: 95, limitUp: 105 },
  );
  deniedWith(
    checkLuldBand(checkContext({ band, price: 94.99, reduces: true })),
    "PRICE_OUTSIDE_LULD_BAND",
  );
  // A limit order is judged at its limit price.
  const limit = checkContext({ band, price: 100, orderType: "limit", limitPrice: 106 });
  assert.equal(deniedWith(checkLuldBand(limit), "PRICE_OUTSIDE_LULD_BAND").details.price, 106);
});

Deno.test("checkPriceCollar() denies a buy without an ask and a sell without a bid", () => {
  const bidOnly = { price: 100, ts: T0, source: "one_sided_quote", missing: "ask" } as const;
  const buy = checkContext({ mark: bidOnly, side: "buy" });
  assert.deepEqual(deniedWith(checkPriceCollar(buy), "NO_REFERENCE_PRICE").details, {
    symbol: "AAPL",
    side: "buy",
    missing: "ask",
  });
  assert.equal(checkPriceCollar(checkContext({ mark: bidOnly, side: "sell" })), null);
  const askOnly = { ...bidOnly, missing: "bid" } as const;
  deniedWith(
    checkPriceCollar(checkContext({ mark: askOnly, side: "sell", reduces: true })),
    "NO_REFERENCE_PRICE",
  );
  const empty = { ...bidOnly, missing: "both" } as const;
  deniedWith(checkPriceCollar(checkContext({ mark: empty, side: "sell" })), "NO_REFERENCE_PRICE");
  // Stale is told before the missing side.
  const old = checkContext({ mark: { ...bidOnly, ts: T0 - 6000 }, side: "buy" });
  deniedWith(checkPriceCollar(old), "STALE_REFERENCE_PRICE");
});
