import assert from "node:assert/strict";
import { Registry } from "prom-client";
import * as zmq from "zeromq";
import { generateKeyPair, type KeyPair } from "../keys.ts";
import { ZapAuthenticator } from "./curve.ts";
import { MESSAGING_METRICS, Publisher, type ReliableReceiver } from "./mod.ts";
import {
  collect,
  curveClient,
  curveServer,
  metric,
  openReceiver,
  openSender,
  openSubscriber,
  sleep,
  until,
} from "../testing/messaging.ts";

const md = generateKeyPair();
const sb = generateKeyPair();
const rm = generateKeyPair();
const ee = generateKeyPair();

/** CURVE for the bound side, admitting only `peer`'s key. */
const server = (zap: ZapAuthenticator, keys: KeyPair, domain: string, peer: KeyPair) =>
  curveServer(zap, keys, domain, { peer: peer.publicKey });

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
  const sub = await openSubscriber(registry, {
    service: "signal-bridge",
    name: "market_data",
    silenceMs: 500,
    curve: curveClient(zap, sb, "market_data", md.publicKey),
  }, [endpoint]);
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
  const ordersSender = (endpoint: string) =>
    openSender(registry, {
      service: "risk-manager",
      name: "orders",
      heartbeatMs: 50,
      closeTimeoutMs: 100,
      curve: server(zap, rm, "orders", ee),
    }, `bind:${endpoint}`);
  let sender = await ordersSender("tcp://127.0.0.1:0");
  const ordersEndpoint = sender.endpoint;
  const receiver = await openReceiver(registry, {
    service: "execution-engine",
    name: "orders",
    sender: sender.pub,
    heartbeatMs: 50,
    silenceMs: 500,
    curve: curveClient(zap, ee, "orders", rm.publicKey),
  }, ordersEndpoint);
  const got = collect(receiver, (env) => (env.body as { i: number }).i);
  // execution reports: the receiver binds, the sender connects.
  const reportsReceiver = (endpoint: string) =>
    openReceiver(registry, {
      service: "risk-manager",
      name: "execution_reports",
      curve: server(zap, rm, "execution_reports", ee),
    }, `bind:${endpoint}`);
  const reportsIn = await reportsReceiver("tcp://127.0.0.1:0");
  reportsIn.onMessage(() => {});
  const reportsEndpoint = reportsIn.endpoint;
  const reports = await openSender(registry, {
    service: "execution-engine",
    name: "execution_reports",
    heartbeatMs: 50,
    silenceMs: 500,
    curve: curveClient(zap, ee, "execution_reports", rm.publicKey),
  }, `connect:${reportsEndpoint}`);
  let reportsGot = 0;
  let reportsIn2: ReliableReceiver | undefined;
  try {
    await sender.send("order", { i: 1 });
    await reports.send("execution_report", { i: 1 });
    await sender.close();
    await reportsIn.close();
    await Promise.all([plainImpostor(ordersEndpoint, 800), plainImpostor(reportsEndpoint, 800)]);
    sender = await ordersSender(ordersEndpoint);
    reportsIn2 = await reportsReceiver(reportsEndpoint);
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
