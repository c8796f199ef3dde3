import assert from "node:assert/strict";
import { worstCaseExposure } from "./exposure.ts";

Deno.test("worstCaseExposure() counts every symbol's open orders at their worst", () => {
  assert.deepEqual(
    worstCaseExposure([
      { qty: 0, buy: 10, sell: 0, price: 100 },
      { qty: 0, buy: 0, sell: 2, price: 400 },
    ]),
    { gross: 1800, net: 1000 },
  );
});

Deno.test("worstCaseExposure() takes the larger side of a symbol with orders both ways", () => {
  // Long 5: buying 10 makes 15, selling 30 makes -25; net worst is every sell filling.
  assert.deepEqual(worstCaseExposure([{ qty: 5, buy: 10, sell: 30, price: 10 }]), {
    gross: 250,
    net: -250,
  });
  assert.deepEqual(worstCaseExposure([]), { gross: 0, net: 0 });
});
