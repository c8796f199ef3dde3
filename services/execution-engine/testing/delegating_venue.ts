/**
 * A venue that forwards every call to another venue: the base of the test doubles that
 * change one thing about a real venue (crash around `submit`, time `submit`) and leave
 * the rest as it is.
 * @module
 */
import type { Order } from "../../../lib/types.ts";
import type { LookupResult, SubmitResult, Venue, VenueEvent, VenueName } from "../venue.ts";

/** Forwards everything to `inner`; subclasses override what they change. */
export class DelegatingVenue implements Venue {
  /** The venue every call goes to. */
  protected readonly inner: Venue;

  constructor(inner: Venue) {
    this.inner = inner;
  }

  get name(): VenueName {
    return this.inner.name;
  }

  start(): Promise<void> {
    return this.inner.start();
  }

  submit(order: Order): Promise<SubmitResult> {
    return this.inner.submit(order);
  }

  cancel(clientOrderId: string, venueOrderId: string | undefined): Promise<boolean> {
    return this.inner.cancel(clientOrderId, venueOrderId);
  }

  lookup(clientOrderId: string): Promise<LookupResult> {
    return this.inner.lookup(clientOrderId);
  }

  onEvent(handler: (event: VenueEvent) => void): void {
    this.inner.onEvent(handler);
  }

  onResync(handler: () => void): void {
    this.inner.onResync?.(handler);
  }

  ready(): Record<string, boolean> {
    return this.inner.ready();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
