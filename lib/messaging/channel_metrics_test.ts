import assert from "node:assert/strict";
import { Gauge, Registry } from "prom-client";
import { CATALOGUE, TRANSIT_SECONDS_BUCKETS } from "../metrics.ts";
import { ChannelMetrics, DECODE_ERROR_REASONS } from "./channel_metrics.ts";
import { MESSAGING_METRICS, Publisher, Subscriber } from "./mod.ts";
import { histogram, metric, STRICT_POLL_MS, until } from "../testing/messaging.ts";

Deno.test("Metrics: staleness is computed at scrape time, queue depths are set, label values stay a closed set", async () => {
  const registry = new Registry();
  const queueDepth = new Gauge({
    name: "system_zmq_queue_depth",
    help: "ZMQ queue depth",
    labelNames: ["service", "queue"] as const,
    registers: [registry],
  });
  const pub = await Publisher.open("bind:tcp://127.0.0.1:0", {
    service: "md",
    name: "md",
    registry,
    queueDepth,
    heartbeatMs: 20,
    types: ["trade"],
  });
  const sub = await Subscriber.open([pub.endpoint], {
    pollMs: STRICT_POLL_MS,
    service: "sb",
    name: "md",
    registry,
    queueDepth,
  });
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => release = r);
  let delivered = 0;
  sub.onMessage(async () => {
    delivered++;
    await gate;
  });
  try {
    await until(() => sub.stats().streams.length === 1, "the subscription");
    for (let i = 0; i < 20; i++) pub.publish("trade", { i });
    pub.publish("surprise", {});
    // The handler is stuck on the first trade: the rest of its batch is queued.
    await until(() => delivered === 1, "the first delivery");
    const depth = async () =>
      (await queueDepth.get()).values.find((v) =>
        v.labels.queue === "md_in" && v.labels.service === "sb"
      )
        ?.value ?? -1;
    assert.ok((await depth()) >= 1, "the message being handled counts as queued");
    release();
    await until(() => delivered === 21, "all deliveries");
    await until(() => sub.stats().streams[0].lastSeq > 25, "more heartbeats");
    assert.equal(await depth(), 0);
    const text = await registry.metrics();
    assert.match(text, /messaging_last_message_age_seconds\{service="sb",channel="md"\} \d/);
    const age = await metric(registry, MESSAGING_METRICS.lastMessageAge, { service: "sb" });
    assert.ok(age >= 0 && age < 60, `age ${age}`);
    // Publisher side: "surprise" is not in `types`.
    assert.equal(
      await metric(registry, MESSAGING_METRICS.sent, { service: "md", type: "unknown" }),
      1,
    );
    assert.equal(
      await metric(registry, MESSAGING_METRICS.sent, { service: "md", type: "trade" }),
      20,
    );
    // A second channel on the same registry reuses the families.
    const again = await Publisher.open("bind:tcp://127.0.0.1:0", {
      service: "md",
      name: "md2",
      registry,
    });
    await again.close();
  } finally {
    release();
    await sub.close();
    await pub.close();
  }
  assert.doesNotMatch(await registry.metrics(), /messaging_last_message_age_seconds\{service="sb"/);
});

Deno.test("the messaging layer records only into families of the metric catalogue, on every service", () => {
  for (const name of Object.values(MESSAGING_METRICS)) {
    const spec = CATALOGUE.find((s) => s.name === name);
    assert.ok(spec, `${name} is in the catalogue`);
    assert.equal(spec.owner, "all");
    assert.deepEqual(spec.labelNames.slice(0, 2), ["service", "channel"]);
  }
  const declared = CATALOGUE.filter((s) => s.name.startsWith("messaging_")).map((s) => s.name);
  assert.deepEqual(declared.sort(), Object.values(MESSAGING_METRICS).sort());
});

Deno.test("ChannelMetrics.zero() creates at 0 the counters each socket role can move, a receiver's transit histogram, and the staleness limit when given", async () => {
  const registry = new Registry();
  const base = { service: "svc", registry };
  const pub = new ChannelMetrics({ ...base, name: "out" }, ["trade"], false);
  pub.zero("publisher");
  const sub = new ChannelMetrics({ ...base, name: "in", staleAfterMs: 2500 }, ["quote"], true);
  sub.zero("subscriber");
  const rs = new ChannelMetrics({ ...base, name: "rel_out", staleAfterMs: 5000 }, ["order"], true);
  rs.zero("reliable_sender");
  const rr = new ChannelMetrics({ ...base, name: "rel_in" }, ["order"], true);
  rr.zero("reliable_receiver");
  const text = await registry.metrics();
  const series = (name: string, channel: string) =>
    text.split("\n").filter((l) => l.startsWith(`${name}{`) && l.includes(`channel="${channel}"`));
  const zeros = (name: string, channel: string) => {
    const lines = series(name, channel);
    assert.ok(lines.every((l) => l.endsWith(" 0")), `${name}{${channel}}: ${lines}`);
    return lines.length;
  };
  // A publisher only sends.
  assert.equal(zeros("messaging_messages_sent_total", "out"), 2); // trade, heartbeat
  assert.equal(zeros("messaging_dropped_total", "out"), 1);
  assert.equal(zeros("messaging_decode_errors_total", "out"), 0);
  assert.equal(zeros("messaging_sequence_gaps_total", "out"), 0);
  // A subscriber receives: every decode error reason, gaps, drops, handler errors.
  assert.equal(zeros("messaging_messages_received_total", "in"), 2);
  assert.equal(zeros("messaging_decode_errors_total", "in"), DECODE_ERROR_REASONS.length);
  for (const name of ["gaps", "missed", "restarts", "handlerErrors"] as const) {
    assert.equal(zeros(MESSAGING_METRICS[name], "in"), 1, name);
  }
  assert.equal(zeros("messaging_dropped_total", "in"), 2);
  assert.equal(zeros("messaging_messages_sent_total", "in"), 0);
  // The reliable ends each hear the other: decode errors on both.
  assert.equal(zeros("messaging_resends_total", "rel_out"), 1);
  assert.equal(zeros("messaging_decode_errors_total", "rel_out"), DECODE_ERROR_REASONS.length);
  assert.equal(zeros("messaging_duplicates_total", "rel_in"), 1);
  assert.equal(zeros("messaging_handler_errors_total", "rel_in"), 1);
  assert.equal(zeros("messaging_decode_errors_total", "rel_in"), DECODE_ERROR_REASONS.length);
  // Receivers only: the transit histogram, every bucket (+Inf too), its count and its sum.
  const buckets = TRANSIT_SECONDS_BUCKETS.length + 1;
  for (const channel of ["in", "rel_in"]) {
    assert.equal(zeros("messaging_transit_latency_seconds_bucket", channel), buckets, channel);
    assert.equal(zeros("messaging_transit_latency_seconds_count", channel), 1, channel);
    assert.equal(zeros("messaging_transit_latency_seconds_sum", channel), 1, channel);
  }
  for (const channel of ["out", "rel_out"]) {
    assert.equal(zeros("messaging_transit_latency_seconds_count", channel), 0, channel);
  }
  // The limits, in seconds, only where one was given.
  assert.equal(await metric(registry, "messaging_stale_after_seconds", { channel: "in" }), 2.5);
  assert.equal(await metric(registry, "messaging_stale_after_seconds", { channel: "rel_out" }), 5);
  assert.equal(series("messaging_stale_after_seconds", "rel_in").length, 0);
  sub.close();
  assert.equal(
    (await registry.metrics()).includes(
      'messaging_stale_after_seconds{service="svc",channel="in"}',
    ),
    false,
    "a closed channel drops its limit",
  );
});

Deno.test("ChannelMetrics: every open receiver's transit tally is merged when the family is read, and once more at close", async () => {
  const registry = new Registry();
  const base = { service: "svc", registry };
  const a = new ChannelMetrics({ ...base, name: "a" }, undefined, true);
  const b = new ChannelMetrics({ ...base, name: "b" }, undefined, true);
  const at = 1_764_620_000_000;
  a.transitTally().observe(at - 0.4, at);
  b.transitTally().observe(at - 4, at);
  b.transitTally().observe(at - 40, at);
  const read = (channel: string) =>
    histogram(registry, MESSAGING_METRICS.transit, { service: "svc", channel });
  assert.deepEqual((await read("a")).buckets["0.0005"], 1);
  assert.deepEqual((await read("b")).count, 2);
  // Observed after the last read, then closed: close() writes it, and the series stays.
  a.transitTally().observe(at - 0.4, at);
  a.close();
  assert.equal((await read("a")).count, 2);
  b.close();
  assert.equal((await read("b")).count, 2);
});
