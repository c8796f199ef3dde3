import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import type { ExecutionReport } from "../../lib/types.ts";
import { Journal } from "./journal.ts";
import { makeOrder, tempDir } from "./testing/fixtures.ts";

function report(clientOrderId: string): ExecutionReport {
  return {
    clientOrderId,
    symbol: "AAPL",
    side: "buy",
    kind: "ack",
    state: "accepted",
    orderQty: 10,
    lastQty: 0,
    lastPrice: 0,
    cumQty: 0,
    avgPrice: 0,
    leavesQty: 10,
    venue: "sim",
    strategy: "default",
    ts: 1,
  };
}

Deno.test("Journal.insert() refuses a second order with the same client order id", () => {
  const j = new Journal(":memory:");
  const o = makeOrder();
  assert.ok(j.insert(o, "tr", "sim", 1));
  assert.equal(j.insert(o, "tr", "sim", 2), undefined);
  assert.deepEqual(j.countByState(), { new: 1 });
  assert.equal(j.get(o.clientOrderId)?.createdAt, 1);
  j.close();
});

Deno.test("Journal.save() writes the state change and its report together", () => {
  const j = new Journal(":memory:");
  const o = makeOrder();
  const rec = j.insert(o, "trace-1", "sim", 1)!;
  const id = j.save(
    { ...rec, state: "accepted", phase: "sent", venueOrderId: "v1" },
    report(o.clientOrderId),
  );
  assert.ok(id !== undefined);
  const got = j.get(o.clientOrderId)!;
  assert.equal(got.state, "accepted");
  assert.equal(got.venueOrderId, "v1");
  assert.equal(got.trace, "trace-1");
  assert.deepEqual(got.order, o);
  const box = j.outbox();
  assert.equal(box.length, 1);
  assert.equal(box[0].report.clientOrderId, o.clientOrderId);
  assert.equal(box[0].trace, "trace-1");
  j.delivered(box[0].id);
  assert.equal(j.outbox().length, 0);
  j.close();
});

Deno.test("Journal.open() lists only orders not in a final state", () => {
  const j = new Journal(":memory:");
  const a = j.insert(makeOrder(), "t", "sim", 1)!;
  const b = j.insert(makeOrder(), "t", "sim", 2)!;
  j.save({ ...b, state: "filled", phase: "sent", cumQty: 10, avgPrice: 100 });
  assert.deepEqual(j.open().map((r) => r.order.clientOrderId), [a.order.clientOrderId]);
  assert.deepEqual(j.countByState(), { new: 1, filled: 1 });
  j.close();
});

Deno.test("Journal keeps orders and unsent reports across a reopen of the file", async () => {
  const dir = await tempDir();
  try {
    const path = `${dir.path}/sub/journal.sqlite`;
    const o = makeOrder();
    let j = new Journal(path);
    const rec = j.insert(o, "t", "alpaca", 1)!;
    j.save({ ...rec, state: "accepted", phase: "sent" }, report(o.clientOrderId));
    j.close();
    j = new Journal(path);
    assert.equal(j.get(o.clientOrderId)?.state, "accepted");
    assert.equal(j.get(o.clientOrderId)?.venue, "alpaca");
    assert.equal(j.outbox().length, 1);
    j.close();
  } finally {
    await dir.remove();
  }
});

Deno.test("Journal commits the writes of one synchronous run once, and tells each writer when it is durable", async () => {
  const dir = await tempDir();
  try {
    const path = `${dir.path}/journal.sqlite`;
    const j = new Journal(path);
    const committed = () => {
      const other = new DatabaseSync(path, { readOnly: true });
      try {
        return Number(other.prepare("SELECT COUNT(*) AS n FROM orders").get()!.n);
      } finally {
        other.close();
      }
    };
    const durable: number[] = [];
    const before = j.commitStats.commits;
    for (let i = 0; i < 4; i++) j.insert(makeOrder(), "t", "sim", i, () => durable.push(i));
    assert.equal(committed(), 0);
    assert.deepEqual(durable, []);
    assert.equal(j.flush(), true);
    assert.equal(committed(), 4);
    assert.deepEqual(durable, [0, 1, 2, 3]);
    assert.equal(j.commitStats.commits - before, 1, "four orders, one commit");
    const rec = j.insert(makeOrder(), "t", "sim", 9)!;
    let reported = false;
    j.save({ ...rec, state: "accepted", phase: "sent" }, report(rec.order.clientOrderId), () => {
      reported = true;
    });
    assert.equal(reported, false);
    await new Promise((resolve) => setTimeout(resolve, 0));
    assert.equal(reported, true, "committed when the run ended");
    j.close();
  } finally {
    await dir.remove();
  }
});

Deno.test("Journal.positions() nets every order's fills by symbol, buys up and sells down", () => {
  const j = new Journal(":memory:");
  const buy = j.insert(makeOrder({ qty: 10 }), "t", "sim", 1)!;
  const sell = j.insert(makeOrder({ side: "sell", qty: 3 }), "t", "sim", 2)!;
  const btc = j.insert(
    makeOrder({ symbol: "BTC/USD", qty: 0.3, timeInForce: "gtc" }),
    "t",
    "sim",
    3,
  )!;
  const partly = { ...buy, state: "partially_filled" as const, cumQty: 4, updatedAt: 4 };
  j.save(partly);
  j.save({ ...partly, state: "filled", cumQty: 10, updatedAt: 5 });
  j.save({ ...sell, state: "filled", cumQty: 3, updatedAt: 6 });
  j.save({ ...btc, state: "partially_filled", cumQty: 0.1, updatedAt: 7 });
  j.save({ ...btc, state: "partially_filled", cumQty: 0.2, updatedAt: 8 });
  // A save that fills nothing more (a cancel after the fills) moves no position.
  j.save({ ...btc, state: "canceled", cumQty: 0.2, updatedAt: 9 });
  assert.deepEqual(j.positions(), [
    { symbol: "AAPL", qty: 7, updatedAt: 6 },
    { symbol: "BTC/USD", qty: 0.2, updatedAt: 8 },
  ]);
  j.close();
});

Deno.test("Journal.positions() leaves flat symbols out and survives a reopen of the file", async () => {
  const dir = await tempDir();
  try {
    const path = `${dir.path}/journal.sqlite`;
    let j = new Journal(path);
    const a = j.insert(makeOrder({ qty: 5 }), "t", "sim", 1)!;
    const b = j.insert(makeOrder({ side: "sell", qty: 5 }), "t", "sim", 2)!;
    const c = j.insert(makeOrder({ symbol: "MSFT", side: "sell", qty: 2 }), "t", "sim", 3)!;
    j.save({ ...a, state: "filled", cumQty: 5, updatedAt: 4 });
    j.save({ ...b, state: "filled", cumQty: 5, updatedAt: 5 });
    j.save({ ...c, state: "filled", cumQty: 2, updatedAt: 6 });
    j.close();
    j = new Journal(path);
    assert.deepEqual(j.positions(), [{ symbol: "MSFT", qty: -2, updatedAt: 6 }]);
    j.close();
  } finally {
    await dir.remove();
  }
});

Deno.test("Journal fills the positions of a journal written before they existed from its orders", async () => {
  const dir = await tempDir();
  try {
    const path = `${dir.path}/journal.sqlite`;
    let j = new Journal(path);
    const a = j.insert(makeOrder({ qty: 8 }), "t", "sim", 1)!;
    const b = j.insert(makeOrder({ side: "sell", qty: 3 }), "t", "sim", 2)!;
    j.save({ ...a, state: "filled", cumQty: 8, updatedAt: 3 });
    j.save({ ...b, state: "partially_filled", cumQty: 1, updatedAt: 4 });
    j.close();
    // The first release's file: no positions table.
    const db = new DatabaseSync(path);
    // The checkpoint worker may still hold the file for a moment after close().
    db.exec("PRAGMA busy_timeout = 5000; DROP TABLE positions");
    db.close();
    j = new Journal(path);
    assert.deepEqual(j.positions(), [{ symbol: "AAPL", qty: 7, updatedAt: 4 }]);
    const later = j.get(b.order.clientOrderId)!;
    j.save({ ...later, state: "filled", cumQty: 3, updatedAt: 5 });
    assert.deepEqual(j.positions(), [{ symbol: "AAPL", qty: 5, updatedAt: 5 }]);
    j.close();
  } finally {
    await dir.remove();
  }
});

Deno.test("Journal commits survive a power loss by default (synchronous FULL) and a crash with durability process (NORMAL)", async () => {
  const dir = await tempDir();
  try {
    const power = new Journal(`${dir.path}/power.sqlite`);
    const process = new Journal(`${dir.path}/process.sqlite`, { durability: "process" });
    const insert = (j: Journal) => j.insert(makeOrder(), "t", "sim", 1);
    insert(power);
    insert(process);
    power.flush();
    process.flush();
    // After a commit, too: the group commit's lazy writes must not leave it at NORMAL.
    assert.equal(power.synchronous, 2, "power: FULL");
    assert.equal(process.synchronous, 1, "process: NORMAL");
    power.close();
    process.close();
  } finally {
    await dir.remove();
  }
});
