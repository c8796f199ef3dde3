import assert from "node:assert/strict";
import type { VenuePositionsAnswer } from "../../lib/types.ts";
import { type BookQuantities, PositionReconciler } from "./position_reconciliation.ts";

/** The venue's reads: every answer is read after the one before unless it says otherwise. */
let reads = 0;

function answer(
  positions: Record<string, number>,
  over: Partial<VenuePositionsAnswer> = {},
): VenuePositionsAnswer {
  return {
    requestId: "pos-1",
    venue: "alpaca",
    readAt: ++reads,
    positions: Object.entries(positions).map(([symbol, qty]) => ({
      symbol,
      qty,
      avgEntryPrice: 100,
      updatedAt: 1,
    })),
    truncated: false,
    at: 1,
    ...over,
  };
}

function book(qty: Record<string, number>): BookQuantities {
  return {
    qty: (symbol) => qty[symbol] ?? 0,
    heldSymbols: () => Object.keys(qty).filter((s) => qty[s] !== 0),
  };
}

const noOrders = () => false;

Deno.test("PositionReconciler confirms a difference on the next quiet answer the venue read again", () => {
  const rec = new PositionReconciler();
  const ours = book({ AAPL: 10 });
  const first = rec.compare(answer({ AAPL: 7 }), ours, noOrders, 1);
  assert.equal(first.answer, 1);
  assert.deepEqual(first.differences, [{
    symbol: "AAPL",
    ours: 10,
    venue: 7,
    venueAvgPrice: 100,
    diff: -3,
    status: "suspect",
  }]);
  assert.deepEqual(first.newMismatches, []);
  const second = rec.compare(answer({ AAPL: 7 }), ours, noOrders, 2);
  assert.deepEqual(second.newMismatches.map((d) => [d.symbol, d.status]), [["AAPL", "mismatch"]]);
  assert.deepEqual(rec.mismatched().map((d) => d.symbol), ["AAPL"]);
  // Counted once: later answers show it without confirming it again.
  const third = rec.compare(answer({ AAPL: 6 }), ours, noOrders, 3);
  assert.deepEqual(third.newMismatches, []);
  assert.equal(third.differences[0].status, "mismatch");
});

Deno.test("PositionReconciler takes a position only the venue holds, or only the book holds, as a difference", () => {
  const rec = new PositionReconciler();
  rec.compare(answer({ MSFT: 5 }), book({ AAPL: 3 }), noOrders, 1);
  const r = rec.compare(answer({ MSFT: 5 }), book({ AAPL: 3 }), noOrders, 2);
  assert.deepEqual(r.newMismatches.map((d) => [d.symbol, d.ours, d.venue]), [
    ["AAPL", 3, 0],
    ["MSFT", 0, 5],
  ]);
});

Deno.test("PositionReconciler counts no difference below 1e-9 (float noise of summed fills)", () => {
  const rec = new PositionReconciler();
  const ours = book({ "BTC/USD": 0.1 + 0.2 });
  for (let i = 1; i <= 3; i++) {
    assert.deepEqual(rec.compare(answer({ "BTC/USD": 0.3 }), ours, noOrders, i).differences, []);
  }
});

Deno.test("PositionReconciler leaves a difference in flight while the symbol has an open order", () => {
  const rec = new PositionReconciler();
  let open = true;
  const ours = book({ AAPL: 10 });
  for (let i = 1; i <= 4; i++) {
    const r = rec.compare(answer({ AAPL: 12 }), ours, () => open, i);
    assert.equal(r.differences[0].status, "in_flight");
    assert.deepEqual(r.newMismatches, []);
  }
  open = false;
  assert.equal(
    rec.compare(answer({ AAPL: 12 }), ours, () => open, 5).differences[0].status,
    "suspect",
  );
  assert.equal(rec.compare(answer({ AAPL: 12 }), ours, () => open, 6).newMismatches.length, 1);
});

Deno.test("PositionReconciler starts over after activity in the symbol", () => {
  const rec = new PositionReconciler();
  const ours = book({ AAPL: 10 });
  rec.compare(answer({ AAPL: 12 }), ours, noOrders, 1);
  rec.touch("AAPL");
  assert.deepEqual(rec.compare(answer({ AAPL: 12 }), ours, noOrders, 2).newMismatches, []);
  rec.touch("MSFT"); // another symbol's activity does not matter
  assert.equal(rec.compare(answer({ AAPL: 12 }), ours, noOrders, 3).newMismatches.length, 1);
});

Deno.test("PositionReconciler resolves a mismatch once the two agree, and after resolve()", () => {
  const rec = new PositionReconciler();
  rec.compare(answer({ AAPL: 12, MSFT: 1 }), book({ AAPL: 10 }), noOrders, 1);
  rec.compare(answer({ AAPL: 12, MSFT: 1 }), book({ AAPL: 10 }), noOrders, 2);
  const agreed = rec.compare(answer({ AAPL: 10, MSFT: 1 }), book({ AAPL: 10 }), noOrders, 3);
  assert.deepEqual(agreed.resolved, ["AAPL"]);
  rec.resolve("MSFT");
  assert.deepEqual(rec.mismatched(), []);
  // A resolved symbol needs two quiet answers again.
  const again = rec.compare(answer({ AAPL: 10, MSFT: 1 }), book({ AAPL: 10 }), noOrders, 4);
  assert.deepEqual(again.differences.map((d) => [d.symbol, d.status]), [["MSFT", "suspect"]]);
});

Deno.test("PositionReconciler compares nothing when the venue never read its positions", () => {
  const rec = new PositionReconciler();
  for (let i = 1; i <= 3; i++) {
    const r = rec.compare(answer({}, { readAt: 0 }), book({ AAPL: 10 }), noOrders, i);
    assert.equal(r.compared, false);
    assert.deepEqual(r.differences, []);
  }
  // Those answers do not count as the first of two.
  const r = rec.compare(answer({}), book({ AAPL: 10 }), noOrders, 4);
  assert.equal(r.differences[0].status, "suspect");
});

Deno.test("PositionReconciler compares only the symbols a truncated answer carries", () => {
  const rec = new PositionReconciler();
  const ours = book({ AAPL: 10, MSFT: 4 });
  for (let i = 1; i <= 3; i++) {
    const r = rec.compare(answer({ AAPL: 10 }, { truncated: true }), ours, noOrders, i);
    assert.deepEqual(r.differences, [], "MSFT is not in the answer: nothing is known of it");
  }
});

Deno.test("PositionReconciler confirms a difference only once the venue read its positions again", () => {
  const rec = new PositionReconciler();
  const ours = book({ AAPL: 10 });
  const first = answer({ AAPL: 7 });
  rec.compare(first, ours, noOrders, 1);
  // Alpaca's positions between two reads: the same read shown again confirms nothing.
  for (let i = 0; i < 3; i++) {
    const same = rec.compare({ ...first, requestId: `again-${i}` }, ours, noOrders, 2 + i);
    assert.deepEqual(same.newMismatches, []);
    assert.equal(same.differences[0].status, "suspect");
  }
  assert.equal(rec.compare(answer({ AAPL: 7 }), ours, noOrders, 9).newMismatches.length, 1);
});
