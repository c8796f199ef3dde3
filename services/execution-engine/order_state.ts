/**
 * The order state machine: which state changes are legal.
 *
 * ```
 * new ──> accepted ──> partially_filled ──> filled
 *  │         │  │            │  └─(more fills)─┘
 *  │         │  └──> filled  └──> canceled | expired
 *  │         └──> canceled | expired | rejected
 *  └──> rejected | canceled | expired
 * ```
 *
 * `filled`, `canceled`, `rejected` and `expired` are final. `partially_filled` may
 * repeat (each further fill). A refused change is a value with a stable code, never an
 * exception.
 * @module
 */
import { ORDER_STATES, type OrderState } from "../../lib/types.ts";

export { ORDER_STATES, type OrderState };

/** States no order leaves. */
export const FINAL_STATES: ReadonlySet<OrderState> = new Set([
  "filled",
  "canceled",
  "rejected",
  "expired",
]);

/** The legal next states of each state. */
export const TRANSITIONS: Readonly<Record<OrderState, readonly OrderState[]>> = Object.freeze({
  new: ["accepted", "rejected", "canceled", "expired"],
  accepted: ["partially_filled", "filled", "canceled", "expired", "rejected"],
  partially_filled: ["partially_filled", "filled", "canceled", "expired"],
  filled: [],
  canceled: [],
  rejected: [],
  expired: [],
});

/** True when no further state change can happen. */
export function isFinal(state: OrderState): boolean {
  return FINAL_STATES.has(state);
}

/** The outcome of {@link checkTransition}. */
export type TransitionCheck =
  | { ok: true; from: OrderState; to: OrderState }
  | { ok: false; code: "ILLEGAL_TRANSITION"; from: OrderState; to: OrderState; message: string };

/**
 * Checks a state change. Returns `{ ok: false, code: "ILLEGAL_TRANSITION" }` when the
 * change is not in {@link TRANSITIONS}.
 *
 * @example
 * ```ts
 * checkTransition("filled", "canceled").ok; // false
 * ```
 */
export function checkTransition(from: OrderState, to: OrderState): TransitionCheck {
  if (TRANSITIONS[from].includes(to)) return { ok: true, from, to };
  return {
    ok: false,
    code: "ILLEGAL_TRANSITION",
    from,
    to,
    message: `ILLEGAL_TRANSITION: from=${from}, to=${to}`,
  };
}
