import assert from "node:assert/strict";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import {
  beforeCollect,
  boundCounter,
  boundGauge,
  boundHistogram,
  isInstrumented,
  upperBounds,
} from "./bound_metrics.ts";
import { createServiceMetrics } from "./metrics.ts";

/** The same families twice: one written by prom-client's own children, one by bound ones. */
function pair() {
  const make = () => {
    const registry = new Registry();
    return {
      registry,
      counter: new Counter({
        name: "c_total",
        help: "c",
        labelNames: ["a", "b"],
        registers: [registry],
      }),
      gauge: new Gauge({ name: "g", help: "g", labelNames: ["a"], registers: [registry] }),
      histogram: new Histogram({
        name: "h_us",
        help: "h",
        labelNames: ["a"],
        buckets: [2.5, 5, 10, 100],
        registers: [registry],
      }),
      plain: new Counter({ name: "p_total", help: "p", registers: [registry] }),
    };
  };
  return { own: make(), bound: make() };
}

Deno.test("Bound series render exactly what prom-client's own children render for the same values", async () => {
  const { own, bound } = pair();
  const values = [0, 1, 2.5, 2.6, 5, 7, 10, 99.9, 100, 100.1, 1e6, 3];
  const h = own.histogram.labels({ a: "x" });
  const bh = boundHistogram(bound.histogram, { a: "x" });
  const c = own.counter.labels({ a: "x", b: "y" });
  const bc = boundCounter(bound.counter, { b: "y", a: "x" }); // label order does not matter
  for (const v of values) {
    h.observe(v);
    bh.observe(v);
    c.inc(v);
    bc.inc(v);
  }
  own.gauge.labels({ a: "q" }).set(4.5);
  boundGauge(bound.gauge, { a: "q" }).set(4.5);
  own.plain.inc();
  boundCounter(bound.plain).inc();
  // Another series of the same family, written the object way, stays apart.
  own.histogram.observe({ a: "other" }, 7);
  bound.histogram.observe({ a: "other" }, 7);
  assert.equal(await bound.registry.metrics(), await own.registry.metrics());
});

Deno.test("A bound series appears on its first write, binds again after a reset, and ignores non-finite values", async () => {
  const { bound } = pair();
  const h = boundHistogram(bound.histogram, { a: "x" });
  const c = boundCounter(bound.counter, { a: "x", b: "y" });
  let text = await bound.registry.metrics();
  assert.doesNotMatch(text, /h_us_count\{/, "no series before the first write");
  assert.doesNotMatch(text, /c_total\{/);
  h.observe(1);
  c.inc(0);
  text = await bound.registry.metrics();
  assert.match(text, /h_us_count\{a="x"\} 1/);
  assert.match(text, /c_total\{a="x",b="y"\} 0/);
  h.observe(Number.NaN);
  c.inc(Number.POSITIVE_INFINITY);
  c.inc(-1);
  bound.histogram.reset();
  bound.counter.reset();
  h.observe(3);
  c.inc();
  text = await bound.registry.metrics();
  assert.match(text, /h_us_bucket\{le="5",a="x"\} 1/);
  assert.match(text, /h_us_count\{a="x"\} 1/);
  assert.match(text, /c_total\{a="x",b="y"\} 1/);
});

Deno.test("A bound series of a no-op family (instrumentation off) does nothing", () => {
  const noop = { labels: () => noop, observe() {}, inc() {} };
  assert.equal(isInstrumented(noop as unknown as Histogram<string>), false);
  boundHistogram(noop as unknown as Histogram<string>, { a: "x" }).observe(1);
  boundCounter(noop as unknown as Counter<string>, {}).inc();
  boundGauge(noop as unknown as Gauge<string>, {}).set(1);
});

Deno.test("Observations merged by bucket render as the same observations one by one", async () => {
  const { own, bound } = pair();
  const h = own.histogram.labels({ a: "x" });
  const bh = boundHistogram(bound.histogram, { a: "x" });
  const values = [1, 1, 2.5, 3, 7.5, 7.5, 7.5, 100, 250, 1e6];
  for (const v of values) h.observe(v);
  const bounds = upperBounds(bound.histogram);
  assert.deepEqual(bounds, [2.5, 5, 10, 100]);
  // Sorted into buckets the way a tally would: at or under each bound, then over the last.
  const counts = new Float64Array(bounds.length + 1);
  for (const v of values) {
    const i = bounds.findIndex((b) => v <= b);
    counts[i === -1 ? bounds.length : i]++;
  }
  const sum = values.reduce((a, b) => a + b, 0);
  bh.merge(counts, sum);
  // What cannot be a set of observations is dropped whole, not half-merged.
  bh.merge([1, 2, 3], 6); // the wrong number of buckets
  bh.merge([1, 0, 0, 0, -1], 1);
  bh.merge([0.5, 0, 0, 0, 0], 1);
  bh.merge([1, 0, 0, 0, 0], Number.NaN);
  bh.merge([0, 0, 0, 0, 0], 0); // nothing: the series stays as it is
  assert.equal(await bound.registry.metrics(), await own.registry.metrics());
});

Deno.test("beforeCollect() flushes before every read of the family, after the collect it had", async () => {
  const { bound } = pair();
  const calls: string[] = [];
  (bound.counter as unknown as { collect: () => void }).collect = () => void calls.push("own");
  let pending = 0;
  const c = boundCounter(bound.counter, { a: "x", b: "y" });
  beforeCollect(bound.counter, () => {
    calls.push("first");
    c.inc(pending);
    pending = 0;
  });
  beforeCollect(bound.counter, () => void calls.push("second"));
  pending = 3;
  assert.match(await bound.registry.metrics(), /c_total\{a="x",b="y"\} 3/);
  pending = 2;
  const { values } = await bound.counter.get();
  assert.equal(values[0].value, 5);
  assert.deepEqual(calls, ["second", "first", "own", "second", "first", "own"]);
  const noop = { labels: () => noop, inc() {} } as unknown as Counter<string>;
  beforeCollect(noop, () => assert.fail("a no-op family is never read"));
  assert.equal((noop as unknown as { collect?: unknown }).collect, undefined);
});

Deno.test("isInstrumented() tells a service's real families from its no-op ones", () => {
  const on = createServiceMetrics("market-data", { defaultMetrics: false, instrumented: true });
  const off = createServiceMetrics("market-data", { defaultMetrics: false, instrumented: false });
  try {
    assert.equal(isInstrumented(on.families.market_data_websocket_latency_us), true);
    assert.equal(isInstrumented(on.families.market_data_messages_processed_total), true);
    assert.equal(isInstrumented(off.families.market_data_websocket_latency_us), false);
    assert.equal(isInstrumented(off.families.market_data_messages_processed_total), false);
  } finally {
    on.stop();
    off.stop();
  }
});
