/**
 * The risk-manager's durable state in SQLite (`node:sqlite`, WAL): positions, the daily
 * P&L with its trading day, the trading state and breaker, and every order it approved
 * (their client order ids, so a replayed signal is refused after a restart too, and
 * their filled quantity, so a redelivered fill is applied once).
 *
 * Every write is synchronous and committed before the caller goes on: an order is
 * recorded before it is handed to the sender, a fill before its report is acknowledged.
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { offloadCheckpoints } from "../../lib/wal_checkpoint.ts";
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
  #putPosition: StatementSync;
  #putOrder: StatementSync;
  #putMeta: StatementSync;
  #depth = 0;
  #releaseCheckpoints: () => void = () => {};

  private constructor(db: DatabaseSync) {
    this.#db = db;
    this.#putPosition = db.prepare(
      `INSERT INTO positions (symbol, qty, avg_price, realized, mark) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (symbol) DO UPDATE SET qty = excluded.qty, avg_price = excluded.avg_price,
       realized = excluded.realized, mark = excluded.mark`,
    );
    this.#putOrder = db.prepare(
      `INSERT INTO orders (client_order_id, signal_id, symbol, side, qty, cum_qty, open, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (client_order_id) DO UPDATE SET cum_qty = excluded.cum_qty, open = excluded.open`,
    );
    this.#putMeta = db.prepare(
      `INSERT INTO meta (key, value) VALUES (?, ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    );
  }

  /** Opens (creating the directory and tables) the store at `path`. */
  static open(path: string): StateStore {
    if (path !== ":memory:") {
      const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "";
      if (dir) Deno.mkdirSync(dir, { recursive: true });
    }
    const db = new DatabaseSync(path);
    try {
      db.exec(
        // busy_timeout first: the checkpoint worker (lib/wal_checkpoint.ts) may still be
        // closing its connection to this file when it is opened again.
        "PRAGMA busy_timeout = 2000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;",
      );
      db.exec(SCHEMA);
    } catch (error) {
      db.close();
      throw new Error(`Cannot open risk state "${path}": ${(error as Error).message}`);
    }
    const store = new StateStore(db);
    // Checkpoints (the fsyncs) on a worker thread, not inside an approval's commit.
    store.#releaseCheckpoints = offloadCheckpoints(db, path);
    return store;
  }

  /** Reads everything back. */
  load(): StoredState {
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
      "SELECT client_order_id, signal_id, symbol, side, qty, cum_qty, open, created_at FROM orders",
    ).all().map((row) => ({
      clientOrderId: String(row.client_order_id),
      signalId: String(row.signal_id),
      symbol: String(row.symbol),
      side: row.side === "sell" ? "sell" as const : "buy" as const,
      qty: Number(row.qty),
      cumQty: Number(row.cum_qty),
      open: Number(row.open) === 1,
      createdAt: Number(row.created_at),
    }));
    return {
      positions,
      orders,
      status: this.#meta<TradingStatus>("status"),
      daily: this.#meta<DailyPnl>("daily"),
    };
  }

  /** Writes one position. */
  putPosition(position: Position): void {
    this.#putPosition.run(
      position.symbol,
      position.qty,
      position.avgPrice,
      position.realized,
      position.mark,
    );
  }

  /** Inserts an order or updates its filled quantity and open flag. */
  putOrder(order: OrderRecord): void {
    this.#putOrder.run(
      order.clientOrderId,
      order.signalId,
      order.symbol,
      order.side,
      order.qty,
      order.cumQty,
      order.open ? 1 : 0,
      order.createdAt,
    );
  }

  /** Writes the trading state. */
  putStatus(status: TradingStatus): void {
    this.#putMeta.run("status", JSON.stringify(status));
  }

  /** Writes the daily P&L bookkeeping. */
  putDaily(daily: DailyPnl): void {
    this.#putMeta.run("daily", JSON.stringify(daily));
  }

  /** Runs `fn` in one transaction (nested calls join the outer one). */
  transaction<T>(fn: () => T): T {
    if (this.#depth > 0) return fn();
    this.#db.exec("BEGIN IMMEDIATE");
    this.#depth++;
    try {
      const out = fn();
      this.#db.exec("COMMIT");
      return out;
    } catch (error) {
      this.#db.exec("ROLLBACK");
      throw error;
    } finally {
      this.#depth--;
    }
  }

  /** Deletes closed orders created before `beforeMs`; returns how many. */
  purgeClosedOrders(beforeMs: number): number {
    const result = this.#db.prepare("DELETE FROM orders WHERE open = 0 AND created_at < ?").run(
      beforeMs,
    );
    return Number(result.changes);
  }

  /** Closes the database. */
  close(): void {
    this.#releaseCheckpoints();
    if (this.#db.isOpen) this.#db.close();
  }

  #meta<T>(key: string): T | null {
    const row = this.#db.prepare("SELECT value FROM meta WHERE key = ?").get(key);
    return row ? JSON.parse(String(row.value)) as T : null;
  }
}
