/**
 * Group commit on one SQLite connection: every write of a synchronous run (a batch of
 * messages drained from a socket, one timer callback) joins one transaction, committed
 * once when the run ends, so a burst of decisions costs one durable commit, not one
 * each. With `synchronous=FULL` (durability `power`) a commit costs an fsync, ~0.45 ms
 * on these machines (bench/risk-manager_bench.ts), whatever it holds.
 *
 * - {@linkcode GroupCommit.run} runs one unit (a savepoint: it is written whole or not
 *   at all) in the open transaction, opening one and scheduling its commit when none is
 *   open. Its `onCommit` runs after the commit: what may only happen once the unit is
 *   durable (an order sent, a report delivered).
 * - {@linkcode GroupCommit.runLazy} is for writes that need no commit of their own (an
 *   acknowledged message leaving an outbox): they join the open transaction, or are
 *   committed without a sync (`synchronous=NORMAL`; the next durable commit syncs them).
 * - {@linkcode GroupCommit.flush} commits now (before an acknowledgement leaves).
 *
 * A commit that fails leaves memory ahead of the disk: the caller's memory holds what
 * the transaction held. So a failed commit is handed to `onFailure`, which in a service
 * ends the process (exit 1); the restart reads the last commit and the peers resend
 * what was not acknowledged. Nothing that waited for the commit (`onCommit`) has run.
 *
 * @example
 * ```ts
 * const db = new DatabaseSync("data/risk.sqlite");
 * db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL");
 * const group = new GroupCommit(db, { onFailure: (e) => { throw e; } });
 * group.run(() => db.exec("INSERT INTO t VALUES (1)"), () => console.log("durable"));
 * group.run(() => db.exec("INSERT INTO t VALUES (2)"));
 * // both are committed together when this synchronous run ends
 * ```
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { setImmediate } from "node:timers";

/** Options of {@linkcode GroupCommit}. */
export interface GroupCommitOptions {
  /**
   * Called with the error when a commit fails (the transaction is rolled back). Default:
   * throws it from the commit (a service passes a function that ends the process).
   */
  readonly onFailure?: (error: unknown) => void;
  /**
   * How long the first write of a group waits for others before the commit, in ms
   * (default 0: the commit runs when the current synchronous run ends). A few ms lets
   * writes from several timer callbacks share a commit, at that cost in latency.
   */
  readonly delayMs?: number;
  /**
   * When a group with no delay commits (default `"run"`): `"run"`, when the current synchronous
   * run ends (its microtasks); `"turn"`, in a `setImmediate`, once every callback of the current
   * turn of the event loop has run (the timers and I/O that came due together, each with its
   * microtasks), so that writes made by callbacks that fire together (the venue's answers to a
   * batch of orders, say) share one commit. At a low rate a turn holds one callback and the
   * commit comes as soon; under load it saves an fsync per callback.
   */
  readonly coalesce?: "run" | "turn";
  /** `synchronous` of the connection's durable commits (default `FULL`). */
  readonly synchronous?: "FULL" | "NORMAL";
  /** Told the duration of each durable commit (ms) and how many units it held. */
  readonly onCommitted?: (commitMs: number, units: number, endedAt: number) => void;
}

/** Counters of a {@linkcode GroupCommit}, for tests and diagnostics. */
export interface GroupCommitStats {
  /** Durable commits made. */
  commits: number;
  /** Units (`run` calls) committed. */
  units: number;
  /** Commits without a sync, of lazy writes alone. */
  lazyCommits: number;
}

/** One connection's group commit. */
export class GroupCommit {
  readonly #db: DatabaseSync;
  readonly #onFailure: (error: unknown) => void;
  readonly #delayMs: number;
  readonly #coalesce: "run" | "turn";
  readonly #synchronous: "FULL" | "NORMAL";
  readonly #onCommitted?: GroupCommitOptions["onCommitted"];
  #open = false;
  #units = 0;
  #scheduled = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #after: ((committedAt: number) => void)[] = [];
  #depth = 0;
  #failed: unknown = undefined;
  readonly #commitLater = () => {
    this.#scheduled = false;
    this.#timer = undefined;
    this.flush();
  };
  /** Counters. */
  readonly stats: GroupCommitStats = { commits: 0, units: 0, lazyCommits: 0 };

  /** @param db An open connection in WAL mode (its `synchronous` is set per commit kind). */
  constructor(db: DatabaseSync, options: GroupCommitOptions = {}) {
    this.#db = db;
    this.#onFailure = options.onFailure ?? ((error) => {
      throw error;
    });
    this.#delayMs = options.delayMs ?? 0;
    this.#coalesce = options.coalesce ?? "run";
    this.#synchronous = options.synchronous ?? "FULL";
    this.#onCommitted = options.onCommitted;
    db.exec(`PRAGMA synchronous = ${this.#synchronous}`);
  }

  /** True while a transaction holds writes not yet committed. */
  get pending(): boolean {
    return this.#open && this.#units > 0;
  }

  /**
   * Resolves once what is pending now is committed (at once when nothing is), with the
   * `performance.now()` the commit ended at; never, when that commit fails (as `onCommit`).
   */
  whenCommitted(): Promise<number> {
    if (!this.pending) return Promise.resolve(performance.now());
    return new Promise((resolve) => this.#after.push(resolve));
  }

  /** The error of the commit that failed, if one did (the connection is then unusable). */
  get failed(): unknown {
    return this.#failed;
  }

  /**
   * Runs `fn` as one unit of the open transaction (opening one, and scheduling its
   * commit, when none is open); `onCommit` runs once the commit made it durable, with
   * the `performance.now()` the commit ended at. Nested calls join the outer unit.
   *
   * @throws What `fn` throws: its writes are undone (the rest of the group stays), and
   *   `onCommit` is dropped.
   * @throws {Error} If an earlier commit failed.
   */
  run<T>(fn: () => T, onCommit?: (committedAt: number) => void): T {
    if (this.#depth > 0) {
      const out = fn();
      if (onCommit) this.#after.push(onCommit);
      return out;
    }
    this.#begin();
    this.#db.exec("SAVEPOINT unit");
    this.#depth++;
    let out: T;
    try {
      out = fn();
    } catch (error) {
      this.#db.exec("ROLLBACK TO unit; RELEASE unit");
      throw error;
    } finally {
      this.#depth--;
    }
    this.#db.exec("RELEASE unit");
    this.#units++;
    if (onCommit) this.#after.push(onCommit);
    this.#schedule();
    return out;
  }

  /**
   * Runs `fn`, writes that need no durable commit of their own: in the open transaction
   * when there is one (its commit syncs them), else committed at once without a sync.
   *
   * @throws What `fn` throws (its writes are undone).
   */
  runLazy<T>(fn: () => T): T {
    if (this.#open || this.#depth > 0) return this.run(fn);
    this.#check();
    this.#db.exec("PRAGMA synchronous = NORMAL; BEGIN IMMEDIATE");
    const waiting = this.#after.length;
    this.#depth++;
    try {
      const out = fn();
      this.#db.exec("COMMIT");
      this.stats.lazyCommits++;
      const ended = performance.now();
      for (const after of this.#after.splice(waiting)) after(ended);
      return out;
    } catch (error) {
      this.#after.splice(waiting);
      try {
        this.#db.exec("ROLLBACK");
      } catch { /* the failed statement may have ended it */ }
      throw error;
    } finally {
      this.#depth--;
      this.#db.exec(`PRAGMA synchronous = ${this.#synchronous}`);
    }
  }

  /**
   * Commits the open transaction now, then runs what waited for it, in order. A commit
   * that fails goes to `onFailure` (what waited never runs). Does nothing when nothing
   * is pending.
   */
  flush(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#scheduled = false;
    }
    if (!this.#open) return;
    const units = this.#units;
    const after = this.#after;
    this.#after = [];
    this.#open = false;
    this.#units = 0;
    const started = performance.now();
    try {
      this.#db.exec("COMMIT");
    } catch (error) {
      this.#failed = error;
      try {
        this.#db.exec("ROLLBACK");
      } catch { /* a failed COMMIT may have rolled back already */ }
      this.#onFailure(error);
      return;
    }
    const ended = performance.now();
    this.stats.commits++;
    this.stats.units += units;
    this.#onCommitted?.(ended - started, units, ended);
    for (const fn of after) fn(ended);
  }

  #check(): void {
    if (this.#failed !== undefined) {
      throw new Error(
        `Cannot write: a commit failed before (${
          (this.#failed as Error)?.message ?? this.#failed
        })`,
      );
    }
  }

  #begin(): void {
    this.#check();
    if (this.#open) return;
    this.#db.exec("BEGIN IMMEDIATE");
    this.#open = true;
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    if (this.#delayMs > 0) this.#timer = setTimeout(this.#commitLater, this.#delayMs);
    else if (this.#coalesce === "turn") setImmediate(this.#commitLater);
    else queueMicrotask(this.#commitLater);
  }
}
