import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { OutboxJournal } from "../../lib/messaging/outbox_journal.ts";
import { removeDir } from "../../lib/testing/tools.ts";
import { StateStore } from "./state_store.ts";
import { coreWith, fill, setMark, signal, T0 } from "./testing/fixtures.ts";

Deno.test("StateStore creates its directory and round-trips every table", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = `${dir}/nested/risk.sqlite`;
    const s = StateStore.open(path);
    s.transaction(() => {
      s.putPosition({ symbol: "AAPL", qty: -3, avgPrice: 101.5, realized: 12, mark: null });
      s.putOrder({
        clientOrderId: "rm-1",
        signalId: "1",
        symbol: "AAPL",
        side: "sell",
        qty: 3,
        cumQty: 0,
        open: true,
        createdAt: T0,
      });
      s.putStatus({ state: "REDUCING", breakerTripped: false, reason: "r", actor: "a", since: T0 });
      s.putDaily({ day: "2026-11-24", realized: 12, unrealizedAtStart: 0 });
    });
    s.close();
    const t = StateStore.open(path);
    const loaded = t.load();
    assert.deepEqual(loaded.positions, [
      { symbol: "AAPL", qty: -3, avgPrice: 101.5, realized: 12, mark: null },
    ]);
    assert.equal(loaded.orders[0].side, "sell");
    assert.equal(loaded.orders[0].open, true);
    assert.equal(loaded.status?.state, "REDUCING");
    assert.equal(loaded.daily?.realized, 12);
    t.close();
  } finally {
    // The checkpoint worker may still be writing the WAL beside it for a moment after close().
    await removeDir(dir);
  }
});

Deno.test("StateStore.transaction() rolls back every write when the function throws", () => {
  const s = StateStore.open(":memory:");
  assert.throws(() =>
    s.transaction(() => {
      s.putPosition({ symbol: "AAPL", qty: 1, avgPrice: 1, realized: 0, mark: 1 });
      throw new Error("boom");
    })
  );
  assert.deepEqual(s.load().positions, []);
  s.close();
});

Deno.test("RiskManagerCore recovers positions, daily P&L, state and used ids after a restart", async () => {
  const dir = Deno.makeTempDirSync();
  const path = `${dir}/risk.sqlite`;
  try {
    const store1 = StateStore.open(path);
    const e1 = coreWith({ store: store1 });
    const s1 = signal();
    const d1 = e1.onSignal(s1, T0);
    assert.ok(d1.approved);
    e1.onExecutionReport(fill(d1.order.clientOrderId, "buy", 10, 100), T0);
    const s2 = signal();
    const d2 = e1.onSignal(s2, T0); // stays open across the restart
    assert.ok(d2.approved);
    setMark(e1, "AAPL", 97, T0);
    e1.flushMarks();
    e1.setState("REDUCING", "test", "ops", T0);
    const pnl = e1.dailyPnl();
    store1.close();

    const store2 = StateStore.open(path);
    const e2 = coreWith({ store: store2 });
    const p = e2.positions().find((x) => x.symbol === "AAPL")!;
    assert.equal(p.qty, 10);
    assert.equal(p.avgPrice, 100);
    assert.equal(e2.status.state, "REDUCING");
    assert.equal(e2.daily.day, "2026-11-24");
    // coreWith marks AAPL at 100 again; the loss of the 97 mark recovers with it.
    setMark(e2, "AAPL", 97, T0);
    assert.equal(e2.dailyPnl(), pnl);
    assert.equal(e2.openOrders().length, 1);
    for (const s of [s1, s2]) {
      const d = e2.onSignal(s, T0);
      assert.ok(!d.approved && d.denial.code === "DUPLICATE_SIGNAL");
    }
    // The open order's fill after the restart is applied once.
    const r = fill(d2.order.clientOrderId, "buy", 10, 97);
    assert.equal(e2.onExecutionReport(r, T0).kind, "fill");
    assert.equal(e2.onExecutionReport(r, T0).kind, "duplicate");
    assert.equal(e2.positions().find((x) => x.symbol === "AAPL")!.qty, 20);
    store2.close();
  } finally {
    await removeDir(dir);
  }
});

Deno.test("RiskManagerCore keeps a tripped breaker tripped across a restart", async () => {
  const dir = Deno.makeTempDirSync();
  const path = `${dir}/risk.sqlite`;
  try {
    const a = StateStore.open(path);
    coreWith({ store: a }).trip("test", "ops", T0);
    a.close();
    const b = StateStore.open(path);
    const e = coreWith({ store: b });
    assert.equal(e.status.breakerTripped, true);
    assert.equal(e.status.state, "HALTED");
    b.close();
  } finally {
    await removeDir(dir);
  }
});

Deno.test("RiskManagerCore.pruneClosedOrders() forgets closed orders past memory and deletes them past retention", () => {
  const store = StateStore.open(":memory:");
  const e = coreWith({ store, orderMemoryMs: 60_000, orderRetentionMs: 86_400_000 });
  const a = e.onSignal(signal(), T0); // its signal expires at T0 + 5000
  const b = e.onSignal(signal(), T0);
  assert.ok(a.approved && b.approved);
  e.onExecutionReport(fill(a.order.clientOrderId, "buy", 10, 100), T0);
  // At the memory limit: closed 65 s ago but its signal expired exactly 60 s ago: kept.
  assert.deepEqual(e.pruneClosedOrders(T0 + 65_000), { forgotten: 0, deleted: 0 });
  assert.deepEqual(e.pruneClosedOrders(T0 + 65_001), { forgotten: 1, deleted: 0 });
  assert.equal(e.ordersInMemory(), 1, "the open one stays");
  assert.equal(store.orderRows(), 2, "the row stays for redelivered reports");
  assert.deepEqual(e.pruneClosedOrders(T0 + 5000 + 86_400_000).deleted, 0);
  assert.deepEqual(e.pruneClosedOrders(T0 + 5000 + 86_400_001).deleted, 1);
  assert.equal(store.orderRows(), 1);
  assert.equal(e.openOrders().length, 1);
});

Deno.test("RiskManagerCore starts with only the open and recent orders in memory, read through indexes, whatever the history", async () => {
  const dir = Deno.makeTempDirSync();
  const path = `${dir}/risk.sqlite`;
  try {
    const store = StateStore.open(path, { durability: "process" });
    store.transaction(() => {
      for (let i = 0; i < 5000; i++) {
        store.putOrder({
          clientOrderId: `rm-old-${i}`,
          signalId: `old-${i}`,
          symbol: "AAPL",
          side: "buy",
          qty: 1,
          cumQty: 1,
          open: false,
          createdAt: T0 - 3_600_000,
          signalExpiresAt: T0 - 3_595_000,
          closedAt: T0 - 3_600_000,
        });
      }
    });
    const e = coreWith({ store });
    const d = e.onSignal(signal(), T0);
    assert.ok(d.approved);
    store.close();
    const again = StateStore.open(path);
    const restarted = coreWith({ store: again, startedAt: T0 + 1000 });
    assert.equal(restarted.ordersInMemory(), 1, "the open order only, not 5,001 rows");
    assert.equal(again.orderRows(), 5001);
    // A redelivered report of an old order is still recognised from the table.
    const old = restarted.onExecutionReport(fill("rm-old-7", "buy", 1, 100), T0 + 1000);
    assert.equal(old.unknownOrder, false);
    assert.equal(old.kind, "duplicate");
    again.close();
    // Start-up reads through the indexes, never a scan of the whole table.
    const db = new DatabaseSync(path, { readOnly: true });
    const plan = db.prepare(
      `EXPLAIN QUERY PLAN SELECT * FROM orders WHERE open = 1
       UNION SELECT * FROM orders WHERE open = 0 AND closed_at >= 0
       UNION SELECT * FROM orders WHERE open = 0 AND signal_expires_at >= 0`,
    ).all().map((row) => String(row.detail));
    db.close();
    assert.ok(plan.every((step) => !/^SCAN orders\b/.test(step)), plan.join("; "));
  } finally {
    await removeDir(dir);
  }
});

Deno.test("StateStore adds the new order columns to a file of the first release", async () => {
  const dir = Deno.makeTempDirSync();
  const path = `${dir}/risk.sqlite`;
  try {
    const old = new DatabaseSync(path);
    old.exec(`CREATE TABLE orders (
      client_order_id TEXT PRIMARY KEY, signal_id TEXT NOT NULL, symbol TEXT NOT NULL,
      side TEXT NOT NULL, qty REAL NOT NULL, cum_qty REAL NOT NULL, open INTEGER NOT NULL,
      created_at REAL NOT NULL)`);
    old.exec(`INSERT INTO orders VALUES ('rm-a', 'a', 'AAPL', 'buy', 10, 10, 0, ${T0}),
      ('rm-b', 'b', 'AAPL', 'sell', 5, 0, 1, ${T0})`);
    old.close();
    const store = StateStore.open(path);
    const a = store.getOrder("rm-a")!;
    assert.equal(a.closedAt, T0, "closed when created");
    assert.equal(a.signalExpiresAt, T0 + 86_400_000);
    assert.equal(store.getOrder("rm-b")!.open, true);
    assert.deepEqual(store.load(T0 + 86_400_001).orders.map((o) => o.clientOrderId), ["rm-b"]);
    store.close();
  } finally {
    await removeDir(dir);
  }
});

Deno.test("StateStore commits an approval's order with its outbox row, and a batch of approvals once", async () => {
  const dir = Deno.makeTempDirSync();
  const path = `${dir}/risk.sqlite`;
  try {
    const store = StateStore.open(path);
    const { journal } = OutboxJournal.attach(
      store.journalDb.db,
      store.journalDb.group,
      "risk-manager/orders",
    );
    const core = coreWith({ store });
    setMark(core, "AAPL", 100, T0);
    await Promise.resolve(); // the mark's own commit, if any, is done
    const committed = () => {
      const other = new DatabaseSync(path, { readOnly: true });
      try {
        const n = (sql: string) => Number(other.prepare(sql).get()!.n);
        return {
          orders: n("SELECT COUNT(*) AS n FROM orders"),
          outbox: n("SELECT COUNT(*) AS n FROM outbox"),
        };
      } finally {
        other.close();
      }
    };
    const before = store.journalDb.group.stats.commits;
    const durable: number[] = [];
    // One synchronous run, as a batch of signals drained from the socket.
    for (let seq = 1; seq <= 5; seq++) {
      const decision = core.onSignal(signal(), T0);
      assert.ok(decision.approved);
      journal.append([{ seq, frame: `order-${seq}` }], seq, () => durable.push(seq));
    }
    assert.deepEqual(committed(), { orders: 0, outbox: 0 }, "nothing durable during the run");
    await Promise.resolve();
    await new Promise((r) => setTimeout(r, 0));
    assert.deepEqual(committed(), { orders: 5, outbox: 5 });
    assert.equal(store.journalDb.group.stats.commits - before, 1, "five approvals, one commit");
    assert.deepEqual(durable, [1, 2, 3, 4, 5]);
    store.close();
  } finally {
    await removeDir(dir);
  }
});

Deno.test("RiskManagerCore tells its recorder how long an approval took to become durable", async () => {
  const recorded: number[] = [];
  const store = StateStore.open(":memory:");
  const core = coreWith({
    store,
    recorder: { check: () => {}, recorded: (us) => recorded.push(us) },
  });
  setMark(core, "AAPL", 100, T0);
  assert.ok(core.onSignal(signal(), T0).approved);
  assert.deepEqual(recorded, [], "not before its commit");
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(recorded.length, 1);
  assert.ok(recorded[0] >= 0 && recorded[0] < 1_000_000, `${recorded[0]} us`);
  store.close();
});

Deno.test("StateStore commits survive a power loss by default (synchronous FULL) and a crash with durability process (NORMAL)", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const power = StateStore.open(`${dir}/power.sqlite`);
    const process = StateStore.open(`${dir}/process.sqlite`, { durability: "process" });
    const sync = (s: StateStore) =>
      Number(s.journalDb.db.prepare("PRAGMA synchronous").get()!.synchronous);
    for (const s of [power, process]) {
      s.putPosition({ symbol: "AAPL", qty: 1, avgPrice: 100, realized: 0, mark: null });
      s.flush();
    }
    // After a commit, too: the group commit's lazy writes must not leave it at NORMAL.
    assert.equal(sync(power), 2, "power: FULL");
    assert.equal(sync(process), 1, "process: NORMAL");
    power.close();
    process.close();
  } finally {
    await removeDir(dir);
  }
});
