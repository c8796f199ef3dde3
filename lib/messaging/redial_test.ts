import assert from "node:assert/strict";
import { Registry } from "prom-client";
import * as zmq from "zeromq";
import { generateKeyPair, type KeyPair } from "../keys.ts";
import { type CurveSecurity, ZapAuthenticator } from "./curve.ts";
import {
  MESSAGING_METRICS,
  Publisher,
  ReliableReceiver,
  ReliableSender,
  Subscriber,
} from "./mod.ts";
import { metric, sleep, STRICT_POLL_MS, until } from "../testing/messaging.ts";

const md = generateKeyPair();
const sb = generateKeyPair();
const rm = generateKeyPair();
const ee = generateKeyPair();

const server = (zap: ZapAuthenticator, keys: KeyPair, domain: string, peer: KeyPair) =>
  ({ keys, domain, allow: { peer: peer.publicKey }, zap }) satisfies CurveSecurity;
const client = (zap: ZapAuthenticator, keys: KeyPair, domain: string, serverKey: string) =>
  ({ keys, domain, allow: {}, serverKey, zap }) satisfies CurveSecurity;

/** A plain socket bound on `endpoint` for `ms`: a CURVE client that meets it gives up for good. */
async function plainImpostor(endpoint: string, ms: number): Promise<void> {
  const sock = new zmq.Router({ sendTimeout: 0, receiveTimeout: 0, linger: 0 });
  for (let i = 0;; i++) {
    try {
      await sock.bind(endpoint);
      break;
    } catch (e) {
      if (i > 50) throw e;
      await sleep(20); // the real socket's port is being released
    }
  }
  await sleep(ms);
  sock.close();
}

Deno.test("a subscriber dials again after an impostor held its publisher's port, and receives from the publisher once it is back", async () => {
  const registry = new Registry();
  const zap = await ZapAuthenticator.start({ service: "t", registry });
  const open = (endpoint: string) =>
    Publisher.open(`bind:${endpoint}`, {
      service: "market-data",
      name: "market_data",
      registry,
      heartbeatMs: 50,
      curve: server(zap, md, "market_data", sb),
    });
  let pub = await open("tcp://127.0.0.1:0");
  const endpoint = pub.endpoint;
  const sub = await Subscriber.open([endpoint], {
    pollMs: STRICT_POLL_MS,
    service: "signal-bridge",
    name: "market_data",
    registry,
    silenceMs: 500,
    curve: client(zap, sb, "market_data", md.publicKey),
  });
  sub.onMessage(() => {});
  try {
    await until(() => sub.stats().received > 3, "heartbeats from the publisher");
    await pub.close();
    await plainImpostor(endpoint, 800);
    pub = await open(endpoint);
    const before = sub.stats().received;
    await until(() => sub.stats().received > before + 3, "heartbeats again", 15_000);
    assert.ok(
      await metric(registry, MESSAGING_METRICS.reconnects, { channel: "market_data" }) >= 1,
    );
  } finally {
    await sub.close();
    await pub.close();
    await zap.close();
  }
});

Deno.test("a reliable receiver and a reliable sender that connect dial again after an impostor held the port", async () => {
  const registry = new Registry();
  const zap = await ZapAuthenticator.start({ service: "t", registry });
  // orders: the sender binds, the receiver connects.
  const openSender = (endpoint: string) =>
    ReliableSender.open(`bind:${endpoint}`, {
      pollMs: STRICT_POLL_MS,
      service: "risk-manager",
      name: "orders",
      registry,
      heartbeatMs: 50,
      closeTimeoutMs: 100,
      curve: server(zap, rm, "orders", ee),
    });
  let sender = await openSender("tcp://127.0.0.1:0");
  const ordersEndpoint = sender.endpoint;
  const receiver = await ReliableReceiver.open(ordersEndpoint, {
    pollMs: STRICT_POLL_MS,
    service: "execution-engine",
    name: "orders",
    registry,
    sender: sender.pub,
    heartbeatMs: 50,
    silenceMs: 500,
    curve: client(zap, ee, "orders", rm.publicKey),
  });
  const got: number[] = [];
  receiver.onMessage((env) => {
    got.push((env.body as { i: number }).i);
  });
  // execution reports: the receiver binds, the sender connects.
  const reportsIn = await ReliableReceiver.open("bind:tcp://127.0.0.1:0", {
    pollMs: STRICT_POLL_MS,
    service: "risk-manager",
    name: "execution_reports",
    registry,
    curve: server(zap, rm, "execution_reports", ee),
  });
  reportsIn.onMessage(() => {});
  const reportsEndpoint = reportsIn.endpoint;
  const reports = await ReliableSender.open(`connect:${reportsEndpoint}`, {
    pollMs: STRICT_POLL_MS,
    service: "execution-engine",
    name: "execution_reports",
    registry,
    heartbeatMs: 50,
    silenceMs: 500,
    curve: client(zap, ee, "execution_reports", rm.publicKey),
  });
  let reportsGot = 0;
  let reportsIn2: ReliableReceiver | undefined;
  try {
    await sender.send("order", { i: 1 });
    await reports.send("execution_report", { i: 1 });
    await sender.close();
    await reportsIn.close();
    await Promise.all([plainImpostor(ordersEndpoint, 800), plainImpostor(reportsEndpoint, 800)]);
    sender = await openSender(ordersEndpoint);
    reportsIn2 = await ReliableReceiver.open(`bind:${reportsEndpoint}`, {
      pollMs: STRICT_POLL_MS,
      service: "risk-manager",
      name: "execution_reports",
      registry,
      curve: server(zap, rm, "execution_reports", ee),
    });
    reportsIn2.onMessage(() => {
      reportsGot++;
    });
    await Promise.all([sender.send("order", { i: 2 }), reports.send("execution_report", { i: 2 })]);
    assert.deepEqual(got, [1, 2]);
    assert.equal(reportsGot, 1);
    assert.ok(await metric(registry, MESSAGING_METRICS.reconnects, { channel: "orders" }) >= 1);
    assert.ok(
      await metric(registry, MESSAGING_METRICS.reconnects, { channel: "execution_reports" }) >= 1,
    );
  } finally {
    await receiver.close();
    await reports.close();
    await reportsIn2?.close();
    await sender.close();
    await zap.close();
  }
});
