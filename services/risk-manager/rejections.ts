/**
 * What risk-manager does when execution-engine rejects one of its orders (or expires it
 * unsent), by the report's `reason`. Every such order is closed by its report anyway
 * (its slot and exposure are released); this table decides what more happens:
 *
 * | reason                  | action | why                                                                                             |
 * | ----------------------- | ------ | ----------------------------------------------------------------------------------------------- |
 * | `account_blocked`       | halt   | the venue account may not trade: it is the account, not the order, so every next order fails too |
 * | `invalid_time_in_force` | halt   | risk-manager built an order the venue refuses by rule (a config or code error): the next ones would be refused alike |
 * | `market_closed`         | count  | the engine and risk-manager disagree about the session (or it closed in between): a sign, not a risk |
 * | `session_unknown`       | count  | the engine has not read the venue's clock: the next status or clock read mends it               |
 * | `rate_limited`          | count  | the venue's rate limit: the order never reached it; the order rate and the engine's limiter pace the next ones |
 * | `order_expired`         | count  | the order waited past `orderTtlMs` (the engine was away or slow): normal after an outage          |
 * | anything else           | count  | `other`: an order-level refusal (buying power, unknown symbol...), already in the engine's metrics |
 *
 * `halt` sets the trading state HALTED (actor `execution-engine`; an operator sets it back
 * with `PUT /admin/state` once the cause is mended); nothing trips the circuit breaker,
 * which stays the daily-loss and manual brake. Each rejection is counted
 * (`risk_manager_venue_rejections_total{reason}`) and logged at a bounded rate.
 * @module
 */

/** The action of each rejection reason risk-manager treats by name. */
export const REJECTION_ACTIONS = Object.freeze(
  {
    account_blocked: "halt",
    invalid_time_in_force: "halt",
    market_closed: "count",
    session_unknown: "count",
    rate_limited: "count",
    order_expired: "count",
  } as const,
);

/** A reason of {@link REJECTION_ACTIONS}. */
export type NamedRejection = keyof typeof REJECTION_ACTIONS;

/** The `reason` label values of `risk_manager_venue_rejections_total`: the named reasons and `other`. */
export const REJECTION_LABELS = [
  ...Object.keys(REJECTION_ACTIONS) as NamedRejection[],
  "other",
] as const;

/** A rejection as risk-manager treats it. */
export interface Rejection {
  /** The `reason` label: a named reason, or `other`. */
  readonly label: NamedRejection | "other";
  /** The report's reason as it came (for the log), `unknown` when it had none. */
  readonly reason: string;
  readonly action: "halt" | "count";
}

/** How risk-manager treats a rejection with `reason` (see the module comment). */
export function rejectionOf(reason: string | undefined): Rejection {
  const given = reason ?? "unknown";
  if (Object.hasOwn(REJECTION_ACTIONS, given)) {
    const label = given as NamedRejection;
    return { label, reason: given, action: REJECTION_ACTIONS[label] };
  }
  return { label: "other", reason: given, action: "count" };
}
