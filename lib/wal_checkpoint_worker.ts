/**
 * The worker of lib/wal_checkpoint.ts: one connection per registered database
 * file, `PRAGMA wal_checkpoint(PASSIVE)` on each every `everyMs`.
 * @module
 */
import { parentPort } from "node:worker_threads";
import { DatabaseSync } from "node:sqlite";

const dbs = new Map<string, DatabaseSync>();
let timer: ReturnType<typeof setInterval> | undefined;

function checkpointAll(): void {
  for (const [path, db] of dbs) {
    try {
      db.exec("PRAGMA wal_checkpoint(PASSIVE)");
    } catch {
      // The file may have gone (a test's temp dir); stop watching it.
      try {
        db.close();
      } catch {
        // already closed
      }
      dbs.delete(path);
    }
  }
}

parentPort?.on("message", (m: { op: "add" | "remove"; path: string; everyMs: number }) => {
  if (m.op === "add") {
    if (dbs.has(m.path)) return;
    try {
      Deno.statSync(m.path); // closed and removed already: do not create it again
      const db = new DatabaseSync(m.path);
      db.exec("PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 1000");
      dbs.set(m.path, db);
    } catch {
      return; // the caller's automatic checkpoints still run
    }
    timer ??= setInterval(checkpointAll, m.everyMs);
  } else if (m.op === "remove") {
    const db = dbs.get(m.path);
    dbs.delete(m.path);
    try {
      db?.close();
    } catch {
      // ignore
    }
    if (dbs.size === 0 && timer !== undefined) {
      clearInterval(timer);
      timer = undefined;
    }
  }
});
