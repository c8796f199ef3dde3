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
