import assert from "node:assert/strict";
import { checkTransition, isFinal, ORDER_STATES, type OrderState } from "./order_state.ts";

const LEGAL: ReadonlyArray<[OrderState, OrderState]> = [
  ["new", "accepted"],
  ["new", "rejected"],
  ["new", "canceled"],
  ["new", "expired"],
  ["accepted", "partially_filled"],
  ["accepted", "filled"],
  ["accepted", "canceled"],
  ["accepted", "expired"],
  ["accepted", "rejected"],
  ["partially_filled", "partially_filled"],
  ["partially_filled", "filled"],
  ["partially_filled", "canceled"],
  ["partially_filled", "expired"],
];

Deno.test("checkTransition() allows exactly the documented transitions", () => {
  const legal = new Set(LEGAL.map(([a, b]) => `${a}->${b}`));
  for (const from of ORDER_STATES) {
    for (const to of ORDER_STATES) {
      const r = checkTransition(from, to);
      assert.equal(r.ok, legal.has(`${from}->${to}`), `${from} -> ${to}`);
    }
  }
});

Deno.test("checkTransition() refuses a fill after cancel with a stable code", () => {
  const r = checkTransition("canceled", "filled");
  assert.equal(r.ok, false);
  if (!r.ok) {
    assert.equal(r.code, "ILLEGAL_TRANSITION");
    assert.equal(r.from, "canceled");
    assert.equal(r.to, "filled");
  }
});

Deno.test("checkTransition() refuses skipping acceptance from new to filled", () => {
  assert.equal(checkTransition("new", "filled").ok, false);
  assert.equal(checkTransition("new", "partially_filled").ok, false);
});

Deno.test("isFinal() is true for filled, canceled, rejected and expired only", () => {
  const finals = ORDER_STATES.filter(isFinal);
  assert.deepEqual(finals.sort(), ["canceled", "expired", "filled", "rejected"]);
});
