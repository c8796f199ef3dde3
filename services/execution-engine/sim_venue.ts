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
  readonly #o: SimVenueOptions;
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
    this.#o = options;
    this.#prices = prices;
    this.#rng = mulberry32(options.seed);
    this.#symbols = new Set(options.symbols);
    this.#now = options.now ?? Date.now;
    this.#schedule = options.schedule ?? ((fn, ms) => void setTimeout(fn, ms));
    this.#cash = options.buyingPower;
    prices.onUpdate((symbol) => this.#onPrice(symbol));
  }

  start(): Promise<void> {
    if (this.#o.hoursUtc !== null) {
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

  /** Cash left for buys (buying power minus filled buys plus filled sells). */
  get cash(): number {
    return this.#cash;
  }

  async submit(order: Order): Promise<SubmitResult> {
    const t0 = performance.now();
    const result = await this.#submit(order);
    const statusCode = result.kind !== "rejected"
      ? "200"
      : result.reason === "insufficient_buying_power"
      ? "403"
      : "422";
    this.#o.onApiCall?.({
      endpoint: "/v2/orders",
      method: "POST",
      statusCode,
      ms: performance.now() - t0,
    });
    return result;
  }

  async #submit(order: Order): Promise<SubmitResult> {
    if (this.#o.latencyMs > 0) {
      await new Promise((r) => this.#schedule(() => r(null), this.#o.latencyMs));
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
    const venueOrderId = `sim-${this.#o.seed}-${++this.#seq}`;
    const ref = this.#refPrice(order)!;
    const o: SimOrder = {
      order,
      venueOrderId,
      state: "accepted",
      cumQty: 0,
      avgPrice: 0,
      reserved: order.side === "buy" ? order.qty * ref : 0,
      scheduled: false,
    };
    this.#orders.set(order.clientOrderId, o);
    this.#later(o);
    return { kind: "accepted", venueOrderId };
  }

  #check(order: Order): RejectionReason | undefined {
    if (!this.#symbols.has(order.symbol)) return "unknown_symbol";
    if (order.type === "limit" && order.limitPrice === undefined) return "invalid_order";
    if (!marketOpen(order.symbol, this.#o.hoursUtc, this.#now())) return "market_closed";
    const ref = this.#refPrice(order);
    if (ref === undefined) return "no_market_data";
    if (this.#rng() < this.#o.rejectProbability) return "venue_rejected";
    if (order.side === "buy") {
      let reserved = 0;
      for (const o of this.#orders.values()) reserved += o.reserved;
      if (order.qty * ref > this.#cash - reserved + 1e-9) return "insufficient_buying_power";
    }
    return undefined;
  }

  /** The price a buy (ask) or sell (bid) would trade at now, before slippage; or the limit. */
  #refPrice(order: Order): number | undefined {
    const p = this.#prices.get(order.symbol);
    const px = order.side === "buy" ? p?.ask ?? p?.last : p?.bid ?? p?.last;
    if (px === undefined) return undefined;
    if (order.type === "limit" && order.limitPrice !== undefined && order.side === "buy") {
      return Math.max(px, order.limitPrice);
    }
    return px;
  }

  #later(o: SimOrder): void {
    if (o.scheduled || this.#closed) return;
    o.scheduled = true;
    this.#schedule(() => {
      o.scheduled = false;
      this.#work(o);
    }, this.#o.latencyMs);
  }

  #work(o: SimOrder): void {
    if (this.#closed || o.state !== "accepted" && o.state !== "partially_filled") return;
    const { order } = o;
    const p = this.#prices.get(order.symbol);
    const base = order.side === "buy" ? p?.ask ?? p?.last : p?.bid ?? p?.last;
    if (base === undefined) return; // waits for the next price
    const slip = this.#o.slippageBps / 10_000;
    let px = order.side === "buy" ? base * (1 + slip) : base * (1 - slip);
    if (order.type === "limit") {
      const lim = order.limitPrice!;
      const marketable = order.side === "buy" ? base <= lim : base >= lim;
      if (!marketable) {
        if (order.timeInForce === "ioc") this.#finish(o, "canceled");
        return; // rests until the market reaches the limit
      }
      px = order.side === "buy" ? Math.min(px, lim) : Math.max(px, lim);
    }
    px = round(px, 6);
    const remaining = round(order.qty - o.cumQty, 9);
    let q = remaining;
    if (this.#rng() < this.#o.partialFillProbability) {
      const part = remaining * (0.2 + 0.6 * this.#rng());
      q = Number.isInteger(order.qty) ? Math.floor(part) : round(part, 6);
      if (q <= 0 || q >= remaining) q = remaining;
    }
    const cum = round(o.cumQty + q, 9);
    o.avgPrice = round((o.avgPrice * o.cumQty + px * q) / cum, 8);
    o.cumQty = cum >= order.qty - 1e-9 ? order.qty : cum;
    this.#cash += order.side === "buy" ? -q * px : q * px;
    const done = o.cumQty >= order.qty;
    o.state = done ? "filled" : "partially_filled";
    if (order.side === "buy") o.reserved = done ? 0 : (order.qty - o.cumQty) * px;
    this.#emit({ ...this.#status(o), lastQty: q, lastPrice: px, ts: this.#now() });
    if (done) this.#retire(o);
    else if (order.timeInForce === "ioc" && order.type === "limit") this.#finish(o, "canceled");
    else this.#later(o);
  }

  #finish(o: SimOrder, state: "canceled" | "expired"): void {
    o.state = state;
    this.#retire(o);
    this.#emit({ ...this.#status(o), ts: this.#now() });
  }

  #retire(o: SimOrder): void {
    o.reserved = 0;
    this.#orders.delete(o.order.clientOrderId);
    this.#done.set(o.order.clientOrderId, o);
    if (this.#done.size > 10_000) this.#done.delete(this.#done.keys().next().value!);
  }

  #status(o: SimOrder): VenueOrderStatus {
    return {
      venueOrderId: o.venueOrderId,
      clientOrderId: o.order.clientOrderId,
      state: o.state,
      cumQty: o.cumQty,
      avgPrice: o.avgPrice,
    };
  }

  #emit(ev: VenueEvent): void {
    for (const h of this.#handlers) h(ev);
  }

  #onPrice(symbol: string): void {
    for (const o of this.#orders.values()) {
      if (o.order.symbol === symbol) this.#later(o);
    }
  }

  /** Expires resting `day` orders of closed markets (run every second when hours are set). */
  expireDayOrders(now = this.#now()): number {
    let n = 0;
    for (const o of [...this.#orders.values()]) {
      if (o.order.timeInForce === "day" && !marketOpen(o.order.symbol, this.#o.hoursUtc, now)) {
        this.#finish(o, "expired");
        n++;
      }
    }
    return n;
  }

  cancel(clientOrderId: string): Promise<boolean> {
    const o = this.#orders.get(clientOrderId);
    if (!o) return Promise.resolve(false);
    this.#schedule(() => {
      if (this.#orders.has(clientOrderId)) this.#finish(o, "canceled");
    }, this.#o.latencyMs);
    return Promise.resolve(true);
  }

  lookup(clientOrderId: string): Promise<LookupResult> {
    const o = this.#orders.get(clientOrderId) ?? this.#done.get(clientOrderId);
    return Promise.resolve(o ? { kind: "found", status: this.#status(o) } : { kind: "not_found" });
  }

  close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    return Promise.resolve();
  }
}
