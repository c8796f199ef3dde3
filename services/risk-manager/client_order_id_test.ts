import assert from "node:assert/strict";
import { clientOrderIdFor, MAX_CLIENT_ORDER_ID_LENGTH } from "./client_order_id.ts";

Deno.test("clientOrderIdFor() gives the same id for the same signal id", () => {
  assert.equal(clientOrderIdFor("sig-1"), clientOrderIdFor("sig-1"));
  assert.equal(clientOrderIdFor("sig-1"), "rm-sig-1");
});

Deno.test("clientOrderIdFor() gives different ids for different signal ids", () => {
  assert.notEqual(clientOrderIdFor("sig-1"), clientOrderIdFor("sig-2"));
  const long = "x".repeat(100);
  assert.notEqual(clientOrderIdFor(long), clientOrderIdFor(long + "y"));
});

Deno.test("clientOrderIdFor() hashes long or unsafe ids into at most 48 characters", () => {
  for (const id of ["a".repeat(100), "has space", "ü-unicode", "a/b", "x".repeat(46)]) {
    const coid = clientOrderIdFor(id);
    assert.ok(coid.length <= MAX_CLIENT_ORDER_ID_LENGTH, coid);
    assert.match(coid, /^rmh-[0-9a-f]{40}$/);
  }
  assert.equal(clientOrderIdFor("x".repeat(45)).length, 48);
});
