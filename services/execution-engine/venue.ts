/**
 * The one interface every venue (the paper exchange `sim`, `alpaca`) implements, and
 * the closed sets of codes used for rejections and API failures.
 * @module
 */
import type { Order } from "../../lib/types.ts";

/** Venue names; the `exchange` metric label. */
export const VENUES = ["sim", "alpaca"] as const;
/** One of {@link VENUES}. */
export type VenueName = typeof VENUES[number];

/** Why an order was rejected: the `rejection_reason` metric label and the report's `reason`. */
export const REJECTION_REASONS = [
  "insufficient_buying_power",
  "unknown_symbol",
  "market_closed",
  "no_market_data",
  "venue_rejected",
  "invalid_order",
  "forbidden",
  "rate_limited",
  "venue_unavailable",
  "venue_lost",
  /** The order's `expiresAt` passed before it could be sent (execution-engine refused it). */
  "order_expired",
  "session_unknown",
  "invalid_time_in_force",
  "account_blocked",
] as const;
/** One of {@link REJECTION_REASONS}. */
export type RejectionReason = typeof REJECTION_REASONS[number];

/** What a venue answered to a new order. */
export type SubmitResult =
  /** The venue holds the order. `status` is its state there when known. */
  | { kind: "accepted"; venueOrderId: string; status?: VenueOrderStatus }
  /** The venue refused the order: it does not exist there. */
  | { kind: "rejected"; reason: RejectionReason; detail?: string }
  /** Could not tell whether the venue holds the order (retries exhausted); reconcile later. */
  | { kind: "unknown"; detail: string };

/** An order's state at the venue, as read back (reconciliation) or carried by an event. */
export interface VenueOrderStatus {
  venueOrderId: string;
  clientOrderId: string;
  /** `accepted` covers every live-but-unfilled venue state (new, pending_new, ...). */
  state: "accepted" | "partially_filled" | "filled" | "canceled" | "expired" | "rejected";
  /** Cumulative filled quantity. */
  cumQty: number;
  /** Average fill price (0 when nothing filled). */
  avgPrice: number;
  reason?: RejectionReason;
}

/**
 * An asynchronous order update from the venue. Fills are described cumulatively
 * (`cumQty`, `avgPrice`), so a repeated event is harmless; `lastQty`/`lastPrice` are the
 * latest execution when the venue says so.
 */
export interface VenueEvent extends VenueOrderStatus {
  lastQty?: number;
  lastPrice?: number;
  ts: number;
}

/** What `lookup` found. */
export type LookupResult =
  | { kind: "found"; status: VenueOrderStatus }
  | { kind: "not_found" }
  | { kind: "unknown"; detail: string };

/** A venue orders are sent to. */
export interface Venue {
  readonly name: VenueName;
  /** Connects (stream, etc.). Resolves when the venue is usable. */
  start(): Promise<void>;
  /** Sends a new order; idempotent by `clientOrderId` where the venue supports it. */
  submit(order: Order): Promise<SubmitResult>;
  /** Asks the venue to cancel; the outcome arrives as an event. Returns false when refused. */
  cancel(clientOrderId: string, venueOrderId: string | undefined): Promise<boolean>;
  /** Reads an order back by client order id (for reconciliation on start-up). */
  lookup(clientOrderId: string): Promise<LookupResult>;
  /** Registers the handler for order updates. */
  onEvent(handler: (ev: VenueEvent) => void): void;
  /**
   * Registers a handler called when the venue may have sent updates the engine missed
   * (its stream reconnected): the engine then reconciles every open order.
   */
  onResync?(handler: () => void): void;
  /** Readiness checks of the venue (e.g. stream authenticated). */
  ready(): Record<string, boolean>;
  close(): Promise<void>;
}
