import assert from "node:assert/strict";
import { requirePositiveInteger } from "./positive_integer.ts";

Deno.test("requirePositiveInteger() accepts 1 and above and names what it refuses", () => {
  requirePositiveInteger("EMA period", 1);
  requirePositiveInteger("EMA period", 26);
  assert.throws(
    () => requirePositiveInteger("EMA period", 0),
    new RangeError("EMA period must be a positive integer, got 0"),
  );
  assert.throws(() => requirePositiveInteger("RSI period", 2.5), RangeError);
  assert.throws(() => requirePositiveInteger("RingBuffer capacity", NaN), RangeError);
});
