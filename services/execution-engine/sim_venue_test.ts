import assert from "node:assert/strict";
import { mulberry32 } from "../../lib/random.ts";
import { marketOpen, type SimVenue, type SimVenueOptions } from "./sim_venue.ts";
import { makeOrder, makeQuote, makeTrade } from "./testing/fixtures.ts";
import { makePaperVenue } from "./testing/paper_venue.ts";
import type { VenueEvent } from "./venue.ts";

/** The test's paper venue (AAPL 99 / 101) and the events it emits. */
function sim(over: Partial<SimVenueOptions> = {}) {
  const paper = makePaperVenue(over);
  paper.prices.quote(makeQuote({ bidPrice: 99, askPrice: 101 }));
  const events: VenueEvent[] = [];
  paper.venue.onEvent((event) => events.push(event));
  return { ...paper, events };
}

const reason = (r: Awaited<ReturnType<SimVenue["submit"]>>) =>
  r.kind === "rejected" ? r.reason : r.kind;

Deno.test("SimVenue fills a market buy at the ask plus slippage", async () => {
  const { venue, scheduler, events } = sim({ slippageBps: 10 });
  const r = await venue.submit(makeOrder({ qty: 2 }));
  assert.equal(r.kind, "accepted");
  scheduler.run();
  assert.equal(events.length, 1);
  assert.equal(events[0].state, "filled");
  assert.equal(events[0].lastPrice, 101.101);
  assert.equal(events[0].cumQty, 2);
});

Deno.test("SimVenue fills a market sell at the bid minus slippage", async () => {
  const { venue, scheduler, events } = sim({ slippageBps: 10 });
  await venue.submit(makeOrder({ side: "sell", qty: 1 }));
  scheduler.run();
  assert.equal(events[0].lastPrice, 98.901);
});

Deno.test("SimVenue rejects an unknown symbol", async () => {
  const { venue } = sim();
  assert.equal(reason(await venue.submit(makeOrder({ symbol: "ZZZ" }))), "unknown_symbol");
});

Deno.test("SimVenue rejects an order when there is no price for the symbol yet", async () => {
  const { venue } = sim();
  assert.equal(reason(await venue.submit(makeOrder({ symbol: "MSFT" }))), "no_market_data");
});

Deno.test("SimVenue rejects a buy beyond its buying power, counting open buys", async () => {
  const { venue } = sim({ buyingPower: 1000 });
  assert.equal(reason(await venue.submit(makeOrder({ qty: 20 }))), "insufficient_buying_power");
  assert.equal(reason(await venue.submit(makeOrder({ qty: 6 }))), "accepted");
  // 6 * 101 = 606 is held for the open buy: 4 more would need 404 of the 394 left.
  assert.equal(reason(await venue.submit(makeOrder({ qty: 4 }))), "insufficient_buying_power");
  assert.equal(reason(await venue.submit(makeOrder({ side: "sell", qty: 50 }))), "accepted");
});

Deno.test("SimVenue rejects stock orders outside market hours but trades crypto", async () => {
  const saturday = Date.UTC(2026, 0, 3, 15, 0);
  const { venue, prices } = sim({
    hoursUtc: { open: "14:30", close: "21:00" },
    now: () => saturday,
  });
  prices.quote(makeQuote({ symbol: "BTC/USD", bidPrice: 90_000, askPrice: 90_010 }));
  assert.equal(reason(await venue.submit(makeOrder())), "market_closed");
  assert.equal(reason(await venue.submit(makeOrder({ symbol: "BTC/USD", qty: 0.01 }))), "accepted");
});

Deno.test("marketOpen() follows the configured UTC session on weekdays", () => {
  const hours = { open: "14:30", close: "21:00" };
  const monday = (h: number, m: number) => Date.UTC(2026, 0, 5, h, m);
  assert.equal(marketOpen("AAPL", hours, monday(14, 29)), false);
  assert.equal(marketOpen("AAPL", hours, monday(14, 30)), true);
  assert.equal(marketOpen("AAPL", hours, monday(20, 59)), true);
  assert.equal(marketOpen("AAPL", hours, monday(21, 0)), false);
  assert.equal(marketOpen("AAPL", null, monday(3, 0)), true);
});

Deno.test("SimVenue rejects a limit order without a limit price as invalid", async () => {
  const { venue } = sim();
  assert.equal(reason(await venue.submit(makeOrder({ type: "limit" }))), "invalid_order");
});

Deno.test("SimVenue rejects at random with the configured probability", async () => {
  const { venue } = sim({ rejectProbability: 1 });
  assert.equal(reason(await venue.submit(makeOrder())), "venue_rejected");
});

Deno.test("SimVenue splits fills when partial fills are drawn and fills the whole quantity", async () => {
  const { venue, scheduler, events } = sim({ partialFillProbability: 1 });
  await venue.submit(makeOrder({ qty: 100 }));
  scheduler.run();
  assert.ok(events.length >= 2);
  assert.equal(events.reduce((s, e) => s + (e.lastQty ?? 0), 0), 100);
  assert.equal(events.at(-1)!.state, "filled");
});

Deno.test("SimVenue rests a limit order until the market reaches it, never filling beyond the limit", async () => {
  const { venue, scheduler, events, prices } = sim({ slippageBps: 50 });
  await venue.submit(makeOrder({ type: "limit", limitPrice: 100, timeInForce: "gtc" }));
  scheduler.run();
  assert.equal(events.length, 0);
  prices.quote(makeQuote({ bidPrice: 99.5, askPrice: 100 }));
  scheduler.run();
  assert.equal(events.length, 1);
  assert.equal(events[0].lastPrice, 100);
});

Deno.test("SimVenue cancels an ioc limit order that cannot trade", async () => {
  const { venue, scheduler, events } = sim();
  await venue.submit(makeOrder({ type: "limit", limitPrice: 50, timeInForce: "ioc" }));
  scheduler.run();
  assert.deepEqual(events.map((e) => e.state), ["canceled"]);
});

Deno.test("SimVenue expires resting day orders when the market closes", async () => {
  let now = Date.UTC(2026, 0, 5, 15, 0);
  const { venue, scheduler, events } = sim({
    hoursUtc: { open: "14:30", close: "21:00" },
    now: () => now,
  });
  await venue.submit(makeOrder({ type: "limit", limitPrice: 50, timeInForce: "day" }));
  await venue.submit(makeOrder({ type: "limit", limitPrice: 50, timeInForce: "gtc" }));
  scheduler.run();
  assert.equal(venue.expireDayOrders(), 0);
  now = Date.UTC(2026, 0, 5, 21, 0);
  assert.equal(venue.expireDayOrders(), 1);
  assert.deepEqual(events.map((e) => e.state), ["expired"]);
});

Deno.test("SimVenue answers a repeated client order id with the existing order", async () => {
  const { venue, scheduler } = sim();
  const o = makeOrder();
  const a = await venue.submit(o);
  scheduler.run();
  const b = await venue.submit(o);
  assert.equal(
    a.kind === "accepted" && b.kind === "accepted" && a.venueOrderId === b.venueOrderId,
    true,
  );
  const found = await venue.lookup(o.clientOrderId);
  assert.equal(found.kind === "found" && found.status.state, "filled");
});

Deno.test("SimVenue gives the same fills for the same seed", async () => {
  const run = async () => {
    const { venue, scheduler, events } = sim({ partialFillProbability: 0.5, seed: 42 });
    for (let i = 0; i < 5; i++) await venue.submit(makeOrder({ qty: 37 }));
    scheduler.run();
    return events.map((e) => e.lastQty);
  };
  assert.deepEqual(await run(), await run());
});

Deno.test("mulberry32() is deterministic and in [0, 1)", () => {
  const a = mulberry32(5), b = mulberry32(5);
  for (let i = 0; i < 100; i++) {
    const x = a();
    assert.equal(x, b());
    assert.ok(x >= 0 && x < 1);
  }
});

Deno.test("SimVenue reports each simulated API call with the status code Alpaca would give", async () => {
  const calls: { endpoint: string; method: string; statusCode: string; ms: number }[] = [];
  const { venue } = sim({ buyingPower: 1_000, onApiCall: (c) => calls.push(c) });
  await venue.submit(makeOrder({ qty: 1 }));
  await venue.submit(makeOrder({ qty: 1_000 }));
  await venue.submit(makeOrder({ qty: 1, symbol: "TSLA" }));
  assert.deepEqual(calls.map((c) => [c.endpoint, c.method, c.statusCode]), [
    ["/v2/orders", "POST", "200"],
    ["/v2/orders", "POST", "403"],
    ["/v2/orders", "POST", "422"],
  ]);
  assert.ok(calls.every((c) => c.ms >= 0));
});

Deno.test("SimVenue never fills against a side a one-sided quote emptied, nor falls back to the last trade", async () => {
  const { venue, prices, scheduler, events } = sim();
  prices.trade(makeTrade({ price: 100 }));
  prices.oneSidedQuote({ ...makeQuote(), bidPrice: 99, askPrice: null, askSize: 0 });
  assert.equal(reason(await venue.submit(makeOrder({ side: "buy" }))), "no_market_data");
  assert.equal((await venue.submit(makeOrder({ side: "sell", qty: 1 }))).kind, "accepted");
  scheduler.run();
  assert.deepEqual(events.map((e) => e.lastPrice), [99]);
  // A buy that rests waits for an ask to come back.
  const limit = makeOrder({ side: "buy", type: "limit", limitPrice: 105, qty: 1 });
  prices.quote(makeQuote({ bidPrice: 99, askPrice: 101 }));
  assert.equal((await venue.submit(limit)).kind, "accepted");
  prices.oneSidedQuote({ ...makeQuote(), bidPrice: 99, askPrice: null, askSize: 0 });
  scheduler.run();
  assert.equal(events.length, 1, "no fill while the ask is missing");
  prices.quote(makeQuote({ bidPrice: 99, askPrice: 101 }));
  scheduler.run();
  assert.deepEqual(events.map((e) => e.lastPrice), [99, 101]);
});
