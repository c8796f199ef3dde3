import assert from "node:assert/strict";
import { CHECK_TYPES, DENIAL_CODES, deny, failureType, round2 } from "./denial.ts";

Deno.test("deny() names the check and lists the details in the message", () => {
  const denial = deny("MAX_ORDER_QTY_EXCEEDED", { qty: 1001, max: 1000 });
  assert.equal(denial.check, "max_order_qty");
  assert.equal(denial.message, "MAX_ORDER_QTY_EXCEEDED: qty=1001, max=1000");
  assert.deepEqual(denial.details, { qty: 1001, max: 1000 });
  assert.ok(Object.isFrozen(denial) && Object.isFrozen(denial.details));
  assert.equal(deny("TRADING_HALTED").message, "TRADING_HALTED");
});

Deno.test("DENIAL_CODES map every code to a check of CHECK_TYPES", () => {
  for (const check of Object.values(DENIAL_CODES)) assert.ok(CHECK_TYPES.includes(check), check);
});

Deno.test("failureType() is the code in snake_case and round2() rounds to cents", () => {
  assert.equal(failureType("POSITION_LIMIT_EXCEEDED"), "position_limit_exceeded");
  assert.equal(round2(1000.004), 1000);
  assert.equal(round2(12.3456), 12.35);
  assert.equal(round2(-7.891), -7.89);
});
