import assert from "node:assert/strict";
import { Registry } from "prom-client";
import { Publisher, ReliableSender, Subscriber } from "./mod.ts";
import { STRICT_POLL_MS } from "../testing/messaging.ts";

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
