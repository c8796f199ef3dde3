import assert from "node:assert/strict";
import { REJECTION_ACTIONS, REJECTION_LABELS, rejectionOf } from "./rejections.ts";

Deno.test("rejectionOf() halts on the account's and the order rules' refusals and counts the rest", () => {
  assert.deepEqual(rejectionOf("account_blocked"), {
    label: "account_blocked",
    reason: "account_blocked",
    action: "halt",
  });
  assert.equal(rejectionOf("invalid_time_in_force").action, "halt");
  for (const reason of ["market_closed", "session_unknown", "rate_limited", "order_expired"]) {
    assert.deepEqual(rejectionOf(reason), { label: reason, reason, action: "count" });
  }
});

Deno.test("rejectionOf() folds a reason it does not name, or none, into other", () => {
  assert.deepEqual(rejectionOf("insufficient_buying_power"), {
    label: "other",
    reason: "insufficient_buying_power",
    action: "count",
  });
  assert.deepEqual(rejectionOf(undefined), { label: "other", reason: "unknown", action: "count" });
  assert.equal(rejectionOf("__proto__").label, "other");
});

Deno.test("REJECTION_LABELS are the named reasons and other", () => {
  assert.deepEqual(REJECTION_LABELS, [...Object.keys(REJECTION_ACTIONS), "other"]);
});
