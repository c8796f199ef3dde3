import assert from "node:assert/strict";
import { StateStore } from "./state_store.ts";
import { coreWith, fill, setMark, signal, T0 } from "./testing/fixtures.ts";

Deno.test("StateStore creates its directory and round-trips every table", () => {
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
    Deno.removeSync(dir, { recursive: true });
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

Deno.test("RiskManagerCore recovers positions, daily P&L, state and used ids after a restart", () => {
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
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("RiskManagerCore keeps a tripped breaker tripped across a restart", () => {
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
    Deno.removeSync(dir, { recursive: true });
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
