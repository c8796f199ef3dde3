import assert from "node:assert/strict";
import { waitFor } from "../../lib/testing/tools.ts";
import type { FeedEvent } from "./feed.ts";
import { SimFeed } from "./sim_feed.ts";

Deno.test("SimFeed delivers batched frames from a timer until closed", async () => {
  const feed = new SimFeed({
    seed: 1,
    symbols: ["AAPL", "MSFT"],
    ticksPerSecond: 2000,
    bookDepth: 5,
    startPrices: { AAPL: 228.14, MSFT: 415.3 },
    tickSize: {},
  });
  const events: FeedEvent[] = [];
  await feed.start((e) => events.push(e));
  try {
    assert.ok(feed.connected());
    await waitFor("500 messages", () => events.reduce((n, e) => n + e.frame.length, 0) >= 500);
    assert.ok(events.length < 500, "messages come batched into frames");
    assert.ok(events.every((e) => Array.isArray(e.frame) && e.receivedTs > 0));
  } finally {
    await feed.close();
  }
  assert.equal(feed.connected(), false);
  const n = events.length;
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(events.length, n, "no frames after close");
});
