import assert from "node:assert/strict";
import { Registry } from "prom-client";
import * as zmq from "zeromq";
import { generateKeyPair, type KeyPair, KeyStore } from "../keys.ts";
import { applyCurve, type CurveSecurity, ZapAuthenticator } from "./curve.ts";
import { MESSAGING_METRICS, Publisher } from "./mod.ts";
import {
  collect,
  curveClient,
  curveServer,
  FREE_PORT,
  metric,
  openReceiver,
  openReliablePair,
  openSender,
  openSubscriber,
  sleep,
  until,
} from "../testing/messaging.ts";

const md = generateKeyPair();
const sb = generateKeyPair();
const rm = generateKeyPair();
const ee = generateKeyPair();
const stranger = generateKeyPair();

/** market-data's CURVE publisher on a free port, as `keys`, admitting signal-bridge's key. */
function marketData(
  registry: Registry,
  zap: ZapAuthenticator,
  keys: KeyPair,
  signalBridgeKey: string,
): Promise<Publisher> {
  return Publisher.open(FREE_PORT, {
    service: "market-data",
    name: "market_data",
    registry,
    heartbeatMs: 20,
    curve: curveServer(zap, keys, "market_data", { "signal-bridge": signalBridgeKey }),
  });
}

/** A subscriber on `endpoint` that counts the messages (heartbeats too) it gets for `ms`. */
async function receivedBy(
  registry: Registry,
  endpoint: string,
  curve: CurveSecurity | undefined,
  ms: number,
): Promise<number> {
  const sub = await openSubscriber(registry, { service: "probe", name: "market_data", curve }, [
    endpoint,
  ]);
  sub.onMessage(() => {});
  await sleep(ms);
  const n = sub.stats().received; // heartbeats included
  await sub.close();
  return n;
}

Deno.test("a CURVE publisher delivers only to subscribers whose key is configured for its channel, and counts the others", async () => {
  const registry = new Registry();
  const zap = await ZapAuthenticator.start({ service: "market-data", registry });
  const pub = await marketData(registry, zap, md, sb.publicKey);
  try {
    const [allowed, other, plain] = await Promise.all([
      receivedBy(registry, pub.endpoint, curveClient(zap, sb, "market_data", md.publicKey), 600),
      receivedBy(
        registry,
        pub.endpoint,
        curveClient(zap, stranger, "market_data", md.publicKey),
        600,
      ),
      receivedBy(registry, pub.endpoint, undefined, 600),
    ]);
    assert.ok(allowed > 5, `the configured subscriber got ${allowed} heartbeats`);
    assert.equal(other, 0, "a key not configured for the channel gets nothing");
    assert.equal(plain, 0, "a plain TCP subscriber gets nothing");
    assert.equal(
      await metric(registry, MESSAGING_METRICS.peersRefused, {
        channel: "market_data",
        reason: "unknown_key",
      }),
      1,
    );
    assert.ok(await metric(registry, MESSAGING_METRICS.peersAuthenticated) >= 1);
    assert.match(
      await registry.metrics(),
      /messaging_channel_secure\{service="market-data",channel="market_data"\} 1/,
    );
  } finally {
    await pub.close();
    await zap.close();
  }
});

Deno.test("a subscriber that pins the publisher's key gets nothing from an impostor bound at its endpoint", async () => {
  const registry = new Registry();
  const zap = await ZapAuthenticator.start({ service: "market-data", registry });
  const impostor = await marketData(registry, zap, stranger, sb.publicKey);
  try {
    const got = await receivedBy(
      registry,
      impostor.endpoint,
      curveClient(zap, sb, "market_data", md.publicKey),
      600,
    );
    assert.equal(got, 0);
  } finally {
    await impostor.close();
    await zap.close();
  }
});

Deno.test("the reliable channel under CURVE: the configured receiver gets everything, a stranger cannot even connect", async () => {
  const registry = new Registry();
  const zap = await ZapAuthenticator.start({ service: "risk-manager", registry });
  const sender = await openSender(registry, {
    service: "risk-manager",
    name: "orders",
    heartbeatMs: 50,
    curve: curveServer(zap, rm, "orders", { "execution-engine": ee.publicKey }),
  });
  const open = (keys: KeyPair, serverKey: string) =>
    openReceiver(registry, {
      service: "execution-engine",
      name: "orders",
      sender: sender.pub,
      heartbeatMs: 50,
      curve: curveClient(zap, keys, "orders", serverKey),
    }, sender.endpoint);
  const thief = await open(stranger, rm.publicKey);
  const stolen = collect(thief, (env) => env.seq);
  await until(
    async () =>
      (await metric(registry, MESSAGING_METRICS.peersRefused, { channel: "orders" })) >= 1,
    "the stranger refused",
  );
  const receiver = await open(ee, rm.publicKey);
  const got = collect(receiver, (env) => env.seq);
  try {
    await Promise.all(Array.from({ length: 100 }, (_, i) => sender.send("order", { i })));
    assert.equal(got.length, 100);
    assert.deepEqual(stolen, []);
  } finally {
    await thief.close();
    await receiver.close();
    await sender.close();
    await zap.close();
  }
});

Deno.test("a receiver that pins the sender's key gets nothing from an impostor sender bound at the endpoint", async () => {
  const registry = new Registry();
  const zap = await ZapAuthenticator.start({ service: "impostor", registry });
  const { sender: impostor, receiver } = await openReliablePair(
    registry,
    "orders",
    {
      service: "risk-manager",
      closeTimeoutMs: 50,
      curve: curveServer(zap, stranger, "orders", { "execution-engine": ee.publicKey }),
    },
    { service: "execution-engine", curve: curveClient(zap, ee, "orders", rm.publicKey) },
  );
  const got = collect(receiver, (env) => env.seq);
  try {
    impostor.send("order", { forged: true }).catch(() => {});
    await sleep(500);
    assert.deepEqual(got, [], "the injected order never arrived");
    assert.equal(impostor.pending(), 1);
  } finally {
    await receiver.close();
    await impostor.close();
    await zap.close();
  }
});

Deno.test("a malformed key is refused with a clear error before it reaches libzmq", async () => {
  const registry = new Registry();
  const zap = await ZapAuthenticator.start({ service: "t", registry });
  const bad = { publicKey: "not a key", secretKey: md.secretKey };
  await assert.rejects(
    Publisher.open("bind:tcp://127.0.0.1:0", {
      service: "t",
      name: "market_data",
      registry,
      curve: curveServer(zap, bad, "market_data", {}),
    }),
    /Cannot secure publisher "market_data": the public key is not a 40-character Z85 CURVE key/,
  );
  const sock = new zmq.Dealer({ sendTimeout: 0, receiveTimeout: 0, linger: 0 });
  assert.throws(
    () => applyCurve(sock, "connect", curveClient(zap, sb, "x", "short"), "a test socket"),
    /connecting needs the public key of the service bound there/,
  );
  assert.throws(
    () => zap.allow("x", { someone: "short" }),
    /Cannot admit someone on x: its key is not a Z85 CURVE key/,
  );
  sock.close();
  await zap.close();
});

Deno.test("a foreign pyzmq subscriber with the configured certificate receives; with another or none it gets nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "curve_test_" });
  const registry = new Registry();
  const keys = KeyStore.open(dir);
  keys.create(["market-data", "signal-bridge", "stranger"], { overwrite: false });
  const zap = await ZapAuthenticator.start({ service: "market-data", registry });
  const pub = await marketData(
    registry,
    zap,
    keys.keyPair("market-data"),
    keys.publicKey("signal-bridge"),
  );
  const python = (...certs: string[]) =>
    new Deno.Command("/usr/bin/python3", {
      args: [
        new URL("../testing/zmq_foreign.py", import.meta.url).pathname,
        "sub",
        pub.endpoint,
        "1.5",
        ...certs,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output().then((o) => {
      const text = new TextDecoder().decode(o.stdout);
      assert.equal(o.code, 0, new TextDecoder().decode(o.stderr));
      return JSON.parse(text) as { received: number; first: unknown };
    });
  try {
    const [allowed, other, plain] = await Promise.all([
      python(keys.secretPath("signal-bridge"), keys.publicPath("market-data")),
      python(keys.secretPath("stranger"), keys.publicPath("market-data")),
      python(),
    ]);
    assert.ok(allowed.received > 5, `pyzmq with the configured key got ${allowed.received}`);
    assert.equal(
      (allowed.first as { type?: string } | null)?.type,
      "heartbeat",
      "pyzmq decoded it",
    );
    assert.equal(other.received, 0);
    assert.equal(plain.received, 0);
  } finally {
    await pub.close();
    await zap.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ZAP fails closed: once the handler is gone, a CURVE server admits no one", async () => {
  const registry = new Registry();
  const zap = await ZapAuthenticator.start({ service: "t", registry });
  await zap.close();
  const pub = await marketData(registry, zap, md, sb.publicKey);
  try {
    const got = await receivedBy(
      registry,
      pub.endpoint,
      curveClient(zap, sb, "market_data", md.publicKey),
      600,
    );
    assert.equal(got, 0, "even the configured key is refused without a handler");
  } finally {
    await pub.close();
  }
});

Deno.test("the ZAP handler starts again right after it stopped, two hundred times over", async () => {
  for (let i = 0; i < 200; i++) {
    const zap = await ZapAuthenticator.start({ service: "market-data", registry: new Registry() });
    await zap.close();
  }
});
