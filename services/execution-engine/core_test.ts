import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import type { ExecutionReport, Order } from "../../lib/types.ts";
import { ExecutionEngineCore } from "./core.ts";
import { Journal } from "./journal.ts";
import { CrashingVenue, type CrashPoint } from "./testing/crashing_venue.ts";
import { FakeVenue } from "./testing/fake_venue.ts";
import { makeOrder, makeQuote, tempDir } from "./testing/fixtures.ts";
import { testMetrics } from "./testing/metrics.ts";
import { makePaperVenue, TEST_SYMBOLS } from "./testing/paper_venue.ts";
import type { Venue } from "./venue.ts";
import { handleOrder } from "./testing/handle_order.ts";

function setup(
  venue: Venue,
  options: {
    journal?: Journal;
    sink?: (report: ExecutionReport) => Promise<unknown>;
    now?: () => number;
    marketReady?: (symbol: string) => boolean;
  } = {},
) {
  const metrics = testMetrics(venue.name, TEST_SYMBOLS);
  const journal = options.journal ?? new Journal(":memory:");
  const reports: ExecutionReport[] = [];
  const traces: string[] = [];
  const core = new ExecutionEngineCore({
    journal,
    venue,
    metrics: metrics.recorder,
    sink: options.sink ?? ((report, trace) => {
      reports.push(report);
      traces.push(trace);
      return Promise.resolve();
    }),
    now: options.now,
    marketReady: options.marketReady,
  });
  return { core, journal, reports, traces, metrics };
}

/** Gives `order` to a core whose venue dies at `point`; that core is dead afterwards. */
async function crashAt(point: CrashPoint, venue: Venue, journal: Journal, order: Order) {
  const crashing = new CrashingVenue(venue, { crashAt: point, exit: false });
  const dead = setup(crashing, { journal });
  dead.core.accept(order, "t");
  assert.equal(await crashing.crashed, point);
  dead.core.close();
}

Deno.test("ExecutionEngineCore fills a market order on the paper exchange and reports ack then fill", async () => {
  const { venue, scheduler } = makePaperVenue();
  const { core, reports, traces, metrics, journal } = setup(venue);
  const o = makeOrder({ qty: 10 });
  const r = await handleOrder(core, o, "trace-a");
  assert.equal(r.state, "accepted");
  scheduler.run();
  await core.settle();
  assert.deepEqual(reports.map((x) => `${x.kind}:${x.state}`), ["ack:accepted", "fill:filled"]);
  const fill = reports[1];
  assert.equal(fill.cumQty, 10);
  assert.equal(fill.lastQty, 10);
  assert.equal(fill.lastPrice, 100.01);
  assert.equal(fill.leavesQty, 0);
  assert.equal(fill.venue, "sim");
  assert.deepEqual(traces, ["trace-a", "trace-a"]);
  assert.equal(journal.get(o.clientOrderId)?.state, "filled");
  assert.equal(core.openCount(), 0);
  assert.equal(
    await metrics.value("execution_engine_orders_submitted_total", {
      order_type: "market",
      status: "success",
      exchange: "sim",
    }),
    1,
  );
  assert.equal(await metrics.value("execution_engine_order_submission_latency_us_count"), 1);
  assert.equal(await metrics.value("execution_engine_tick_to_trade_latency_us_count"), 1);
  journal.close();
});

Deno.test("ExecutionEngineCore reports each partial fill with growing cumulative quantity", async () => {
  const { venue, scheduler } = makePaperVenue({ partialFillProbability: 1, seed: 3 });
  const { core, reports, journal } = setup(venue);
  await handleOrder(core, makeOrder({ qty: 100 }), "t");
  scheduler.run();
  await core.settle();
  const fills = reports.filter((r) => r.kind === "fill");
  assert.ok(fills.length >= 2, `expected partial fills, got ${fills.length}`);
  for (let i = 1; i < fills.length; i++) assert.ok(fills[i].cumQty > fills[i - 1].cumQty);
  assert.ok(fills.slice(0, -1).every((f) => f.state === "partially_filled"));
  assert.equal(fills.at(-1)!.state, "filled");
  assert.equal(fills.reduce((s, f) => s + f.lastQty, 0), 100);
  journal.close();
});

Deno.test("ExecutionEngineCore never sends an order twice when it arrives again", async () => {
  const venue = new FakeVenue();
  const { core, reports, journal } = setup(venue);
  const o = makeOrder();
  await handleOrder(core, o, "t");
  const again = await handleOrder(core, { ...o }, "t");
  assert.equal(again.kind, "duplicate");
  assert.equal(venue.submits.length, 1);
  assert.equal(reports.length, 1);
  journal.close();
});

Deno.test("ExecutionEngineCore rejects an unknown symbol with a closed-set reason and counts it", async () => {
  const { venue } = makePaperVenue();
  const { core, reports, metrics, journal } = setup(venue);
  await handleOrder(core, makeOrder({ symbol: "ZZZZ" }), "t");
  await core.settle();
  assert.equal(reports.length, 1);
  assert.equal(reports[0].kind, "reject");
  assert.equal(reports[0].state, "rejected");
  assert.equal(reports[0].reason, "unknown_symbol");
  assert.equal(
    await metrics.value("execution_engine_order_rejections_total", {
      rejection_reason: "unknown_symbol",
      symbol: "other",
    }),
    1,
  );
  assert.equal(
    await metrics.value("execution_engine_orders_submitted_total", { status: "failure" }),
    1,
  );
  journal.close();
});

Deno.test("ExecutionEngineCore refuses and counts a cancel after the order filled", async () => {
  const venue = new FakeVenue();
  const { core, reports, metrics, journal } = setup(venue);
  const o = makeOrder({ qty: 5 });
  await handleOrder(core, o, "t");
  const base = { venueOrderId: `v-${o.clientOrderId}`, clientOrderId: o.clientOrderId };
  venue.emit({ ...base, state: "filled", cumQty: 5, avgPrice: 10, lastQty: 5, lastPrice: 10 });
  venue.emit({ ...base, state: "canceled", cumQty: 5, avgPrice: 10 });
  await core.settle();
  assert.deepEqual(reports.map((r) => r.state), ["accepted", "filled"]);
  assert.equal(
    await metrics.value("execution_engine_illegal_transitions_total", {
      from: "filled",
      to: "canceled",
    }),
    1,
  );
  journal.close();
});

Deno.test("ExecutionEngineCore ignores a repeated fill event", async () => {
  const venue = new FakeVenue();
  const { core, reports, journal } = setup(venue);
  const o = makeOrder({ qty: 10 });
  await handleOrder(core, o, "t");
  const ev = {
    venueOrderId: "v",
    clientOrderId: o.clientOrderId,
    state: "partially_filled" as const,
    cumQty: 4,
    avgPrice: 10,
    lastQty: 4,
    lastPrice: 10,
  };
  venue.emit(ev);
  venue.emit(ev);
  venue.emit({ ...ev, state: "canceled" });
  await core.settle();
  assert.deepEqual(reports.map((r) => r.state), ["accepted", "partially_filled", "canceled"]);
  assert.equal(reports[2].leavesQty, 0);
  assert.equal(reports[2].cumQty, 4);
  journal.close();
});

Deno.test("ExecutionEngineCore acknowledges implicitly when a fill overtakes the venue's answer", async () => {
  const venue = new FakeVenue();
  const { core, reports, journal } = setup(venue);
  const o = makeOrder({ qty: 2 });
  venue.answer = (ord) => {
    venue.emit({
      venueOrderId: "v9",
      clientOrderId: ord.clientOrderId,
      state: "filled",
      cumQty: 2,
      avgPrice: 50,
    });
    return { kind: "accepted", venueOrderId: "v9" };
  };
  await handleOrder(core, o, "t");
  await core.settle();
  assert.deepEqual(reports.map((r) => `${r.kind}:${r.state}`), ["ack:accepted", "fill:filled"]);
  assert.equal(reports[1].lastPrice, 50);
  assert.equal(journal.get(o.clientOrderId)?.venueOrderId, "v9");
  journal.close();
});

Deno.test("ExecutionEngineCore emits expire and venue reject reports", async () => {
  const venue = new FakeVenue();
  const { core, reports, journal } = setup(venue);
  const a = makeOrder();
  const b = makeOrder();
  await handleOrder(core, a, "t");
  await handleOrder(core, b, "t");
  venue.emit({
    venueOrderId: "x",
    clientOrderId: a.clientOrderId,
    state: "expired",
    cumQty: 0,
    avgPrice: 0,
  });
  venue.emit({
    venueOrderId: "y",
    clientOrderId: b.clientOrderId,
    state: "rejected",
    cumQty: 0,
    avgPrice: 0,
  });
  await core.settle();
  assert.deepEqual(reports.map((r) => `${r.kind}:${r.state}`), [
    "ack:accepted",
    "ack:accepted",
    "expire:expired",
    "reject:rejected",
  ]);
  assert.equal(core.openCount(), 0);
  journal.close();
});

Deno.test("ExecutionEngineCore keeps undelivered reports in the outbox and re-sends them", async () => {
  const venue = new FakeVenue();
  let fail = true;
  const got: ExecutionReport[] = [];
  const { core, journal } = setup(venue, {
    sink: (r) => {
      if (fail) return Promise.reject(new Error("peer down"));
      got.push(r);
      return Promise.resolve();
    },
  });
  await handleOrder(core, makeOrder(), "t");
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(journal.outbox().length, 1);
  fail = false;
  assert.equal(core.redeliver(), 1);
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(got.length, 1);
  assert.equal(journal.outbox().length, 0);
  journal.close();
});

Deno.test("ExecutionEngineCore leaves an order of unknown outcome for reconciliation and adopts it there", async () => {
  const venue = new FakeVenue();
  const { core, reports, journal } = setup(venue);
  const o = makeOrder();
  venue.answer = (ord) => {
    venue.held.set(ord.clientOrderId, {
      venueOrderId: "v1",
      clientOrderId: ord.clientOrderId,
      state: "accepted",
      cumQty: 0,
      avgPrice: 0,
    });
    return { kind: "unknown", detail: "timeout" };
  };
  await handleOrder(core, o, "t");
  assert.equal(journal.get(o.clientOrderId)?.phase, "unknown");
  assert.equal(reports.length, 0);
  const r = await core.reconcile({ all: false });
  assert.equal(r.resent, 0);
  assert.equal(venue.submits.length, 1);
  assert.equal(journal.get(o.clientOrderId)?.phase, "sent");
  assert.deepEqual(reports.map((x) => x.state), ["accepted"]);
  journal.close();
});

Deno.test("ExecutionEngineCore after a crash between journal write and send sends the order exactly once", async () => {
  const venue = new FakeVenue();
  const journal = new Journal(":memory:");
  const o = makeOrder();
  await crashAt("after_journal", venue, journal, o);
  assert.equal(venue.submits.length, 0);
  const second = setup(venue, { journal });
  const r = await second.core.recover();
  assert.equal(r.resent, 1);
  await handleOrder(second.core, o, "t"); // the reliable channel re-delivers it too
  assert.equal(venue.submits.length, 1);
  assert.equal(journal.get(o.clientOrderId)?.state, "accepted");
  assert.deepEqual(second.reports.map((x) => x.state), ["accepted"]);
  journal.close();
});

Deno.test("ExecutionEngineCore after a crash between send and acknowledgement adopts the order without re-sending", async () => {
  const venue = new FakeVenue();
  const journal = new Journal(":memory:");
  const o = makeOrder({ qty: 3 });
  await crashAt("after_send", venue, journal, o);
  assert.equal(venue.submits.length, 1);
  assert.equal(journal.get(o.clientOrderId)?.phase, "journaled");
  // Meanwhile the venue filled it.
  venue.held.set(o.clientOrderId, {
    venueOrderId: `v-${o.clientOrderId}`,
    clientOrderId: o.clientOrderId,
    state: "filled",
    cumQty: 3,
    avgPrice: 20,
  });
  const second = setup(venue, { journal });
  const r = await second.core.recover();
  assert.equal(r.resent, 0);
  assert.equal(venue.submits.length, 1);
  assert.deepEqual(second.reports.map((x) => `${x.kind}:${x.state}`), [
    "ack:accepted",
    "fill:filled",
  ]);
  assert.equal(second.reports[1].lastPrice, 20);
  journal.close();
});

Deno.test("ExecutionEngineCore cancels an open order the restarted paper exchange no longer knows", async () => {
  const a = makePaperVenue();
  const journal = new Journal(":memory:");
  const first = setup(a.venue, { journal });
  const o = makeOrder({ type: "limit", limitPrice: 50 }); // rests: the ask is 100.01
  await handleOrder(first.core, o, "t");
  a.scheduler.run();
  assert.equal(journal.get(o.clientOrderId)?.state, "accepted");
  const b = makePaperVenue(); // a fresh paper exchange after a restart
  const second = setup(b.venue, { journal });
  await second.core.recover();
  assert.equal(journal.get(o.clientOrderId)?.state, "canceled");
  assert.equal(second.reports[0].reason, "venue_lost");
  journal.close();
});

Deno.test("ExecutionEngineCore re-sends reports left in the outbox when it recovers", async () => {
  const venue = new FakeVenue();
  const journal = new Journal(":memory:");
  const first = setup(venue, { journal, sink: () => new Promise(() => {}) });
  await handleOrder(first.core, makeOrder(), "t");
  first.core.close();
  const second = setup(venue, { journal });
  const r = await second.core.recover();
  assert.equal(r.reports, 1);
  await new Promise((res) => setTimeout(res, 0));
  assert.equal(second.reports.length, 1);
  assert.equal(journal.outbox().length, 0);
  journal.close();
});

Deno.test("ExecutionEngineCore.cancel() cancels an open order at the venue", async () => {
  const { venue, scheduler } = makePaperVenue();
  const { core, reports, journal } = setup(venue);
  const o = makeOrder({ type: "limit", limitPrice: 50, timeInForce: "gtc" });
  await handleOrder(core, o, "t");
  scheduler.run();
  assert.equal(await core.cancel(o.clientOrderId), true);
  scheduler.run();
  await core.settle();
  assert.deepEqual(reports.map((r) => r.state), ["accepted", "canceled"]);
  assert.equal(await core.cancel(o.clientOrderId), false);
  journal.close();
});

Deno.test("ExecutionEngineCore applies a venue's final state found on recovery to an order never acknowledged", async () => {
  const venue = new FakeVenue();
  const journal = new Journal(":memory:");
  const o = makeOrder();
  await crashAt("after_send", venue, journal, o);
  venue.held.set(o.clientOrderId, {
    venueOrderId: "v",
    clientOrderId: o.clientOrderId,
    state: "expired",
    cumQty: 0,
    avgPrice: 0,
  });
  const second = setup(venue, { journal });
  await second.core.recover();
  assert.deepEqual(second.reports.map((r) => r.state), ["accepted", "expired"]);
  journal.close();
});

Deno.test("ExecutionEngineCore expires a partially filled order and reports the quantity left as 0", async () => {
  const venue = new FakeVenue();
  const { core, reports, journal } = setup(venue);
  const o = makeOrder({ qty: 10 });
  await handleOrder(core, o, "t");
  const base = { venueOrderId: "v", clientOrderId: o.clientOrderId, avgPrice: 10 };
  venue.emit({ ...base, state: "partially_filled", cumQty: 3, lastQty: 3, lastPrice: 10 });
  venue.emit({ ...base, state: "expired", cumQty: 3 });
  await core.settle();
  assert.deepEqual(reports.map((r) => `${r.state}:${r.leavesQty}`), [
    "accepted:10",
    "partially_filled:7",
    "expired:0",
  ]);
  journal.close();
});

Deno.test("ExecutionEngineCore.accept() journals the order before it returns", () => {
  const venue = new FakeVenue();
  venue.answer = () => ({ kind: "unknown", detail: "never answers in this test" });
  const { core, journal } = setup(venue);
  const o = makeOrder();
  const a = core.accept(o, "t");
  assert.equal(a.kind, "accepted");
  assert.equal(journal.get(o.clientOrderId)?.state, "new");
  assert.equal(core.accept(o, "t").kind, "duplicate");
  return a.kind === "accepted" ? a.sent.then(() => journal.close()) : undefined;
});

Deno.test("ExecutionEngineCore.accept() throws when the journal cannot be written", () => {
  const venue = new FakeVenue();
  const { core, journal } = setup(venue);
  journal.close();
  assert.throws(() => core.accept(makeOrder(), "t"));
  assert.equal(venue.submits.length, 0);
});

Deno.test("ExecutionEngineCore prices a fill that covers a missed update from the venue's averages", async () => {
  const venue = new FakeVenue();
  const { core, reports, journal } = setup(venue);
  const o = makeOrder({ qty: 10 });
  await handleOrder(core, o, "t");
  const base = { venueOrderId: "v", clientOrderId: o.clientOrderId };
  // 4 @ 100 was missed; the final 6 @ 110 arrives with the cumulative 10 @ 106.
  venue.emit({ ...base, state: "filled", cumQty: 10, avgPrice: 106, lastQty: 6, lastPrice: 110 });
  await core.settle();
  const fill = reports.at(-1)!;
  assert.equal(fill.lastQty, 10);
  assert.equal(fill.lastPrice, 106);
  assert.equal(fill.cumQty, 10);
  journal.close();
});

// ---------- orders expire; orders wait for a fresh price (issue 14, items 3 and 4) ----------

Deno.test("ExecutionEngineCore refuses an order past its expiry with order_expired, and sends one at its expiry", async () => {
  let now = 1_000_000;
  const venue = new FakeVenue();
  const { core, reports, journal, metrics } = setup(venue, { now: () => now });
  const late = makeOrder({ expiresAt: now - 1 });
  assert.equal((await handleOrder(core, late, "t")).state, "expired");
  await core.settle();
  assert.equal(venue.submits.length, 0, "never reached the venue");
  assert.deepEqual(reports.map((r) => `${r.kind}:${r.state}:${r.reason}`), [
    "expire:expired:order_expired",
  ]);
  assert.equal(reports[0].leavesQty, 0);
  assert.equal(
    await metrics.value("execution_engine_order_rejections_total", {
      rejection_reason: "order_expired",
    }),
    1,
  );
  const onTime = makeOrder({ expiresAt: now });
  await handleOrder(core, onTime, "t");
  assert.equal(venue.submits.length, 1, "an order expiring now is sent");
  // An order without an expiry (from before the field existed) never expires.
  now += 1e9;
  await handleOrder(core, makeOrder(), "t");
  assert.equal(venue.submits.length, 2);
  assert.equal(core.openCount(), 2);
  journal.close();
});

Deno.test("ExecutionEngineCore holds an order until its symbol has a fresh price, then sends it", async () => {
  const { venue, scheduler, prices } = makePaperVenue();
  let fresh = false;
  let now = Date.now();
  const { core, reports, journal } = setup(venue, {
    now: () => now,
    marketReady: () => fresh,
  });
  prices.onUpdate((symbol) => core.onMarket(symbol));
  const order = makeOrder({ expiresAt: now + 30_000 });
  const acceptance = core.accept(order, "t");
  assert.equal(acceptance.kind, "accepted");
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(journal.get(order.clientOrderId)?.state, "new", "held, not rejected no_market_data");
  assert.equal(reports.length, 0);
  assert.equal(core.heldCount(), 1);
  fresh = true;
  prices.quote(makeQuote());
  if (acceptance.kind === "accepted") assert.equal(await acceptance.sent, "accepted");
  scheduler.run();
  await core.settle();
  assert.deepEqual(reports.map((r) => `${r.kind}:${r.state}`), ["ack:accepted", "fill:filled"]);
  assert.equal(core.heldCount(), 0);
  // A held order whose expiry passes before a price arrives is refused as expired.
  fresh = false;
  const stale = makeOrder({ expiresAt: now + 1000 });
  const held = core.accept(stale, "t");
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(core.expireHeld(now + 1000), 0, "at its expiry it still waits");
  now += 1001;
  assert.equal(core.expireHeld(now), 1);
  if (held.kind === "accepted") assert.equal(await held.sent, "expired");
  await core.settle(); // its report leaves with the commit at the end of the turn
  assert.equal(reports.at(-1)?.reason, "order_expired");
  journal.close();
});

Deno.test("ExecutionEngineCore sends an order to the venue only once its journal commit is durable, and its report only once the state change is", async () => {
  const dir = await tempDir();
  const path = `${dir.path}/exec.sqlite`;
  const journal = new Journal(path);
  /** What a second connection (a restart after a crash) would find at that moment. */
  const onDisk = (sql: string) => {
    const other = new DatabaseSync(path, { readOnly: true });
    try {
      return Number(other.prepare(sql).get()!.n);
    } finally {
      other.close();
    }
  };
  const seen: string[] = [];
  class CheckingVenue extends FakeVenue {
    override submit(order: Order) {
      seen.push(`submit: ${onDisk("SELECT COUNT(*) AS n FROM orders")} orders on disk`);
      return super.submit(order);
    }
  }
  const { core } = setup(new CheckingVenue(), {
    journal,
    sink: (report) => {
      seen.push(
        `${report.kind}: ${onDisk("SELECT COUNT(*) AS n FROM outbox")} reports on disk`,
      );
      return Promise.resolve();
    },
  });
  try {
    const before = journal.commitStats.commits;
    // Three orders in one synchronous run, as a batch drained from the socket.
    for (let i = 0; i < 3; i++) core.accept(makeOrder(), "t");
    assert.equal(onDisk("SELECT COUNT(*) AS n FROM orders"), 0, "nothing durable during the run");
    await core.settle();
    await new Promise((resolve) => setTimeout(resolve, 10));
    await core.settle();
    assert.equal(journal.commitStats.commits - before >= 2, true);
    assert.deepEqual(seen.slice(0, 3), Array(3).fill("submit: 3 orders on disk"));
    assert.equal(seen.filter((s) => s.startsWith("ack: ")).length, 3);
    for (const line of seen.filter((s) => s.startsWith("ack: "))) {
      assert.notEqual(line, "ack: 0 reports on disk", "a report left before its commit");
    }
  } finally {
    core.close();
    journal.close();
    await dir.remove();
  }
});

Deno.test("ExecutionEngineCore counts each fill, the last one as full", async () => {
  const { venue, scheduler } = makePaperVenue({ partialFillProbability: 1, seed: 3 });
  const { core, reports, journal, metrics } = setup(venue);
  await handleOrder(core, makeOrder({ qty: 100 }), "t");
  scheduler.run();
  await core.settle();
  const fills = reports.filter((r) => r.kind === "fill");
  assert.equal(await metrics.value("execution_engine_fills_total", { fill: "full" }), 1);
  assert.equal(
    await metrics.value("execution_engine_fills_total", { fill: "partial" }),
    fills.length - 1,
  );
  journal.close();
});
