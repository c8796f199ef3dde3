/**
 * Moves SQLite WAL checkpoints off the main thread.
 *
 * With `journal_mode=WAL` and `synchronous=NORMAL` a commit only appends to the
 * WAL; the fsyncs happen at checkpoints, which SQLite runs inside whichever commit
 * crosses `wal_autocheckpoint` pages (default 1000). Measured here under the
 * pipeline benchmark at 1,000 ticks/s: execution-engine ran a checkpoint every
 * ~1.5 s, each blocking its event loop for 3-7 ms in fsync (risk-manager likewise,
 * for its state and outbox files), which stalls every message in flight: the
 * tick-to-trade p99. With the worker the caller's thread sees only the WAL header
 * sync below (≤ 1 ms).
 *
 * {@linkcode offloadCheckpoints} hands a database file to one worker thread per
 * process that runs `PRAGMA wal_checkpoint(PASSIVE)` on its own connection every
 * {@linkcode CHECKPOINT_EVERY_MS}. A passive checkpoint never blocks the writer
 * and commits stay exactly as durable as before (the WAL is written before each
 * commit returns; NORMAL never syncs at commit). The caller's connection keeps
 * automatic checkpoints as a safety net, at {@linkcode FALLBACK_AUTOCHECKPOINT}
 * pages, so the WAL stays bounded even if the worker cannot run.
 *
 * Each checkpoint that empties the WAL makes the next commit restart it, and that
 * commit fsyncs the new WAL header (~0.5 ms here, on the caller's thread): hence a
 * checkpoint a second rather than more often.
 *
 * The worker is unref'd: it never keeps a process alive.
 *
 * @example
 * ```ts
 * import { DatabaseSync } from "node:sqlite";
 * const db = new DatabaseSync("data/x.sqlite");
 * db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL");
 * const release = offloadCheckpoints(db, "data/x.sqlite");
 * // ... later
 * release();
 * db.close();
 * ```
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import { Worker } from "node:worker_threads";

/** How often the worker checkpoints each file, in ms. */
export const CHECKPOINT_EVERY_MS = 1000;
/** `wal_autocheckpoint` left on the caller's connection as a safety net (pages). */
export const FALLBACK_AUTOCHECKPOINT = 10_000;

let worker: Worker | undefined;
let workerFailed = false;
const registered = new Map<string, number>();

function getWorker(): Worker | undefined {
  if (worker !== undefined || workerFailed) return worker;
  try {
    worker = new Worker(new URL("./wal_checkpoint_worker.ts", import.meta.url));
    worker.unref();
    worker.on("error", () => {
      // The connections keep their automatic checkpoints; nothing is lost.
      workerFailed = true;
      worker = undefined;
    });
  } catch {
    workerFailed = true;
    worker = undefined;
  }
  return worker;
}

/**
 * Checkpoints the WAL of the database at `path` (opened by the caller as `db`, in
 * WAL mode) on a worker thread. Returns a function that stops it; call it before
 * closing `db`. A no-op for `:memory:` and when the worker cannot start.
 */
export function offloadCheckpoints(db: DatabaseSync, path: string): () => void {
  if (path === ":memory:" || path === "") return () => {};
  const w = getWorker();
  if (w === undefined) return () => {};
  db.exec(`PRAGMA wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT}`);
  registered.set(path, (registered.get(path) ?? 0) + 1);
  w.postMessage({ op: "add", path, everyMs: CHECKPOINT_EVERY_MS });
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const n = (registered.get(path) ?? 1) - 1;
    if (n > 0) {
      registered.set(path, n);
      return;
    }
    registered.delete(path);
    worker?.postMessage({ op: "remove", path });
  };
}
