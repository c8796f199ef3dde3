/**
 * The Alpaca venue: orders over REST ({@link AlpacaClient}), fills from the
 * `trade_updates` stream ({@link TradeUpdatesStream}), and what Alpaca says about the
 * account it trades.
 *
 * - Start-up: `GET /v2/account` (401/403: {@link AlpacaAuthError}, the process stops); an
 *   account that may not trade (`status` not `ACTIVE`, `trading_blocked`,
 *   `account_blocked`, `trade_suspended_by_user`) keeps the venue not ready
 *   (`venue_account` false, the reason logged) and every order is rejected
 *   `account_blocked`; the account is read again every `accountPollMs`.
 * - Positions: `GET /v2/positions` at start and every `accountPollMs`, kept current by the
 *   `position_qty` of each fill; exported as `execution_engine_venue_position_qty` and
 *   served by {@link AlpacaVenue.positions} (`GET /admin/venue/positions`).
 * - Session: `GET /v2/clock` and `/v2/calendar` every `clockPollMs`
 *   (lib/market_session.ts). Outside the regular session no market order leaves: Alpaca
 *   would queue it for the next open, where it fills at whatever the open gaps to. It is
 *   rejected `market_closed`. A limit `day` order in Alpaca's pre-market or after-hours is
 *   sent with `extended_hours: true` when `extendedHours` is set, else rejected
 *   `market_closed`. Before the first clock read a stock order is rejected
 *   `session_unknown`. Crypto trades around the clock, with time in force `gtc` or `ioc`
 *   only (anything else: `invalid_time_in_force`, never rewritten).
 * - Replacements: a `replaced` update carries the new order id (`replaced_by`); the venue
 *   follows it (the engine's order now lives under the new id: its updates are reported
 *   under the engine's client order id, with the replaced order's fills added in, and a
 *   cancel goes to the new id). It is not a cancel.
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { getLogger } from "../../lib/log.ts";
import {
  AlpacaSchedule,
  type CalendarDay,
  isCrypto,
  parseAlpacaCalendar,
  parseAlpacaClock,
} from "../../lib/market_session.ts";
import type { Order, VenuePositions } from "../../lib/types.ts";
import type { AlpacaAccount, AlpacaClient, AlpacaOrder } from "./alpaca_client.ts";
import { CRYPTO_TIME_IN_FORCE } from "./alpaca_client.ts";
import {
  type AlpacaTradeUpdate,
  TradeUpdatesStream,
  type TradeUpdatesStreamOptions,
} from "./alpaca_stream.ts";
import type { VenueAccountMetrics } from "./metrics.ts";
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
  /** The configured symbols (Alpaca spells crypto positions `BTCUSD`; we map them back). */
  symbols?: readonly string[];
  /** Send limit `day` orders in extended hours (`session.extendedHours`); default false. */
  extendedHours?: boolean;
  /** Clock and calendar read period (ms); default 60 000. */
  clockPollMs?: number;
  /** Account and positions read period (ms); default 60 000. */
  accountPollMs?: number;
  /** Where positions and the account's state are recorded. */
  metrics?: VenueAccountMetrics;
  /** Epoch ms; default Date.now. */
  now?: () => number;
  logger?: Logger;
}

/** Why an account may not trade; undefined when it may. */
export function accountProblem(account: AlpacaAccount): string | undefined {
  if (account.status !== "ACTIVE") return `account status is ${account.status}`;
  if (account.account_blocked) return "account_blocked is true";
  if (account.trading_blocked) return "trading_blocked is true";
  if (account.trade_suspended_by_user) return "trade_suspended_by_user is true";
  return undefined;
}

interface Replacement {
  readonly clientOrderId: string;
  /** Fills of the orders it replaced. */
  readonly baseQty: number;
  readonly baseNotional: number;
}

const DAY_MS = 86_400_000;
const isoDate = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** Alpaca as a {@link Venue}. */
export class AlpacaVenue implements Venue {
  readonly name = "alpaca" as const;
  readonly #client: AlpacaClient;
  readonly #stream: TradeUpdatesStream;
  readonly #startTimeoutMs: number;
  readonly #options: AlpacaVenueOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  #handlers: ((ev: VenueEvent) => void)[] = [];
  #resync: (() => void)[] = [];
  #schedule = new AlpacaSchedule(undefined, []);
  #clockRead = false;
  #days: CalendarDay[] = [];
  #account: string | undefined = "account not read yet";
  #positions = new Map<string, { qty: number; avgEntryPrice: number; updatedAt: number }>();
  #positionsReadAt = 0;
  /** Alpaca order id -> the engine's client order id. */
  readonly #clientOf = new Map<string, string>();
  /** Replaced Alpaca order id -> the id that replaced it. */
  readonly #replacedBy = new Map<string, string>();
  /** Replacing Alpaca order id -> whose order it is and the fills before it. */
  readonly #replacements = new Map<string, Replacement>();
  readonly #timers: ReturnType<typeof setInterval>[] = [];

  constructor(options: AlpacaVenueOptions) {
    this.#options = options;
    this.#client = options.client;
    this.#startTimeoutMs = options.startTimeoutMs ?? 5000;
    this.#now = options.now ?? Date.now;
    this.#log = options.logger ?? getLogger(["trading", "execution", "alpaca"]);
    this.#stream = new TradeUpdatesStream({
      ...options.stream,
      onUpdate: (update) => this.#onUpdate(update),
      onResync: () => {
        for (const h of this.#resync) h();
      },
    });
  }

  /**
   * Checks the keys and the account (`GET /v2/account`; throws {@link AlpacaAuthError} on
   * 401/403), reads the session and the positions, and connects the stream (waiting up to
   * `startTimeoutMs`; it keeps reconnecting after).
   */
  async start(): Promise<void> {
    const read = await this.#client.getAccount();
    if (!read.ok && (read.code === "http_401" || read.code === "http_403")) {
      throw new AlpacaAuthError(
        `Cannot start the Alpaca venue: the API refused the keys (${read.code})`,
      );
    }
    this.#applyAccount(read);
    await this.refreshSession();
    await this.refreshPositions();
    const clockTimer = setInterval(
      () => void this.refreshSession(),
      this.#options.clockPollMs ?? 60_000,
    );
    const accountTimer = setInterval(
      () => void this.refreshAccount(),
      this.#options.accountPollMs ?? 60_000,
    );
    for (const t of [clockTimer, accountTimer]) {
      Deno.unrefTimer(t);
      this.#timers.push(t);
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#stream.start(),
      new Promise((r) => (timer = setTimeout(r, this.#startTimeoutMs))),
    ]);
    clearTimeout(timer);
  }

  #applyAccount(read: Awaited<ReturnType<AlpacaClient["getAccount"]>>): void {
    const problem = read.ok ? accountProblem(read.account) : `account not read: ${read.code}`;
    if (problem !== this.#account) {
      if (problem) {
        this.#log.error("Alpaca account may not trade; the venue is not ready", {
          reason: problem,
        });
      } else if (this.#account) {
        this.#log.info("Alpaca account may trade", { previously: this.#account });
      }
    }
    this.#account = problem;
    this.#options.metrics?.accountTradable(problem === undefined);
  }

  /** Reads the account and the positions again. */
  async refreshAccount(): Promise<void> {
    this.#applyAccount(await this.#client.getAccount());
    await this.refreshPositions();
  }

  /** Reads Alpaca's clock and calendar again; a failed read keeps the last schedule. */
  async refreshSession(): Promise<void> {
    const now = this.#now();
    const clock = parseAlpacaClock(await this.#client.getClock());
    const days = parseAlpacaCalendar(
      await this.#client.getCalendar(isoDate(now - DAY_MS), isoDate(now + 10 * DAY_MS)),
    );
    if (days) this.#days = days;
    if (clock) this.#clockRead = true;
    if (!clock && !days) {
      this.#log.warn("Cannot read Alpaca's clock or calendar; keeping the last schedule");
      return;
    }
    this.#schedule = new AlpacaSchedule(clock ?? undefined, this.#days);
  }

  /** Reads `GET /v2/positions` again (a failed read keeps the last positions). */
  async refreshPositions(): Promise<void> {
    const positions = await this.#client.getPositions();
    if (!positions) return;
    const now = this.#now();
    const seen = new Set<string>();
    for (const p of positions) {
      const symbol = this.#symbolOf(p.symbol);
      seen.add(symbol);
      this.#positions.set(symbol, { qty: p.qty, avgEntryPrice: p.avgEntryPrice, updatedAt: now });
      this.#options.metrics?.venuePosition(symbol, p.qty);
    }
    for (const symbol of [...this.#positions.keys()]) {
      if (seen.has(symbol)) continue;
      this.#positions.delete(symbol);
      this.#options.metrics?.venuePosition(symbol, 0);
    }
    this.#positionsReadAt = now;
  }

  /** Alpaca's spelling of a symbol (`BTCUSD`) to the configured one (`BTC/USD`). */
  #symbolOf(alpaca: string): string {
    if (alpaca.includes("/")) return alpaca;
    return this.#options.symbols?.find((s) => s.replace("/", "") === alpaca) ?? alpaca;
  }

  /** The positions the venue holds, for reconciliation with risk-manager's book. */
  positions(): VenuePositions {
    return {
      venue: this.name,
      readAt: this.#positionsReadAt,
      positions: [...this.#positions].map(([symbol, p]) => ({ symbol, ...p })),
    };
  }

  /** Why an order for `order` may not leave now; undefined when it may, with how to send it. */
  #refusal(order: Order): SubmitResult | { extendedHours: boolean } {
    if (this.#account !== undefined) {
      return { kind: "rejected", reason: "account_blocked", detail: this.#account };
    }
    if (isCrypto(order.symbol)) {
      if (!CRYPTO_TIME_IN_FORCE.has(order.timeInForce)) {
        return {
          kind: "rejected",
          reason: "invalid_time_in_force",
          detail:
            `Cannot send order ${order.clientOrderId}: crypto time in force must be gtc or ioc, got ${order.timeInForce}`,
        };
      }
      return { extendedHours: false };
    }
    const session = this.#schedule.at(this.#now());
    const next = session.nextOpen !== null ? new Date(session.nextOpen).toISOString() : "unknown";
    switch (session.state) {
      case "open":
        return { extendedHours: false };
      case "unknown":
        return {
          kind: "rejected",
          reason: "session_unknown",
          detail: `Cannot send order for ${order.symbol}: Alpaca's market clock has not been read`,
        };
      case "extended":
        if (
          this.#options.extendedHours && order.type === "limit" && order.timeInForce === "day"
        ) {
          return { extendedHours: true };
        }
        return {
          kind: "rejected",
          reason: "market_closed",
          detail:
            `Cannot send a ${order.type} ${order.timeInForce} order for ${order.symbol} in extended hours (${
              this.#options.extendedHours ? "only limit day orders" : "extended hours are off"
            }); next open ${next}`,
        };
      case "closed":
        return {
          kind: "rejected",
          reason: "market_closed",
          detail:
            `Cannot send a ${order.type} order for ${order.symbol}: the market is closed and Alpaca would queue it for the next open (${next})`,
        };
    }
  }

  async submit(order: Order): Promise<SubmitResult> {
    const check = this.#refusal(order);
    if ("kind" in check) return check;
    const result = await this.#client.submitOrder(order, { extendedHours: check.extendedHours });
    if (result.kind === "accepted") this.#clientOf.set(result.venueOrderId, order.clientOrderId);
    return result;
  }

  async cancel(clientOrderId: string, venueOrderId: string | undefined): Promise<boolean> {
    let id = venueOrderId;
    if (id === undefined) {
      const found = await this.lookup(clientOrderId);
      if (found.kind !== "found") return false;
      id = found.status.venueOrderId;
    }
    // A replaced order lives on under its replacement's id.
    for (let hop = 0; hop < 10 && this.#replacedBy.has(id!); hop++) id = this.#replacedBy.get(id!);
    if (await this.#client.cancelOrder(id!)) return true;
    // Refused: it may have been replaced before its update reached us; ask Alpaca.
    const found = await this.lookup(clientOrderId);
    if (found.kind !== "found" || found.status.venueOrderId === id) return false;
    return await this.#client.cancelOrder(found.status.venueOrderId);
  }

  async lookup(clientOrderId: string): Promise<LookupResult> {
    const found = await this.#client.lookup(clientOrderId);
    if (found.kind === "found") this.#clientOf.set(found.status.venueOrderId, clientOrderId);
    return found;
  }

  #onUpdate(update: AlpacaTradeUpdate): void {
    const order = update.order;
    if (update.positionQty !== undefined && order.symbol) {
      const symbol = this.#symbolOf(order.symbol);
      const previous = this.#positions.get(symbol);
      this.#positions.set(symbol, {
        qty: update.positionQty,
        avgEntryPrice: previous?.avgEntryPrice ?? 0,
        updatedAt: this.#now(),
      });
      this.#options.metrics?.venuePosition(symbol, update.positionQty);
    }
    if (update.event === "replaced" && order.replaced_by) this.#replaced(order, order.replaced_by);
    if (order.replaces && !this.#replacements.has(order.id)) {
      // The replacing order's own update may come before the `replaced` one.
      const clientOrderId = this.#clientOf.get(order.replaces);
      if (clientOrderId !== undefined) {
        this.#replacedBy.set(order.replaces, order.id);
        this.#replacements.set(order.id, { clientOrderId, baseQty: 0, baseNotional: 0 });
      }
    }
    const event = update.update;
    if (!event) return;
    const replacement = this.#replacements.get(order.id);
    let out: VenueEvent = event;
    if (update.event === "replaced" && order.replaced_by) {
      const successor = this.#replacements.get(order.replaced_by);
      out = {
        ...event,
        venueOrderId: order.replaced_by,
        clientOrderId: successor?.clientOrderId ?? event.clientOrderId,
      };
    } else if (replacement) {
      const cumQty = replacement.baseQty + event.cumQty;
      const avgPrice = cumQty > 0
        ? (replacement.baseNotional + event.cumQty * event.avgPrice) / cumQty
        : 0;
      out = {
        ...event,
        clientOrderId: replacement.clientOrderId,
        cumQty,
        avgPrice,
        state: event.state === "accepted" && cumQty > 0 ? "partially_filled" : event.state,
      };
    }
    for (const h of this.#handlers) h(out);
  }

  /** The order `old` was replaced by `next`: the engine's order now lives under `next`. */
  #replaced(old: AlpacaOrder, next: string): void {
    const before = this.#replacements.get(old.id);
    const clientOrderId = before?.clientOrderId ?? this.#clientOf.get(old.id) ??
      old.client_order_id;
    const filled = Number(old.filled_qty ?? 0) || 0;
    const price = Number(old.filled_avg_price ?? 0) || 0;
    const baseQty = (before?.baseQty ?? 0) + filled;
    const baseNotional = (before?.baseNotional ?? 0) + filled * price;
    this.#replacedBy.set(old.id, next);
    this.#replacements.set(next, { clientOrderId, baseQty, baseNotional });
    this.#clientOf.set(next, clientOrderId);
    this.#log.info("Order replaced at Alpaca; following the new order id", {
      clientOrderId,
      venueOrderId: old.id,
      replacedBy: next,
    });
  }

  onEvent(handler: (ev: VenueEvent) => void): void {
    this.#handlers.push(handler);
  }

  onResync(handler: () => void): void {
    this.#resync.push(handler);
  }

  ready(): Record<string, boolean> {
    return {
      venue_stream: this.#stream.listening,
      venue_account: this.#account === undefined,
      venue_session: this.#clockRead || this.#days.length > 0,
    };
  }

  async close(): Promise<void> {
    for (const t of this.#timers) clearInterval(t);
    await this.#stream.close();
  }
}
