import assert from "node:assert/strict";
import * as zmq from "zeromq";
import { bindRetrying } from "./bind.ts";

Deno.test("bindRetrying() takes an address a socket closed a moment ago, every time", async () => {
  const first = new zmq.Publisher({ linger: 0 });
  await first.bind("tcp://127.0.0.1:0");
  const address = first.lastEndpoint!;
  first.close();
  for (let i = 0; i < 20; i++) {
    const again = new zmq.Publisher({ linger: 0 });
    await bindRetrying(again, address);
    assert.equal(again.lastEndpoint, address);
    again.close();
  }
});

Deno.test("bindRetrying() gives up on an address a live socket holds, after its retry time", async () => {
  const holder = new zmq.Publisher({ linger: 0 });
  await holder.bind("tcp://127.0.0.1:0");
  const other = new zmq.Publisher({ linger: 0 });
  try {
    const started = performance.now();
    await assert.rejects(() => bindRetrying(other, holder.lastEndpoint!, 300), /in use/i);
    assert.ok(performance.now() - started >= 250, "it kept trying for its retry time");
  } finally {
    other.close();
    holder.close();
  }
});

Deno.test("bindRetrying() throws at once an error that waiting cannot cure", async () => {
  const s = new zmq.Publisher({ linger: 0 });
  try {
    const started = performance.now();
    await assert.rejects(() => bindRetrying(s, "tcp://203.0.113.1:5"), /./);
    assert.ok(performance.now() - started < 250);
  } finally {
    s.close();
  }
});
