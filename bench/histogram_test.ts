import assert from "node:assert/strict";
import { Histogram, Registry } from "prom-client";
import { difference, quantile, readHistogram, readHistograms, shareAtMost } from "./histogram.ts";

async function exposition(values: number[]): Promise<string> {
  const registry = new Registry();
  const h = new Histogram({
    name: "x_us",
    help: "x",
    labelNames: ["k"],
    buckets: [5, 10, 25, 50, 100],
    registers: [registry],
  });
  for (const v of values) h.observe({ k: "a" }, v);
  h.observe({ k: "b" }, 1000);
  return await registry.metrics();
}

Deno.test("readHistogram() reads one series of prom-client's text and quantile() estimates as histogram_quantile does", async () => {
  // 100 values: 90 at 3 µs, 9 at 40, 1 at 500 (over the last bound).
  const values = [...Array(90).fill(3), ...Array(9).fill(40), 500];
  const h = readHistogram(await exposition(values), "x_us", { k: "a" })!;
  assert.deepEqual(h.bounds, [5, 10, 25, 50, 100, Infinity]);
  assert.deepEqual(h.cumulative, [90, 90, 90, 99, 99, 100]);
  assert.equal(h.count, 100);
  assert.equal(h.sum, 90 * 3 + 9 * 40 + 500);
  assert.equal(quantile(h, 0.5), 5 * 50 / 90); // within the first bucket, from 0
  assert.equal(quantile(h, 0.95), 25 + 25 * (95 - 90) / 9);
  assert.equal(quantile(h, 0.999), 100, "in +Inf: the highest finite bound");
  assert.equal(shareAtMost(h, 100), 0.99);
  assert.throws(() => shareAtMost(h, 7), /not a bucket bound/);
  assert.equal(readHistogram("", "x_us"), undefined);
});

Deno.test("difference() keeps only what was observed between two scrapes", async () => {
  const before = readHistogram(await exposition([3, 3]), "x_us", { k: "a" })!;
  const after = readHistogram(await exposition([3, 3, 40, 60]), "x_us", { k: "a" })!;
  const d = difference(after, before);
  assert.deepEqual(d.cumulative, [0, 0, 0, 1, 2, 2]);
  assert.equal(d.count, 2);
  assert.ok(Number.isNaN(quantile(difference(before, before), 0.5)));
});

Deno.test("readHistograms() reads every series of a family, grouped by the labels asked for", async () => {
  const registry = new Registry();
  const h = new Histogram({
    name: "t_seconds",
    help: "t",
    labelNames: ["service", "channel"],
    buckets: [0.001, 0.01],
    registers: [registry],
  });
  h.observe({ service: "sb", channel: "md" }, 0.0005);
  h.observe({ service: "sb", channel: "md" }, 0.005);
  h.observe({ service: "rm", channel: "md" }, 0.05);
  h.zero({ service: "rm", channel: "md_x" });
  const text = await registry.metrics();
  const all = readHistograms(text, "t_seconds", ["service", "channel"]);
  assert.deepEqual([...all.keys()].sort(), ["rm/md", "rm/md_x", "sb/md"]);
  assert.deepEqual(all.get("sb/md")!.cumulative, [1, 2, 2]);
  assert.deepEqual(all.get("rm/md")!.cumulative, [0, 0, 1], "not summed with md_x");
  assert.equal(all.get("rm/md_x")!.count, 0);
  assert.deepEqual([...readHistograms(text, "t_seconds", ["channel"]).keys()].sort(), [
    "md",
    "md_x",
  ]);
  assert.equal(readHistograms(text, "t_seconds", ["nope"]).size, 0);
});
