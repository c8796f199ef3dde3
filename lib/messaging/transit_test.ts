import assert from "node:assert/strict";
import { Histogram, Registry } from "prom-client";
import { familyOn, TRANSIT_SECONDS_BUCKETS } from "../metrics.ts";
import { beforeCollect } from "../bound_metrics.ts";
import { histogram } from "../testing/messaging.ts";
import { TransitTally } from "./transit.ts";

const NAME = "messaging_transit_latency_seconds";
const LABELS = { service: "sb", channel: "md" };

/** A registry with the catalogue's family and one tally merged into it on every read. */
function setup() {
  const registry = new Registry();
  const family = familyOn<Histogram<string>>(registry, NAME);
  const tally = new TransitTally(family, LABELS);
  beforeCollect(family, () => tally.flush());
  return { registry, family, tally };
}

Deno.test("TransitTally.observe() puts receipt minus stamp in its bucket, in seconds, once the family is read", async () => {
  const { registry, tally } = setup();
  const at = 1_764_620_000_000;
  tally.observe(at - 0.15, at); // 150 µs
  tally.observe(at - 3, at); // 3 ms
  tally.observe(at - 3.2, at);
  tally.observe(at - 7000, at); // 7 s: over the last bound
  const h = await histogram(registry, NAME, LABELS);
  assert.deepEqual(
    Object.entries(h.buckets).filter(([, c]) => c > 0),
    [["0.0002", 1], ["0.005", 2], ["+Inf", 1]],
  );
  assert.equal(h.count, 4);
  // Epoch ms near 2026 resolve to ~0.24 µs in a float64: the times are that exact.
  assert.ok(Math.abs(h.sum - (0.00015 + 0.003 + 0.0032 + 7)) < 1e-6, `sum ${h.sum}`);
  // A second read adds nothing: the tally was merged and emptied.
  assert.equal((await histogram(registry, NAME, LABELS)).count, 4);
});

Deno.test("TransitTally.observe() counts a stamp after the receipt (clock skew) as 0, in the first bucket", async () => {
  const { registry, tally } = setup();
  tally.observe(1_000_050, 1_000_000); // the sender's clock 50 ms ahead
  tally.observe(1_000_000, 1_000_000);
  tally.observe(1_000_000, 1_000_000.01); // 10 µs
  const h = await histogram(registry, NAME, LABELS);
  assert.equal(h.buckets["0.000025"], 3);
  assert.equal(h.count, 3);
  assert.ok(h.sum >= 0 && h.sum < 0.00002, `sum ${h.sum}: a negative time must not lower it`);
});

Deno.test("TransitTally renders exactly what prom-client's own observe() renders for the same times", async () => {
  const { registry, tally } = setup();
  const reference = new Registry();
  const own = new Histogram({
    name: NAME,
    help: "reference",
    labelNames: ["service", "channel"],
    buckets: [...TRANSIT_SECONDS_BUCKETS],
    registers: [reference],
  });
  // Times on and around every bound, and far beyond the last.
  const times = [
    0,
    ...TRANSIT_SECONDS_BUCKETS.flatMap((b) => [b * 0.5, b, b * 1.5]),
    60,
  ];
  const at = 1_764_620_000_000;
  for (const s of times) {
    // A receipt `s` seconds after the stamp, in the tally's own arithmetic.
    const sent = at - s * 1000;
    tally.observe(sent, at);
    own.observe(LABELS, (at - sent) / 1000);
  }
  const ours = await histogram(registry, NAME, LABELS);
  const theirs = await histogram(reference, NAME, LABELS);
  assert.deepEqual(ours.buckets, theirs.buckets);
  assert.equal(ours.count, theirs.count);
  assert.ok(Math.abs(ours.sum - theirs.sum) < 1e-9);
});
