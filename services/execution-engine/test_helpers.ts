/**
 * Shared fixtures of the execution-engine tests.
 * @module
 */
import type { Order } from "../../lib/types.ts";
import type { LookupResult, SubmitResult, Venue, VenueEvent, VenueOrderStatus } from "./venue.ts";

let n = 0;

/** A valid market order with a fresh client order id; fields may be overridden. */
export function makeOrder(over: Partial<Order> = {}): Order {
  n++;
  return {
    clientOrderId: `t-${Date.now().toString(36)}-${n}`,
    signalId: `sig-${n}`,
    symbol: "AAPL",
    side: "buy",
    qty: 10,
    type: "market",
    timeInForce: "day",
    strategy: "default",
    createdAt: Date.now(),
    tickTs: Date.now(),
    ...over,
  };
}

/** A temporary directory removed by the returned function. */
export async function tempDir(): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await Deno.makeTempDir({ prefix: "ee-test-" });
  return { path, remove: () => Deno.remove(path, { recursive: true }).catch(() => {}) };
}

/** A scheduler tests run by hand: `schedule` queues, `run()` drains (bounded). */
export class ManualScheduler {
  readonly #queue: (() => void)[] = [];
  readonly schedule = (fn: () => void, _ms: number): void => {
    this.#queue.push(fn);
  };
  /** Runs queued callbacks (and those they queue) up to `max` of them; returns how many ran. */
  run(max = 10_000): number {
    let n = 0;
    while (this.#queue.length > 0 && n < max) {
      this.#queue.shift()!();
      n++;
    }
    return n;
  }
  get pending(): number {
    return this.#queue.length;
  }
}

/** A venue for engine tests that records every submit and answers as told. It outlives engines. */
export class FakeVenue implements Venue {
  readonly name = "alpaca" as const;
  readonly submits: Order[] = [];
  readonly held = new Map<string, VenueOrderStatus>();
  answer: (o: Order) => SubmitResult = (o) => ({
    kind: "accepted",
    venueOrderId: `v-${o.clientOrderId}`,
  });
  lookupAnswer?: (id: string) => LookupResult;
  #handlers: ((ev: VenueEvent) => void)[] = [];
  start(): Promise<void> {
    return Promise.resolve();
  }
  submit(order: Order): Promise<SubmitResult> {
    this.submits.push(order);
    const r = this.answer(order);
    if (r.kind === "accepted") {
      this.held.set(order.clientOrderId, {
        venueOrderId: r.venueOrderId,
        clientOrderId: order.clientOrderId,
        state: "accepted",
        cumQty: 0,
        avgPrice: 0,
      });
    }
    return Promise.resolve(r);
  }
  cancel(clientOrderId: string): Promise<boolean> {
    return Promise.resolve(this.held.has(clientOrderId));
  }
  lookup(clientOrderId: string): Promise<LookupResult> {
    if (this.lookupAnswer) return Promise.resolve(this.lookupAnswer(clientOrderId));
    const s = this.held.get(clientOrderId);
    return Promise.resolve(s ? { kind: "found", status: s } : { kind: "not_found" });
  }
  onEvent(handler: (ev: VenueEvent) => void): void {
    this.#handlers = [handler];
  }
  /** Sends an update to the engine. */
  emit(ev: Omit<VenueEvent, "ts">): void {
    this.held.set(ev.clientOrderId, ev);
    for (const h of this.#handlers) h({ ...ev, ts: Date.now() });
  }
  ready(): Record<string, boolean> {
    return { venue: true };
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}
