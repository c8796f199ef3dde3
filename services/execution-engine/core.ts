/**
 * The execution engine core: takes approved orders, journals them before they leave the
 * process, sends them to the venue, applies the venue's updates through the order state
 * machine and emits an execution report for every state change.
 *
 * No I/O of its own: the journal, the venue, the report sink and the clock are passed in,
 * so tests drive it directly (and inject crashes between journal write and send, and
 * between send and acknowledgement).
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
import type { Families } from "../../lib/metrics.ts";
import { closedSet, symbolLabel } from "../../lib/metrics.ts";
import { type ExecutionReport, type Order, ORDER_TYPES, type OrderState } from "../../lib/types.ts";
import { nowMs } from "../../lib/clock.ts";
import type { JournalOrder } from "./journal.ts";
import { Journal } from "./journal.ts";
import { checkTransition, isFinal } from "./order_state.ts";
import {
  REJECTION_REASONS,
  type SubmitResult,
  type Venue,
  type VenueEvent,
  type VenueOrderStatus,
} from "./venue.ts";

/** Where a test may make the engine die. */
export type CrashPoint = "after_journal" | "after_send";

/** Delivers a report downstream; resolves once acknowledged. */
export type ReportSink = (report: ExecutionReport, trace: string) => Promise<unknown>;

/** What {@link ExecutionEngineCore.handleOrder} did with an order. */
export type HandleResult =
  | { kind: "duplicate"; state: OrderState }
  | { kind: "handled"; state: OrderState };

/** Options of {@link ExecutionEngineCore}. */
export interface ExecutionEngineCoreOptions {
  journal: Journal;
  venue: Venue;
  /** The execution-engine's metric families. */
  metrics: Families<"execution-engine">;
  /** Configured symbols (metric label values outside it become "other"). */
  symbols: readonly string[];
  /** Where reports go. */
  sink: ReportSink;
  /** Epoch ms; defaults to {@link nowMs}. */
  now?: () => number;
  /** Test hook: dies at this point (via `crash`). */
  crashAt?: CrashPoint;
  /** Test hook: how to die; default `Deno.exit(86)`. */
  crash?: (point: CrashPoint) => never;
  logger?: Logger;
}

const EPS = 1e-9;

/** The execution engine core. */
export class ExecutionEngineCore {
  readonly #o: ExecutionEngineCoreOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #symbols: ReadonlySet<string>;
  readonly #open = new Set<string>();
  readonly #inFlight = new Set<number>();
  /** Orders currently being submitted or reconciled, so they are not touched twice at once. */
  readonly #busy = new Set<string>();
  /** Per-order queue so updates to one order apply one at a time. */
  readonly #chains = new Map<string, Promise<void>>();
  #closed = false;

  constructor(options: ExecutionEngineCoreOptions) {
    this.#o = options;
    this.#log = options.logger ?? getLogger(["trading", "execution"]);
    this.#now = options.now ?? nowMs;
    this.#symbols = new Set(options.symbols);
    for (const r of options.journal.open()) this.#open.add(r.order.clientOrderId);
    this.#gauge();
    options.venue.onEvent((ev) => this.onVenueEvent(ev));
    options.venue.onResync?.(() => {
      this.reconcile({ all: true }).catch((e) =>
        this.#log.error("Reconciliation failed", { error: e })
      );
    });
  }

  /** The venue's name (the `exchange` label). */
  get exchange(): string {
    return this.#o.venue.name;
  }

  /** Number of orders not in a final state. */
  openCount(): number {
    return this.#open.size;
  }

  /**
   * Takes one approved order: journals it (synchronously, before this returns), then
   * sends it and applies the venue's answer (`sent`, resolved when the venue answered).
   * A repeated `clientOrderId` is not sent again. Throws only when the journal cannot be
   * written: the order must then not be acknowledged to its sender.
   */
  accept(
    order: Order,
    trace: string,
  ): { kind: "duplicate"; state: OrderState } | { kind: "accepted"; sent: Promise<OrderState> } {
    const rec = this.#o.journal.insert(order, trace, this.#o.venue.name, this.#now());
    if (!rec) {
      const existing = this.#o.journal.get(order.clientOrderId);
      this.#log.info("Duplicate order ignored", {
        clientOrderId: order.clientOrderId,
        state: existing?.state,
        trace,
      });
      return { kind: "duplicate", state: existing?.state ?? "new" };
    }
    this.#open.add(order.clientOrderId);
    this.#gauge();
    if (this.#o.crashAt === "after_journal") this.#crash("after_journal");
    this.#busy.add(order.clientOrderId);
    const sent = this.#submit(rec).finally(() => this.#busy.delete(order.clientOrderId)).then(
      () => this.#o.journal.get(order.clientOrderId)?.state ?? "new",
    );
    return { kind: "accepted", sent };
  }

  /**
   * {@link accept}, then waits for the venue's answer. Resolves with the order's state.
   */
  async handleOrder(order: Order, trace: string): Promise<HandleResult> {
    const a = this.accept(order, trace);
    if (a.kind === "duplicate") return a;
    return { kind: "handled", state: await a.sent };
  }

  async #submit(rec: JournalOrder): Promise<void> {
    const { order } = rec;
    const venue = this.#o.venue;
    const m = this.#o.metrics;
    const orderType = closedSet(ORDER_TYPES, order.type);
    if (order.tickTs > 0) {
      m.execution_engine_tick_to_trade_latency_us.observe(
        { exchange: venue.name },
        Math.max(0, (this.#now() - order.tickTs) * 1000),
      );
    }
    const t0 = performance.now();
    let result: SubmitResult;
    try {
      result = await venue.submit(order);
    } catch (e) {
      result = { kind: "unknown", detail: (e as Error).message };
    }
    if (this.#o.crashAt === "after_send") this.#crash("after_send");
    m.execution_engine_order_submission_latency_us.observe(
      { exchange: venue.name, order_type: orderType },
      (performance.now() - t0) * 1000,
    );
    await this.#serial(order.clientOrderId, () => {
      const cur = this.#o.journal.get(order.clientOrderId) ?? rec;
      switch (result.kind) {
        case "accepted": {
          m.execution_engine_orders_submitted_total.inc({
            order_type: orderType,
            status: "success",
            exchange: venue.name,
          });
          this.#log.info("Order accepted", {
            clientOrderId: order.clientOrderId,
            venueOrderId: result.venueOrderId,
            symbol: order.symbol,
            side: order.side,
            qty: order.qty,
            venue: venue.name,
            trace: rec.trace,
          });
          const sent = { ...cur, phase: "sent" as const, venueOrderId: result.venueOrderId };
          if (cur.state === "new") {
            const next = this.#transition(sent, "accepted", "ack", {});
            if (result.status) this.#applyStatus(next, result.status);
          } else {
            // The venue's stream overtook its REST answer: only record the id.
            this.#o.journal.save({ ...sent, updatedAt: this.#now() });
            if (result.status) this.#applyStatus(sent, result.status);
          }
          break;
        }
        case "rejected": {
          m.execution_engine_orders_submitted_total.inc({
            order_type: orderType,
            status: "failure",
            exchange: venue.name,
          });
          this.#reject({ ...cur, phase: "sent" }, result.reason, result.detail);
          break;
        }
        case "unknown": {
          m.execution_engine_orders_submitted_total.inc({
            order_type: orderType,
            status: "failure",
            exchange: venue.name,
          });
          this.#log.warn("Order outcome unknown; will reconcile", {
            clientOrderId: order.clientOrderId,
            detail: result.detail,
            trace: rec.trace,
          });
          if (cur.phase !== "sent") {
            this.#o.journal.save({ ...cur, phase: "unknown", updatedAt: this.#now() });
          }
          break;
        }
      }
    });
  }

  #reject(rec: JournalOrder, reason: string, detail?: string): JournalOrder {
    const code = closedSet(REJECTION_REASONS, reason, "venue_rejected");
    this.#o.metrics.execution_engine_order_rejections_total.inc({
      rejection_reason: code,
      symbol: symbolLabel(this.#symbols, rec.order.symbol),
    });
    this.#log.warn("Order rejected", {
      clientOrderId: rec.order.clientOrderId,
      symbol: rec.order.symbol,
      reason: code,
      detail,
      trace: rec.trace,
    });
    return this.#transition(rec, "rejected", "reject", { reason: code });
  }

  /** Applies an asynchronous update from the venue. Unknown orders are logged and ignored. */
  onVenueEvent(ev: VenueEvent): void {
    void this.#serial(ev.clientOrderId, () => {
      const rec = this.#o.journal.get(ev.clientOrderId);
      if (!rec) {
        this.#log.warn("Venue update for an unknown order ignored", {
          clientOrderId: ev.clientOrderId,
          venueOrderId: ev.venueOrderId,
          state: ev.state,
        });
        return;
      }
      this.#applyStatus(rec, ev);
    });
  }

  /** Runs `fn` after the previous update of the same order finished. */
  #serial(id: string, fn: () => void): Promise<void> {
    const prev = this.#chains.get(id) ?? Promise.resolve();
    const next = prev.then(fn).catch((e) => {
      this.#log.error("Order update failed", { clientOrderId: id, error: e });
    });
    this.#chains.set(id, next);
    void next.then(() => {
      if (this.#chains.get(id) === next) this.#chains.delete(id);
    });
    return next;
  }

  /** Moves `rec` towards the venue's view `st`, emitting a report per state change. */
  #applyStatus(rec: JournalOrder, st: VenueOrderStatus & { lastQty?: number; lastPrice?: number }) {
    let cur = rec;
    if (st.venueOrderId && cur.venueOrderId !== st.venueOrderId) {
      cur = { ...cur, venueOrderId: st.venueOrderId };
    }
    if (cur.state === "new" && st.state !== "rejected") {
      cur = this.#transition(cur, "accepted", "ack", {});
    }
    const qty = cur.order.qty;
    if (st.cumQty > cur.cumQty + EPS) {
      // The report's last fill is everything filled since the previous report; when the
      // venue's own last execution does not account for all of it (a missed update), its
      // price is derived from the averages.
      const lastQty = st.cumQty - cur.cumQty;
      const venueLast = st.lastPrice !== undefined && st.lastQty !== undefined &&
        Math.abs(st.lastQty - lastQty) < 1e-9;
      const derived = (st.avgPrice * st.cumQty - cur.avgPrice * cur.cumQty) / lastQty;
      const lastPrice = venueLast
        ? st.lastPrice!
        : st.avgPrice > 0 && Number.isFinite(derived)
        ? derived
        : st.lastPrice ?? 0;
      const to = st.cumQty >= qty - EPS ? "filled" : "partially_filled";
      cur = this.#transition(cur, to, "fill", {
        cumQty: st.cumQty,
        avgPrice: st.avgPrice,
        lastQty,
        lastPrice: Math.max(0, lastPrice),
      });
    }
    switch (st.state) {
      case "canceled":
        cur = this.#transition(cur, "canceled", "cancel", { reason: st.reason });
        break;
      case "expired":
        cur = this.#transition(cur, "expired", "expire", {});
        break;
      case "rejected":
        if (cur.state !== "rejected") cur = this.#reject(cur, st.reason ?? "venue_rejected");
        break;
      case "filled":
        if (cur.state !== "filled") cur = this.#transition(cur, "filled", "fill", {});
        break;
      default:
        break;
    }
    return cur;
  }

  #transition(
    rec: JournalOrder,
    to: OrderState,
    kind: ExecutionReport["kind"],
    patch: {
      cumQty?: number;
      avgPrice?: number;
      lastQty?: number;
      lastPrice?: number;
      reason?: string;
    },
  ): JournalOrder {
    if (rec.state === to && to !== "partially_filled") return rec;
    const check = checkTransition(rec.state, to);
    if (!check.ok) {
      this.#o.metrics.execution_engine_illegal_transitions_total.inc({ from: rec.state, to });
      this.#log.warn("Illegal order state transition refused", {
        code: check.code,
        clientOrderId: rec.order.clientOrderId,
        from: rec.state,
        to,
      });
      return rec;
    }
    const now = this.#now();
    const next: JournalOrder = {
      ...rec,
      state: to,
      cumQty: patch.cumQty ?? rec.cumQty,
      avgPrice: patch.avgPrice ?? rec.avgPrice,
      reason: patch.reason ?? rec.reason,
      updatedAt: now,
    };
    const o = next.order;
    const report: ExecutionReport = {
      clientOrderId: o.clientOrderId,
      ...(next.venueOrderId ? { venueOrderId: next.venueOrderId } : {}),
      symbol: o.symbol,
      side: o.side,
      kind,
      state: to,
      orderQty: o.qty,
      lastQty: patch.lastQty ?? 0,
      lastPrice: patch.lastPrice ?? 0,
      cumQty: next.cumQty,
      avgPrice: next.avgPrice,
      leavesQty: isFinal(to) ? 0 : Math.max(0, o.qty - next.cumQty),
      ...(patch.reason ? { reason: patch.reason } : {}),
      venue: next.venue,
      strategy: o.strategy,
      ts: now,
    };
    const id = this.#o.journal.save(next, report);
    if (isFinal(to)) {
      this.#open.delete(o.clientOrderId);
      this.#gauge();
    }
    if (id !== undefined) this.#deliver({ id, report, trace: next.trace });
    return next;
  }

  #deliver(entry: { id: number; report: ExecutionReport; trace: string }): void {
    if (this.#inFlight.has(entry.id) || this.#closed) return;
    this.#inFlight.add(entry.id);
    this.#o.sink(entry.report, entry.trace).then(
      () => {
        this.#inFlight.delete(entry.id);
        if (!this.#closed) this.#o.journal.delivered(entry.id);
      },
      (e) => {
        this.#inFlight.delete(entry.id);
        this.#log.warn("Execution report not delivered; kept in the outbox", {
          clientOrderId: entry.report.clientOrderId,
          error: e,
        });
      },
    );
  }

  /** Re-sends every report still in the outbox (not already in flight). */
  redeliver(): number {
    let n = 0;
    for (const e of this.#o.journal.outbox()) {
      if (!this.#inFlight.has(e.id)) {
        this.#deliver(e);
        n++;
      }
    }
    return n;
  }

  /**
   * Reconciles non-final orders with the venue by client order id. With `all: false`
   * only orders whose send outcome is unknown or that were never sent are checked.
   * Call with `all: true` on start-up and after the venue's stream reconnects.
   */
  async reconcile(
    { all }: { all: boolean },
  ): Promise<{ checked: number; resent: number; failed: number }> {
    let checked = 0, resent = 0, failed = 0;
    for (const rec of this.#o.journal.open()) {
      if (this.#closed) break;
      const id = rec.order.clientOrderId;
      if (this.#busy.has(id)) continue;
      if (!all && rec.phase === "sent") continue;
      if (rec.venue !== this.#o.venue.name) {
        this.#log.warn("Open order belongs to another venue; left alone", {
          clientOrderId: id,
          venue: rec.venue,
        });
        continue;
      }
      this.#busy.add(id);
      try {
        checked++;
        const found = await this.#o.venue.lookup(id);
        if (found.kind === "found") {
          await this.#serial(id, () => {
            const cur = this.#o.journal.get(id) ?? rec;
            const sent = {
              ...cur,
              phase: "sent" as const,
              venueOrderId: found.status.venueOrderId,
            };
            if (cur.phase !== "sent") this.#o.journal.save({ ...sent, updatedAt: this.#now() });
            this.#applyStatus(sent, found.status);
          });
        } else if (found.kind === "not_found") {
          if (rec.phase === "sent") {
            await this.#serial(id, () => {
              const cur = this.#o.journal.get(id) ?? rec;
              this.#log.warn("Venue no longer knows an open order; canceling it", {
                clientOrderId: id,
                venue: rec.venue,
              });
              this.#transition(cur, "canceled", "cancel", { reason: "venue_lost" });
            });
          } else {
            this.#log.info("Order never reached the venue; sending it", { clientOrderId: id });
            resent++;
            await this.#submit(rec);
          }
        } else {
          failed++;
          this.#log.warn("Cannot reconcile order now; will retry", {
            clientOrderId: id,
            detail: found.detail,
          });
        }
      } finally {
        this.#busy.delete(id);
      }
    }
    return { checked, resent, failed };
  }

  /**
   * Start-up: re-sends the reports left in the outbox, then reconciles every non-final
   * order with the venue.
   */
  async recover(): Promise<{ checked: number; resent: number; failed: number; reports: number }> {
    // Older reports first, so risk-manager sees an order's reports in order.
    const reports = this.redeliver();
    const r = await this.reconcile({ all: true });
    this.#log.info("Recovered from journal", { ...r, reports, open: this.#open.size });
    return { ...r, reports };
  }

  /** Asks the venue to cancel an open order. Returns false when unknown, final or refused. */
  async cancel(clientOrderId: string): Promise<boolean> {
    const rec = this.#o.journal.get(clientOrderId);
    if (!rec || isFinal(rec.state)) return false;
    return await this.#o.venue.cancel(clientOrderId, rec.venueOrderId);
  }

  /** Waits until pending per-order updates are applied (tests, shut-down). */
  async settle(): Promise<void> {
    for (let i = 0; i < 100 && this.#chains.size > 0; i++) {
      await Promise.all([...this.#chains.values()]);
    }
  }

  /** Stops emitting reports; the journal stays with the caller. */
  close(): void {
    this.#closed = true;
  }

  #gauge(): void {
    this.#o.metrics.execution_engine_open_orders.set(
      { exchange: this.#o.venue.name },
      this.#open.size,
    );
  }

  #crash(point: CrashPoint): never {
    this.#log.warn("Injected crash", { point });
    if (this.#o.crash) return this.#o.crash(point);
    Deno.exit(86);
  }
}
