/**
 * The Alpaca venue: orders over REST ({@link AlpacaClient}), fills from the
 * `trade_updates` stream ({@link TradeUpdatesStream}).
 * @module
 */
import type { Order } from "../../lib/types.ts";
import type { AlpacaClient } from "./alpaca_client.ts";
import { TradeUpdatesStream, type TradeUpdatesStreamOptions } from "./alpaca_stream.ts";
import type { LookupResult, SubmitResult, Venue, VenueEvent } from "./venue.ts";

/** Thrown by {@link AlpacaVenue.start} when Alpaca refuses the keys. */
export class AlpacaAuthError extends Error {
  override name = "AlpacaAuthError";
}

/** Options of {@link AlpacaVenue}. */
export interface AlpacaVenueOptions {
  client: AlpacaClient;
  stream: Omit<TradeUpdatesStreamOptions, "onUpdate" | "onResync">;
  /** Longest wait for the stream at start-up before going on without it (ms). */
  startTimeoutMs?: number;
}

/** Alpaca as a {@link Venue}. */
export class AlpacaVenue implements Venue {
  readonly name = "alpaca" as const;
  readonly #client: AlpacaClient;
  readonly #stream: TradeUpdatesStream;
  readonly #startTimeoutMs: number;
  #handlers: ((ev: VenueEvent) => void)[] = [];
  #resync: (() => void)[] = [];

  constructor(options: AlpacaVenueOptions) {
    this.#client = options.client;
    this.#startTimeoutMs = options.startTimeoutMs ?? 5000;
    this.#stream = new TradeUpdatesStream({
      ...options.stream,
      onUpdate: (ev) => {
        for (const h of this.#handlers) h(ev);
      },
      onResync: () => {
        for (const h of this.#resync) h();
      },
    });
  }

  /**
   * Checks the keys (`GET /v2/account`; throws {@link AlpacaAuthError} on 401/403) and
   * connects the stream (waiting up to `startTimeoutMs`; it keeps reconnecting after).
   */
  async start(): Promise<void> {
    const acct = await this.#client.checkAccount();
    if (!acct.ok && (acct.code === "http_401" || acct.code === "http_403")) {
      throw new AlpacaAuthError(
        `Cannot start the Alpaca venue: the API refused the keys (${acct.code})`,
      );
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#stream.start(),
      new Promise((r) => (timer = setTimeout(r, this.#startTimeoutMs))),
    ]);
    clearTimeout(timer);
  }

  submit(order: Order): Promise<SubmitResult> {
    return this.#client.submitOrder(order);
  }

  async cancel(clientOrderId: string, venueOrderId: string | undefined): Promise<boolean> {
    let id = venueOrderId;
    if (id === undefined) {
      const found = await this.#client.lookup(clientOrderId);
      if (found.kind !== "found") return false;
      id = found.status.venueOrderId;
    }
    return await this.#client.cancelOrder(id);
  }

  lookup(clientOrderId: string): Promise<LookupResult> {
    return this.#client.lookup(clientOrderId);
  }

  onEvent(handler: (ev: VenueEvent) => void): void {
    this.#handlers.push(handler);
  }

  onResync(handler: () => void): void {
    this.#resync.push(handler);
  }

  ready(): Record<string, boolean> {
    return { venue_stream: this.#stream.listening };
  }

  async close(): Promise<void> {
    await this.#stream.close();
  }
}
