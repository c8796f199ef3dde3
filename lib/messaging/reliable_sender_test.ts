import assert from "node:assert/strict";
import * as zmq from "zeromq";
import { Registry } from "prom-client";
import { DatabaseSync } from "node:sqlite";
import { MESSAGING_METRICS, type ReliableReceiver } from "./mod.ts";
import { PeerProcess } from "../testing/peer_process.ts";
import { removeDir } from "../testing/tools.ts";
import { GroupCommit } from "../group_commit.ts";
import {
  collect,
  metric,
  openReceiver,
  openReliablePair,
  openSender,
  ready,
  sleep,
  stopAll,
  until,
} from "../testing/messaging.ts";

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
    receiver = await openReceiver(registry, {
      service: "test",
      name: "orders",
      sender: r2.pub,
    }, r2.endpoint);
    const got = collect(receiver, (env) => env);
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
    await removeDir(dir);
  }
});

Deno.test("ReliableSender waits while ZeroMQ's queue is full and resumes when it drains (bound receiver, slow handler)", async () => {
  const registry = new Registry();
  const { sender, receiver } = await openReliablePair(
    registry,
    "orders",
    { service: "t", highWaterMark: 10, window: 5000 },
    { service: "t", highWaterMark: 10 },
    "receiver",
  );
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

Deno.test("close(): a reliable sender with no receiver gives up after closeTimeoutMs and rejects what was not acknowledged", async () => {
  const registry = new Registry();
  const sender = await openSender(registry, { service: "t", name: "orders", closeTimeoutMs: 100 });
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

// ---------------------------------------------------------------------------
// A peer that is not the receiver

/** A raw ROUTER that connects to a bound sender under `name` and reads what it gets. */
function rawReceiver(endpoint: string, name: string) {
  const sock = new zmq.Router({
    routingId: name,
    mandatory: true,
    sendTimeout: 0,
    receiveTimeout: 0,
    linger: 0,
  });
  sock.connect(endpoint, { routingId: "sender" });
  const got: string[][] = [];
  const read = async () => {
    while (sock.readable) got.push((await sock.receive()).map((f) => new TextDecoder().decode(f)));
  };
  const send = (frame: string) => sock.send(["sender", frame]);
  return { sock, got, read, send };
}

Deno.test("ReliableSender sends only to the receiver it selected: another peer gets nothing and its frames are refused", async () => {
  const registry = new Registry();
  const { sender, receiver } = await openReliablePair(
    registry,
    "orders",
    { service: "rm", heartbeatMs: 50 },
    { service: "ee", heartbeatMs: 50 },
  );
  const got = collect(receiver, (env) => (env.body as { i: number }).i);
  const rogue = rawReceiver(sender.endpoint, "rogue");
  try {
    await sender.send("order", { i: 1 }); // the real receiver is selected and acks
    for (let k = 0; k < 20; k++) await rogue.send('{"k":"hello"}');
    const stream = `"pub":"${sender.pub}","epoch":${sender.epoch}`;
    await rogue.send(`{"k":"ack","upto":50,${stream}}`);
    const acks = Array.from({ length: 50 }, (_, k) => sender.send("order", { i: k + 2 }));
    await Promise.all(acks);
    await until(
      async () =>
        (await metric(registry, MESSAGING_METRICS.controlRefused, {
          reason: "unknown_peer",
        })) >= 21,
      "the rogue's frames refused",
    );
    await rogue.read();
    assert.deepEqual(got, Array.from({ length: 51 }, (_, k) => k + 1));
    assert.equal(rogue.got.length, 0, "the rogue received nothing");
    assert.equal(sender.pending(), 0);
  } finally {
    rogue.sock.close();
    await receiver.close();
    await sender.close();
  }
});

Deno.test("ReliableSender refuses an ack or nack beyond what it sent, and a null control frame is a counted decode error", async () => {
  const registry = new Registry();
  const sender = await openSender(registry, { service: "rm", name: "orders", heartbeatMs: 50 });
  const peer = rawReceiver(sender.endpoint, "ee");
  try {
    await peer.send('{"k":"hello"}'); // selects the raw peer
    const pending = [1, 2, 3].map((i) => sender.send("order", { i }));
    await until(async () => {
      await peer.read();
      return peer.got.filter((f) => f.length === 3).length >= 3;
    }, "three orders at the peer");
    const stream = `"pub":"${sender.pub}","epoch":${sender.epoch}`;
    await peer.send(`{"k":"ack","upto":1000000,${stream}}`);
    await peer.send(`{"k":"nack","from":999,${stream}}`);
    await peer.send("null");
    await until(
      async () =>
        (await metric(registry, MESSAGING_METRICS.controlRefused, { reason: "sequence_jump" })) ===
          2 &&
        (await metric(registry, MESSAGING_METRICS.decodeErrors, { reason: "not_json" })) === 1,
      "the refusals counted",
    );
    assert.equal(sender.pending(), 3, "nothing was acknowledged away");
    await peer.send(`{"k":"ack","upto":3,${stream}}`);
    await Promise.all(pending);
    assert.equal(sender.pending(), 0);
  } finally {
    peer.sock.close();
    await sender.close();
  }
});

Deno.test("ReliableSender.receiverLive is true only while a selected receiver talks to it", async () => {
  const registry = new Registry();
  const sender = await openSender(registry, {
    service: "rm",
    name: "orders",
    heartbeatMs: 50,
    peerTimeoutMs: 300,
  });
  let receiver: ReliableReceiver | undefined;
  try {
    assert.equal(sender.receiverLive, false, "no receiver yet");
    receiver = await openReceiver(registry, {
      service: "ee",
      name: "orders",
      sender: sender.pub,
      heartbeatMs: 50,
    }, sender.endpoint);
    receiver.onMessage(() => {});
    await until(() => Promise.resolve(sender.receiverLive), "the receiver selected");
    await receiver.close();
    receiver = undefined;
    await until(() => Promise.resolve(!sender.receiverLive), "the receiver gone");
  } finally {
    await receiver?.close();
    await sender.close();
  }
});

for (const mode of ["own file", "shared database"] as const) {
  Deno.test(`ReliableSender whose journal rolled back (${mode}) starts a new epoch instead of reusing seqs the receiver dropped as duplicates`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "messaging_test_" });
    const journalPath = `${dir}/orders.sqlite`;
    const registry = new Registry();
    // A receiver bound where the sender connects keeps its stream across the sender's restarts.
    const bound = await openReceiver(registry, { service: "ee", name: "orders" });
    let shared: { db: DatabaseSync; group: GroupCommit } | undefined;
    const openConnecting = () => {
      if (mode === "shared database") {
        const db = new DatabaseSync(journalPath);
        db.exec("PRAGMA journal_mode = WAL");
        shared = { db, group: new GroupCommit(db) };
      }
      return openSender(registry, {
        service: "rm",
        name: "orders",
        heartbeatMs: 50,
        ...(shared ? { journalDb: shared } : { journalPath }),
      }, `connect:${bound.endpoint}`);
    };
    const got = collect(bound, (env) => (env.body as { i: number }).i);
    let sender = await openConnecting();
    try {
      const epoch = sender.epoch;
      await Promise.all(Array.from({ length: 10 }, (_, k) => sender.send("order", { i: k + 1 })));
      assert.equal(got.length, 10);
      await sender.close();
      shared?.db.close();
      // Power loss: the last commits of the journal are gone (it says 5 were sent).
      const db = new DatabaseSync(journalPath);
      db.exec("PRAGMA busy_timeout = 5000");
      const meta = mode === "shared database" ? "outbox_meta" : "meta";
      db.exec(`UPDATE ${meta} SET value = '5' WHERE key = 'last_seq'`);
      db.close();
      sender = await openConnecting();
      assert.equal(sender.epoch, epoch);
      const sent = Promise.all([11, 12, 13].map((i) => sender.send("order", { i })));
      await until(() => Promise.resolve(got.length >= 13), "the three new messages delivered");
      await sent;
      assert.deepEqual(got.slice(10), [11, 12, 13], "delivered, not dropped as duplicates");
      assert.ok(sender.epoch > epoch, "a new epoch");
      assert.equal(sender.sequence, 3);
    } finally {
      await sender.close();
      shared?.db.close();
      await bound.close();
      await removeDir(dir);
    }
  });
}

Deno.test("ReliableSender journaled in a shared database sends a message only once the caller's commit holding it is durable", async () => {
  const dir = await Deno.makeTempDir({ prefix: "messaging_test_" });
  const path = `${dir}/state.sqlite`;
  const db = new DatabaseSync(path);
  db.exec("PRAGMA journal_mode = WAL; CREATE TABLE decisions (id TEXT PRIMARY KEY)");
  const group = new GroupCommit(db);
  const registry = new Registry();
  const receiver = await openReceiver(registry, { service: "ee", name: "orders" });
  const got = collect(receiver, (env) => (env.body as { id: string }).id);
  const sender = await openSender(registry, {
    service: "rm",
    name: "orders",
    heartbeatMs: 50,
    journalDb: { db, group },
  }, `connect:${receiver.endpoint}`);
  const committed = () => {
    const other = new DatabaseSync(path, { readOnly: true });
    try {
      return {
        decisions: Number(other.prepare("SELECT COUNT(*) AS n FROM decisions").get()!.n),
        outbox: Number(other.prepare("SELECT MAX(seq) AS n FROM outbox").get()!.n ?? 0),
      };
    } finally {
      other.close();
    }
  };
  try {
    await until(() => sender.receiverLive, "the receiver");
    const commitsBefore = group.stats.commits;
    // One synchronous run: the decision and its message.
    group.run(() => db.exec("INSERT INTO decisions VALUES ('d1')"));
    const acked = sender.send("order", { id: "d1" });
    assert.deepEqual(committed(), { decisions: 0, outbox: 0 }, "nothing durable yet");
    await acked;
    assert.deepEqual(got, ["d1"]);
    assert.equal(
      group.stats.commits - commitsBefore,
      1,
      "the decision and its message: one commit",
    );
    assert.equal(committed().decisions, 1);
  } finally {
    await sender.close();
    await receiver.close();
    db.close();
    await removeDir(dir);
  }
});
