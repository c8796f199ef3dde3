import assert from "node:assert/strict";
import { nowMs } from "./clock.ts";

Deno.test("nowMs() is the wall clock in epoch ms, with sub-millisecond resolution", () => {
  assert.ok(Math.abs(nowMs() - Date.now()) < 1000);
  const a = nowMs();
  let b = nowMs();
  for (let i = 0; i < 1_000_000 && b === a; i++) b = nowMs();
  assert.ok(b > a && b - a < 1, `two reads ${b - a} ms apart`);
});
