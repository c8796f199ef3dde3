import assert from "node:assert/strict";
import { eligibility } from "./trade_conditions.ts";
import { CORRECTION, STOCK_TRADE } from "./testing/alpaca_fixtures.ts";

Deno.test("eligibility() keeps odd lots, Form T and official opens and closes out of prices", () => {
  assert.deepEqual(eligibility(STOCK_TRADE.c, STOCK_TRADE.z), { price: false, volume: true });
  assert.deepEqual(eligibility(["@", "F", "T", "I"], "C"), { price: false, volume: true });
  assert.deepEqual(eligibility(CORRECTION.oc, CORRECTION.z), { price: false, volume: true });
  assert.deepEqual(eligibility(["M"], "A"), { price: false, volume: false });
  assert.deepEqual(eligibility(["9"], "C"), { price: false, volume: false });
});

Deno.test("eligibility() lets regular trades, sweeps and trades without conditions set prices", () => {
  for (const conditions of [undefined, [], ["@"], [" "], ["@", "F"], ["F"], ["O"], ["X"]]) {
    assert.deepEqual(eligibility(conditions, "C"), { price: true, volume: true });
  }
});

Deno.test("eligibility() applies B on CTS tapes and W on UTP tapes only", () => {
  assert.equal(eligibility(["B"], "A").price, false);
  assert.equal(eligibility(["B"], "C").price, true);
  assert.equal(eligibility(["W"], "C").price, false);
  assert.equal(eligibility(["W"], "O").price, false);
  assert.equal(eligibility(["W"], "B").price, true);
  assert.equal(eligibility(["B"], undefined).price, false, "unknown tape: both rules");
  assert.equal(eligibility(["W"], undefined).price, false);
});
