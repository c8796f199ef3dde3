/**
 * A venue for core tests: records every submit, answers as the test tells it, and
 * sends the updates the test emits. It outlives cores, so a test can restart the core
 * on the same journal and venue.
 * @module
 */
import type { Order } from "../../../lib/types.ts";
import type { LookupResult, SubmitResult, Venue, VenueEvent, VenueOrderStatus } from "../venue.ts";

/** The fake venue (its name is `alpaca`, so it is not mistaken for the paper exchange). */
export class FakeVenue implements Venue {
  readonly name = "alpaca" as const;
  /** Every order submitted, in order. */
  readonly submits: Order[] = [];
  /** The orders the venue holds, by client order id (what `lookup` answers). */
  readonly held = new Map<string, VenueOrderStatus>();
  /** The answer to each submit; default: accepted as `v-<clientOrderId>`. */
  answer: (order: Order) => SubmitResult = (order) => ({
    kind: "accepted",
    venueOrderId: `v-${order.clientOrderId}`,
  });
  #handlers: ((event: VenueEvent) => void)[] = [];

  start(): Promise<void> {
    return Promise.resolve();
  }

  submit(order: Order): Promise<SubmitResult> {
    this.submits.push(order);
    const result = this.answer(order);
    if (result.kind === "accepted") {
      this.held.set(order.clientOrderId, {
        venueOrderId: result.venueOrderId,
        clientOrderId: order.clientOrderId,
        state: "accepted",
        cumQty: 0,
        avgPrice: 0,
      });
    }
    return Promise.resolve(result);
  }

  cancel(clientOrderId: string): Promise<boolean> {
    return Promise.resolve(this.held.has(clientOrderId));
  }

  lookup(clientOrderId: string): Promise<LookupResult> {
    const status = this.held.get(clientOrderId);
    return Promise.resolve(status ? { kind: "found", status } : { kind: "not_found" });
  }

  /** Registers the handler of updates, replacing the previous one (the previous core's). */
  onEvent(handler: (event: VenueEvent) => void): void {
    this.#handlers = [handler];
  }

  /** Sends an update to the core (and holds it as the order's state). */
  emit(event: Omit<VenueEvent, "ts">): void {
    this.held.set(event.clientOrderId, event);
    for (const handler of this.#handlers) handler({ ...event, ts: Date.now() });
  }

  ready(): Record<string, boolean> {
    return { venue: true };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
