import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { GroupCommit } from "./group_commit.ts";
import { removeDir } from "./testing/tools.ts";

async function withDb(
  fn: (db: DatabaseSync, path: string) => void | Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "group_commit_test_" });
  const path = `${dir}/g.sqlite`;
  const db = new DatabaseSync(path);
  db.exec("PRAGMA journal_mode = WAL; CREATE TABLE t (v INTEGER PRIMARY KEY)");
  try {
    await fn(db, path);
  } finally {
    db.close();
    await removeDir(dir);
  }
}

const count = (path: string) => {
  // A second connection sees only what was committed.
  const other = new DatabaseSync(path, { readOnly: true });
  try {
    return Number(other.prepare("SELECT COUNT(*) AS n FROM t").get()!.n);
  } finally {
    other.close();
  }
};

const tick = () => new Promise((r) => setTimeout(r, 0));

Deno.test("GroupCommit commits the writes of one synchronous run together, then runs what waited", async () => {
  await withDb(async (db, path) => {
    const group = new GroupCommit(db);
    const order: string[] = [];
    for (let v = 1; v <= 5; v++) {
      group.run(() => db.exec(`INSERT INTO t VALUES (${v})`), () => order.push(`after ${v}`));
    }
    assert.equal(count(path), 0, "not committed while the run goes on");
    assert.equal(group.pending, true);
    await tick();
    assert.equal(count(path), 5);
    assert.deepEqual(order, [1, 2, 3, 4, 5].map((v) => `after ${v}`));
    assert.deepEqual(group.stats, { commits: 1, units: 5, lazyCommits: 0 });
  });
});

Deno.test("GroupCommit undoes a unit that throws and commits the rest of its group", async () => {
  await withDb(async (db, path) => {
    const group = new GroupCommit(db);
    let ran = false;
    group.run(() => db.exec("INSERT INTO t VALUES (1)"));
    assert.throws(() =>
      group.run(() => {
        db.exec("INSERT INTO t VALUES (2)");
        throw new Error("refused");
      }, () => ran = true)
    );
    group.run(() => db.exec("INSERT INTO t VALUES (3)"));
    await tick();
    const rows = db.prepare("SELECT v FROM t ORDER BY v").all().map((r) => Number(r.v));
    assert.deepEqual(rows, [1, 3]);
    assert.equal(count(path), 2);
    assert.equal(ran, false, "a unit undone is never reported durable");
  });
});

Deno.test("GroupCommit.flush() commits at once, before the run ends", async () => {
  await withDb((db, path) => {
    const group = new GroupCommit(db);
    let durable = false;
    group.run(() => db.exec("INSERT INTO t VALUES (1)"), () => durable = true);
    group.flush();
    assert.equal(count(path), 1);
    assert.equal(durable, true);
    group.flush();
    assert.equal(group.stats.commits, 1, "nothing pending: no commit");
  });
});

Deno.test("GroupCommit.runLazy() joins the open transaction, and alone commits without a sync", async () => {
  await withDb(async (db, path) => {
    const group = new GroupCommit(db);
    group.runLazy(() => db.exec("INSERT INTO t VALUES (1)"));
    assert.equal(count(path), 1, "committed at once");
    assert.equal(group.stats.lazyCommits, 1);
    assert.equal(Number(db.prepare("PRAGMA synchronous").get()!.synchronous), 2, "FULL again");
    group.run(() => db.exec("INSERT INTO t VALUES (2)"));
    group.runLazy(() => db.exec("DELETE FROM t WHERE v = 1"));
    assert.equal(count(path), 1, "joined the pending group");
    await tick();
    assert.deepEqual(group.stats, { commits: 1, units: 2, lazyCommits: 1 });
    assert.equal(count(path), 1);
  });
});

Deno.test("GroupCommit with delayMs lets writes of several timer callbacks share a commit", async () => {
  await withDb(async (db, path) => {
    const group = new GroupCommit(db, { delayMs: 30 });
    group.run(() => db.exec("INSERT INTO t VALUES (1)"));
    await tick();
    group.run(() => db.exec("INSERT INTO t VALUES (2)"));
    assert.equal(count(path), 0);
    await new Promise((r) => setTimeout(r, 80));
    assert.equal(count(path), 2);
    assert.equal(group.stats.commits, 1);
  });
});

Deno.test("GroupCommit hands a failed commit to onFailure: nothing that waited runs, and later writes are refused", async () => {
  await withDb(async (db, path) => {
    db.exec(`PRAGMA foreign_keys = ON;
      CREATE TABLE parent (id INTEGER PRIMARY KEY);
      CREATE TABLE child (p INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED);`);
    const failures: unknown[] = [];
    const group = new GroupCommit(db, { onFailure: (error) => failures.push(error) });
    let durable = false;
    group.run(() => db.exec("INSERT INTO t VALUES (1)"));
    // A deferred foreign key: every statement succeeds, the COMMIT fails.
    group.run(() => db.exec("INSERT INTO child VALUES (42)"), () => durable = true);
    await tick();
    assert.equal(failures.length, 1);
    assert.equal(durable, false);
    assert.equal(count(path), 0, "rolled back");
    assert.ok(group.failed);
    assert.throws(() => group.run(() => db.exec("INSERT INTO t VALUES (2)")), /Cannot write/);
  });
});

Deno.test("GroupCommit tells how long each durable commit took and how many units it held", async () => {
  await withDb(async (db) => {
    const seen: [number, number][] = [];
    const group = new GroupCommit(db, { onCommitted: (ms, units) => seen.push([ms, units]) });
    group.run(() => db.exec("INSERT INTO t VALUES (1)"));
    group.run(() => db.exec("INSERT INTO t VALUES (2)"));
    await tick();
    assert.equal(seen.length, 1);
    assert.equal(seen[0][1], 2);
    assert.ok(seen[0][0] >= 0);
  });
});

Deno.test("GroupCommit.runLazy() takes nested units into its own commit", async () => {
  await withDb((db, path) => {
    const group = new GroupCommit(db);
    let durable = false;
    group.runLazy(() => {
      group.run(() => db.exec("INSERT INTO t VALUES (1)"), () => durable = true);
      group.run(() => db.exec("INSERT INTO t VALUES (2)"));
    });
    assert.equal(count(path), 2);
    assert.equal(durable, true);
    assert.equal(group.pending, false);
  });
});

Deno.test('GroupCommit with coalesce "turn" commits the writes of callbacks that fire together once, and "run" once each', async () => {
  for (const coalesce of ["turn", "run"] as const) {
    await withDb(async (db, path) => {
      const group = new GroupCommit(db, { coalesce });
      const done: number[] = [];
      // Three timers due at the same time fire in one turn of the event loop, each with its
      // microtasks after it (as the venue's answers to a batch of orders do).
      await new Promise<void>((resolve) => {
        for (let v = 1; v <= 3; v++) {
          setTimeout(() => {
            group.run(() => db.exec(`INSERT INTO t VALUES (${v})`), () => done.push(v));
            if (v === 3) resolve();
          }, 1);
        }
      });
      if (coalesce === "turn") {
        assert.equal(count(path), 0, "nothing committed before the turn ends");
        assert.equal(group.pending, true);
      }
      const committedAt = await group.whenCommitted();
      assert.equal(count(path), 3);
      assert.deepEqual(done, [1, 2, 3], "what waited ran, in order, before whenCommitted()");
      assert.ok(committedAt <= performance.now());
      assert.equal(group.stats.units, 3);
      assert.equal(group.stats.commits, coalesce === "turn" ? 1 : 3);
      // Nothing pending: at once.
      assert.equal(group.pending, false);
      await group.whenCommitted();
      assert.equal(group.stats.commits, coalesce === "turn" ? 1 : 3);
    });
  }
});
