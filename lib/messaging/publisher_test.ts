import assert from "node:assert/strict";
import * as zmq from "zeromq";
import { Registry } from "prom-client";
import { decodeFrame, type Envelope } from "../envelope.ts";
import { SocketPoller } from "../zmq_poll.ts";
import { Publisher, Subscriber } from "./mod.ts";
import { sleep, STRICT_POLL_MS, until } from "../testing/messaging.ts";

/** A bare SUB that keeps every frame it receives, as bytes. */
function rawFrames(endpoint: string) {
  const sub = new zmq.Subscriber({ receiveTimeout: 0, linger: 0 });
  sub.connect(endpoint);
  sub.subscribe();
  const frames: Uint8Array[][] = [];
  const poller = SocketPoller.start(sub, async () => {
    while (sub.readable) frames.push(await sub.receive());
  }, { maxWaitMs: 50 });
  return {
    frames,
    async close() {
      await poller.stop();
      sub.close();
    },
  };
}

/** Publishes heartbeat-free warm-ups until the subscriber sees one, then forgets them. */
async function joined(pub: Publisher, frames: Uint8Array[][]): Promise<void> {
  await until(() => {
    pub.publish("warm", {});
    return frames.length > 0;
  }, "the subscription");
  await sleep(50);
  frames.length = 0;
}

Deno.test("Publisher with maxBatchBytes sends what one synchronous run publishes as one frame", async () => {
  const pub = await Publisher.open("bind:tcp://127.0.0.1:0", {
    service: "test",
    name: "batch",
    registry: new Registry(),
    maxBatchBytes: 16_384,
    heartbeatMs: 60_000,
  });
  const raw = rawFrames(pub.endpoint);
  try {
    await joined(pub, raw.frames);
    const first = pub.sequence + 1;
    for (let i = 0; i < 50; i++) pub.publish("tick", { i });
    await until(() => raw.frames.length >= 1, "the batch");
    await sleep(50);
    assert.equal(raw.frames.length, 1, "one frame for the whole run");
    assert.equal(raw.frames[0].length, 1, "one ZeroMQ part");
    const records = decodeFrame(raw.frames[0][0]);
    assert.deepEqual(
      records.map((r) => r.env.seq),
      Array.from({ length: 50 }, (_, i) => first + i),
    );
    assert.deepEqual(records.map((r) => (r.env.body as { i: number }).i), [...Array(50).keys()]);
  } finally {
    await raw.close();
    await pub.close();
  }
});

Deno.test("Publisher cuts a batch at maxBatchBytes, and without it sends each message alone", async () => {
  for (const maxBatchBytes of [1000, undefined]) {
    const pub = await Publisher.open("bind:tcp://127.0.0.1:0", {
      service: "test",
      name: "cut",
      registry: new Registry(),
      maxBatchBytes,
      heartbeatMs: 60_000,
    });
    const raw = rawFrames(pub.endpoint);
    try {
      await joined(pub, raw.frames);
      for (let i = 0; i < 40; i++) pub.publish("tick", { i, pad: "x".repeat(60) });
      await until(() => raw.frames.flat().length > 0, "frames");
      await sleep(100);
      const counts = raw.frames.map((f) => decodeFrame(f[0]).length);
      assert.equal(counts.reduce((a, b) => a + b, 0), 40, `${maxBatchBytes}: every message`);
      if (maxBatchBytes === undefined) {
        assert.ok(counts.every((n) => n === 1), "one message per frame");
      } else {
        assert.ok(counts.length > 1 && counts.some((n) => n > 1), `cut: ${counts}`);
        for (const f of raw.frames) {
          // A frame is cut once its records reach the limit: at most one record beyond it.
          const bytes = Uint8Array.fromBase64(new TextDecoder().decode(f[0])).length;
          assert.ok(bytes < maxBatchBytes + 200, `${bytes} bytes`);
        }
      }
    } finally {
      await raw.close();
      await pub.close();
    }
  }
});

Deno.test("Subscriber delivers a batch in order, waiting for an async handler between its messages", async () => {
  const registry = new Registry();
  const pub = await Publisher.open("bind:tcp://127.0.0.1:0", {
    service: "test",
    name: "batched",
    registry,
    maxBatchBytes: 16_384,
  });
  const sub = await Subscriber.open([pub.endpoint], {
    service: "test",
    name: "batched",
    registry,
    pollMs: STRICT_POLL_MS,
  });
  const got: number[] = [];
  let inside = 0;
  let overlapped = false;
  sub.onMessage(async (env: Envelope) => {
    if (env.type !== "tick") return;
    inside++;
    if (inside > 1) overlapped = true;
    await sleep(1);
    got.push((env.body as { i: number }).i);
    inside--;
  });
  try {
    await until(() => {
      pub.publish("warm", {});
      return sub.stats().received > 0;
    }, "the subscription");
    for (let i = 0; i < 20; i++) pub.publish("tick", { i });
    await until(() => got.length === 20, "the batch");
    assert.deepEqual(got, [...Array(20).keys()]);
    assert.equal(overlapped, false, "one message at a time");
    assert.equal(sub.stats().gaps, 0);
  } finally {
    await sub.close();
    await pub.close();
  }
});
