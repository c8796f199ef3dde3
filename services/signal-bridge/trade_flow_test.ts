import assert from "node:assert/strict";
import { TradeFlow, tradeSign } from "./trade_flow.ts";
import { assertSeriesClose, batchFlow } from "./testing/fixtures.ts";

Deno.test("tradeSign() uses the quote rule, then the tick rule", () => {
  assert.equal(tradeSign(101, 100, undefined), 1);
  assert.equal(tradeSign(99, 100, 99), -1);
  assert.equal(tradeSign(100, 100, 99), 1);
  assert.equal(tradeSign(100, undefined, 101), -1);
  assert.equal(tradeSign(100, 100, 100), 0);
  assert.equal(tradeSign(100, undefined, undefined), 0);
});

Deno.test("TradeFlow matches a batch recomputation over a fixed trade series", () => {
  const trades = Array.from({ length: 400 }, (_, i) => ({
    sign: ([1, -1, 0, 1, 1, -1, -1] as const)[i % 7],
    size: 1 + ((i * 37) % 11),
  }));
  const flow = new TradeFlow(20);
  assertSeriesClose(
    trades.map((t) => flow.update(t.sign, t.size)),
    batchFlow(trades, 20),
    "flow",
  );
});

Deno.test("TradeFlow is 0 over a window with no volume", () => {
  const flow = new TradeFlow(2);
  flow.update(1, 0);
  flow.update(-1, 0);
  assert.equal(flow.value, 0);
});
