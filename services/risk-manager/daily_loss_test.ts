import assert from "node:assert/strict";
import { DailyLoss, DAY_MS, lossReached } from "./daily_loss.ts";
import { T0 } from "./testing/fixtures.ts";

/** An unrealised P&L the test sets by hand. */
function unrealized(usd = 0) {
  return {
    usd,
    totalUnrealized() {
      return this.usd;
    },
  };
}

Deno.test("DailyLoss starts the first day at the first event, with the unrealised P&L as baseline", () => {
  const book = unrealized(-40);
  const daily = new DailyLoss(500, null, book);
  assert.equal(daily.rollDay(T0), true);
  assert.deepEqual(daily.record, {
    day: "2026-11-24",
    realized: 0,
    unrealizedAtStart: -40,
    lossLatched: false,
  });
  assert.equal(daily.rollDay(T0 + 1000), false, "same day");
  book.usd = -100;
  daily.addRealized(25);
  assert.equal(daily.pnl(), 25 - 60);
});

Deno.test("DailyLoss.rollDay() starts a new day at midnight UTC and releases the latch", () => {
  const book = unrealized();
  const daily = new DailyLoss(500, null, book);
  daily.rollDay(T0);
  daily.addRealized(-600);
  assert.equal(daily.latch(daily.pnl()), "reached");
  const midnight = Math.floor(T0 / DAY_MS) * DAY_MS + DAY_MS;
  assert.equal(daily.rollDay(midnight - 1), false);
  book.usd = 30;
  assert.equal(daily.rollDay(midnight), true);
  assert.deepEqual(daily.record, {
    day: "2026-11-25",
    realized: 0,
    unrealizedAtStart: 30,
    lossLatched: false,
  });
  assert.equal(daily.pnl(), 0);
});

Deno.test("DailyLoss.latch() reaches once at the limit, recovers above it, and reaches again", () => {
  const daily = new DailyLoss(500, null, unrealized());
  daily.rollDay(T0);
  assert.equal(daily.latch(-499.99), null);
  assert.equal(daily.latch(-500), "reached");
  assert.equal(daily.record.lossLatched, true);
  assert.equal(daily.latch(-700), null, "edge-triggered: no second trip while beyond");
  assert.equal(daily.latch(-100), "recovered");
  assert.equal(daily.record.lossLatched, false);
  assert.equal(daily.latch(-500), "reached");
  assert.equal(daily.tripReason(-512.345), "daily loss 512.35 reached the limit 500");
});

Deno.test("DailyLoss resumes a stored day, reading a record without a latch as unlatched", () => {
  const saved = { day: "2026-11-24", realized: -20, unrealizedAtStart: 5 };
  const daily = new DailyLoss(500, saved, unrealized(10));
  assert.equal(daily.record.lossLatched, false);
  assert.equal(daily.rollDay(T0), false, "the stored day is still today");
  assert.equal(daily.pnl(), -20 + 10 - 5);
  const latched = new DailyLoss(500, { ...saved, lossLatched: true }, unrealized());
  assert.equal(latched.latch(-600), null, "already latched before the restart");
});

Deno.test("DailyLoss.restore() puts back a record after a failed write", () => {
  const daily = new DailyLoss(500, null, unrealized());
  daily.rollDay(T0);
  const before = daily.record;
  daily.addRealized(-50);
  daily.restore(before);
  assert.equal(daily.record.realized, 0);
});

Deno.test("lossReached() is true at the limit and beyond", () => {
  assert.equal(lossReached(-500, 500), true);
  assert.equal(lossReached(-499.99, 500), false);
  assert.equal(lossReached(-501, 500), true);
});

Deno.test("DailyLoss.shiftBaseline() moves the unrealised baseline so the daily P&L stays", () => {
  let unrealized = 0;
  const daily = new DailyLoss(5000, null, { totalUnrealized: () => unrealized });
  daily.rollDay(Date.UTC(2026, 10, 24, 12));
  unrealized = 300; // a position adopted from the venue, already 300 in profit
  daily.shiftBaseline(300);
  assert.equal(daily.pnl(), 0);
  unrealized = 350; // the market moves it
  assert.equal(daily.pnl(), 50);
});
