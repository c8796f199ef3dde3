/**
 * What Alpaca's trading API really sends, as test fixtures: each payload is copied from
 * Alpaca's documentation, an official SDK's tests or an Alpaca maintainer's report, with
 * its source beside it. Where Alpaca documents nothing, the comment says INFERRED and why.
 * The session fixtures (clock, calendar) are in lib/testing/alpaca_session_fixtures.ts.
 * @module
 */

/** `GET /v2/account`. Source: alpacahq/alpaca-docs `data/webapi/entities/account-v2.yaml` (example). */
export const ACCOUNT = {
  "account_blocked": false,
  "account_number": "010203ABCD",
  "buying_power": "262113.632",
  "cash": "-23140.2",
  "created_at": "2019-06-12T22:47:07.99658Z",
  "currency": "USD",
  "crypto_status": "ACTIVE",
  "non_marginable_buying_power": "7386.56",
  "accrued_fees": "0",
  "pending_transfer_in": "0",
  "pending_transfer_out": "0",
  "daytrade_count": "0",
  "daytrading_buying_power": "262113.632",
  "equity": "103820.56",
  "id": "e6fe16f3-64a4-4921-8928-cadf02f92f98",
  "initial_margin": "63480.38",
  "last_equity": "103529.24",
  "last_maintenance_margin": "38000.832",
  "long_market_value": "126960.76",
  "maintenance_margin": "38088.228",
  "multiplier": "4",
  "pattern_day_trader": false,
  "portfolio_value": "103820.56",
  "regt_buying_power": "80680.36",
  "short_market_value": "0",
  "shorting_enabled": true,
  "sma": "0",
  "status": "ACTIVE",
  "trade_suspended_by_user": false,
  "trading_blocked": false,
  "transfers_blocked": false,
} as const;

/** `GET /v2/positions`. Source: alpacahq/alpaca-py `tests/trading/trading_client/test_position_routes.py`. */
export const POSITIONS = [
  {
    "asset_id": "904837e3-3b76-47ec-b432-046db621571b",
    "symbol": "AAPL",
    "exchange": "NASDAQ",
    "asset_class": "us_equity",
    "avg_entry_price": "100.0",
    "qty": "5",
    "side": "long",
    "market_value": "600.0",
    "cost_basis": "500.0",
    "unrealized_pl": "100.0",
    "unrealized_plpc": "0.20",
    "unrealized_intraday_pl": "10.0",
    "unrealized_intraday_plpc": "0.0084",
    "current_price": "120.0",
    "lastday_price": "119.0",
    "change_today": "0.0084",
    "usd": {
      "avg_entry_price": "100.0",
      "market_value": "600.0",
      "cost_basis": "500.0",
      "unrealized_pl": "100.0",
      "unrealized_plpc": "0.20",
      "unrealized_intraday_pl": "10.0",
      "unrealized_intraday_plpc": "0.0084",
      "current_price": "120.0",
      "lastday_price": "119.0",
      "change_today": "0.0084",
    },
  },
] as const;

/**
 * A `fill` trade update of a crypto order (note `SOLUSD`: Alpaca spells crypto symbols
 * without the slash here; `execution_id` and `position_qty` beside the order). Source:
 * alpacahq/alpaca-docs `content/api-references/trading-api/streaming.md` (example).
 */
export const FILL_UPDATE = {
  "stream": "trade_updates",
  "data": {
    "event": "fill",
    "execution_id": "2f63ea93-423d-4169-b3f6-3fdafc10c418",
    "order": {
      "asset_class": "crypto",
      "asset_id": "1cf35270-99ee-44e2-a77f-6fab902c7f80",
      "cancel_requested_at": null,
      "canceled_at": null,
      "client_order_id": "4642fd68-d59a-47d7-a9ac-e22f536828d1",
      "created_at": "2022-04-19T13:45:04.981350886-04:00",
      "expired_at": null,
      "extended_hours": false,
      "failed_at": null,
      "filled_at": "2022-04-19T17:45:05.024916716Z",
      "filled_avg_price": "105.8988475",
      "filled_qty": "1790.86",
      "hwm": null,
      "id": "a5be8f5e-fdfa-41f5-a644-7a74fe947a8f",
      "legs": null,
      "limit_price": null,
      "notional": null,
      "order_class": "",
      "order_type": "market",
      "qty": "1790.86",
      "replaced_at": null,
      "replaced_by": null,
      "replaces": null,
      "side": "sell",
      "status": "filled",
      "stop_price": null,
      "submitted_at": "2022-04-19T13:45:04.980944666-04:00",
      "symbol": "SOLUSD",
      "time_in_force": "gtc",
      "trail_percent": null,
      "trail_price": null,
      "type": "market",
      "updated_at": "2022-04-19T13:45:05.027690731-04:00",
    },
    "position_qty": "0",
    "price": "105.8988475",
    "qty": "1790.86",
    "timestamp": "2022-04-19T17:45:05.024916716Z",
  },
} as const;

/** Authorization answers. Source: alpacahq/alpaca-docs `content/api-references/trading-api/streaming.md`. */
export const AUTHORIZED = {
  "stream": "authorization",
  "data": { "status": "authorized", "action": "authenticate" },
} as const;
export const UNAUTHORIZED = {
  "stream": "authorization",
  "data": { "status": "unauthorized", "action": "authenticate" },
} as const;
/** The answer to a `listen` before authorization. Source: same page. */
export const LISTEN_UNAUTHORIZED = {
  "stream": "authorization",
  "data": { "status": "unauthorized", "action": "listen" },
} as const;
/** An unauthorized answer as users saw it, with a `message`. Source: alpacahq/alpaca-ts issues #23, #24. */
export const UNAUTHORIZED_WITH_MESSAGE = {
  "stream": "authorization",
  "data": {
    "action": "authenticate",
    "message": "access key verification failed",
    "status": "unauthorized",
  },
} as const;
/** The listen acknowledgement. Source: streaming.md. */
export const LISTENING = {
  "stream": "listening",
  "data": { "streams": ["trade_updates"] },
} as const;
/**
 * INFERRED: an error frame of the trading stream. Alpaca documents none; the issue names
 * `{"action":"error",...}` and the official JS SDK logs a `data.error` field
 * (alpacahq/alpaca-trade-api-js `lib/resources/websockets.js`). This shape joins both; it
 * was not seen in any capture.
 */
export const STREAM_ERROR_INFERRED = {
  "action": "error",
  "data": { "error": "internal error" },
} as const;
/** A one-byte heartbeat frame the official JS SDK skips (`lib/resources/websockets.js`). */
export const HEARTBEAT = new Uint8Array([1]);

/** Error bodies, each with its HTTP status and source. */
export const ERRORS = {
  /** 401, paper POST /v2/orders with bad keys. Source: Petersoj/alpaca-java issue #156 (full response). */
  unauthorized: { status: 401, body: { "code": 40110000, "message": "request is not authorized" } },
  /** 403. Source: alpacahq/alpaca-py issue #225 (a maintainer's report). */
  buyingPower: {
    status: 403,
    body: {
      "buying_power": "176531.28",
      "code": 40310000,
      "cost_basis": "48640000",
      "message": "insufficient buying power",
    },
  },
  /** 422 crypto time in force. Source: alpacahq/alpaca-py issue #681 (Alpaca maintainer). */
  cryptoTimeInForce: {
    status: 422,
    body: { "code": 42210000, "message": "invalid crypto time_in_force" },
  },
  /**
   * Sub-penny limit price. Source: alpacahq/alpaca-docs `content/trading/orders.md`; the
   * HTTP status is not stated there: 422 is INFERRED from the code's prefix.
   */
  subPenny: (price: string) => ({
    status: 422,
    body: {
      "code": 42210000,
      "message":
        `invalid limit_price ${price}. sub-penny increment does not fulfill minimum pricing criteria`,
    },
  }),
  /** 422 extended hours with a market order. Source: Petersoj/alpaca-java issue #77. */
  extendedHoursLimitOnly: {
    status: 422,
    body: { "code": 40010001, "message": 'only type="limit" is allowed for extended hours orders' },
  },
  /** 404 order. Source: alpaca-py `tests/trading/trading_client/test_order_routes.py` (cancel-all entry). */
  orderNotFound: { status: 404, body: { "code": 40410000, "message": "order not found" } },
  /**
   * 429. Only the text "rate limit exceeded" was seen (alpacahq/alpaca-trade-api-csharp
   * issue #416); the `code` 42910000 is INFERRED from Alpaca's code pattern.
   */
  rateLimited: { status: 429, body: { "code": 42910000, "message": "rate limit exceeded" } },
} as const;
