/**
 * The risk-manager's durable state in SQLite (`node:sqlite`, WAL): positions, the daily
 * P&L with its trading day, the trading state and breaker, and every order it approved
 * (their client order ids, so a replayed signal is refused after a restart too, and
 * their filled quantity, so a redelivered fill is applied once).
 *
 * The same database holds the orders channel's outbox (lib/messaging/outbox_journal.ts,
 * attached through {@link StateStore.journalDb}), and every write joins its group commit
 * (lib/group_commit.ts): the writes of one synchronous run, an approval's order row and
 * its outbox row, every approval of a batch of signals, the reports of a batch, commit
 * together, once. An order leaves only after the commit that holds it, and a report is
 * acknowledged only after it (the receiver calls {@link StateStore.flush} first). A
 * commit that fails ends the process (`onFailure`): memory is never ahead of the disk.
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { offloadCheckpoints } from "../../lib/wal_checkpoint.ts";
import { GroupCommit } from "../../lib/group_commit.ts";
import type { Position } from "./position_book.ts";
import type { TradingStatus } from "./trading_state.ts";

/** An order the risk-manager approved (or learnt of from an execution report). */
export interface OrderRecord {
  readonly clientOrderId: string;
  readonly signalId: string;
  readonly symbol: string;
  readonly side: "buy" | "sell";
  readonly qty: number;
  /** Filled quantity applied to positions so far. */
  readonly cumQty: number;
  /** False once the order reached a final state. */
  readonly open: boolean;
  readonly createdAt: number;
  /** The reference price it was approved at, USD (0 when unknown). */
  readonly price?: number;
  /** Average price of the filled quantity applied so far, USD (0 before a fill). */
  readonly avgPrice?: number;
  /** When the order expires, epoch ms (0: never; orders learnt from reports). */
  readonly expiresAt?: number;
  /**
   * When its signal expires, epoch ms: until then (and `orderMemoryMs` after) the order
   * stays in memory, so a replayed signal is denied `DUPLICATE_SIGNAL`.
   */
  readonly signalExpiresAt?: number;
  /** When it was closed, epoch ms (0 while open). */
  readonly closedAt?: number;
  /** Why it was closed when no final report closed it (`orphan_expired`, `admin`). */
  readonly closeReason?: string;
}

/** How hard a commit is made durable: SQLite `synchronous` NORMAL (`process`) or FULL (`power`). */
export type Durability = "process" | "power";

/** The `PRAGMA synchronous` of a durability (WAL): NORMAL survives a process crash, FULL a power loss. */
export function synchronousPragma(durability: Durability): "NORMAL" | "FULL" {
  return durability === "power" ? "FULL" : "NORMAL";
}

/** Daily P&L bookkeeping for one trading day (UTC date). */
export interface DailyPnl {
  /** `YYYY-MM-DD` (UTC). */
  readonly day: string;
  /** P&L realised since the day began, USD. */
  readonly realized: number;
  /** Total unrealised P&L when the day began, USD (the baseline of today's change). */
  readonly unrealizedAtStart: number;
}

/** Everything {@link StateStore.load} restores. */
export interface StoredState {
  readonly positions: Position[];
  /** The open orders, and the closed ones still needed in memory (see {@link StateStore.load}). */
  readonly orders: OrderRecord[];
  readonly status: TradingStatus | null;
  readonly daily: DailyPnl | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS positions (
  symbol TEXT PRIMARY KEY, qty REAL NOT NULL, avg_price REAL NOT NULL,
  realized REAL NOT NULL, mark REAL
);
CREATE TABLE IF NOT EXISTS orders (
  client_order_id TEXT PRIMARY KEY, signal_id TEXT NOT NULL, symbol TEXT NOT NULL,
  side TEXT NOT NULL, qty REAL NOT NULL, cum_qty REAL NOT NULL, open INTEGER NOT NULL,
  created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_open ON orders (open, created_at);
`;

/** Columns added after the first release, with the value old rows get. */
const ADDED_COLUMNS: readonly (readonly [string, string])[] = [
  ["price", "REAL NOT NULL DEFAULT 0"],
  ["avg_price", "REAL NOT NULL DEFAULT 0"],
  ["expires_at", "REAL NOT NULL DEFAULT 0"],
  ["signal_expires_at", "REAL NOT NULL DEFAULT 0"],
  ["closed_at", "REAL NOT NULL DEFAULT 0"],
  ["close_reason", "TEXT"],
];

/** Indexes that keep start-up and pruning independent of how many orders the table holds. */
const INDEXES = `
CREATE INDEX IF NOT EXISTS orders_closed_at ON orders (open, closed_at);
CREATE INDEX IF NOT EXISTS orders_signal_expiry ON orders (open, signal_expires_at);
`;

const ORDER_COLUMNS =
  "client_order_id, signal_id, symbol, side, qty, cum_qty, open, created_at, price, avg_price, expires_at, signal_expires_at, closed_at, close_reason";

function orderFromRow(row: Record<string, unknown>): OrderRecord {
  return {
    clientOrderId: String(row.client_order_id),
    signalId: String(row.signal_id),
    symbol: String(row.symbol),
    side: row.side === "sell" ? "sell" as const : "buy" as const,
    qty: Number(row.qty),
    cumQty: Number(row.cum_qty),
    open: Number(row.open) === 1,
    createdAt: Number(row.created_at),
    price: Number(row.price),
    avgPrice: Number(row.avg_price),
    expiresAt: Number(row.expires_at),
    signalExpiresAt: Number(row.signal_expires_at),
    closedAt: Number(row.closed_at),
    ...(row.close_reason === null ? {} : { closeReason: String(row.close_reason) }),
  };
}

/** Options of {@link StateStore.open}. */
export interface StateStoreOptions {
  /** `power` (default): every commit survives a power loss (synchronous FULL). */
  readonly durability?: Durability;
  /**
   * Called when a commit fails (default: throws). The service ends the process: what
   * the commit held is in memory but not on disk.
   */
  readonly onFailure?: (error: unknown) => void;
  /** Told each durable commit's duration (ms), its units, and when it ended. */
  readonly onCommitted?: (commitMs: number, units: number, endedAt: number) => void;
}

/**
 * The SQLite store. `path` may be `":memory:"` (tests). Throws when the file cannot be
 * opened or is not a risk-manager database.
 *
 * @example
 * ```ts
 * const store = StateStore.open("data/risk.sqlite");
 * const { positions } = store.load();
 * store.close();
 * ```
 */
export class StateStore {
  #db: DatabaseSync;
  #group: GroupCommit;
  #putPosition: StatementSync;
  #putOrder: StatementSync;
  #getOrder: StatementSync;
  #putMeta: StatementSync;
  #releaseCheckpoints: () => void = () => {};

  private constructor(db: DatabaseSync, group: GroupCommit) {
    this.#db = db;
    this.#group = group;
    this.#putPosition = db.prepare(
      `INSERT INTO positions (symbol, qty, avg_price, realized, mark) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (symbol) DO UPDATE SET qty = excluded.qty, avg_price = excluded.avg_price,
       realized = excluded.realized, mark = excluded.mark`,
    );
    this.#putOrder = db.prepare(
      `INSERT INTO orders (${ORDER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (client_order_id) DO UPDATE SET cum_qty = excluded.cum_qty,
       open = excluded.open, avg_price = excluded.avg_price, closed_at = excluded.closed_at,
       close_reason = excluded.close_reason`,
    );
    this.#getOrder = db.prepare(`SELECT ${ORDER_COLUMNS} FROM orders WHERE client_order_id = ?`);
    this.#putMeta = db.prepare(
      `INSERT INTO meta (key, value) VALUES (?, ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    );
  }

  /** Opens (creating the directory and tables, adding new columns) the store at `path`. */
  static open(path: string, options: StateStoreOptions = {}): StateStore {
    const synchronous = synchronousPragma(options.durability ?? "power");
    if (path !== ":memory:") {
      const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "";
      if (dir) Deno.mkdirSync(dir, { recursive: true });
    }
    const db = new DatabaseSync(path);
    try {
      db.exec(
        // busy_timeout first: the checkpoint worker (lib/wal_checkpoint.ts) may still be
        // closing its connection to this file when it is opened again.
        `PRAGMA busy_timeout = 2000; PRAGMA journal_mode = WAL; PRAGMA synchronous = ${synchronous};`,
      );
      db.exec(SCHEMA);
      migrate(db);
      db.exec(INDEXES);
    } catch (error) {
      db.close();
      throw new Error(`Cannot open risk state "${path}": ${(error as Error).message}`);
    }
    const store = new StateStore(
      db,
      new GroupCommit(db, {
        synchronous,
        onFailure: options.onFailure,
        onCommitted: options.onCommitted,
      }),
    );
    // Checkpoints (the fsyncs) on a worker thread, not inside an approval's commit.
    store.#releaseCheckpoints = offloadCheckpoints(db, path);
    return store;
  }

  /**
   * Reads the state back: positions, status, the day, and the orders memory needs (open
   * ones, and closed ones closed or whose signal expires at or after `keepSince`, epoch
   * ms; default all). Through indexes: its cost grows with those, not with history.
   */
  load(keepSince = -Infinity): StoredState {
    const positions = this.#db.prepare(
      "SELECT symbol, qty, avg_price, realized, mark FROM positions ORDER BY symbol",
    ).all().map((row) => ({
      symbol: String(row.symbol),
      qty: Number(row.qty),
      avgPrice: Number(row.avg_price),
      realized: Number(row.realized),
      mark: row.mark === null ? null : Number(row.mark),
    }));
    const orders = this.#db.prepare(
      `SELECT ${ORDER_COLUMNS} FROM orders WHERE open = 1
       UNION SELECT ${ORDER_COLUMNS} FROM orders WHERE open = 0 AND closed_at >= ?
       UNION SELECT ${ORDER_COLUMNS} FROM orders WHERE open = 0 AND signal_expires_at >= ?`,
    ).all(keepSince, keepSince).map(orderFromRow);
    return {
      positions,
      orders,
      status: this.#meta<TradingStatus>("status"),
      daily: this.#meta<DailyPnl>("daily"),
    };
  }

  /** The database and its group commit, where the orders channel's outbox is attached. */
  get journalDb(): { readonly db: DatabaseSync; readonly group: GroupCommit } {
    return { db: this.#db, group: this.#group };
  }

  /** Writes one position (in the open group; committed when the run ends). */
  putPosition(position: Position): void {
    this.#group.run(() =>
      this.#putPosition.run(
        position.symbol,
        position.qty,
        position.avgPrice,
        position.realized,
        position.mark,
      )
    );
  }

  /**
   * Inserts an order or updates its filled quantity and open flag (in the open group);
   * `onCommit` runs once it is durable, with the `performance.now()` of the commit.
   */
  putOrder(order: OrderRecord, onCommit?: (committedAt: number) => void): void {
    this.#group.run(() => this.#writeOrder(order), onCommit);
  }

  #writeOrder(order: OrderRecord): void {
    this.#putOrder.run(
      order.clientOrderId,
      order.signalId,
      order.symbol,
      order.side,
      order.qty,
      order.cumQty,
      order.open ? 1 : 0,
      order.createdAt,
      order.price ?? 0,
      order.avgPrice ?? 0,
      order.expiresAt ?? 0,
      order.signalExpiresAt ?? 0,
      order.closedAt ?? 0,
      order.closeReason ?? null,
    );
  }

  /** The order with that client order id, closed ones no longer in memory included. */
  getOrder(clientOrderId: string): OrderRecord | undefined {
    const row = this.#getOrder.get(clientOrderId);
    return row ? orderFromRow(row) : undefined;
  }

  /** Writes the trading state (in the open group). */
  putStatus(status: TradingStatus): void {
    this.#group.run(() => this.#putMeta.run("status", JSON.stringify(status)));
  }

  /** Writes the daily P&L bookkeeping (in the open group). */
  putDaily(daily: DailyPnl): void {
    this.#group.run(() => this.#putMeta.run("daily", JSON.stringify(daily)));
  }

  /**
   * Runs `fn` as one unit: its writes are committed together (with the rest of the
   * group, when the run ends) or, if it throws, undone together. Nested calls join.
   */
  transaction<T>(fn: () => T, onCommit?: (committedAt: number) => void): T {
    return this.#group.run(fn, onCommit);
  }

  /**
   * Runs `fn`, writes no one waits on (marks, pruning): in the open group, or committed
   * at once without a sync of their own.
   */
  lazy<T>(fn: () => T): T {
    return this.#group.runLazy(fn);
  }

  /**
   * Commits the open group now; returns false when the commit failed (`onFailure` was
   * told). Call it before acknowledging what the handlers stored.
   */
  flush(): boolean {
    this.#group.flush();
    return this.#group.failed === undefined;
  }

  /**
   * Deletes up to `limit` closed orders closed before `beforeMs` (epoch ms) whose signal
   * expired before it too; returns how many. Batched, so one call stays short; needs no
   * sync of its own.
   */
  purgeClosedOrders(beforeMs: number, limit = 1000): number {
    return this.lazy(() => {
      const result = this.#db.prepare(
        `DELETE FROM orders WHERE rowid IN (SELECT rowid FROM orders
         WHERE open = 0 AND closed_at < ? AND signal_expires_at < ? LIMIT ?)`,
      ).run(beforeMs, beforeMs, limit);
      return Number(result.changes);
    });
  }

  /** Number of rows in the orders table (tests, diagnostics). */
  orderRows(): number {
    return Number(this.#db.prepare("SELECT COUNT(*) AS n FROM orders").get()!.n);
  }

  /** Commits what is pending, then closes the database. */
  close(): void {
    if (this.#db.isOpen && this.#group.failed === undefined) this.#group.flush();
    this.#releaseCheckpoints();
    if (this.#db.isOpen) this.#db.close();
  }

  #meta<T>(key: string): T | null {
    const row = this.#db.prepare("SELECT value FROM meta WHERE key = ?").get(key);
    return row ? JSON.parse(String(row.value)) as T : null;
  }
}

/**
 * Adds the columns of {@link ADDED_COLUMNS} that an older file lacks. Old closed rows
 * count as closed when they were created, and their signals as expired a day after.
 */
function migrate(db: DatabaseSync): void {
  const have = new Set(
    db.prepare("PRAGMA table_info(orders)").all().map((row) => String(row.name)),
  );
  const missing = ADDED_COLUMNS.filter(([name]) => !have.has(name));
  if (missing.length === 0) return;
  db.exec("BEGIN IMMEDIATE");
  try {
    for (const [name, type] of missing) db.exec(`ALTER TABLE orders ADD COLUMN ${name} ${type}`);
    if (missing.some(([name]) => name === "closed_at")) {
      db.exec("UPDATE orders SET closed_at = created_at WHERE open = 0");
    }
    if (missing.some(([name]) => name === "signal_expires_at")) {
      db.exec("UPDATE orders SET signal_expires_at = created_at + 86400000");
    }
    db.exec("COMMIT");
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
}
