/**
 * Helpers of the messaging tests (lib/messaging/*_test.ts): a strict poll timeout,
 * opening channels on free ports, collecting deliveries, polling with a deadline,
 * reading a metric or a histogram, CURVE settings, forging envelopes, a raw dealer and
 * a raw publisher.
 * @module
 */
import * as zmq from "zeromq";
import type { Registry } from "prom-client";
import { encodeFrame, type Envelope } from "../envelope.ts";
import type { KeyPair } from "../keys.ts";
import {
  type MessageHandler,
  Publisher,
  type PublisherOptions,
  ReliableReceiver,
  type ReliableReceiverOptions,
  ReliableSender,
  type ReliableSenderOptions,
  Subscriber,
  type SubscriberOptions,
} from "../messaging/mod.ts";
import type { CurveSecurity, ZapAuthenticator } from "../messaging/curve.ts";
import type { PeerProcess } from "./peer_process.ts";

/**
 * The poll loops' safety-net timeout in these tests: far above every
 * deadline, so each delivery must come from a real wake-up.
 */
export const STRICT_POLL_MS = 60_000;

/** A free port on 127.0.0.1, for the socket that binds. */
export const FREE_PORT = "bind:tcp://127.0.0.1:0";

/**
 * A channel's options without what every test here passes alike: `registry` (given
 * apart) and `pollMs` (always {@linkcode STRICT_POLL_MS}).
 */
export type TestOptions<T> = Omit<T, "pollMs" | "registry">;

/**
 * A ReliableSender at `endpoint` (a free port unless given) with the strict poll timeout.
 * @example
 * ```ts
 * const sender = await openSender(registry, { service: "rm", name: "orders", heartbeatMs: 50 });
 * ```
 */
export function openSender(
  registry: Registry,
  opts: TestOptions<ReliableSenderOptions>,
  endpoint: string = FREE_PORT,
): Promise<ReliableSender> {
  return ReliableSender.open(endpoint, { pollMs: STRICT_POLL_MS, ...opts, registry });
}

/**
 * A ReliableReceiver at `endpoint` (a free port unless given) with the strict poll timeout.
 * @example
 * ```ts
 * const receiver = await openReceiver(registry, { service: "t", name: "orders", lingerMs: 50 });
 * ```
 */
export function openReceiver(
  registry: Registry,
  opts: TestOptions<ReliableReceiverOptions>,
  endpoint: string = FREE_PORT,
): Promise<ReliableReceiver> {
  return ReliableReceiver.open(endpoint, { pollMs: STRICT_POLL_MS, ...opts, registry });
}

/** A Subscriber on `endpoints` (one free port unless given) with the strict poll timeout. */
export function openSubscriber(
  registry: Registry,
  opts: TestOptions<SubscriberOptions>,
  endpoints: string[] = [FREE_PORT],
): Promise<Subscriber> {
  return Subscriber.open(endpoints, { pollMs: STRICT_POLL_MS, ...opts, registry });
}

/** One side's options in a pair: the pair gives the channel's name (and the receiver its sender). */
export type SideOptions<T> = Omit<TestOptions<T>, "name" | "sender">;

/**
 * A reliable channel `name` on a free port: by default the sender binds and the receiver
 * connects to it naming `sender.pub`; with `binds: "receiver"` the receiver binds and the
 * sender connects. Both have the strict poll timeout; if the second fails to open, the
 * first is closed. The caller closes both.
 * @example
 * ```ts
 * const { sender, receiver } = await openReliablePair(registry, "orders", { service: "rm" }, {
 *   service: "ee",
 * });
 * const got = collect(receiver, (env) => env.seq);
 * await sender.send("order", { i: 1 }); // resolves once the receiver acknowledged it
 * ```
 */
export async function openReliablePair(
  registry: Registry,
  name: string,
  sender: SideOptions<ReliableSenderOptions>,
  receiver: SideOptions<ReliableReceiverOptions>,
  binds: "sender" | "receiver" = "sender",
): Promise<{ sender: ReliableSender; receiver: ReliableReceiver }> {
  if (binds === "receiver") {
    const r = await openReceiver(registry, { ...receiver, name });
    try {
      const s = await openSender(registry, { ...sender, name }, `connect:${r.endpoint}`);
      return { sender: s, receiver: r };
    } catch (e) {
      await r.close();
      throw e;
    }
  }
  const s = await openSender(registry, { ...sender, name });
  try {
    const r = await openReceiver(registry, { ...receiver, name, sender: s.pub }, s.endpoint);
    return { sender: s, receiver: r };
  } catch (e) {
    await s.close();
    throw e;
  }
}

/**
 * A Publisher of channel `name` bound on a free port and a Subscriber connected to it
 * (strict poll timeout); if the subscriber fails to open, the publisher is closed. The
 * caller closes both.
 */
export async function openPubSub(
  registry: Registry,
  name: string,
  publisher: Omit<PublisherOptions, "name" | "registry">,
  subscriber: SideOptions<SubscriberOptions>,
): Promise<{ pub: Publisher; sub: Subscriber }> {
  const pub = await Publisher.open(FREE_PORT, { ...publisher, name, registry });
  try {
    const sub = await openSubscriber(registry, { ...subscriber, name }, [pub.endpoint]);
    return { pub, sub };
  } catch (e) {
    await pub.close();
    throw e;
  }
}

/**
 * Sets `channel`'s handler to keep `pick(env)` of each delivery, in order; returns that list.
 * @example
 * ```ts
 * const got = collect(receiver, (env) => (env.body as { i: number }).i);
 * await until(() => got.length === 3, "three deliveries");
 * ```
 */
export function collect<T>(
  channel: { onMessage(handler: MessageHandler): void },
  pick: (env: Envelope) => T,
): T[] {
  const got: T[] = [];
  channel.onMessage((env) => {
    got.push(pick(env));
  });
  return got;
}

/** CURVE for a socket that binds: `keys`, admitting `allow` (name to public key) through `zap`. */
export function curveServer(
  zap: ZapAuthenticator,
  keys: KeyPair,
  domain: string,
  allow: Record<string, string>,
): CurveSecurity {
  return { keys, domain, allow, zap };
}

/** CURVE for a socket that connects: `keys`, pinning the bound side's `serverKey`. */
export function curveClient(
  zap: ZapAuthenticator,
  keys: KeyPair,
  domain: string,
  serverKey: string,
): CurveSecurity {
  return { keys, domain, allow: {}, serverKey, zap };
}

/**
 * A raw zeromq.js DEALER named `routingId` that never waits (send and receive timeouts 0,
 * linger 0), connected to `endpoint` when given. The caller closes it.
 */
export function rawDealer(routingId: string, endpoint?: string): zmq.Dealer {
  const dealer = new zmq.Dealer({ routingId, sendTimeout: 0, receiveTimeout: 0, linger: 0 });
  if (endpoint !== undefined) dealer.connect(endpoint);
  return dealer;
}

/** Resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` until it holds; fails after `timeoutMs` (a deadline, not an assertion on speed). */
export async function until(
  cond: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; !(await cond()); i++) {
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await sleep(i < 20 ? 5 : 20);
  }
}

/** The sum of a metric's samples whose labels include `labels` (0 when absent). */
export async function metric(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (!m) return 0;
  const { values } = await m.get();
  let sum = 0;
  for (const v of values) {
    if (Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want)) sum += v.value;
  }
  return sum;
}

/** One histogram series as a test reads it: observations per bucket (not cumulative), count, sum. */
export interface HistogramReading {
  /** Observations in each bucket, by its `le` ("+Inf" last), not cumulative. */
  readonly buckets: Record<string, number>;
  readonly count: number;
  readonly sum: number;
}

/**
 * The histogram `name`'s series whose labels include `labels` (summed when several match;
 * reading it runs the family's collect, as a scrape does). No bucket at all when absent.
 */
export async function histogram(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<HistogramReading> {
  const m = registry.getSingleMetric(name);
  const cumulative = new Map<string, number>();
  let count = 0;
  let sum = 0;
  for (const v of m ? (await m.get()).values : []) {
    if (!Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want)) continue;
    const metricName = (v as { metricName?: string }).metricName;
    if (metricName === `${name}_bucket`) {
      const le = String(v.labels.le);
      cumulative.set(le, (cumulative.get(le) ?? 0) + v.value);
    } else if (metricName === `${name}_count`) count += v.value;
    else if (metricName === `${name}_sum`) sum += v.value;
  }
  const buckets: Record<string, number> = {};
  let below = 0;
  for (const [le, c] of cumulative) {
    buckets[le] = c - below;
    below = c;
  }
  return { buckets, count, sum };
}

/** `after` minus `before`, keeping only the buckets that moved. */
export function histogramDelta(
  after: HistogramReading,
  before: HistogramReading,
): HistogramReading {
  const buckets: Record<string, number> = {};
  for (const [le, c] of Object.entries(after.buckets)) {
    const d = c - (before.buckets[le] ?? 0);
    if (d !== 0) buckets[le] = d;
  }
  return { buckets, count: after.count - before.count, sum: after.sum - before.sum };
}

/** Stops peers whatever happened, so no process outlives its test. */
export async function stopAll(peers: (PeerProcess | undefined)[]): Promise<void> {
  await Promise.all(peers.map((p) => p?.stop("SIGKILL").catch(() => {})));
}

/** The peer's `ready` event. */
export const ready = (p: PeerProcess) => p.next((e) => e.event === "ready");

/** An envelope's frame text, forged with the given stream fields (and stamp, epoch ms). */
export function raw(
  service: string,
  pub: string,
  epoch: number,
  seq: number,
  type = "tick",
  body: unknown = {},
  ts: number = Date.now(),
): string {
  const env: Envelope = {
    v: 2,
    type,
    seq,
    pub: `${service}/${pub}`,
    epoch,
    ts,
    trace: "0".repeat(32),
    body,
  };
  return encodeFrame([env]);
}

/** A raw zeromq.js PUB for forging frames, with a subscriber already attached. */
export async function rawPublisherWithSubscriber(
  registry: Registry,
  extra: Partial<SubscriberOptions> = {},
): Promise<{ pub: zmq.Publisher; sub: Subscriber; got: Envelope[] }> {
  const pub = new zmq.Publisher({ sendTimeout: 0, linger: 0 });
  await pub.bind("tcp://127.0.0.1:0");
  const sub = await Subscriber.open([pub.lastEndpoint!], {
    pollMs: STRICT_POLL_MS,
    service: "test",
    name: "forged",
    registry,
    ...extra,
  });
  const got: Envelope[] = [];
  sub.onMessage((env) => {
    if (env.pub !== "warm/up") got.push(env);
  });
  // Slow joiner: send a warm-up stream until the subscription is in place.
  for (let seq = 1; seq < 2000 && !sub.stats().streams.some((s) => s.pub === "warm/up"); seq++) {
    await pub.send(raw("warm", "up", 1, seq, "heartbeat"));
    await sleep(10);
  }
  return { pub, sub, got };
}
