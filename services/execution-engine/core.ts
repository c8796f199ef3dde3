/**
 * The execution engine core: takes approved orders, journals them before they leave the
 * process, sends them to the venue, applies the venue's updates through the order state
 * machine and emits an execution report for every state change.
 *
 * No I/O of its own: the journal, the venue, the report sink, the metrics recorder and
 * the clock are passed in, so tests drive it directly (and crash it by wrapping the
 * venue: testing/crashing_venue.ts dies between journal write and send, and between send
 * and acknowledgement).
 *
 * Guarantees:
 * - an order is journaled before the venue sees it; a repeated `clientOrderId` is never
 *   sent again (the journal refuses it);
 * - on start-up every non-final order is looked up at the venue by client order id:
 *   adopted when found, sent when it never reached the venue, canceled (`venue_lost`)
 *   when the venue had it and forgot it (the in-process paper exchange after a restart);
 * - a state change and its report are committed together; reports stay in the outbox
 *   until the sink acknowledges them, and are re-sent after a restart.
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { getLogger } from "../../lib/log.ts";
import { closedSet } from "../../lib/metrics.ts";
import type {
  ExecutionReport,
  Order,
  OrderState,
  OrderStatus,
  OrderStatusRequest,
} from "../../lib/types.ts";
import { nowMs } from "../../lib/clock.ts";
import type { Journal, JournalOrder } from "./journal.ts";
import type { OrderMetrics } from "./metrics.ts";
import { checkTransition, isFinal } from "./order_state.ts";
import {
  REJECTION_REASONS,
  type SubmitResult,
  type Venue,
  type VenueEvent,
  type VenueOrderStatus,
} from "./venue.ts";

/** Delivers a report downstream; resolves once acknowledged. */
export type ReportSink = (report: ExecutionReport, trace: string) => Promise<unknown>;

/**
 * What {@link ExecutionEngineCore.accept} did with an order: refused it as a duplicate,
 * or journaled it and started sending it (`committed` resolves with the `performance.now()`
 * the journal's commit of it ended at, `sent` with its state once the venue answered).
 */
export type Acceptance =
  | { kind: "duplicate"; state: OrderState }
  | { kind: "accepted"; committed: Promise<number>; sent: Promise<OrderState> };

/** What {@link ExecutionEngineCore.reconcile} did. */
export interface Reconciliation {
  /** Open orders looked up at the venue. */
  checked: number;
  /** Orders that never reached the venue, sent now. */
  resent: number;
  /** Look-ups that failed (retried on the next reconciliation). */
  failed: number;
}

/** Options of {@link ExecutionEngineCore}. */
export interface ExecutionEngineCoreOptions {
  journal: Journal;
  venue: Venue;
  /** Where the core records its metrics (an `ExecutionEngineMetrics` in the service). */
  metrics: OrderMetrics;
  /** Where reports go. */
  sink: ReportSink;
  /** Epoch ms; defaults to {@link nowMs}. */
  now?: () => number;
  logger?: Logger;
  /**
   * True when the venue can price an order in `symbol` now (the paper exchange: a fresh
   * price arrived). When given, an order waits until it is true (see
   * {@link ExecutionEngineCore.onMarket}) or until it expires; without it (Alpaca prices
   * its own orders) orders go at once.
   */
  marketReady?: (symbol: string) => boolean;
  /** How long an order without `expiresAt` waits for a price, ms (default 30,000). */
  holdMs?: number;
}

/** An order waiting for a price: it is sent (`true`) or not (`false`: expired, closing). */
interface HeldOrder {
  readonly order: Order;
  readonly until: number;
  readonly release: (send: boolean) => void;
}

/** Quantities closer than this are equal (float noise in cumulative fills). */
const EPS = 1e-9;

/** The fields of a state change that a report carries beyond the new state. */
interface TransitionPatch {
  cumQty?: number;
  avgPrice?: number;
  lastQty?: number;
  lastPrice?: number;
  reason?: string;
}

/** The execution engine core. */
export class ExecutionEngineCore {
  readonly #journal: Journal;
  readonly #venue: Venue;
  readonly #metrics: OrderMetrics;
  readonly #sink: ReportSink;
  readonly #log: Logger;
  readonly #now: () => number;
  /** Client order ids of the orders not in a final state. */
  readonly #open = new Set<string>();
  /** Outbox ids of the reports being delivered. */
  readonly #inFlight = new Set<number>();
  /** Orders currently being submitted or reconciled, so they are not touched twice at once. */
  readonly #busy = new Set<string>();
  /** Per-order queue so updates to one order apply one at a time. */
  readonly #chains = new Map<string, Promise<void>>();
  /** Orders accepted whose journal commit has not yet come (they go to the venue after it). */
  readonly #committing = new Set<Promise<unknown>>();
  #closed = false;
  readonly #marketReady: ((symbol: string) => boolean) | undefined;
  readonly #holdMs: number;
  /** Orders waiting for a price, by symbol. */
  readonly #held = new Map<string, Set<HeldOrder>>();

  /** Loads the open orders from the journal and subscribes to the venue's updates. */
  constructor(options: ExecutionEngineCoreOptions) {
    this.#journal = options.journal;
    this.#venue = options.venue;
    this.#metrics = options.metrics;
    this.#sink = options.sink;
    this.#log = options.logger ?? getLogger(["trading", "execution"]);
    this.#now = options.now ?? nowMs;
    this.#marketReady = options.marketReady;
    this.#holdMs = options.holdMs ?? 30_000;
    for (const journaled of this.#journal.open()) this.#open.add(journaled.order.clientOrderId);
    this.#recordOpenOrders();
    this.#venue.onEvent((event) => this.onVenueEvent(event));
    this.#venue.onResync?.(() => {
      this.reconcile({ all: true }).catch((error) =>
        this.#log.error("Reconciliation failed", { error })
      );
    });
  }

  /** Number of orders not in a final state. */
  openCount(): number {
    return this.#open.size;
  }

  /**
   * Takes one approved order: journals it (written before this returns, durable with
   * the group commit of this run; the receiver flushes it before acknowledging), then
   * sends it once durable and applies the venue's answer (`sent`, resolved when the venue answered).
   * A repeated `clientOrderId` is not sent again.
   *
   * @throws {Error} Only when the journal cannot be written: the order must then not be
   * acknowledged to its sender.
   */
  accept(order: Order, trace: string): Acceptance {
    const clientOrderId = order.clientOrderId;
    let durable!: (committedAt: number) => void;
    const committed = new Promise<number>((resolve) => durable = resolve);
    const journaled = this.#journal.insert(order, trace, this.#venue.name, this.#now(), durable);
    if (!journaled) {
      const existing = this.#journal.get(clientOrderId);
      this.#log.info("Duplicate order ignored", { clientOrderId, state: existing?.state, trace });
      return { kind: "duplicate", state: existing?.state ?? "new" };
    }
    this.#open.add(clientOrderId);
    this.#recordOpenOrders();
    this.#busy.add(clientOrderId);
    this.#committing.add(committed);
    void committed.then(() => this.#committing.delete(committed));
    // To the venue only once the journal holds it (the group commit of this run).
    const sent = committed.then(() => this.#submit(journaled)).finally(() =>
      this.#busy.delete(clientOrderId)
    ).then(() => this.#journal.get(clientOrderId)?.state ?? "new");
    return { kind: "accepted", committed, sent };
  }

  /**
   * Sends a journaled order to the venue and applies its answer. An order past its
   * `expiresAt` is refused (`expired`, reason `order_expired`) instead; one whose symbol
   * has no fresh price waits for one (within its expiry).
   */
  async #submit(journaled: JournalOrder, onHeld?: () => void): Promise<void> {
    const { order } = journaled;
    if (this.#expired(order)) return await this.#refuseExpired(journaled);
    if (this.#marketReady !== undefined && !this.#marketReady(order.symbol)) {
      const held = this.#hold(order);
      onHeld?.();
      const send = await held;
      if (this.#closed) return;
      if (!send || this.#expired(order)) return await this.#refuseExpired(journaled);
    }
    // One clock read decides the expiry, stamps the submission and ends tick-to-trade, so a
    // journal can never show an order sent after its expiresAt (lib/testing/books.ts checks).
    const submittedAt = this.#now();
    if (this.#expired(order, submittedAt)) return await this.#refuseExpired(journaled);
    if (order.tickTs > 0) {
      this.#metrics.tickToTrade(Math.max(0, (submittedAt - order.tickTs) * 1000));
    }
    const startedAt = performance.now();
    let answer: SubmitResult;
    try {
      answer = await this.#venue.submit(order);
    } catch (error) {
      answer = { kind: "unknown", detail: (error as Error).message };
    }
    this.#metrics.submissionLatency(order.type, (performance.now() - startedAt) * 1000);
    await this.#serial(order.clientOrderId, () => {
      const current = this.#journal.get(order.clientOrderId) ?? journaled;
      this.#applyAnswer({ ...current, submittedAt }, answer);
    });
  }

  /** Applies the venue's answer to a new order. */
  #applyAnswer(current: JournalOrder, answer: SubmitResult): void {
    const { order } = current;
    switch (answer.kind) {
      case "accepted": {
        this.#metrics.submitted(order.type, "success");
        this.#log.info("Order accepted", {
          clientOrderId: order.clientOrderId,
          venueOrderId: answer.venueOrderId,
          symbol: order.symbol,
          side: order.side,
          qty: order.qty,
          venue: this.#venue.name,
          trace: current.trace,
        });
        const sent = { ...current, phase: "sent" as const, venueOrderId: answer.venueOrderId };
        if (current.state === "new") {
          const accepted = this.#transition(sent, "accepted", "ack", {});
          if (answer.status) this.#applyStatus(accepted, answer.status);
        } else {
          // The venue's stream overtook its REST answer: only record the id.
          this.#journal.save({ ...sent, updatedAt: this.#now() });
          if (answer.status) this.#applyStatus(sent, answer.status);
        }
        break;
      }
      case "rejected": {
        this.#metrics.submitted(order.type, "failure");
        this.#reject({ ...current, phase: "sent" }, answer.reason, answer.detail);
        break;
      }
      case "unknown": {
        this.#metrics.submitted(order.type, "failure");
        this.#log.warn("Order outcome unknown; will reconcile", {
          clientOrderId: order.clientOrderId,
          detail: answer.detail,
          trace: current.trace,
        });
        if (current.phase !== "sent") {
          this.#journal.save({ ...current, phase: "unknown", updatedAt: this.#now() });
        }
        break;
      }
    }
  }

  /** True when `order` may no longer be sent: its expiry is before `now`. */
  #expired(order: Order, now = this.#now()): boolean {
    return order.expiresAt !== undefined && now > order.expiresAt;
  }

  /** Reports an order that expired before it could be sent: `expired`, reason `order_expired`. */
  async #refuseExpired(journaled: JournalOrder): Promise<void> {
    const { order } = journaled;
    await this.#serial(order.clientOrderId, () => {
      const current = this.#journal.get(order.clientOrderId) ?? journaled;
      if (isFinal(current.state) || current.phase === "sent") return;
      this.#metrics.rejected("order_expired", order.symbol);
      this.#log.warn("Order expired before it could be sent; refused", {
        clientOrderId: order.clientOrderId,
        symbol: order.symbol,
        expiresAt: order.expiresAt,
        now: this.#now(),
        trace: current.trace,
      });
      this.#transition(current, "expired", "expire", { reason: "order_expired" });
    });
  }

  /** Waits until `order`'s symbol can be priced; false when it expired first or the core closed. */
  #hold(order: Order): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      let set = this.#held.get(order.symbol);
      if (set === undefined) this.#held.set(order.symbol, set = new Set());
      const entry: HeldOrder = {
        order,
        until: order.expiresAt ?? this.#now() + this.#holdMs,
        release: (send) => {
          set.delete(entry);
          if (set.size === 0 && this.#held.get(order.symbol) === set) {
            this.#held.delete(order.symbol);
          }
          resolve(send);
        },
      };
      set.add(entry);
      this.#log.info("Order waits for a fresh price", {
        clientOrderId: order.clientOrderId,
        symbol: order.symbol,
        until: entry.until,
      });
    });
  }

  /** A price of `symbol` arrived: sends the orders that waited for it, if it can now price them. */
  onMarket(symbol: string): void {
    const set = this.#held.get(symbol);
    if (set === undefined || this.#marketReady?.(symbol) === false) return;
    for (const entry of [...set]) entry.release(true);
  }

  /**
   * Releases the held orders whose wait ended before `now` (epoch ms): an expired one is
   * refused as expired, one without an expiry goes to the venue (which rejects it
   * `no_market_data` if it still has no price). Returns how many. Call it on a timer.
   */
  expireHeld(now: number): number {
    let released = 0;
    for (const set of [...this.#held.values()]) {
      for (const entry of [...set]) {
        if (now <= entry.until) continue;
        entry.release(entry.order.expiresAt === undefined);
        released++;
      }
    }
    return released;
  }

  /** Orders waiting for a price. */
  heldCount(): number {
    let n = 0;
    for (const set of this.#held.values()) n += set.size;
    return n;
  }

  #reject(journaled: JournalOrder, reason: string, detail?: string): JournalOrder {
    const code = closedSet(REJECTION_REASONS, reason, "venue_rejected");
    this.#metrics.rejected(code, journaled.order.symbol);
    this.#log.warn("Order rejected", {
      clientOrderId: journaled.order.clientOrderId,
      symbol: journaled.order.symbol,
      reason: code,
      detail,
      trace: journaled.trace,
    });
    return this.#transition(journaled, "rejected", "reject", { reason: code });
  }

  /** Applies an asynchronous update from the venue. Unknown orders are logged and ignored. */
  onVenueEvent(event: VenueEvent): void {
    void this.#serial(event.clientOrderId, () => {
      const journaled = this.#journal.get(event.clientOrderId);
      if (!journaled) {
        this.#log.warn("Venue update for an unknown order ignored", {
          clientOrderId: event.clientOrderId,
          venueOrderId: event.venueOrderId,
          state: event.state,
        });
        return;
      }
      this.#applyStatus(journaled, event);
    });
  }

  /** Runs `fn` after the previous update of the same order finished. */
  #serial(clientOrderId: string, fn: () => void): Promise<void> {
    const previous = this.#chains.get(clientOrderId) ?? Promise.resolve();
    const next = previous.then(fn).catch((error) => {
      this.#log.error("Order update failed", { clientOrderId, error });
    });
    this.#chains.set(clientOrderId, next);
    void next.then(() => {
      if (this.#chains.get(clientOrderId) === next) this.#chains.delete(clientOrderId);
    });
    return next;
  }

  /** Moves `journaled` towards the venue's view `status`, emitting a report per state change. */
  #applyStatus(
    journaled: JournalOrder,
    status: VenueOrderStatus & { lastQty?: number; lastPrice?: number },
  ): JournalOrder {
    let current = journaled;
    if (status.venueOrderId && current.venueOrderId !== status.venueOrderId) {
      current = { ...current, venueOrderId: status.venueOrderId };
    }
    if (current.state === "new" && status.state !== "rejected") {
      current = this.#transition(current, "accepted", "ack", {});
    }
    const orderQty = current.order.qty;
    if (status.cumQty > current.cumQty + EPS) {
      // The report's last fill is everything filled since the previous report; when the
      // venue's own last execution does not account for all of it (a missed update), its
      // price is derived from the averages.
      const lastQty = status.cumQty - current.cumQty;
      const venueLast = status.lastPrice !== undefined && status.lastQty !== undefined &&
        Math.abs(status.lastQty - lastQty) < 1e-9;
      const derived = (status.avgPrice * status.cumQty - current.avgPrice * current.cumQty) /
        lastQty;
      const lastPrice = venueLast
        ? status.lastPrice!
        : status.avgPrice > 0 && Number.isFinite(derived)
        ? derived
        : status.lastPrice ?? 0;
      const to = status.cumQty >= orderQty - EPS ? "filled" : "partially_filled";
      current = this.#transition(current, to, "fill", {
        cumQty: status.cumQty,
        avgPrice: status.avgPrice,
        lastQty,
        lastPrice: Math.max(0, lastPrice),
      });
    }
    switch (status.state) {
      case "canceled":
        current = this.#transition(current, "canceled", "cancel", { reason: status.reason });
        break;
      case "expired":
        current = this.#transition(current, "expired", "expire", {});
        break;
      case "rejected":
        if (current.state !== "rejected") {
          current = this.#reject(current, status.reason ?? "venue_rejected");
        }
        break;
      case "filled":
        if (current.state !== "filled") current = this.#transition(current, "filled", "fill", {});
        break;
      default:
        break;
    }
    return current;
  }

  /**
   * Moves an order to state `to`: checks the change, journals it with its report in one
   * transaction, and delivers the report. An illegal change is counted, logged and
   * refused (the order is returned unchanged).
   */
  #transition(
    journaled: JournalOrder,
    to: OrderState,
    kind: ExecutionReport["kind"],
    patch: TransitionPatch,
  ): JournalOrder {
    if (journaled.state === to && to !== "partially_filled") return journaled;
    const check = checkTransition(journaled.state, to);
    if (!check.ok) {
      this.#metrics.illegalTransition(journaled.state, to);
      this.#log.warn("Illegal order state transition refused", {
        code: check.code,
        clientOrderId: journaled.order.clientOrderId,
        from: journaled.state,
        to,
      });
      return journaled;
    }
    const now = this.#now();
    const next: JournalOrder = {
      ...journaled,
      state: to,
      cumQty: patch.cumQty ?? journaled.cumQty,
      avgPrice: patch.avgPrice ?? journaled.avgPrice,
      reason: patch.reason ?? journaled.reason,
      updatedAt: now,
    };
    const order = next.order;
    const report: ExecutionReport = {
      clientOrderId: order.clientOrderId,
      ...(next.venueOrderId ? { venueOrderId: next.venueOrderId } : {}),
      symbol: order.symbol,
      side: order.side,
      kind,
      state: to,
      orderQty: order.qty,
      lastQty: patch.lastQty ?? 0,
      lastPrice: patch.lastPrice ?? 0,
      cumQty: next.cumQty,
      avgPrice: next.avgPrice,
      leavesQty: isFinal(to) ? 0 : Math.max(0, order.qty - next.cumQty),
      ...(patch.reason ? { reason: patch.reason } : {}),
      venue: next.venue,
      strategy: order.strategy,
      ts: now,
    };
    // The report leaves once the commit holding it (and its state change) is durable.
    const outboxId: number | undefined = this.#journal.save(next, report, () => {
      if (outboxId !== undefined) this.#deliver({ id: outboxId, report, trace: next.trace });
    });
    if (kind === "fill") this.#metrics.filled(order.symbol, to === "filled");
    if (isFinal(to)) {
      this.#open.delete(order.clientOrderId);
      this.#recordOpenOrders();
    }
    return next;
  }

  /** Hands a report to the sink; it leaves the outbox once the sink acknowledges it. */
  #deliver(entry: { id: number; report: ExecutionReport; trace: string }): void {
    if (this.#inFlight.has(entry.id) || this.#closed) return;
    this.#inFlight.add(entry.id);
    this.#sink(entry.report, entry.trace).then(
      () => {
        this.#inFlight.delete(entry.id);
        if (!this.#closed) this.#journal.delivered(entry.id);
      },
      (error) => {
        this.#inFlight.delete(entry.id);
        this.#log.warn("Execution report not delivered; kept in the outbox", {
          clientOrderId: entry.report.clientOrderId,
          error,
        });
      },
    );
  }

  /** Re-sends every report still in the outbox (not already in flight). Returns how many. */
  redeliver(): number {
    let resent = 0;
    for (const entry of this.#journal.outbox()) {
      if (!this.#inFlight.has(entry.id)) {
        this.#deliver(entry);
        resent++;
      }
    }
    return resent;
  }

  /**
   * Reconciles non-final orders with the venue by client order id. With `all: false`
   * only orders whose send outcome is unknown or that were never sent are checked.
   * Call with `all: true` on start-up and after the venue's stream reconnects.
   */
  async reconcile({ all }: { all: boolean }): Promise<Reconciliation> {
    let checked = 0, resent = 0, failed = 0;
    for (const journaled of this.#journal.open()) {
      if (this.#closed) break;
      const clientOrderId = journaled.order.clientOrderId;
      if (this.#busy.has(clientOrderId)) continue;
      if (!all && journaled.phase === "sent") continue;
      if (journaled.venue !== this.#venue.name) {
        this.#log.warn("Open order belongs to another venue; left alone", {
          clientOrderId,
          venue: journaled.venue,
        });
        continue;
      }
      this.#busy.add(clientOrderId);
      let handedOff = false;
      try {
        checked++;
        const found = await this.#venue.lookup(clientOrderId);
        if (found.kind === "found") {
          await this.#serial(clientOrderId, () => {
            const current = this.#journal.get(clientOrderId) ?? journaled;
            const sent = {
              ...current,
              phase: "sent" as const,
              venueOrderId: found.status.venueOrderId,
            };
            if (current.phase !== "sent") this.#journal.save({ ...sent, updatedAt: this.#now() });
            this.#applyStatus(sent, found.status);
          });
        } else if (found.kind === "not_found") {
          if (journaled.phase === "sent") {
            await this.#serial(clientOrderId, () => {
              const current = this.#journal.get(clientOrderId) ?? journaled;
              this.#log.warn("Venue no longer knows an open order; canceling it", {
                clientOrderId,
                venue: journaled.venue,
              });
              this.#transition(current, "canceled", "cancel", { reason: "venue_lost" });
            });
          } else {
            this.#log.info("Order never reached the venue; sending it", { clientOrderId });
            resent++;
            // Awaited until it is sent, or until it waits for a price: start-up must not
            // wait with it.
            handedOff = true;
            await new Promise<void>((heldOrDone) => {
              this.#submit(journaled, heldOrDone)
                .catch((error) =>
                  this.#log.error("Order handling failed", { clientOrderId, error })
                )
                .finally(() => {
                  this.#busy.delete(clientOrderId);
                  heldOrDone();
                });
            });
          }
        } else {
          failed++;
          this.#log.warn("Cannot reconcile order now; will retry", {
            clientOrderId,
            detail: found.detail,
          });
        }
      } finally {
        if (!handedOff) this.#busy.delete(clientOrderId);
      }
    }
    // What it changed is durable, and its reports handed on, before it resolves.
    await this.#journal.whenCommitted();
    return { checked, resent, failed };
  }

  /**
   * Start-up: re-sends the reports left in the outbox, then reconciles every non-final
   * order with the venue.
   */
  async recover(): Promise<Reconciliation & { reports: number }> {
    // Older reports first, so risk-manager sees an order's reports in order.
    const reports = this.redeliver();
    const reconciled = await this.reconcile({ all: true });
    this.#log.info("Recovered from journal", { ...reconciled, reports, open: this.#open.size });
    return { ...reconciled, reports };
  }

  /**
   * Answers risk-manager's `order_status_request`: each order as the journal holds it
   * (an execution report of kind `status`), or `known: false` when it never arrived.
   * Read-only.
   */
  orderStatus(request: OrderStatusRequest): OrderStatus {
    const orders = request.clientOrderIds.map((clientOrderId): OrderStatus["orders"][number] => {
      const journaled = this.#journal.get(clientOrderId);
      if (journaled === undefined) return { clientOrderId, known: false };
      const { order } = journaled;
      const report: ExecutionReport = {
        clientOrderId,
        ...(journaled.venueOrderId ? { venueOrderId: journaled.venueOrderId } : {}),
        symbol: order.symbol,
        side: order.side,
        kind: "status",
        state: journaled.state,
        orderQty: order.qty,
        lastQty: 0,
        lastPrice: 0,
        cumQty: journaled.cumQty,
        avgPrice: journaled.avgPrice,
        leavesQty: isFinal(journaled.state) ? 0 : Math.max(0, order.qty - journaled.cumQty),
        ...(journaled.reason ? { reason: journaled.reason } : {}),
        venue: journaled.venue,
        strategy: order.strategy,
        ts: this.#now(),
      };
      return { clientOrderId, known: true, report };
    });
    return { requestId: request.requestId, orders, at: this.#now() };
  }

  /** Asks the venue to cancel an open order. Returns false when unknown, final or refused. */
  async cancel(clientOrderId: string): Promise<boolean> {
    const journaled = this.#journal.get(clientOrderId);
    if (!journaled || isFinal(journaled.state)) return false;
    return await this.#venue.cancel(clientOrderId, journaled.venueOrderId);
  }

  /** Waits until pending per-order updates are applied (tests, shut-down). */
  async settle(): Promise<void> {
    for (
      let i = 0;
      i < 100 && (this.#chains.size > 0 || this.#committing.size > 0 || this.#journal.pending);
      i++
    ) {
      await Promise.all([
        ...this.#chains.values(),
        ...this.#committing,
        this.#journal.whenCommitted(),
      ]);
    }
  }

  /** Stops emitting reports and releases the held orders (they stay journaled); the journal stays with the caller. */
  close(): void {
    this.#closed = true;
    for (const set of [...this.#held.values()]) for (const entry of [...set]) entry.release(false);
  }

  #recordOpenOrders(): void {
    this.#metrics.openOrders(this.#open.size);
  }
}
