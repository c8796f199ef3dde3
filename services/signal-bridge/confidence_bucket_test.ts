import assert from "node:assert/strict";
import { CONFIDENCE_BUCKETS, confidenceBucket } from "./confidence_bucket.ts";

Deno.test("confidenceBucket() puts each lower bound in its own bucket and 1.0 in the top one", () => {
  assert.equal(confidenceBucket(0), "0.0-0.5");
  assert.equal(confidenceBucket(0.4999), "0.0-0.5");
  assert.equal(confidenceBucket(0.5), "0.5-0.6");
  assert.equal(confidenceBucket(0.6), "0.6-0.7");
  assert.equal(confidenceBucket(0.7), "0.7-0.8");
  assert.equal(confidenceBucket(0.8), "0.8-0.9");
  assert.equal(confidenceBucket(0.9), "0.9-1.0");
  assert.equal(confidenceBucket(1), "0.9-1.0");
});

Deno.test("confidenceBucket() maps values outside [0, 1] into the closed set", () => {
  for (const v of [-1, 2, NaN, Infinity]) {
    assert.ok(CONFIDENCE_BUCKETS.includes(confidenceBucket(v)));
  }
});
