import assert from "node:assert/strict";
import { createMarketDataAdminApi, type MarketDataStats } from "./admin_api.ts";
import type { CoreStats } from "./core.ts";

const STATS: CoreStats = {
  frames: 3,
  messages: 120,
  published: 118,
  parseErrors: 2,
  lateTrades: 1,
  bookErrors: 0,
  crossed: 0,
  oneSidedQuotes: 0,
  excludedTrades: 0,
  corrections: 0,
  lateCorrections: 0,
  unknownCorrections: 0,
  lastFrameAt: 1_700_000_000_000,
};

function setup(lastFrameAgeMs: number | null) {
  return createMarketDataAdminApi({
    core: { stats: STATS },
    feed: { exchange: "replay", connected: () => false },
    lastFrameAgeMs: () => lastFrameAgeMs,
  });
}

Deno.test("GET /admin/stats shows the core's counters, the feed's state and the last frame's age", async () => {
  const response = await setup(12.6).request("/admin/stats");
  assert.equal(response.status, 200);
  const stats: MarketDataStats = await response.json();
  assert.deepEqual(stats, {
    exchange: "replay",
    connected: false,
    lastFrameAgeMs: 13,
    core: STATS,
  });
});

Deno.test("GET /admin/stats shows no last frame age before the first frame", async () => {
  const stats: MarketDataStats = await (await setup(null).request("/admin/stats")).json();
  assert.equal(stats.lastFrameAgeMs, null);
});

Deno.test("the admin API has no write route", async () => {
  const response = await setup(1).request("/admin/stats", { method: "POST" });
  assert.equal(response.status, 404);
  await response.body?.cancel();
});

Deno.test("GET /admin/status lists every symbol's trading status", async () => {
  const status = {
    symbol: "AAPL",
    state: "halted",
    reason: "trading_halt",
    haltCode: "H",
    haltReasonCode: "T12",
    nextOpen: null,
    nextClose: null,
    exchange: "alpaca",
    at: 1,
  } as const;
  const admin = createMarketDataAdminApi({
    core: { stats: STATS },
    feed: { exchange: "alpaca", connected: () => true },
    lastFrameAgeMs: () => null,
    statuses: () => [status],
  });
  assert.deepEqual(await (await admin.request("/admin/status")).json(), [status]);
});
