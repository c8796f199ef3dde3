import assert from "node:assert/strict";
import { Registry } from "prom-client";
import { TRANSIT_SECONDS_BUCKETS } from "../metrics.ts";
import { MESSAGING_METRICS, type ReliableReceiver, type Subscriber } from "./mod.ts";
import { PeerProcess } from "../testing/peer_process.ts";
import {
  collect,
  openReceiver,
  openSubscriber,
  ready,
  sleep,
  stopAll,
  until,
} from "../testing/messaging.ts";

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
    sub = await openSubscriber(registry, { service: "test", name: "md" }, [p.endpoint]);
    receiver = await openReceiver(registry, {
      service: "test",
      name: "orders",
      sender: s.pub,
    }, s.endpoint);
    const ticks: number[] = [];
    sub.onMessage((env) => {
      if (env.type === "tick") ticks.push((env.body as { i: number }).i);
    });
    const orders = collect(receiver, (env) => (env.body as { i: number }).i);
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

Deno.test("close(): sockets that never got a handler close cleanly", async () => {
  const registry = new Registry();
  const receiver = await openReceiver(registry, { service: "t", name: "r" });
  const sub = await openSubscriber(registry, { service: "t", name: "s" });
  await receiver.close();
  await sub.close();
  await receiver.close();
});

Deno.test("Both receivers export their transit histogram at 0 from the moment they open, and keep it after close", async () => {
  const registry = new Registry();
  const receiver = await openReceiver(registry, { service: "t", name: "r" });
  const sub = await openSubscriber(registry, { service: "t", name: "s" });
  const series = async (channel: string) => {
    const lines = (await registry.metrics()).split("\n").filter((l) =>
      l.startsWith(`${MESSAGING_METRICS.transit}_`) && l.includes(`channel="${channel}"`)
    );
    assert.ok(lines.every((l) => l.endsWith(" 0")), lines.join("\n"));
    return lines.length;
  };
  try {
    // Every bucket, +Inf included, then _sum and _count: before any handler or message.
    for (const channel of ["r", "s"]) {
      assert.equal(await series(channel), TRANSIT_SECONDS_BUCKETS.length + 3, channel);
    }
  } finally {
    await receiver.close();
    await sub.close();
  }
  for (const channel of ["r", "s"]) {
    assert.equal(await series(channel), TRANSIT_SECONDS_BUCKETS.length + 3, channel);
  }
});
