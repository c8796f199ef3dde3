import assert from "node:assert/strict";
import { Gauge, Registry } from "prom-client";
import { CATALOGUE } from "../metrics.ts";
import { MESSAGING_METRICS, Publisher, Subscriber } from "./mod.ts";
import { metric, STRICT_POLL_MS, until } from "../testing/messaging.ts";

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
