/**
 * Property test of fill bookkeeping: random orders filled by a model venue in random
 * partial fills, reported as execution-engine reports them, then delivered with
 * duplicates, reorderings, missed reports and cancels. Whatever arrives, risk-manager's
 * position must equal the venue's net fills, and its P&L (realised + unrealised at one
 * mark) the venue's cash P&L; no fill is booked at a price of 0.
 */
import assert from "node:assert/strict";
import { mulberry32 } from "../../lib/random.ts";
import type { ExecutionReport } from "../../lib/types.ts";
import { coreWith, signal, T0 } from "./testing/fixtures.ts";

/** The reports of one order as the venue filled it: cumulative, with the last execution. */
function venueReports(
  rng: () => number,
  id: string,
  side: "buy" | "sell",
  qty: number,
): { reports: ExecutionReport[]; filled: number; cash: number } {
  const reports: ExecutionReport[] = [];
  const base = {
    clientOrderId: id,
    symbol: "AAPL",
    side,
    orderQty: qty,
    venue: "sim",
    strategy: "default",
    ts: T0,
  };
  reports.push({
    ...base,
    kind: "ack",
    state: "accepted",
    lastQty: 0,
    lastPrice: 0,
    cumQty: 0,
    avgPrice: 0,
    leavesQty: qty,
  });
  let cum = 0;
  let notional = 0;
  const cancelAfter = rng() < 0.3 ? 1 + Math.floor(rng() * 3) : Infinity;
  let fills = 0;
  while (cum < qty) {
    if (fills >= cancelAfter) {
      reports.push({
        ...base,
        kind: "cancel",
        state: "canceled",
        lastQty: 0,
        lastPrice: 0,
        cumQty: cum,
        avgPrice: cum > 0 ? notional / cum : 0,
        leavesQty: 0,
      });
      break;
    }
    const last = Math.min(qty - cum, 1 + Math.floor(rng() * qty));
    const price = Math.round((95 + rng() * 10) * 100) / 100;
    cum += last;
    notional += last * price;
    fills++;
    reports.push({
      ...base,
      kind: "fill",
      state: cum >= qty ? "filled" : "partially_filled",
      lastQty: last,
      lastPrice: price,
      cumQty: cum,
      avgPrice: notional / cum,
      leavesQty: qty - cum,
    });
  }
  const signed = side === "buy" ? 1 : -1;
  return { reports, filled: signed * cum, cash: -signed * notional };
}

/** What the channel does to an order's reports: duplicates, swaps, misses (never the last). */
function perturb(rng: () => number, reports: ExecutionReport[]): ExecutionReport[] {
  const out: ExecutionReport[] = [];
  reports.forEach((r, i) => {
    const last = i === reports.length - 1;
    if (!last && rng() < 0.25) return; // missed
    out.push(r);
    if (rng() < 0.2) out.push(r); // duplicated
  });
  for (let i = 0; i + 1 < out.length; i++) {
    if (rng() < 0.2) [out[i], out[i + 1]] = [out[i + 1], out[i]]; // reordered
  }
  // Redelivered later (an engine restart resends its outbox).
  if (rng() < 0.3) out.push(...reports.slice(0, 1 + Math.floor(rng() * reports.length)));
  return out;
}

Deno.test("RiskManagerCore books fills as the venue recorded them, whatever the reports' duplicates, order and gaps", () => {
  for (let seed = 1; seed <= 200; seed++) {
    const rng = mulberry32(seed);
    const core = coreWith({
      limits: {
        maxPositionQty: 1e9,
        maxGrossExposure: 1e12,
        maxNetExposure: 1e12,
        maxOpenOrders: 1000,
        maxOrdersPerSecond: 1e6,
        maxOrderQty: 1e9,
        maxOrderNotional: 1e12,
      },
    });
    let position = 0;
    let cash = 0;
    const orders = 3 + Math.floor(rng() * 6);
    for (let k = 0; k < orders; k++) {
      const side = rng() < 0.5 ? "buy" : "sell";
      const decision = core.onSignal(signal({ action: side }), T0);
      assert.ok(
        decision.approved,
        `seed ${seed}: ${!decision.approved && decision.denial.message}`,
      );
      const venue = venueReports(rng, decision.order.clientOrderId, side, decision.order.qty);
      for (const report of perturb(rng, venue.reports)) {
        const out = core.onExecutionReport(report, T0);
        if (out.effect) assert.ok(out.effect.after.avgPrice > 0 || out.effect.after.qty === 0);
        assert.notEqual(out.priced, "reference", `seed ${seed}: every fill had a venue price`);
      }
      position += venue.filled;
      cash += venue.cash;
    }
    const mark = 100;
    core.onMarketData("quote", { symbol: "AAPL", bidPrice: mark, askPrice: mark }, T0);
    const p = core.positions().find((x) => x.symbol === "AAPL")!;
    assert.ok(Math.abs(p.qty - position) < 1e-9, `seed ${seed}: qty ${p.qty} != ${position}`);
    const pnl = p.realized + p.unrealized;
    const venuePnl = cash + position * mark;
    assert.ok(Math.abs(pnl - venuePnl) < 1e-6, `seed ${seed}: P&L ${pnl} != ${venuePnl}`);
    assert.equal(core.openOrders().length, 0, `seed ${seed}: every order closed`);
  }
});
