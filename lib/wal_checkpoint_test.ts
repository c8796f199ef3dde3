import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import {
  CHECKPOINT_EVERY_MS,
  FALLBACK_AUTOCHECKPOINT,
  offloadCheckpoints,
} from "./wal_checkpoint.ts";

Deno.test("offloadCheckpoints: a worker copies the WAL into the database file", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "wal-checkpoint-" });
  const path = `${dir}/x.sqlite`;
  const db = new DatabaseSync(path);
  try {
    db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; CREATE TABLE t (v TEXT)");
    const release = offloadCheckpoints(db, path);
    const auto = db.prepare("PRAGMA wal_autocheckpoint").get() as { wal_autocheckpoint: number };
    assert.equal(auto.wal_autocheckpoint, FALLBACK_AUTOCHECKPOINT);
    const before = Deno.statSync(path).size;
    const insert = db.prepare("INSERT INTO t VALUES (?)");
    for (let i = 0; i < 200; i++) insert.run("x".repeat(1000));
    // Far below the fallback, so only the worker can have checkpointed.
    const deadline = performance.now() + CHECKPOINT_EVERY_MS * 5;
    while (Deno.statSync(path).size < before + 150_000 && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(Deno.statSync(path).size >= before + 150_000, "the database file did not grow");
    release();
    release(); // idempotent
    assert.equal((db.prepare("SELECT count(*) AS n FROM t").get() as { n: number }).n, 200);
  } finally {
    db.close();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("offloadCheckpoints: a no-op for :memory:", () => {
  const db = new DatabaseSync(":memory:");
  offloadCheckpoints(db, ":memory:")();
  const auto = db.prepare("PRAGMA wal_autocheckpoint").get() as { wal_autocheckpoint: number };
  assert.equal(auto.wal_autocheckpoint, 1000);
  db.close();
});
