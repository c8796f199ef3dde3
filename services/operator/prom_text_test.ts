import assert from "node:assert/strict";
import { Exposition, parseExposition, quantileBetween } from "./prom_text.ts";

const TEXT = `# HELP x_total A counter
# TYPE x_total counter
x_total{service="a",reason="b"} 3
x_total{service="a",reason="c"} 4.5
odd{label="with \\"quote\\" and \\\\ slash"} 1
h_bucket{le="100"} 1
h_bucket{le="1000"} 3
h_bucket{le="+Inf"} 4
h_count 4
not a sample line
`;

Deno.test("parseExposition() reads names, escaped labels and values, and skips the rest", () => {
  const samples = parseExposition(TEXT);
  assert.equal(samples.length, 7);
  assert.deepEqual(samples[2], {
    name: "odd",
    labels: { label: 'with "quote" and \\ slash' },
    value: 1,
  });
  assert.equal(samples.find((s) => s.labels.le === "+Inf")?.value, 4);
});

Deno.test("Exposition sums by name, by labels and grouped by one label", () => {
  const e = new Exposition(TEXT);
  assert.equal(e.sum("x_total"), 7.5);
  assert.equal(e.sum("x_total", { reason: "c" }), 4.5);
  assert.equal(e.sum("missing"), undefined);
  assert.deepEqual([...e.sumBy("x_total", "reason")], [["b", 3], ["c", 4.5]]);
});

Deno.test("quantileBetween() interpolates inside the bucket of the rank, on the deltas between scrapes", () => {
  const after = new Exposition(TEXT);
  assert.equal(quantileBetween(undefined, after, "h", 0.25), 100);
  assert.equal(quantileBetween(undefined, after, "h", 0.5), 550); // rank 2 of 4: half into 100..1000
  assert.equal(quantileBetween(undefined, after, "h", 0.99), 1000); // in +Inf: the last finite bound
  const before = new Exposition(
    'h_bucket{le="100"} 1\nh_bucket{le="1000"} 1\nh_bucket{le="+Inf"} 1\n',
  );
  assert.equal(quantileBetween(before, after, "h", 0.5), 775); // deltas 0, 2, 3: rank 1.5 of 3
  assert.equal(quantileBetween(after, after, "h", 0.5), undefined, "nothing observed in between");
});
