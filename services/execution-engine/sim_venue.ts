/**
 * The paper exchange (`venue: "sim"`, the embedded default): fills orders at the current
 * market prices from market-data, with configurable latency, slippage, partial fills and
 * random rejections, all drawn from a seeded generator so a run can be repeated.
 *
 * Rules:
 * - a symbol outside `config.symbols` is rejected `unknown_symbol`;
 * - outside `hoursUtc` (Mon-Fri; crypto symbols, those with a "/", trade around the clock)
 *   an order is rejected `market_closed`, and resting `day` orders expire at the close;
 * - with no price yet for the symbol the order is rejected `no_market_data` (never queued:
 *   a stale or absent market must not produce a surprise fill later);
 * - a buy whose notional exceeds the cash left after open buys is rejected
 *   `insufficient_buying_power` (cash starts at `buyingPower` and moves with fills);
 * - a limit order without `limitPrice` is rejected `invalid_order`;
 * - otherwise with probability `rejectProbability` it is rejected `venue_rejected`.
 * Accepted market orders fill at the ask (buy) or bid (sell), or the last trade, moved
 * against the order by `slippageBps`; with probability `partialFillProbability` a fill is
 * partial and the rest follows after another `latencyMs`. Limit orders fill when
 * marketable (never beyond the limit) and otherwise rest until the market reaches them;
 * `ioc` remainders are canceled.
 *
 * The exchange lives in the process: after a restart it knows no orders (lookup answers
 * `not_found`).
 * @module
 */
import type { Order } from "../../lib/types.ts";
import type { PriceBook } from "./price_book.ts";
import type {
  LookupResult,
  RejectionReason,
  SubmitResult,
  Venue,
  VenueEvent,
  VenueOrderStatus,
} from "./venue.ts";
import { mulberry32 } from "../../lib/random.ts";

/** Options of {@link SimVenue} (the `executionEngine.sim` config plus the symbols). */
export interface SimVenueOptions {
  seed: number;
  latencyMs: number;
  slippageBps: number;
  partialFillProbability: number;
  rejectProbability: number;
  buyingPower: number;
  hoursUtc: { open: string; close: string } | null;
  symbols: readonly string[];
  /** Epoch ms; default `Date.now`. */
  now?: () => number;
  /** Runs `fn` after `ms`; default `setTimeout`. */
  schedule?: (fn: () => void, ms: number) => void;
  /**
   * Told of every simulated API call, as the Alpaca client records its real ones
   * (`execution_engine_api_call_latency_ms`): the paper venue answers with the status
   * code Alpaca would (200, 403 for buying power, 422 for other refusals).
   */
  onApiCall?: (call: { endpoint: string; method: string; statusCode: string; ms: number }) => void;
}

interface SimOrder {
  order: Order;
  venueOrderId: string;
  state: VenueOrderStatus["state"];
  cumQty: number;
  avgPrice: number;
  /** Notional held against buying power. */
  reserved: number;
  scheduled: boolean;
}

function minutes(hhmm: string): number {
  const [h, m] = hhmm.split(":").map(Number);
  return h * 60 + m;
}

/** True when `symbol` trades at `now` under `hours` (null = always). */
export function marketOpen(
  symbol: string,
  hours: { open: string; close: string } | null,
  now: number,
): boolean {
  if (hours === null || symbol.includes("/")) return true;
  const d = new Date(now);
  const day = d.getUTCDay();
  if (day === 0 || day === 6) return false;
  const m = d.getUTCHours() * 60 + d.getUTCMinutes();
  return m >= minutes(hours.open) && m < minutes(hours.close);
}

const round = (x: number, dp = 6) => Math.round(x * 10 ** dp) / 10 ** dp;

/** The paper exchange. */
export class SimVenue implements Venue {
  readonly name = "sim" as const;
  readonly #options: SimVenueOptions;
  readonly #prices: PriceBook;
  readonly #rng: () => number;
  readonly #symbols: ReadonlySet<string>;
  readonly #orders = new Map<string, SimOrder>();
  /** Recently finished orders, for lookups and idempotent re-submits (bounded). */
  readonly #done = new Map<string, SimOrder>();
  readonly #now: () => number;
  readonly #schedule: (fn: () => void, ms: number) => void;
  readonly #handlers: ((ev: VenueEvent) => void)[] = [];
  #cash: number;
  #seq = 0;
  #timer?: ReturnType<typeof setInterval>;
  #closed = false;

  constructor(options: SimVenueOptions, prices: PriceBook) {
    this.#options = options;
    this.#prices = prices;
    this.#rng = mulberry32(options.seed);
    this.#symbols = new Set(options.symbols);
    this.#now = options.now ?? Date.now;
    this.#schedule = options.schedule ?? ((fn, ms) => void setTimeout(fn, ms));
    this.#cash = options.buyingPower;
    prices.onUpdate((symbol) => this.#onPrice(symbol));
  }

  start(): Promise<void> {
    if (this.#options.hoursUtc !== null) {
      const timer = setInterval(() => this.expireDayOrders(), 1000);
      Deno.unrefTimer(timer);
      this.#timer = timer;
    }
    return Promise.resolve();
  }

  onEvent(handler: (ev: VenueEvent) => void): void {
    this.#handlers.push(handler);
  }

  ready(): Record<string, boolean> {
    return { venue: !this.#closed };
  }

  async submit(order: Order): Promise<SubmitResult> {
    const t0 = performance.now();
    const result = await this.#submit(order);
    const statusCode = result.kind !== "rejected"
      ? "200"
      : result.reason === "insufficient_buying_power"
      ? "403"
      : "422";
    this.#options.onApiCall?.({
      endpoint: "/v2/orders",
      method: "POST",
      statusCode,
      ms: performance.now() - t0,
    });
    return result;
  }

  async #submit(order: Order): Promise<SubmitResult> {
    if (this.#options.latencyMs > 0) {
      await new Promise((r) => this.#schedule(() => r(null), this.#options.latencyMs));
    }
    const existing = this.#orders.get(order.clientOrderId) ?? this.#done.get(order.clientOrderId);
    if (existing) {
      return {
        kind: "accepted",
        venueOrderId: existing.venueOrderId,
        status: this.#status(existing),
      };
    }
    const reason = this.#check(order);
    if (reason) return { kind: "rejected", reason };
    const venueOrderId = `sim-${this.#options.seed}-${++this.#seq}`;
    const ref = this.#refPrice(order)!;
    const held: SimOrder = {
      order,
      venueOrderId,
      state: "accepted",
      cumQty: 0,
      avgPrice: 0,
      reserved: order.side === "buy" ? order.qty * ref : 0,
      scheduled: false,
    };
    this.#orders.set(order.clientOrderId, held);
    this.#later(held);
    return { kind: "accepted", venueOrderId };
  }

  #check(order: Order): RejectionReason | undefined {
    if (!this.#symbols.has(order.symbol)) return "unknown_symbol";
    if (order.type === "limit" && order.limitPrice === undefined) return "invalid_order";
    if (!marketOpen(order.symbol, this.#options.hoursUtc, this.#now())) return "market_closed";
    const ref = this.#refPrice(order);
    if (ref === undefined) return "no_market_data";
    if (this.#rng() < this.#options.rejectProbability) return "venue_rejected";
    if (order.side === "buy") {
      let reserved = 0;
      for (const held of this.#orders.values()) reserved += held.reserved;
      if (order.qty * ref > this.#cash - reserved + 1e-9) return "insufficient_buying_power";
    }
    return undefined;
  }

  /**
   * The price a market order trades at now, before slippage: the ask (buy) or bid (sell),
   * else the last trade; none when that side was quoted empty (never a missing side).
   */
  #marketPrice(order: Order): number | undefined {
    const latest = this.#prices.get(order.symbol);
    const side = order.side === "buy" ? latest?.ask : latest?.bid;
    if (side === null) return undefined;
    return side ?? latest?.last;
  }

  /** The price a buy (ask) or sell (bid) would trade at now, before slippage; or the limit. */
  #refPrice(order: Order): number | undefined {
    const price = this.#marketPrice(order);
    if (price === undefined) return undefined;
    if (order.type === "limit" && order.limitPrice !== undefined && order.side === "buy") {
      return Math.max(price, order.limitPrice);
    }
    return price;
  }

  #later(held: SimOrder): void {
    if (held.scheduled || this.#closed) return;
    held.scheduled = true;
    this.#schedule(() => {
      held.scheduled = false;
      this.#work(held);
    }, this.#options.latencyMs);
  }

  #work(held: SimOrder): void {
    if (this.#closed || held.state !== "accepted" && held.state !== "partially_filled") return;
    const { order } = held;
    const base = this.#marketPrice(order);
    if (base === undefined) return; // waits for the next price
    const slippage = this.#options.slippageBps / 10_000;
    let price = order.side === "buy" ? base * (1 + slippage) : base * (1 - slippage);
    if (order.type === "limit") {
      const limit = order.limitPrice!;
      const marketable = order.side === "buy" ? base <= limit : base >= limit;
      if (!marketable) {
        if (order.timeInForce === "ioc") this.#finish(held, "canceled");
        return; // rests until the market reaches the limit
      }
      price = order.side === "buy" ? Math.min(price, limit) : Math.max(price, limit);
    }
    price = round(price, 6);
    const remaining = round(order.qty - held.cumQty, 9);
    let fillQty = remaining;
    if (this.#rng() < this.#options.partialFillProbability) {
      const part = remaining * (0.2 + 0.6 * this.#rng());
      fillQty = Number.isInteger(order.qty) ? Math.floor(part) : round(part, 6);
      if (fillQty <= 0 || fillQty >= remaining) fillQty = remaining;
    }
    const cumQty = round(held.cumQty + fillQty, 9);
    held.avgPrice = round((held.avgPrice * held.cumQty + price * fillQty) / cumQty, 8);
    held.cumQty = cumQty >= order.qty - 1e-9 ? order.qty : cumQty;
    this.#cash += order.side === "buy" ? -fillQty * price : fillQty * price;
    const done = held.cumQty >= order.qty;
    held.state = done ? "filled" : "partially_filled";
    if (order.side === "buy") held.reserved = done ? 0 : (order.qty - held.cumQty) * price;
    this.#emit({ ...this.#status(held), lastQty: fillQty, lastPrice: price, ts: this.#now() });
    if (done) this.#retire(held);
    else if (order.timeInForce === "ioc" && order.type === "limit") this.#finish(held, "canceled");
    else this.#later(held);
  }

  #finish(held: SimOrder, state: "canceled" | "expired"): void {
    held.state = state;
    this.#retire(held);
    this.#emit({ ...this.#status(held), ts: this.#now() });
  }

  #retire(held: SimOrder): void {
    held.reserved = 0;
    this.#orders.delete(held.order.clientOrderId);
    this.#done.set(held.order.clientOrderId, held);
    if (this.#done.size > 10_000) this.#done.delete(this.#done.keys().next().value!);
  }

  #status(held: SimOrder): VenueOrderStatus {
    return {
      venueOrderId: held.venueOrderId,
      clientOrderId: held.order.clientOrderId,
      state: held.state,
      cumQty: held.cumQty,
      avgPrice: held.avgPrice,
    };
  }

  #emit(ev: VenueEvent): void {
    for (const h of this.#handlers) h(ev);
  }

  #onPrice(symbol: string): void {
    for (const held of this.#orders.values()) {
      if (held.order.symbol === symbol) this.#later(held);
    }
  }

  /** Expires resting `day` orders of closed markets (run every second when hours are set). */
  expireDayOrders(now = this.#now()): number {
    let expired = 0;
    for (const held of [...this.#orders.values()]) {
      if (
        held.order.timeInForce === "day" &&
        !marketOpen(held.order.symbol, this.#options.hoursUtc, now)
      ) {
        this.#finish(held, "expired");
        expired++;
      }
    }
    return expired;
  }

  cancel(clientOrderId: string): Promise<boolean> {
    const held = this.#orders.get(clientOrderId);
    if (!held) return Promise.resolve(false);
    this.#schedule(() => {
      if (this.#orders.has(clientOrderId)) this.#finish(held, "canceled");
    }, this.#options.latencyMs);
    return Promise.resolve(true);
  }

  lookup(clientOrderId: string): Promise<LookupResult> {
    const held = this.#orders.get(clientOrderId) ?? this.#done.get(clientOrderId);
    return Promise.resolve(
      held ? { kind: "found", status: this.#status(held) } : { kind: "not_found" },
    );
  }

  close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    return Promise.resolve();
  }
}
