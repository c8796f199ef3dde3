import assert from "node:assert/strict";
import * as zmq from "zeromq";
import { Registry } from "prom-client";
import { MESSAGING_METRICS, ReliableReceiver, ReliableSender } from "./mod.ts";
import { PeerProcess } from "../testing/peer_process.ts";
import { metric, raw, ready, sleep, stopAll, STRICT_POLL_MS, until } from "../testing/messaging.ts";

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
