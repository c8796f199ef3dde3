/**
 * Risk denials as values: every refused signal carries a stable code, the check that
 * refused it and the figures that decided, never an exception.
 * @module
 */

/** The pre-trade checks, in the order they run; `all_checks` is the whole run. */
export const CHECK_TYPES = [
  "duplicate_signal",
  "signal_expired",
  "symbol",
  "circuit_breaker",
  "trading_state",
  "orders_channel",
  "market_session",
  "sizing",
  "max_order_qty",
  "max_order_notional",
  "price_collar",
  "luld_band",
  "position_limit",
  "gross_exposure",
  "net_exposure",
  "max_open_orders",
  "order_rate",
  "daily_loss",
  "all_checks",
] as const;
/** One of {@link CHECK_TYPES}: the `check_type` label value. */
export type CheckType = typeof CHECK_TYPES[number];

/** Stable denial codes, by the check that issues them. */
export const DENIAL_CODES = {
  DUPLICATE_SIGNAL: "duplicate_signal",
  SIGNAL_EXPIRED: "signal_expired",
  SYMBOL_NOT_TRADED: "symbol",
  CIRCUIT_BREAKER_TRIGGERED: "circuit_breaker",
  TRADING_HALTED: "trading_state",
  REDUCING_ONLY: "trading_state",
  ORDERS_CHANNEL_DOWN: "orders_channel",
  OUTBOX_FULL: "orders_channel",
  MARKET_CLOSED: "market_session",
  SESSION_UNKNOWN: "market_session",
  SYMBOL_HALTED: "market_session",
  NO_POSITION_TO_CLOSE: "sizing",
  QTY_BELOW_MINIMUM: "sizing",
  MAX_ORDER_QTY_EXCEEDED: "max_order_qty",
  MAX_ORDER_NOTIONAL_EXCEEDED: "max_order_notional",
  NO_REFERENCE_PRICE: "price_collar",
  STALE_REFERENCE_PRICE: "price_collar",
  PRICE_COLLAR_BREACHED: "price_collar",
  PRICE_OUTSIDE_LULD_BAND: "luld_band",
  POSITION_LIMIT_EXCEEDED: "position_limit",
  GROSS_EXPOSURE_EXCEEDED: "gross_exposure",
  NET_EXPOSURE_EXCEEDED: "net_exposure",
  MAX_OPEN_ORDERS_EXCEEDED: "max_open_orders",
  ORDER_RATE_EXCEEDED: "order_rate",
  DAILY_LOSS_LIMIT_EXCEEDED: "daily_loss",
} as const satisfies Record<string, CheckType>;
/** A stable denial code such as `POSITION_LIMIT_EXCEEDED`. */
export type DenialCode = keyof typeof DENIAL_CODES;

/** A refused signal: the code, the check, and the figures (for logs and events). */
export interface Denial {
  readonly code: DenialCode;
  readonly check: CheckType;
  /** `CODE: key=value, …`, e.g. `MAX_ORDER_QTY_EXCEEDED: qty=1001, max=1000`. */
  readonly message: string;
  readonly details: Readonly<Record<string, number | string>>;
}

/** Builds a {@link Denial}; `details` become the `key=value` list of the message. */
export function deny(code: DenialCode, details: Record<string, number | string> = {}): Denial {
  const parts = Object.entries(details).map(([k, v]) => `${k}=${v}`);
  return Object.freeze({
    code,
    check: DENIAL_CODES[code],
    message: parts.length ? `${code}: ${parts.join(", ")}` : code,
    details: Object.freeze({ ...details }),
  });
}

/** Rounds a USD figure or a ratio to 2 decimals, as denials and breaker reasons show them. */
export function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

/** The `failure_type` label value of a code: the code in snake_case (`position_limit_exceeded`). */
export function failureType(code: DenialCode): string {
  return code.toLowerCase();
}
