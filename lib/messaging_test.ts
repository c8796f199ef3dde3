import assert from "node:assert/strict";
import * as zmq from "zeromq";
import { Gauge, Registry } from "prom-client";
import { z } from "zod";
import { encodeText, type Envelope } from "./envelope.ts";
import {
  MESSAGING_METRICS,
  parseEndpoint,
  Publisher,
  ReliableReceiver,
  ReliableSender,
  Subscriber,
} from "./messaging.ts";
import { type PeerEvent, PeerProcess } from "./testing/peer_process.ts";

// ---------------------------------------------------------------------------
// Helpers

/**
 * The poll loops' safety-net timeout in these tests: far above every
 * deadline, so each delivery must come from a real wake-up.
 */
const STRICT_POLL_MS = 60_000;

/** Polls `cond` until it holds; fails after `timeoutMs` (a deadline, not an assertion on speed). */
async function until(cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; !cond(); i++) {
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await sleep(i < 20 ? 5 : 20);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function metric(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (!m) return 0;
  const { values } = await m.get();
  let sum = 0;
  for (const v of values) {
    if (Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want)) sum += v.value;
  }
  return sum;
}

/** Stops peers whatever happened, so no process outlives its test. */
async function stopAll(peers: (PeerProcess | undefined)[]): Promise<void> {
  await Promise.all(peers.map((p) => p?.stop("SIGKILL").catch(() => {})));
}

const ready = (p: PeerProcess) => p.next((e) => e.event === "ready");

function raw(
  service: string,
  pub: string,
  epoch: number,
  seq: number,
  type = "tick",
  body: unknown = {},
): string {
  const env: Envelope = {
    v: 1,
    type,
    seq,
    pub: `${service}/${pub}`,
    epoch,
    ts: Date.now(),
    trace: "0".repeat(32),
    body,
  };
  return encodeText(env);
}

/** A raw zeromq.js PUB for forging frames, with a subscriber already attached. */
async function rawPublisherWithSubscriber(
  registry: Registry,
  extra: Partial<Parameters<typeof Subscriber.open>[1]> = {},
) {
  const pub = new zmq.Publisher({ sendTimeout: 0, linger: 0 });
  await pub.bind("tcp://127.0.0.1:0");
  const sub = await Subscriber.open([pub.lastEndpoint!], {
    pollMs: STRICT_POLL_MS,
    service: "test",
    name: "forged",
    registry,
    ...extra,
  });
  const got: Envelope[] = [];
  sub.onMessage((env) => {
    if (env.pub !== "warm/up") got.push(env);
  });
  // Slow joiner: send a warm-up stream until the subscription is in place.
  for (let seq = 1; seq < 2000 && !sub.stats().streams.some((s) => s.pub === "warm/up"); seq++) {
    await pub.send(raw("warm", "up", 1, seq, "heartbeat"));
    await sleep(10);
  }
  return { pub, sub, got };
}

// ---------------------------------------------------------------------------
// Endpoints and options

Deno.test("parseEndpoint() reads bind:, connect: and plain addresses", () => {
  assert.deepEqual(parseEndpoint("bind:tcp://127.0.0.1:5555", "connect"), {
    mode: "bind",
    address: "tcp://127.0.0.1:5555",
  });
  assert.deepEqual(parseEndpoint("connect:tcp://h:1", "bind"), {
    mode: "connect",
    address: "tcp://h:1",
  });
  assert.deepEqual(parseEndpoint("tcp://h:1", "bind"), { mode: "bind", address: "tcp://h:1" });
  assert.deepEqual(parseEndpoint("ipc:///tmp/x", "connect"), {
    mode: "connect",
    address: "ipc:///tmp/x",
  });
  assert.throws(
    () => parseEndpoint("127.0.0.1:5555", "bind"),
    /Cannot parse endpoint "127.0.0.1:5555"/,
  );
  assert.throws(() => parseEndpoint("listen:tcp://h:1", "bind"), /Cannot parse endpoint/);
});

Deno.test("open() fails fast on invalid options and on a port already bound", async () => {
  const registry = new Registry();
  await assert.rejects(
    Publisher.open("tcp://127.0.0.1:0", { service: "t", name: "bad name", registry }),
    /Cannot open publisher: name must be/,
  );
  await assert.rejects(
    Publisher.open("tcp://127.0.0.1:0", { service: "t", name: "md", registry, heartbeatMs: 0 }),
    /"heartbeatMs" must be a positive number, got 0/,
  );
  await assert.rejects(
    Subscriber.open([], { pollMs: STRICT_POLL_MS, service: "t", name: "md", registry }),
    /Cannot open subscriber "md": no endpoint given/,
  );
  await assert.rejects(
    ReliableSender.open("tcp://127.0.0.1:0", {
      pollMs: STRICT_POLL_MS,
      service: "t",
      name: "o",
      registry,
      window: -1,
    }),
    /"window" must be a positive number/,
  );
  const first = await Publisher.open("bind:tcp://127.0.0.1:0", {
    service: "t",
    name: "a",
    registry,
  });
  try {
    await assert.rejects(
      Publisher.open(`bind:${first.endpoint}`, { service: "t", name: "b", registry }),
      /Cannot bind publisher "b" to tcp:\/\/127\.0\.0\.1:\d+/,
    );
  } finally {
    await first.close();
  }
});

// ---------------------------------------------------------------------------
// PUB/SUB across processes

Deno.test("Subscriber bound on a port receives in order from three publisher processes that connect to it", async () => {
  const registry = new Registry();
  const sub = await Subscriber.open(["bind:tcp://127.0.0.1:0"], {
    pollMs: STRICT_POLL_MS,
    service: "test",
    name: "fanin",
    registry,
  });
  const byPub = new Map<string, number[]>();
  sub.onMessage((env) => {
    const list = byPub.get(env.pub) ?? [];
    list.push((env.body as { i: number }).i);
    byPub.set(env.pub, list);
  });
  const peers = ["a", "b", "c"].map((s) =>
    PeerProcess.start([
      "pub",
      "--endpoint",
      `connect:${sub.endpoints[0]}`,
      "--service",
      `svc-${s}`,
      "--heartbeat-ms",
      "50",
    ])
  );
  try {
    await Promise.all(peers.map(ready));
    // Heartbeats from all three show the subscriptions are in place.
    await until(() => sub.stats().streams.length === 3, "heartbeats from three publishers");
    for (const p of peers) p.command("publish 3000");
    await until(
      () => [...byPub.values()].reduce((n, l) => n + l.length, 0) === 9000,
      "9,000 messages",
    );
    for (const s of ["a", "b", "c"]) {
      const list = byPub.get(`svc-${s}/test`) ?? [];
      assert.equal(list.length, 3000);
      assert.ok(list.every((v, k) => v === k + 1), `svc-${s} in order`);
    }
    const stats = sub.stats();
    assert.equal(stats.gaps, 0);
    assert.equal(stats.decodeErrors, 0);
    assert.equal(await metric(registry, MESSAGING_METRICS.received, { type: "tick" }), 9000);
  } finally {
    await stopAll(peers);
    await sub.close();
  }
});

Deno.test("Subscriber connected to three publisher processes keeps receiving when one restarts (new epoch, not a gap)", async () => {
  const registry = new Registry();
  const peers: PeerProcess[] = ["a", "b", "c"].map((s) =>
    PeerProcess.start([
      "pub",
      "--endpoint",
      "bind:tcp://127.0.0.1:0",
      "--service",
      `svc-${s}`,
      "--heartbeat-ms",
      "50",
    ])
  );
  let sub: Subscriber | undefined;
  try {
    const endpoints = (await Promise.all(peers.map(ready))).map((e) => e.endpoint as string);
    sub = await Subscriber.open(endpoints, {
      pollMs: STRICT_POLL_MS,
      service: "test",
      name: "fanin",
      registry,
    });
    const got: Envelope[] = [];
    sub.onMessage((env) => {
      got.push(env);
    });
    const s = sub;
    const ticks = (pub: string) =>
      got.filter((e) => e.pub === pub).map((e) => (e.body as { i: number }).i);
    await until(() => s.stats().streams.length === 3, "heartbeats from three publishers");
    for (const p of peers) p.command("publish 500");
    await until(() => got.length === 1500, "1,500 messages");

    // Restart b on the same port.
    const oldEpoch = s.stats().streams.find((st) => st.pub === "svc-b/test")!.epoch;
    await peers[1].stop("SIGTERM");
    peers[1] = PeerProcess.start([
      "pub",
      "--endpoint",
      `bind:${endpoints[1]}`,
      "--service",
      "svc-b",
      "--heartbeat-ms",
      "50",
    ]);
    await ready(peers[1]);
    await until(
      () => s.stats().streams.find((st) => st.pub === "svc-b/test")!.epoch !== oldEpoch,
      "the restarted publisher's heartbeats",
    );
    for (const p of peers) p.command("publish 500");
    await until(() => got.length === 3000, "3,000 messages");

    assert.deepEqual(ticks("svc-a/test"), Array.from({ length: 1000 }, (_, k) => k + 1));
    const b = ticks("svc-b/test");
    assert.deepEqual(b, [
      ...Array.from({ length: 500 }, (_, k) => k + 1),
      ...Array.from({ length: 500 }, (_, k) => k + 1),
    ]);
    const stats = s.stats();
    assert.equal(stats.gaps, 0);
    assert.equal(stats.missed, 0);
    assert.equal(stats.streams.find((st) => st.pub === "svc-b/test")!.restarts, 1);
    assert.equal(await metric(registry, MESSAGING_METRICS.restarts), 1);
    assert.equal(await metric(registry, MESSAGING_METRICS.gaps), 0);
  } finally {
    await stopAll(peers);
    await sub?.close();
  }
});

Deno.test("A subscriber process that restarts receives again; messages sent while it was down are not counted as a gap", async () => {
  const registry = new Registry();
  const pub = await Publisher.open("bind:tcp://127.0.0.1:0", {
    service: "test",
    name: "md",
    registry,
    heartbeatMs: 50,
  });
  let peer: PeerProcess | undefined;
  const startSub = () => PeerProcess.start(["sub", "--endpoint", pub.endpoint, "--service", "sub"]);
  const handled = (n: number) => (e: PeerEvent) => e.handled >= n;
  try {
    peer = startSub();
    await ready(peer);
    await peer.statsUntil((e) => e.streams.length === 1);
    for (let i = 0; i < 100; i++) pub.publish("tick", { i });
    let stats = await peer.statsUntil(handled(100));
    assert.equal(stats.handled, 100);
    await peer.stop("SIGTERM");

    for (let i = 0; i < 50; i++) pub.publish("tick", { i }); // nobody listening
    peer = startSub();
    await ready(peer);
    await peer.statsUntil((e) => e.streams.length === 1);
    for (let i = 0; i < 100; i++) pub.publish("tick", { i });
    stats = await peer.statsUntil(handled(100));
    assert.equal(stats.handled, 100);
    assert.equal(stats.gaps, 0);
    assert.equal(stats.missed, 0);
  } finally {
    await stopAll([peer]);
    await pub.close();
  }
});

Deno.test("Both channels deliver again after 3 s of complete silence", async () => {
  const registry = new Registry();
  // Heartbeats off (60 s) so the sockets are really idle.
  const pubPeer = PeerProcess.start([
    "pub",
    "--endpoint",
    "bind:tcp://127.0.0.1:0",
    "--heartbeat-ms",
    "60000",
  ]);
  const sendPeer = PeerProcess.start([
    "send",
    "--endpoint",
    "bind:tcp://127.0.0.1:0",
    "--heartbeat-ms",
    "60000",
  ]);
  let sub: Subscriber | undefined;
  let receiver: ReliableReceiver | undefined;
  try {
    const [p, s] = await Promise.all([ready(pubPeer), ready(sendPeer)]);
    sub = await Subscriber.open([p.endpoint], {
      pollMs: STRICT_POLL_MS,
      service: "test",
      name: "md",
      registry,
    });
    receiver = await ReliableReceiver.open(s.endpoint, {
      pollMs: STRICT_POLL_MS,
      service: "test",
      name: "orders",
      registry,
    });
    const ticks: number[] = [];
    const orders: number[] = [];
    sub.onMessage((env) => {
      if (env.type === "tick") ticks.push((env.body as { i: number }).i);
    });
    receiver.onMessage((env) => {
      orders.push((env.body as { i: number }).i);
    });
    const sb = sub;
    // Slow joiner: publish single heartbeats until the subscriber sees one.
    await until(() => {
      pubPeer.command("heartbeat");
      return sb.stats().streams.length === 1;
    }, "the subscription");
    for (let round = 1; round <= 3; round++) {
      pubPeer.command("publish 10");
      sendPeer.command("send 10");
      await until(
        () => ticks.length === round * 10 && orders.length === round * 10,
        `round ${round}`,
      );
      await sendPeer.next((e) => e.event === "acked");
      if (round < 3) await sleep(3000);
    }
    assert.deepEqual(ticks, Array.from({ length: 30 }, (_, k) => k + 1));
    assert.deepEqual(orders, Array.from({ length: 30 }, (_, k) => k + 1));
  } finally {
    await stopAll([pubPeer, sendPeer]);
    await sub?.close();
    await receiver?.close();
  }
});

Deno.test("A burst of 100,000 PUB/SUB messages: each one arrives or is counted missed", async () => {
  const registry = new Registry();
  const peer = PeerProcess.start([
    "pub",
    "--endpoint",
    "bind:tcp://127.0.0.1:0",
    "--heartbeat-ms",
    "60000",
  ]);
  let sub: Subscriber | undefined;
  try {
    const { endpoint } = await ready(peer);
    sub = await Subscriber.open([endpoint], {
      pollMs: STRICT_POLL_MS,
      service: "test",
      name: "burst",
      registry,
    });
    const ticks: number[] = [];
    sub.onMessage((env) => {
      if (env.type === "tick") ticks.push((env.body as { i: number }).i);
    });
    const s = sub;
    await until(() => {
      peer.command("heartbeat");
      return s.stats().streams.length === 1;
    }, "the subscription");
    const before = s.stats().streams[0];
    peer.command("publish 100000");
    const done = await peer.next((e) => e.event === "published" && e.n === 100000, 30_000);
    // A heartbeat after the burst exposes a lost tail; repeat it in case it is dropped too.
    await until(
      () => {
        if (s.stats().streams[0].lastSeq >= done.seq) return true;
        peer.command("heartbeat");
        return false;
      },
      "the end of the burst",
      30_000,
    );
    const after = s.stats().streams[0];
    const received = after.received - before.received;
    const missed = after.missed - before.missed;
    // Every sequence number since the snapshot was either received or counted missed.
    assert.equal(received + missed, after.lastSeq - before.lastSeq);
    // Ticks arrive in order, and what arrived plus what was counted missed covers all sent.
    assert.ok(ticks.every((v, k) => k === 0 || v > ticks[k - 1]));
    assert.ok(
      ticks.length + missed >= 100_000,
      `${ticks.length} arrived, ${missed} counted missed`,
    );
    assert.equal(await metric(registry, MESSAGING_METRICS.missed), after.missed);
    console.log(`PUB/SUB burst: ${ticks.length} of 100000 arrived, ${missed} counted missed`);
  } finally {
    await stopAll([peer]);
    await sub?.close();
  }
});

// ---------------------------------------------------------------------------
// Gaps and malformed input (forged frames from a raw zeromq.js socket)

Deno.test("Subscriber counts a forged sequence jump as a gap, drops a replay, and treats a new epoch as a restart", async () => {
  const registry = new Registry();
  const { pub, sub, got } = await rawPublisherWithSubscriber(registry);
  try {
    for (const seq of [1, 2, 3, 7, 8, 8, 5]) {
      await pub.send(raw("forge", "md", 100, seq, "tick", { seq }));
    }
    for (const seq of [1, 2]) await pub.send(raw("forge", "md", 200, seq, "tick", { seq }));
    await until(() => got.length === 7, "7 deliveries");
    assert.deepEqual(got.map((e) => `${e.epoch}:${e.seq}`), [
      "100:1",
      "100:2",
      "100:3",
      "100:7",
      "100:8",
      "200:1",
      "200:2",
    ]);
    const st = sub.stats().streams.find((s) => s.pub === "forge/md")!;
    assert.deepEqual(
      { gaps: st.gaps, missed: st.missed, restarts: st.restarts, outOfOrder: st.outOfOrder },
      { gaps: 1, missed: 3, restarts: 1, outOfOrder: 2 },
    );
    assert.equal(await metric(registry, MESSAGING_METRICS.gaps, { channel: "forged" }), 1);
    assert.equal(await metric(registry, MESSAGING_METRICS.missed, { channel: "forged" }), 3);
    assert.equal(await metric(registry, MESSAGING_METRICS.restarts, { channel: "forged" }), 1);
    assert.equal(
      await metric(registry, MESSAGING_METRICS.dropped, {
        channel: "forged",
        reason: "out_of_order",
      }),
      2,
    );
  } finally {
    await sub.close();
    pub.close();
  }
});

Deno.test("Subscriber counts malformed frames and invalid bodies by reason and keeps running", async () => {
  const registry = new Registry();
  const Tick = z.object({ px: z.number() });
  const { pub, sub, got } = await rawPublisherWithSubscriber(registry, {
    types: ["tick"],
    schemas: { tick: (b) => Tick.parse(b) },
  });
  try {
    const random = crypto.getRandomValues(new Uint8Array(64));
    random[0] = 0xff; // never valid UTF-8 JSON
    await pub.send(random);
    await pub.send("not json at all");
    await pub.send(JSON.stringify({ v: 2, type: "tick" }));
    await pub.send(JSON.stringify({ v: 1, type: "tick" }));
    await pub.send(["two", "frames"]);
    await pub.send(raw("forge", "md", 1, 1, "tick", { px: "190.1" })); // schema
    await pub.send(raw("forge", "md", 1, 2, "other", { px: 1 })); // not in types: skipped
    await pub.send(raw("forge", "md", 1, 3, "tick", { px: 190.1 }));
    await until(() => got.length === 1, "the valid message");
    assert.deepEqual(got[0].body, { px: 190.1 });
    const reason = (r: string) =>
      metric(registry, MESSAGING_METRICS.decodeErrors, { channel: "forged", reason: r });
    assert.equal(await reason("not_json"), 2);
    assert.equal(await reason("unsupported_version"), 1);
    assert.equal(await reason("bad_envelope"), 1);
    assert.equal(await reason("bad_frames"), 1);
    assert.equal(await reason("schema"), 1);
    // "other" is outside the closed type set.
    assert.equal(
      await metric(registry, MESSAGING_METRICS.received, { channel: "forged", type: "unknown" }),
      1,
    );
    assert.equal(sub.stats().decodeErrors, 6);
    assert.equal(sub.stats().gaps, 0);
  } finally {
    await sub.close();
    pub.close();
  }
});

Deno.test("Subscriber counts handler errors and keeps delivering", async () => {
  const registry = new Registry();
  const pub = await Publisher.open("bind:tcp://127.0.0.1:0", {
    service: "t",
    name: "md",
    registry,
    heartbeatMs: 20,
  });
  const sub = await Subscriber.open([pub.endpoint], {
    pollMs: STRICT_POLL_MS,
    service: "t",
    name: "md",
    registry,
  });
  const seen: number[] = [];
  sub.onMessage(async (env) => {
    const i = (env.body as { i: number }).i;
    seen.push(i);
    if (i % 3 === 0) throw new Error("sync-ish failure");
    if (i % 3 === 1) return await Promise.reject(new Error("async failure"));
  });
  try {
    await until(() => sub.stats().streams.length === 1, "the subscription");
    for (let i = 0; i < 30; i++) pub.publish("tick", { i });
    await until(() => seen.length === 30, "30 deliveries");
    assert.equal(await metric(registry, MESSAGING_METRICS.handlerErrors, { channel: "md" }), 20);
    assert.equal(sub.stats().handlerErrors, 20);
    assert.throws(() => sub.onMessage(() => {}), /Cannot set a second handler on subscriber "md"/);
  } finally {
    await sub.close();
    await pub.close();
  }
});

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

// ---------------------------------------------------------------------------
// Reliable channel across processes

Deno.test("Reliable: a burst of 100,000 messages from a sender process arrives exactly once, in order", async () => {
  const registry = new Registry();
  const peer = PeerProcess.start(["send", "--endpoint", "bind:tcp://127.0.0.1:0"]);
  let receiver: ReliableReceiver | undefined;
  try {
    const { endpoint } = await ready(peer);
    receiver = await ReliableReceiver.open(endpoint, {
      pollMs: STRICT_POLL_MS,
      service: "test",
      name: "orders",
      registry,
    });
    let next = 1;
    let outOfOrder = 0;
    receiver.onMessage((env) => {
      if ((env.body as { i: number }).i !== next) outOfOrder++;
      next++;
    });
    peer.command("send 100000");
    await peer.next((e) => e.event === "acked" && e.n === 100000, 40_000);
    assert.equal(next - 1, 100_000);
    assert.equal(outOfOrder, 0);
    assert.equal(receiver.stats().delivered, 100_000);
    assert.equal(await metric(registry, MESSAGING_METRICS.received, { type: "order" }), 100_000);
  } finally {
    await stopAll([peer]);
    await receiver?.close();
  }
});

/** Runs a sender in this process and a receiver process that is replaced mid-stream. */
async function receiverRestart(signal: "SIGTERM" | "SIGKILL", total: number) {
  const registry = new Registry();
  const sender = await ReliableSender.open("bind:tcp://127.0.0.1:0", {
    pollMs: STRICT_POLL_MS,
    service: "test",
    name: "orders",
    registry,
    heartbeatMs: 100,
    resendMs: 500,
  });
  const startReceiver = () =>
    PeerProcess.start(["recv", "--endpoint", sender.endpoint, "--service", "recv", "--echo"]);
  const receivers = [startReceiver()];
  try {
    await ready(receivers[0]);
    const acks = Array.from({ length: total }, (_, k) => sender.send("order", { i: k + 1 }));
    await receivers[0].next((e) => e.event === "msg" && e.i >= total / 4);
    await receivers[0].stop(signal);
    receivers.push(startReceiver());
    await Promise.all(acks);
    assert.equal(sender.pending(), 0);
    await receivers[1].stop();
    const delivered = receivers.flatMap((r) =>
      r.events.filter((e) => e.event === "msg").map((e) => e.i as number)
    );
    return { delivered, resends: await metric(registry, MESSAGING_METRICS.resends) };
  } finally {
    await stopAll(receivers);
    await sender.close();
  }
}

Deno.test("Reliable: a receiver process restarted with SIGTERM mid-stream loses nothing and duplicates nothing", async () => {
  const total = 20_000;
  const { delivered } = await receiverRestart("SIGTERM", total);
  assert.equal(delivered.length, total);
  assert.ok(delivered.every((v, k) => v === k + 1), "exactly 1..N in order");
});

Deno.test("Reliable: a receiver process killed with SIGKILL mid-stream loses nothing (at least once)", async () => {
  const total = 20_000;
  const { delivered } = await receiverRestart("SIGKILL", total);
  const unique = new Set(delivered);
  assert.equal(unique.size, total);
  // Redelivery is limited to what the dead receiver handled but had not acknowledged.
  assert.ok(delivered.length - total <= 1000, `${delivered.length - total} redelivered`);
  // Each receiver saw its stream in order.
  const firstRedelivered = delivered.findIndex((v, k) => k > 0 && v <= delivered[k - 1]);
  const inOrder = (a: number[]) => a.every((v, k) => k === 0 || v === a[k - 1] + 1);
  if (firstRedelivered < 0) assert.ok(inOrder(delivered));
  else {
    assert.ok(inOrder(delivered.slice(0, firstRedelivered)));
    assert.ok(inOrder(delivered.slice(firstRedelivered)));
  }
});

Deno.test("Reliable: a journaled sender killed with unacknowledged messages resends them after restart, and its stream continues", async () => {
  const dir = await Deno.makeTempDir({ prefix: "messaging_test_" });
  const journal = `${dir}/orders.db`;
  const registry = new Registry();
  const args = [
    "send",
    "--endpoint",
    "bind:tcp://127.0.0.1:0",
    "--journal",
    journal,
    "--name",
    "orders",
  ];
  let first: PeerProcess | undefined = PeerProcess.start(args);
  let second: PeerProcess | undefined;
  let receiver: ReliableReceiver | undefined;
  try {
    const r1 = await ready(first);
    first.command("send 1000"); // no receiver yet: nothing is acknowledged
    const queued = await first.next((e) => e.event === "queued");
    assert.equal(queued.pending, 1000);
    await first.stop("SIGKILL");
    first = undefined;

    second = PeerProcess.start(args);
    const r2 = await ready(second);
    assert.equal(r2.pending, 1000);
    assert.equal(r2.epoch, r1.epoch);
    assert.equal(r2.seq, 1000);
    receiver = await ReliableReceiver.open(r2.endpoint, {
      pollMs: STRICT_POLL_MS,
      service: "test",
      name: "orders",
      registry,
    });
    const got: Envelope[] = [];
    receiver.onMessage((env) => {
      got.push(env);
    });
    await second.statsUntil((e) => e.pending === 0);
    second.command("send 500");
    await second.next((e) => e.event === "acked");
    assert.deepEqual(got.map((e) => e.seq), Array.from({ length: 1500 }, (_, k) => k + 1));
    assert.deepEqual(
      got.map((e) => (e.body as { i: number }).i),
      [
        ...Array.from({ length: 1000 }, (_, k) => k + 1),
        ...Array.from({ length: 500 }, (_, k) => k + 1),
      ],
    );
    assert.ok(got.every((e) => e.epoch === r1.epoch));
    assert.equal(receiver.stats().duplicates, 0);
  } finally {
    await stopAll([first, second]);
    await receiver?.close();
    await Deno.remove(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------------------
// Reliable channel in one process

Deno.test("ReliableReceiver acknowledges after the handler settles, counts handler errors and does not redeliver", async () => {
  const registry = new Registry();
  const sender = await ReliableSender.open("bind:tcp://127.0.0.1:0", {
    pollMs: STRICT_POLL_MS,
    service: "t",
    name: "orders",
    registry,
  });
  const receiver = await ReliableReceiver.open(sender.endpoint, {
    pollMs: STRICT_POLL_MS,
    service: "t2",
    name: "orders",
    registry,
  });
  const seen: number[] = [];
  let handled = 0;
  receiver.onMessage(async (env) => {
    const i = (env.body as { i: number }).i;
    seen.push(i);
    await sleep(1);
    handled++;
    if (i === 3) throw new Error("handler failed");
  });
  try {
    const env = await sender.send("order", { i: 1 }, "a".repeat(32));
    // The ack came after the handler finished.
    assert.equal(handled, 1);
    assert.equal(env.trace, "a".repeat(32));
    assert.equal(env.seq, 1);
    assert.ok(Object.isFrozen(env));
    await Promise.all([2, 3, 4, 5].map((i) => sender.send("order", { i })));
    assert.deepEqual(seen, [1, 2, 3, 4, 5]);
    assert.equal(await metric(registry, MESSAGING_METRICS.handlerErrors, { service: "t2" }), 1);
    assert.equal(sender.pending(), 0);
  } finally {
    await receiver.close();
    await sender.close();
  }
});

Deno.test("ReliableReceiver delivers a resent message once: duplicates are acknowledged, not redelivered", async () => {
  const registry = new Registry();
  // A raw DEALER plays a sender that resends.
  const receiver = await ReliableReceiver.open("bind:tcp://127.0.0.1:0", {
    pollMs: STRICT_POLL_MS,
    service: "t",
    name: "orders",
    registry,
    lingerMs: 50, // the raw DEALER never answers the close handshake
  });
  const got: number[] = [];
  receiver.onMessage((env) => {
    got.push(env.seq);
  });
  const dealer = new zmq.Dealer({ sendTimeout: 0, receiveTimeout: 0, linger: 0 });
  dealer.connect(receiver.endpoint);
  try {
    const msg = (
      seq: number,
    ) => [`{"k":"msg","base":1}`, raw("raw", "orders", 7, seq, "order", { seq })];
    for (const seq of [1, 2, 2, 1, 3, 5, 4, 5]) await dealer.send(msg(seq));
    await until(() => got.length >= 5, "5 deliveries");
    await sleep(50); // let any wrong redelivery show up
    assert.deepEqual(got, [1, 2, 3, 4, 5]);
    assert.equal(receiver.stats().duplicates, 2);
  } finally {
    dealer.close();
    await receiver.close();
  }
});

Deno.test("ReliableSender waits while ZeroMQ's queue is full and resumes when it drains (bound receiver, slow handler)", async () => {
  const registry = new Registry();
  const receiver = await ReliableReceiver.open("bind:tcp://127.0.0.1:0", {
    pollMs: STRICT_POLL_MS,
    service: "t",
    name: "orders",
    registry,
    highWaterMark: 10,
  });
  const sender = await ReliableSender.open(`connect:${receiver.endpoint}`, {
    pollMs: STRICT_POLL_MS,
    service: "t",
    name: "orders",
    registry,
    highWaterMark: 10,
    window: 5000,
  });
  const got: number[] = [];
  receiver.onMessage(async (env) => {
    got.push((env.body as { i: number }).i);
    if (got.length % 100 === 0) await sleep(1); // slower than the sender
  });
  try {
    const acks = Array.from({ length: 3000 }, (_, k) => sender.send("order", { i: k + 1 }));
    await Promise.all(acks);
    assert.deepEqual(got, Array.from({ length: 3000 }, (_, k) => k + 1));
    assert.equal(sender.pending(), 0);
  } finally {
    await receiver.close();
    await sender.close();
  }
});

// ---------------------------------------------------------------------------
// Close paths

Deno.test("close(): a subscriber waits for the running handler, delivers nothing after, and can be closed twice", async () => {
  const registry = new Registry();
  const pub = await Publisher.open("bind:tcp://127.0.0.1:0", {
    service: "t",
    name: "md",
    registry,
    heartbeatMs: 10,
  });
  const sub = await Subscriber.open([pub.endpoint], {
    pollMs: STRICT_POLL_MS,
    service: "t",
    name: "md",
    registry,
  });
  let running = 0;
  let finished = 0;
  let afterClose = 0;
  let closed = false;
  sub.onMessage(async (env) => {
    if (env.type !== "tick") return;
    if (closed) afterClose++;
    running++;
    await sleep(50);
    finished++;
  });
  await until(() => sub.stats().streams.length === 1, "the subscription");
  for (let i = 0; i < 100; i++) pub.publish("tick", { i });
  await until(() => running > 0, "a running handler");
  await sub.close();
  closed = true;
  assert.equal(finished, running);
  await sub.close();
  await sleep(30);
  assert.equal(afterClose, 0);
  await pub.close();
  await pub.close();
  assert.throws(() => pub.publish("tick", {}), /Cannot publish "tick": publisher "md" is closed/);
  assert.throws(() => sub.onMessage(() => {}), /subscriber "md" is closed/);
});

Deno.test("close(): a reliable sender with no receiver gives up after closeTimeoutMs and rejects what was not acknowledged", async () => {
  const registry = new Registry();
  const sender = await ReliableSender.open("bind:tcp://127.0.0.1:0", {
    pollMs: STRICT_POLL_MS,
    service: "t",
    name: "orders",
    registry,
    closeTimeoutMs: 100,
  });
  const a = sender.send("order", { i: 1 });
  const b = sender.send("order", { i: 2 });
  assert.equal(sender.pending(), 2);
  await sender.close();
  await assert.rejects(
    a,
    /Cannot confirm delivery of seq 1: reliable sender "orders" closed before the ack/,
  );
  await assert.rejects(b, /seq 2/);
  await assert.rejects(sender.send("order", {}), /reliable sender "orders" is closed/);
  assert.equal(await metric(registry, MESSAGING_METRICS.dropped, { reason: "closed" }), 2);
  await sender.close();
});

Deno.test("close(): sockets that never got a handler close cleanly", async () => {
  const registry = new Registry();
  const receiver = await ReliableReceiver.open("bind:tcp://127.0.0.1:0", {
    pollMs: STRICT_POLL_MS,
    service: "t",
    name: "r",
    registry,
  });
  const sub = await Subscriber.open(["bind:tcp://127.0.0.1:0"], {
    pollMs: STRICT_POLL_MS,
    service: "t",
    name: "s",
    registry,
  });
  await receiver.close();
  await sub.close();
  await receiver.close();
});
