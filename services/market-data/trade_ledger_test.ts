import assert from "node:assert/strict";
import { barTrade } from "./bar_builder.ts";
import { type LedgerTrade, tradeKey, TradeLedger } from "./trade_ledger.ts";

function trade(id: string, price: number, priced = true): LedgerTrade {
  return {
    symbol: "X",
    key: id === "" ? "" : tradeKey("X", "D", id),
    price,
    size: 1,
    exchangeTs: 1,
    priced,
    bar: barTrade(price, 1),
    removed: false,
  };
}

Deno.test("TradeLedger falls back to the previous priced trade when the last one is cancelled", () => {
  const ledger = new TradeLedger();
  ledger.record(trade("1", 10));
  ledger.record(trade("2", 11));
  ledger.record(trade("3", 99, false));
  assert.equal(ledger.lastPrice("X"), 11, "an unpriced trade never sets the last price");
  ledger.remove(ledger.find(tradeKey("X", "D", "2"))!);
  assert.equal(ledger.lastPrice("X"), 10);
  assert.equal(ledger.find(tradeKey("X", "D", "2")), undefined);
  ledger.remove(ledger.find(tradeKey("X", "D", "1"))!);
  assert.equal(ledger.lastPrice("X"), null);
});

Deno.test("TradeLedger puts a correction in the place of the trade it corrects", () => {
  const ledger = new TradeLedger();
  ledger.record(trade("1", 10));
  ledger.record(trade("2", 11));
  ledger.replace(ledger.find(tradeKey("X", "D", "1"))!, trade("1c", 10.5));
  assert.equal(ledger.lastPrice("X"), 11, "the correction of an older trade is not the last");
  ledger.replace(ledger.find(tradeKey("X", "D", "2"))!, trade("2c", 11.5));
  assert.equal(ledger.lastPrice("X"), 11.5);
  ledger.replace(ledger.find(tradeKey("X", "D", "2c"))!, trade("2cc", 12, false));
  assert.equal(ledger.lastPrice("X"), 10.5, "corrected into an unpriced trade: it leaves");
});

Deno.test("TradeLedger holds at most its capacity and forgets the oldest first", () => {
  const ledger = new TradeLedger(3, 2);
  for (let i = 0; i < 10; i++) ledger.record(trade(String(i), i + 1));
  assert.equal(ledger.size, 3);
  assert.equal(ledger.find(tradeKey("X", "D", "6")), undefined);
  assert.ok(ledger.find(tradeKey("X", "D", "9")));
  ledger.record(trade("", 50));
  assert.equal(ledger.size, 3, "a trade without an id is not indexed");
  assert.equal(ledger.lastPrice("X"), 50);
});

function at(id: string, price: number, exchangeTs: number, symbol = "X"): LedgerTrade {
  return { ...trade(id, price), symbol, key: tradeKey(symbol, "D", id), exchangeTs };
}

Deno.test("TradeLedger lets go of the bar entries of trades older than the bars still open, and only those", () => {
  const ledger = new TradeLedger();
  const old = at("1", 10, 1_000);
  const recent = at("2", 11, 5_000);
  ledger.record(old);
  ledger.record(recent);
  assert.equal(ledger.find(old.key)!.bar, old.bar, "held while its bars may be open");
  ledger.releaseBars(2_000);
  const found = ledger.find(old.key)!;
  assert.notEqual(found.bar, old.bar, "its bars are closed: the entry is not kept");
  assert.deepEqual([found.bar.price, found.bar.size, found.exchangeTs], [10, 1, 1_000]);
  assert.equal(ledger.find(recent.key)!.bar, recent.bar, "a bar it is in is still open");
  ledger.releaseBars(2_000);
  assert.equal(ledger.find(recent.key)!.bar, recent.bar);
});

Deno.test("TradeLedger keeps a symbol's last price after the trade that set it left the ring", () => {
  const ledger = new TradeLedger(2);
  ledger.record(at("y1", 7, 1, "Y"));
  for (let i = 0; i < 5; i++) ledger.record(at(String(i), 20 + i, 2));
  assert.equal(ledger.find(tradeKey("Y", "D", "y1")), undefined, "evicted, oldest first");
  assert.equal(ledger.size, 2);
  assert.equal(ledger.lastPrice("Y"), 7);
  assert.equal(ledger.lastPrice("X"), 24);
});

Deno.test("TradeLedger finds a trade recorded again under its key after the earlier record is evicted", () => {
  const ledger = new TradeLedger(3);
  ledger.record(at("a", 1, 1));
  ledger.record(at("b", 2, 1));
  ledger.record(at("a", 20, 1));
  ledger.record(at("c", 3, 1)); // overwrites the first "a"'s slot
  assert.equal(ledger.find(tradeKey("X", "D", "a"))?.price, 20);
  assert.equal(ledger.find(tradeKey("X", "D", "b"))?.price, 2);
  ledger.record(at("d", 4, 1));
  assert.equal(ledger.find(tradeKey("X", "D", "b")), undefined);
  assert.equal(ledger.size, 3);
});

Deno.test("TradeLedger holds a correction as its newest trade, and a removed trade no more", () => {
  const ledger = new TradeLedger(2);
  ledger.record(at("1", 10, 1));
  ledger.record(at("2", 11, 1));
  ledger.replace(ledger.find(tradeKey("X", "D", "1"))!, at("1c", 10.5, 1));
  assert.equal(ledger.find(tradeKey("X", "D", "1")), undefined);
  assert.equal(ledger.find(tradeKey("X", "D", "1c"))?.price, 10.5);
  ledger.remove(ledger.find(tradeKey("X", "D", "2"))!);
  assert.equal(ledger.size, 1);
  assert.equal(ledger.lastPrice("X"), 10.5);
});

Deno.test("TradeLedger widens past its first columns up to its capacity, then overwrites the oldest", () => {
  const ledger = new TradeLedger(5_000);
  for (let i = 0; i < 6_000; i++) ledger.record(at(String(i), i, i));
  assert.equal(ledger.size, 5_000);
  assert.equal(ledger.find(tradeKey("X", "D", "999")), undefined);
  for (const i of [1_000, 3_071, 5_999]) {
    const found = ledger.find(tradeKey("X", "D", String(i)))!;
    assert.deepEqual([found.price, found.exchangeTs], [i, i]);
  }
  ledger.releaseBars(Infinity);
  assert.equal(ledger.find(tradeKey("X", "D", "5999"))!.price, 5_999);
});
