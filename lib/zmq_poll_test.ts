import assert from "node:assert/strict";
import * as zmq from "zeromq";
import { FdWaiter, socketFd, SocketPoller } from "./zmq_poll.ts";

/** Polls `cond` every 5 ms until it holds or `timeoutMs` passes. */
async function until(cond: () => boolean, timeoutMs = 5000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function pullPush(): Promise<{ pull: zmq.Pull; push: zmq.Push }> {
  const pull = new zmq.Pull({ receiveTimeout: 0, linger: 0 });
  await pull.bind("tcp://127.0.0.1:0");
  const push = new zmq.Push({ sendTimeout: 0, linger: 0 });
  push.connect(pull.lastEndpoint!);
  return { pull, push };
}

Deno.test("socketFd() returns the socket's ZMQ_FD", () => {
  const sock = new zmq.Pull({ linger: 0 });
  try {
    const fd = socketFd(sock);
    assert.ok(Number.isInteger(fd) && fd > 2);
  } finally {
    sock.close();
  }
});

Deno.test("FdWaiter.wait() times out on a quiet fd and returns early on wake()", async () => {
  const sock = new zmq.Pull({ linger: 0 });
  const waiter = new FdWaiter(socketFd(sock));
  try {
    // Drain the initial signal state, then a quiet socket times out.
    assert.equal(sock.readable, false);
    await waiter.wait(0);
    assert.equal(await waiter.wait(20), false);
    const pending = waiter.wait(10_000);
    assert.equal(waiter.waiting, true);
    waiter.wake();
    assert.equal(await pending, false); // woken, not readable
    await assert.rejects(
      Promise.all([waiter.wait(50), waiter.wait(50)]),
      /a wait is already pending/,
    );
    await until(() => !waiter.waiting);
  } finally {
    waiter.close();
    sock.close();
  }
});

Deno.test("SocketPoller delivers every message to a bound PULL, across idle periods", async () => {
  const { pull, push } = await pullPush();
  const got: string[] = [];
  // No safety-net timeout: every message must come from a real wake-up.
  const poller = SocketPoller.start(pull, async () => {
    while (pull.readable) got.push(String((await pull.receive())[0]));
  }, { maxWaitMs: 60_000 });
  try {
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 1000; i++) await push.send(`${round}:${i}`);
      await until(() => got.length === (round + 1) * 1000, 5000, `round ${round}`);
      // Idle so the loop goes back to waiting on the fd.
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.deepEqual(got.slice(0, 3), ["0:0", "0:1", "0:2"]);
    assert.equal(got.at(-1), "2:999");
  } finally {
    await poller.stop();
    pull.close();
    push.close();
  }
});

Deno.test("SocketPoller keeps running when its body throws", async () => {
  const { pull, push } = await pullPush();
  const errors: unknown[] = [];
  let calls = 0;
  const poller = SocketPoller.start(pull, async () => {
    calls++;
    while (pull.readable) await pull.receive();
    if (calls <= 2) throw new Error("boom");
  }, { onError: (e) => errors.push(e), maxWaitMs: 10 });
  try {
    await push.send("x");
    await until(() => calls > 3);
    assert.equal(errors.length, 2);
  } finally {
    await poller.stop();
    pull.close();
    push.close();
  }
});

Deno.test("SocketPoller.stop() ends a pending wait at once and is idempotent", async () => {
  const sock = new zmq.Pull({ receiveTimeout: 0, linger: 0 });
  const poller = SocketPoller.start(sock, () => 60_000, { maxWaitMs: 60_000 });
  await new Promise((r) => setTimeout(r, 20));
  const t0 = performance.now();
  await poller.stop();
  await poller.stop();
  assert.ok(poller.stopping);
  // Not a timing assertion on the system under test: a bound that only a
  // missed wake-up (a 60 s wait) could exceed.
  assert.ok(performance.now() - t0 < 30_000);
  sock.close();
});

Deno.test("SocketPoller calls its body again without polling when it returns 0", async () => {
  const sock = new zmq.Pull({ receiveTimeout: 0, linger: 0 });
  let calls = 0;
  const poller = SocketPoller.start(sock, () => (++calls < 50 ? 0 : undefined), {
    maxWaitMs: 60_000,
  });
  try {
    await until(() => calls >= 50);
  } finally {
    await poller.stop();
    sock.close();
  }
});
