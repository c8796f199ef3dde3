/**
 * Helpers of the messaging tests (lib/messaging/*_test.ts): a strict poll timeout,
 * polling with a deadline, reading a metric or a histogram, forging envelopes and a raw
 * publisher.
 * @module
 */
import * as zmq from "zeromq";
import type { Registry } from "prom-client";
import { encodeFrame, type Envelope } from "../envelope.ts";
import { Subscriber, type SubscriberOptions } from "../messaging/mod.ts";
import type { PeerProcess } from "./peer_process.ts";

/**
 * The poll loops' safety-net timeout in these tests: far above every
 * deadline, so each delivery must come from a real wake-up.
 */
export const STRICT_POLL_MS = 60_000;

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
