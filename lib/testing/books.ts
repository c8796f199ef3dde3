/**
 * The books of a finished run, read from the two stores after the services stopped:
 * risk-manager's state (its approved orders and positions) against execution-engine's
 * journal (the orders it took and their fills). A run that lost, doubled or invented
 * an order shows here as a difference.
 *
 * @example
 * ```ts
 * const books = readBooks(config.riskManager.statePath, config.executionEngine.journalPath);
 * assert.deepEqual(books.lost, []);
 * ```
 * @module
 */
import { DatabaseSync } from "node:sqlite";

/** What the two stores say, and where they disagree. */
export interface Books {
  /** Client order ids risk-manager approved. */
  readonly approved: ReadonlySet<string>;
  /** When risk-manager approved each order (its `created_at`, ms since the epoch). */
  readonly approvedAt: ReadonlyMap<string, number>;
  /** Client order ids in the execution journal. */
  readonly journaled: ReadonlySet<string>;
  /** Approved and never journaled. */
  readonly lost: readonly string[];
  /**
   * Of {@link lost}, those risk-manager closed as `orphan_expired` (issue 14: an order stored
   * but never sent, found by reconciliation once expired). Only a crash leaves one.
   */
  readonly orphansClosed: readonly string[];
  /** Journaled orders that filled (some quantity). */
  readonly filled: number;
  /** Journaled and never approved. */
  readonly foreign: readonly string[];
  /** Orders whose filled quantity differs between the stores, or exceeds the order. */
  readonly fillMismatches: readonly string[];
  /** Symbols whose risk-manager position differs from the net of the journal's fills. */
  readonly positionMismatches: readonly string[];
  /** Orders still open in either store. */
  readonly open: number;
  /** Risk-manager's realized P&L by symbol. */
  readonly realized: ReadonlyMap<string, number>;
  /**
   * Orders sent to the venue after their `expiresAt`, or filled without ever being sent
   * before it: an order must be refused once expired, never executed.
   */
  readonly lateSubmissions: readonly string[];
  /** Journaled orders that carry an `expiresAt` (so the expiry check had something to test). */
  readonly withExpiry: number;
}

const EPS = 1e-6;

/** Reads both stores (read-only) and compares them. */
export function readBooks(statePath: string, journalPath: string): Books {
  const journal = new DatabaseSync(journalPath, { readOnly: true });
  const state = new DatabaseSync(statePath, { readOnly: true });
  try {
    const net = new Map<string, number>();
    const journalFilled = new Map<string, number>();
    const fillMismatches: string[] = [];
    const lateSubmissions: string[] = [];
    let withExpiry = 0;
    let open = 0;
    for (
      const row of journal.prepare(
        "SELECT client_order_id, body, cum_qty, state, submitted_at FROM orders",
      ).all()
    ) {
      const order = JSON.parse(String(row.body)) as {
        symbol: string;
        side: string;
        qty: number;
        expiresAt?: number;
      };
      const id = String(row.client_order_id);
      const filled = Number(row.cum_qty);
      if (order.expiresAt !== undefined) {
        withExpiry++;
        const sentAt = row.submitted_at === null ? undefined : Number(row.submitted_at);
        if (sentAt !== undefined && sentAt > order.expiresAt) {
          lateSubmissions.push(`${id}: sent ${sentAt - order.expiresAt} ms after it expired`);
        } else if (sentAt === undefined && filled > EPS) {
          lateSubmissions.push(`${id}: filled ${filled} with no submission time`);
        }
      }
      net.set(
        order.symbol,
        (net.get(order.symbol) ?? 0) + (order.side === "buy" ? 1 : -1) * filled,
      );
      journalFilled.set(id, filled);
      if (filled > order.qty + EPS) fillMismatches.push(`${id}: filled ${filled} of ${order.qty}`);
      if (["new", "accepted", "partially_filled"].includes(String(row.state))) open++;
    }
    const approvedAt = new Map<string, number>();
    const orphanExpired = new Set<string>();
    for (
      const row of state.prepare(
        "SELECT client_order_id, cum_qty, open, created_at, close_reason FROM orders",
      ).all()
    ) {
      const id = String(row.client_order_id);
      approvedAt.set(id, Number(row.created_at));
      if (row.close_reason === "orphan_expired") orphanExpired.add(id);
      if (Number(row.open) !== 0) open++;
      const there = journalFilled.get(id);
      if (there !== undefined && Math.abs(there - Number(row.cum_qty)) > EPS) {
        fillMismatches.push(`${id}: risk-manager has ${row.cum_qty} filled, the journal ${there}`);
      }
    }
    const positionMismatches: string[] = [];
    const seen = new Set<string>();
    const realized = new Map<string, number>();
    for (const row of state.prepare("SELECT symbol, qty, realized FROM positions").all()) {
      const symbol = String(row.symbol);
      seen.add(symbol);
      realized.set(symbol, Number(row.realized));
      const expected = net.get(symbol) ?? 0;
      if (Math.abs(Number(row.qty) - expected) > EPS) {
        positionMismatches.push(
          `${symbol}: risk-manager holds ${row.qty}, the fills net ${expected}`,
        );
      }
    }
    for (const [symbol, qty] of net) {
      if (!seen.has(symbol) && Math.abs(qty) > EPS) {
        positionMismatches.push(`${symbol}: risk-manager holds nothing, the fills net ${qty}`);
      }
    }
    const journaled = new Set(journalFilled.keys());
    const approved = new Set(approvedAt.keys());
    const lost = [...approved].filter((id) => !journaled.has(id));
    return {
      approved,
      approvedAt,
      journaled,
      lost,
      orphansClosed: lost.filter((id) => orphanExpired.has(id)),
      filled: [...journalFilled.values()].filter((q) => q > EPS).length,
      foreign: [...journaled].filter((id) => !approved.has(id)),
      fillMismatches,
      positionMismatches,
      open,
      realized,
      lateSubmissions,
      withExpiry,
    };
  } finally {
    journal.close();
    state.close();
  }
}
