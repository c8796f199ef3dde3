import assert from "node:assert/strict";
import { Registry } from "prom-client";
import { MESSAGING_METRICS, type ReliableReceiver } from "./mod.ts";
import { PeerProcess } from "../testing/peer_process.ts";
import { nowMs } from "../clock.ts";
import { TRANSIT_SECONDS_BUCKETS } from "../metrics.ts";
import {
  collect,
  histogram,
  metric,
  openReceiver,
  openReliablePair,
  openSender,
  raw,
  rawDealer,
  ready,
  sleep,
  stopAll,
  until,
} from "../testing/messaging.ts";

Deno.test("Reliable: a burst of 100,000 messages from a sender process arrives exactly once, in order", async () => {
  const registry = new Registry();
  const peer = PeerProcess.start(["send", "--endpoint", "bind:tcp://127.0.0.1:0"]);
  let receiver: ReliableReceiver | undefined;
  try {
    const { endpoint } = await ready(peer);
    receiver = await openReceiver(registry, {
      service: "test",
      name: "orders",
      sender: "peer-send/test",
    }, endpoint);
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
  const sender = await openSender(registry, {
    service: "test",
    name: "orders",
    heartbeatMs: 100,
    resendMs: 500,
  });
  const startReceiver = () =>
    PeerProcess.start([
      "recv",
      "--endpoint",
      sender.endpoint,
      "--service",
      "recv",
      "--sender",
      sender.pub,
      "--echo",
    ]);
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

Deno.test("ReliableReceiver acknowledges after the handler settles, counts handler errors and does not redeliver", async () => {
  const registry = new Registry();
  const { sender, receiver } = await openReliablePair(
    registry,
    "orders",
    { service: "t" },
    { service: "t2" },
  );
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

/** The receiver that the raw DEALERs below feed: "t" on channel "orders", bound on a free port. */
const rawDealersReceiver = (registry: Registry) =>
  openReceiver(registry, {
    service: "t",
    name: "orders",
    lingerMs: 50, // the raw DEALER never answers the close handshake
  });

Deno.test("ReliableReceiver delivers a resent message once: duplicates are acknowledged, not redelivered", async () => {
  const registry = new Registry();
  // A raw DEALER plays a sender that resends.
  const receiver = await rawDealersReceiver(registry);
  const got = collect(receiver, (env) => env.seq);
  // Named as the stream it speaks for: a stream belongs to the connection of its pub.
  const dealer = rawDealer("raw/orders", receiver.endpoint);
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

Deno.test("ReliableReceiver opens with its transit series at 0 and observes each message once: a future stamp as 0, nothing for a resend, a heartbeat or a bad frame", async () => {
  const registry = new Registry();
  const receiver = await rawDealersReceiver(registry);
  const transit = () =>
    histogram(registry, MESSAGING_METRICS.transit, { service: "t", channel: "orders" });
  const dealer = rawDealer("raw/orders");
  try {
    const opened = await transit();
    assert.equal(Object.keys(opened.buckets).length, TRANSIT_SECONDS_BUCKETS.length + 1);
    assert.deepEqual(
      { count: opened.count, sum: opened.sum, max: Math.max(...Object.values(opened.buckets)) },
      { count: 0, sum: 0, max: 0 },
    );
    const got = collect(receiver, (env) => env.seq);
    dealer.connect(receiver.endpoint);
    const msg = (seq: number, ts: number) => [
      `{"k":"msg","base":1}`,
      raw("raw", "orders", 7, seq, "order", { seq }, ts),
    ];
    await dealer.send(msg(1, nowMs() - 400)); // (250 ms, 1 s]
    await dealer.send(msg(1, nowMs() - 400)); // a resend of what was delivered: not observed
    await dealer.send(JSON.stringify({ k: "hb", pub: "raw/orders", epoch: 7, base: 1, sent: 1 }));
    await dealer.send(`{"k":"msg","base":1}`); // a data header without its envelope
    await dealer.send(msg(2, nowMs() + 60_000)); // the sender's clock a minute ahead: 0
    await dealer.send(msg(3, nowMs() - 2000)); // (1, 5] s
    await until(() => got.length === 3, "three deliveries");
    const h = await transit();
    assert.deepEqual(
      Object.fromEntries(Object.entries(h.buckets).filter(([, c]) => c > 0)),
      { "0.000025": 1, "1": 1, "5": 1 },
    );
    assert.equal(h.count, 3);
    assert.ok(h.sum >= 2.4 && h.sum < 2.4 + 0.3, `sum ${h.sum} s: the future stamp adds 0`);
    assert.equal(receiver.stats().duplicates, 1);
    assert.equal(await metric(registry, MESSAGING_METRICS.decodeErrors, { channel: "orders" }), 1);
  } finally {
    dealer.close();
    await receiver.close();
  }
});

// ---------------------------------------------------------------------------
// Frames that claim another connection's stream

Deno.test("ReliableReceiver refuses a stream claimed by another connection and a base that jumps past what it delivered", async () => {
  const registry = new Registry();
  const receiver = await openReceiver(registry, { service: "rm", name: "execution_reports" });
  const got = collect(receiver, (env) => env.seq);
  const real = rawDealer("ee/execution_reports", receiver.endpoint);
  const forger = rawDealer("intruder", receiver.endpoint);
  const data = (seq: number, base = 1) => [
    `{"k":"msg","base":${base}}`,
    raw("ee", "execution_reports", 7, seq, "execution_report", { seq }),
  ];
  const hb = (base: number, sent: number) =>
    JSON.stringify({ k: "hb", pub: "ee/execution_reports", epoch: 7, base, sent });
  const refused = (reason: string) =>
    metric(registry, MESSAGING_METRICS.controlRefused, { reason });
  try {
    for (const seq of [1, 2]) await real.send(data(seq));
    await until(() => got.length === 2, "the real stream's first two messages");
    // The attack: a forged heartbeat with the real stream's epoch and a huge base.
    await forger.send(hb(1_000_000, 1_000_000));
    await forger.send(data(3, 3));
    // The same jump on the real connection is refused too: only this receiver acks.
    await real.send(hb(1_000_000, 1_000_000));
    await until(
      async () =>
        (await refused("wrong_publisher")) === 2 && (await refused("sequence_jump")) === 1,
      "the forgeries refused",
    );
    for (const seq of [3, 4]) await real.send(data(seq));
    await until(() => got.length === 4, "the real stream continues");
    assert.deepEqual(got, [1, 2, 3, 4]);
    assert.equal(receiver.stats().duplicates, 0);
  } finally {
    real.close();
    forger.close();
    await receiver.close();
  }
});

Deno.test("ReliableReceiver acknowledges only once beforeAck made the handled messages durable", async () => {
  const registry = new Registry();
  let durable = false;
  let asked = 0;
  const { sender, receiver } = await openReliablePair(
    registry,
    "orders",
    { service: "test", heartbeatMs: 50, resendMs: 100 },
    {
      service: "test",
      heartbeatMs: 50,
      beforeAck: () => {
        asked++;
        return durable;
      },
    },
  );
  const handled = collect(receiver, (env) => (env.body as { i: number }).i);
  try {
    let acked = false;
    const send = sender.send("order", { i: 1 }).then(() => acked = true);
    await until(() => handled.length >= 1 && asked >= 3, "handled, asked several times");
    assert.equal(acked, false, "not durable: not acknowledged");
    assert.equal(sender.pending(), 1);
    durable = true;
    await send;
    assert.equal(acked, true);
    assert.deepEqual(handled, [1], "handled once: the resends were duplicates");
  } finally {
    await receiver.close();
    await sender.close();
  }
});
