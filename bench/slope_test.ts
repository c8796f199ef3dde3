import assert from "node:assert/strict";
import { slopePerMinute } from "./slope.ts";

Deno.test("slopePerMinute() is the least-squares slope in MB per minute", () => {
  assert.equal(slopePerMinute([{ atMs: 0, mb: 100 }, { atMs: 60_000, mb: 102 }]), 2);
  // Noise around a flat line: a slope near zero, whatever the first and last samples.
  const flat = [100, 103, 99, 101, 98, 102, 100].map((mb, i) => ({ atMs: i * 10_000, mb }));
  assert.ok(Math.abs(slopePerMinute(flat)) < 1.5);
  const rising = Array.from({ length: 31 }, (_, i) => ({ atMs: i * 2000, mb: 50 + i * 0.5 }));
  assert.ok(Math.abs(slopePerMinute(rising) - 15) < 1e-9, "0.5 MB every 2 s is 15 MB/min");
  assert.ok(Number.isNaN(slopePerMinute([{ atMs: 0, mb: 1 }])));
  assert.ok(Number.isNaN(slopePerMinute([{ atMs: 5, mb: 1 }, { atMs: 5, mb: 2 }])));
});
