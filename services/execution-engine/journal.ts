/**
 * The order journal: SQLite (`node:sqlite`, WAL) holding every order the engine took,
 * its state at the venue, and an outbox of execution reports not yet acknowledged by
 * risk-manager.
 *
 * Commits are durable against a power loss by default (`durability: "power"`, SQLite
 * synchronous FULL), or against a process crash only (`process`, NORMAL).
 *
 * An order is written (phase `journaled`) before it leaves the process; its phase
 * becomes `sent` once the venue answered. A state change and the report it causes are
 * written in one unit, so after a crash either both exist or neither does.
 * `clientOrderId` is the primary key: a repeated order is refused by {@link Journal.insert}.
 *
 * Every write joins a group commit (lib/group_commit.ts): the writes of one synchronous
 * run (a batch of orders drained from the socket, the venue's answers handled together)
 * are committed once, when the run ends, so a burst costs one fsync, not one per write.
 * What may only happen once a write is durable waits for its `onCommit`: an order goes
 * to the venue, a report to risk-manager, and the orders receiver acknowledges only
 * after {@link Journal.flush}. A commit that fails is handed to `onFailure` (the service
 * ends the process): memory is then ahead of the disk, and only a restart is safe.
 *
 * It also keeps the net filled quantity per symbol (`positions`, updated in the same
 * transaction as the order whose fills changed it): the paper venue's positions, which
 * execution-engine reports to risk-manager for reconciliation.
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { dirname } from "node:path";
import { offloadCheckpoints } from "../../lib/wal_checkpoint.ts";
import { GroupCommit } from "../../lib/group_commit.ts";
import type { ExecutionReport, Order, OrderState } from "../../lib/types.ts";
import { FINAL_STATES } from "./order_state.ts";
import type { VenueName } from "./venue.ts";

/** Where an order is in its journey out of the process. */
export type SendPhase =
  /** Written, maybe not sent: on recovery, look it up at the venue and send if absent. */
  | "journaled"
  /** The venue answered (accepted or rejected). */
  | "sent"
  /** Sent, but the venue's answer was lost (retries exhausted): reconcile. */
  | "unknown";

/** One order as the journal holds it. Immutable: updates write a new value. */
export interface JournalOrder {
  readonly order: Order;
  readonly trace: string;
  readonly venue: VenueName;
  readonly state: OrderState;
  readonly phase: SendPhase;
  readonly venueOrderId?: string;
  readonly cumQty: number;
  readonly avgPrice: number;
  readonly reason?: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** When it was last handed to the venue, epoch ms (recorded with the venue's answer). */
  readonly submittedAt?: number;
}

/** The net filled quantity of one symbol over every journaled order. */
export interface JournalPosition {
  readonly symbol: string;
  /** Signed: buys' filled quantity minus sells'. */
  readonly qty: number;
  /** When a fill last changed it, epoch ms. */
  readonly updatedAt: number;
}

/** A report waiting for risk-manager's acknowledgement. */
export interface OutboxEntry {
  readonly id: number;
  readonly report: ExecutionReport;
  readonly trace: string;
}

interface Row {
  client_order_id: string;
  body: string;
  trace: string;
  venue: string;
  state: string;
  phase: string;
  venue_order_id: string | null;
  cum_qty: number;
  avg_price: number;
  reason: string | null;
  created_at: number;
  updated_at: number;
  submitted_at: number | null;
}

const FINAL_LIST = [...FINAL_STATES].map((s) => `'${s}'`).join(",");

/** Options of {@link Journal}. */
export interface JournalOptions {
  /** `power` (default): commits survive a power loss (FULL); `process`: a crash (NORMAL). */
  readonly durability?: "process" | "power";
  /**
   * Called when a commit fails (default: throws from the commit). The service ends the
   * process: the journal's memory holds what the failed commit held.
   */
  readonly onFailure?: (error: unknown) => void;
}

/** The SQLite order journal. Throws on open when the file cannot be created. */
export class Journal {
  readonly #db: DatabaseSync;
  readonly #insert: StatementSync;
  readonly #get: StatementSync;
  readonly #update: StatementSync;
  readonly #addReport: StatementSync;
  readonly #delivered: StatementSync;
  readonly #putPosition: StatementSync;
  /** Open orders by client order id: reads of hot orders skip SQLite. */
  readonly #cache = new Map<string, JournalOrder>();
  /** The `positions` table, in memory. */
  readonly #positions = new Map<string, JournalPosition>();
  readonly #releaseCheckpoints: () => void;
  readonly #group: GroupCommit;

  /** The connection's `PRAGMA synchronous` between commits: 2 FULL (`power`), 1 NORMAL (`process`). */
  get synchronous(): number {
    return Number(this.#db.prepare("PRAGMA synchronous").get()!.synchronous);
  }

  /**
   * Opens (creating the file and its directory) the journal at `path` (`:memory:` for
   * tests). `durability` `power` (default): commits survive a power loss (synchronous
   * FULL); `process`: they survive a crash of the process (NORMAL).
   */
  constructor(readonly path: string, options: JournalOptions = {}) {
    const synchronous = (options.durability ?? "power") === "power" ? "FULL" : "NORMAL";
    if (path !== ":memory:") Deno.mkdirSync(dirname(path), { recursive: true });
    this.#db = new DatabaseSync(path);
    // busy_timeout first: the checkpoint worker (lib/wal_checkpoint.ts) may still be
    // closing its connection to this file when it is opened again.
    this.#db.exec(`
      PRAGMA busy_timeout = 5000;
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = ${synchronous};
      CREATE TABLE IF NOT EXISTS orders (
        client_order_id TEXT PRIMARY KEY,
        body TEXT NOT NULL,
        trace TEXT NOT NULL,
        venue TEXT NOT NULL,
        state TEXT NOT NULL,
        phase TEXT NOT NULL,
        venue_order_id TEXT,
        cum_qty REAL NOT NULL DEFAULT 0,
        avg_price REAL NOT NULL DEFAULT 0,
        reason TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
      );
      CREATE INDEX IF NOT EXISTS orders_open ON orders(state) WHERE state NOT IN (${FINAL_LIST});
      CREATE TABLE IF NOT EXISTS outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        client_order_id TEXT NOT NULL,
        body TEXT NOT NULL,
        trace TEXT NOT NULL
      );
    `);
    const columns = this.#db.prepare("PRAGMA table_info(orders)").all().map((r) => String(r.name));
    if (!columns.includes("submitted_at")) {
      this.#db.exec("ALTER TABLE orders ADD COLUMN submitted_at REAL");
    }
    this.#openPositions();
    this.#insert = this.#db.prepare(
      `INSERT OR IGNORE INTO orders (client_order_id, body, trace, venue, state, phase,
         cum_qty, avg_price, created_at, updated_at)
       VALUES (?, ?, ?, ?, 'new', 'journaled', 0, 0, ?, ?)`,
    );
    this.#get = this.#db.prepare(`SELECT * FROM orders WHERE client_order_id = ?`);
    this.#update = this.#db.prepare(
      `UPDATE orders SET state = ?, phase = ?, venue_order_id = ?, cum_qty = ?, avg_price = ?,
         reason = ?, updated_at = ?, submitted_at = ? WHERE client_order_id = ?`,
    );
    this.#addReport = this.#db.prepare(
      `INSERT INTO outbox (client_order_id, body, trace) VALUES (?, ?, ?)`,
    );
    this.#delivered = this.#db.prepare(`DELETE FROM outbox WHERE id = ?`);
    this.#putPosition = this.#db.prepare(
      `INSERT INTO positions (symbol, qty, updated_at) VALUES (?, ?, ?)
       ON CONFLICT(symbol) DO UPDATE SET qty = excluded.qty, updated_at = excluded.updated_at`,
    );
    // One commit per turn of the event loop, not per callback: the venue's answers to a batch
    // of orders come in callbacks of one turn (lib/group_commit.ts, `coalesce`).
    this.#group = new GroupCommit(this.#db, {
      synchronous,
      onFailure: options.onFailure,
      coalesce: "turn",
    });
    // Checkpoints (the fsyncs) on a worker thread, not inside an order's commit.
    this.#releaseCheckpoints = offloadCheckpoints(this.#db, path);
  }

  /** Counters of the group commit (durable commits, units), for tests and benchmarks. */
  get commitStats(): { readonly commits: number; readonly units: number } {
    return this.#group.stats;
  }

  /**
   * Commits what is pending now; false when the commit failed (`onFailure` was told).
   * The orders receiver calls it before an acknowledgement leaves.
   */
  flush(): boolean {
    this.#group.flush();
    return this.#group.failed === undefined;
  }

  /** True while writes wait for their commit (at the end of this turn of the event loop). */
  get pending(): boolean {
    return this.#group.pending;
  }

  /** Resolves once what is pending now is committed (at once when nothing is). */
  whenCommitted(): Promise<number> {
    return this.#group.whenCommitted();
  }

  /**
   * Creates the `positions` table when missing (a journal of an earlier release: filled
   * once from its orders' fills) and reads it into memory.
   */
  #openPositions(): void {
    const exists = this.#db.prepare(
      `SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'positions'`,
    ).get();
    if (!exists) {
      this.#db.exec(`
        BEGIN IMMEDIATE;
        CREATE TABLE positions (
          symbol TEXT PRIMARY KEY,
          qty REAL NOT NULL,
          updated_at REAL NOT NULL
        );
        INSERT INTO positions (symbol, qty, updated_at)
          SELECT json_extract(body, '$.symbol'),
                 SUM(CASE json_extract(body, '$.side') WHEN 'buy' THEN cum_qty ELSE -cum_qty END),
                 MAX(updated_at)
          FROM orders WHERE cum_qty > 0 GROUP BY 1;
        COMMIT;
      `);
    }
    const rows = this.#db.prepare(`SELECT symbol, qty, updated_at FROM positions`).all() as {
      symbol: string;
      qty: number;
      updated_at: number;
    }[];
    for (const row of rows) {
      this.#positions.set(row.symbol, {
        symbol: row.symbol,
        qty: row.qty,
        updatedAt: row.updated_at,
      });
    }
  }

  /**
   * The net filled quantity per symbol over every journaled order (the paper venue's
   * positions), symbols in name order; flat ones are left out.
   */
  positions(): JournalPosition[] {
    return [...this.#positions.values()]
      .filter((p) => Math.abs(p.qty) >= 1e-9)
      .sort((a, b) => (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0));
  }

  /**
   * Writes a new order in state `new`, phase `journaled` (in the open group). Returns the
   * record, or `undefined` when an order with that `clientOrderId` is already journaled
   * (a duplicate); `onCommit` runs once the record is durable (not for a duplicate), with the
   * `performance.now()` its commit ended at.
   */
  insert(
    order: Order,
    trace: string,
    venue: VenueName,
    now: number,
    onCommit?: (committedAt: number) => void,
  ): JournalOrder | undefined {
    const inserted = this.#group.run(() =>
      Number(
        this.#insert.run(order.clientOrderId, JSON.stringify(order), trace, venue, now, now)
          .changes,
      ), onCommit);
    if (inserted === 0) return undefined;
    const journaled: JournalOrder = {
      order,
      trace,
      venue,
      state: "new",
      phase: "journaled",
      cumQty: 0,
      avgPrice: 0,
      createdAt: now,
      updatedAt: now,
    };
    this.#cache.set(order.clientOrderId, journaled);
    return journaled;
  }

  /** The order with that client order id, if journaled. */
  get(clientOrderId: string): JournalOrder | undefined {
    const hit = this.#cache.get(clientOrderId);
    if (hit) return hit;
    const row = this.#get.get(clientOrderId) as Row | undefined;
    return row ? fromRow(row) : undefined;
  }

  /** Orders not in a final state, oldest first. */
  open(): JournalOrder[] {
    const rows = this.#db.prepare(
      `SELECT * FROM orders WHERE state NOT IN (${FINAL_LIST}) ORDER BY created_at, rowid`,
    ).all() as unknown as Row[];
    return rows.map(fromRow);
  }

  /** Number of orders in each state. */
  countByState(): Partial<Record<OrderState, number>> {
    const rows = this.#db.prepare(`SELECT state, COUNT(*) AS n FROM orders GROUP BY state`)
      .all() as { state: OrderState; n: number }[];
    return Object.fromEntries(rows.map((row) => [row.state, Number(row.n)]));
  }

  /**
   * Saves `next` and, in the same unit (in the open group), queues `report` (if any) in
   * the outbox and moves its symbol's position by the quantity `next` filled since it was
   * last saved. Returns the outbox id of the report; `onCommit` runs once all of it is
   * durable (deliver the report then, not before).
   *
   * @throws {Error} If SQLite refuses (nothing of it is written, memory is unchanged).
   */
  save(next: JournalOrder, report?: ExecutionReport, onCommit?: () => void): number | undefined {
    const id = next.order.clientOrderId;
    const filledBefore = this.#cache.get(id)?.cumQty ??
      (this.#get.get(id) as Row | undefined)?.cum_qty ?? 0;
    const added = next.cumQty - filledBefore;
    let position: JournalPosition | undefined;
    if (added !== 0) {
      const symbol = next.order.symbol;
      const qty = (this.#positions.get(symbol)?.qty ?? 0) +
        (next.order.side === "buy" ? added : -added);
      position = { symbol, qty: Math.round(qty * 1e9) / 1e9, updatedAt: next.updatedAt };
    }
    const outboxId = this.#group.run(() => {
      this.#update.run(
        next.state,
        next.phase,
        next.venueOrderId ?? null,
        next.cumQty,
        next.avgPrice,
        next.reason ?? null,
        next.updatedAt,
        next.submittedAt ?? null,
        next.order.clientOrderId,
      );
      if (position) this.#putPosition.run(position.symbol, position.qty, position.updatedAt);
      let outboxId: number | undefined;
      if (report) {
        const queued = this.#addReport.run(
          report.clientOrderId,
          JSON.stringify(report),
          next.trace,
        );
        outboxId = Number(queued.lastInsertRowid);
      }
      return outboxId;
    }, onCommit);
    if (position) this.#positions.set(position.symbol, position);
    if (FINAL_STATES.has(next.state)) this.#cache.delete(id);
    else this.#cache.set(id, next);
    return outboxId;
  }

  /** Reports not yet acknowledged, in the order they were written. */
  outbox(): OutboxEntry[] {
    const rows = this.#db.prepare(`SELECT id, body, trace FROM outbox ORDER BY id`).all() as {
      id: number;
      body: string;
      trace: string;
    }[];
    return rows.map((row) => ({
      id: Number(row.id),
      report: JSON.parse(row.body) as ExecutionReport,
      trace: row.trace,
    }));
  }

  /**
   * Removes an acknowledged report from the outbox. Needs no sync of its own: a delete
   * lost to a power cut only resends a report risk-manager drops as a duplicate.
   */
  delivered(id: number): void {
    this.#group.runLazy(() => this.#delivered.run(id));
  }

  /** Commits what is pending, then closes the database. */
  close(): void {
    if (this.#db.isOpen && this.#group.failed === undefined) this.#group.flush();
    this.#releaseCheckpoints();
    if (this.#db.isOpen) this.#db.close();
  }
}

function fromRow(row: Row): JournalOrder {
  return {
    order: JSON.parse(row.body) as Order,
    trace: row.trace,
    venue: row.venue as VenueName,
    state: row.state as OrderState,
    phase: row.phase as SendPhase,
    venueOrderId: row.venue_order_id ?? undefined,
    cumQty: row.cum_qty,
    avgPrice: row.avg_price,
    reason: row.reason ?? undefined,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    ...(row.submitted_at === null ? {} : { submittedAt: row.submitted_at }),
  };
}
