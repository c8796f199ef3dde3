/**
 * The trading state and the circuit breaker.
 *
 * ACTIVE trades; REDUCING accepts only orders that reduce a position (never flip it);
 * HALTED accepts nothing. A tripped breaker forces HALTED until it is reset, and a
 * reset returns to ACTIVE. While tripped, the state cannot be set by hand.
 * @module
 */
import type { TradingState, TradingStateEvent } from "../../lib/types.ts";

/** Gauge values of the states: `risk_manager_trading_state`. */
export const STATE_GAUGE: Readonly<Record<TradingState, number>> = {
  ACTIVE: 0,
  REDUCING: 1,
  HALTED: 2,
};

/** The persisted state. */
export interface TradingStatus {
  readonly state: TradingState;
  readonly breakerTripped: boolean;
  readonly reason: string;
  readonly actor: string;
  /** When it last changed, epoch ms. */
  readonly since: number;
}

/** A change: the event to publish, with the breaker flag after it. */
export interface TradingStateChange {
  readonly event: TradingStateEvent;
  readonly breakerTripped: boolean;
  readonly breakerChanged: boolean;
}

/** Why a state could not be set. */
export interface StateError {
  readonly code: "BREAKER_TRIPPED";
  readonly message: string;
}

/** Holds the trading state; each change returns a {@link TradingStateChange} or null. */
export class TradingStateMachine {
  #status: TradingStatus;

  constructor(initial?: TradingStatus) {
    this.#status = initial ??
      { state: "ACTIVE", breakerTripped: false, reason: "start", actor: "system", since: 0 };
  }

  /** The current status. */
  get status(): TradingStatus {
    return this.#status;
  }

  /** Trips the breaker (HALTED). Null when it was already tripped. */
  trip(reason: string, actor: string, at: number): TradingStateChange | null {
    if (this.#status.breakerTripped) return null;
    return this.#change("HALTED", true, `circuit breaker tripped: ${reason}`, actor, at);
  }

  /** Resets the breaker (ACTIVE). Null when it was not tripped. */
  reset(reason: string, actor: string, at: number): TradingStateChange | null {
    if (!this.#status.breakerTripped) return null;
    return this.#change("ACTIVE", false, `circuit breaker reset: ${reason}`, actor, at);
  }

  /** Sets the state by hand. Refused while the breaker is tripped; null when unchanged. */
  set(
    state: TradingState,
    reason: string,
    actor: string,
    at: number,
  ): TradingStateChange | null | StateError {
    if (this.#status.breakerTripped) {
      return {
        code: "BREAKER_TRIPPED",
        message: "BREAKER_TRIPPED: reset the circuit breaker before setting the state",
      };
    }
    if (state === this.#status.state) return null;
    return this.#change(state, false, reason, actor, at);
  }

  #change(
    state: TradingState,
    breaker: boolean,
    reason: string,
    actor: string,
    at: number,
  ): TradingStateChange {
    const previous = this.#status.state;
    const breakerChanged = breaker !== this.#status.breakerTripped;
    this.#status = Object.freeze({ state, breakerTripped: breaker, reason, actor, since: at });
    return {
      event: Object.freeze({ state, previous, reason, actor, at }),
      breakerTripped: breaker,
      breakerChanged,
    };
  }
}

/** True for the error value of {@link TradingStateMachine.set}. */
export function isStateError(v: unknown): v is StateError {
  return typeof v === "object" && v !== null && "code" in v && !("event" in v);
}
