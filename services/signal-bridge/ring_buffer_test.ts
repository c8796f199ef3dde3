import assert from "node:assert/strict";
import { RingBuffer } from "./ring_buffer.ts";

Deno.test("RingBuffer.push() evicts the oldest value once full", () => {
  const r = new RingBuffer(3);
  assert.equal(r.push(1), undefined);
  assert.equal(r.push(2), undefined);
  assert.equal(r.push(3), undefined);
  assert.equal(r.full, true);
  assert.equal(r.push(4), 1);
  assert.equal(r.push(5), 2);
  assert.deepEqual([r.at(0), r.at(1), r.at(2)], [3, 4, 5]);
  assert.equal(r.oldest(), 3);
  assert.equal(r.sum(), 12);
  assert.equal(r.sum((v) => v * v), 50);
});

Deno.test("RingBuffer.at() is undefined outside the held values", () => {
  const r = new RingBuffer(2);
  r.push(7);
  assert.equal(r.at(-1), undefined);
  assert.equal(r.at(1), undefined);
  assert.equal(r.size, 1);
});

Deno.test("RingBuffer refuses a capacity that is not a positive integer", () => {
  assert.throws(() => new RingBuffer(0), RangeError);
  assert.throws(() => new RingBuffer(1.5), RangeError);
});
