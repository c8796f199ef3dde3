import assert from "node:assert/strict";
import { parseMessages } from "./alpaca_protocol.ts";
import { OrderBook } from "./order_book.ts";
import { SimMarket, type SimMarketOptions } from "./sim_market.ts";

const OPTS: SimMarketOptions = {
  seed: 42,
  symbols: ["AAPL", "BTC/USD"],
  ticksPerSecond: 1000,
  bookDepth: 5,
  startPrices: { AAPL: 228.14, "BTC/USD": 97250 },
  tickSize: { AAPL: 0.01, "BTC/USD": 0.5 },
};
const WALL = Date.parse("2024-03-01T15:00:00Z");

Deno.test("SimMarket gives the same messages for the same seed", () => {
  const a = new SimMarket(OPTS).due(2000, WALL);
  const b = new SimMarket(OPTS).due(2000, WALL);
  assert.deepEqual(a, b);
  const c = new SimMarket({ ...OPTS, seed: 43 }).due(2000, WALL);
  assert.notDeepEqual(a, c);
});

Deno.test("SimMarket keeps the long-run rate near ticksPerSecond", () => {
  const sim = new SimMarket(OPTS);
  const n = sim.due(60_000, WALL).length - OPTS.symbols.length;
  assert.ok(n > 60_000 * 0.8 && n < 60_000 * 1.2, `got ${n} in 60 s at 1000/s`);
});

Deno.test("SimMarket produces valid trades, quotes and books on the tick grid", () => {
  const msgs = new SimMarket(OPTS).due(5000, WALL);
  const parsed = parseMessages(msgs);
  assert.deepEqual(parsed.errors, []);
  const kinds = new Set(parsed.messages.map((m) => m.kind));
  assert.deepEqual([...kinds].sort(), ["orderbook", "quote", "trade"]);
  for (const m of parsed.messages) {
    if (m.kind === "trade") {
      const tick = m.symbol === "AAPL" ? 0.01 : 0.5;
      const ticks = m.price / tick;
      assert.ok(Math.abs(ticks - Math.round(ticks)) < 1e-6, `${m.price} off the grid`);
      assert.equal(Number(m.price.toFixed(2)), m.price);
    }
  }
});

Deno.test("SimMarket deltas rebuild a sane book: never crossed, spreads vary", () => {
  const msgs = parseMessages(new SimMarket(OPTS).due(20_000, WALL)).messages;
  const book = new OrderBook("AAPL");
  const spreads = new Set<number>();
  let updates = 0;
  for (const m of msgs) {
    if (m.kind !== "orderbook" || m.symbol !== "AAPL") continue;
    assert.equal(book.apply(m.bids, m.asks, m.reset), undefined);
    const top = book.top();
    assert.equal(top.state, "ok");
    assert.deepEqual(book.depth(), { bids: 5, asks: 5 });
    spreads.add(Math.round((top.bestAsk! - top.bestBid!) * 100));
    updates++;
  }
  assert.ok(updates > 1000);
  assert.ok(spreads.size >= 3, `spreads seen: ${[...spreads]}`);
});

Deno.test("SimMarket.due() respects max and skipTo() drops a backlog", () => {
  const sim = new SimMarket(OPTS);
  assert.equal(sim.due(10_000, WALL, 50).length, 50);
  sim.skipTo(100_000);
  assert.ok(sim.nextAt >= 100_000);
});

Deno.test("SimMarket's stream for seed 42 is the one it has always been (52,881 messages, SHA-256)", async () => {
  // The hash of this exact stream before the book's sides were kept as arrays (2026-12-03);
  // a change to the sim that changes what it sends must change this on purpose.
  const sim = new SimMarket({
    seed: 42,
    symbols: ["AAPL", "MSFT", "SPY", "BTC/USD"],
    ticksPerSecond: 1000,
    bookDepth: 10,
    startPrices: { AAPL: 228.14, MSFT: 415.3, SPY: 592.6, "BTC/USD": 97250 },
    tickSize: { AAPL: 0.01, MSFT: 0.01, SPY: 0.01, "BTC/USD": 0.5 },
  });
  const out: unknown[] = [];
  for (let t = 0; t < 50_000; t += 5) out.push(...sim.due(t, 1764700000000 + t));
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(JSON.stringify(out)),
  );
  const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  assert.equal(out.length, 52_881);
  assert.equal(hex, "1b4962f6a82d1bd939636fdff9d463d0e687f3da7aee77dbee32665f849e4500");
});

Deno.test("SimMarket's deltas are minimal and keep bookDepth levels a side, for depths 1-50", () => {
  type Level = { p: number; s: number };
  const asUpdates = (levels: Level[]) => levels.map(({ p, s }) => ({ price: p, size: s }));
  for (const bookDepth of [1, 2, 3, 11, 25, 50]) {
    const sim = new SimMarket({ ...OPTS, seed: 7, ticksPerSecond: 2000, bookDepth });
    const books = new Map<string, OrderBook>();
    for (let t = 0; t < 10_000; t += 7) {
      for (const m of sim.due(t, WALL + t) as Record<string, unknown>[]) {
        if (m.T !== "o") continue;
        const symbol = m.S as string;
        const book = books.get(symbol) ?? new OrderBook(symbol);
        books.set(symbol, book);
        const bids = m.b as Level[];
        const asks = m.a as Level[];
        if (m.r !== true) {
          for (const [side, levels] of [["bid", bids], ["ask", asks]] as const) {
            for (const { p, s } of levels) {
              assert.notEqual(
                book.sizeAt(side, p),
                s,
                `depth ${bookDepth}: ${side} ${p} unchanged`,
              );
            }
          }
        }
        assert.equal(book.apply(asUpdates(bids), asUpdates(asks), m.r === true), undefined);
        assert.deepEqual(book.depth(), { bids: bookDepth, asks: bookDepth }, `depth ${bookDepth}`);
      }
    }
  }
});

Deno.test("SimMarket refuses a book depth that is not an integer of at least 0", () => {
  for (const bookDepth of [-1, 2.5, Number.NaN]) {
    assert.throws(() => new SimMarket({ ...OPTS, bookDepth }), RangeError, String(bookDepth));
  }
});
