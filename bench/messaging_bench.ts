/**
 * Messaging benchmarks: what the envelope, sequence tracking and the poll(2)
 * receive loop cost over bare zeromq.js.
 *
 * `deno run -A bench/messaging_bench.ts` runs {@linkcode run} and prints a
 * table:
 *
 * - cost per message, one process: `publish()` in a tight loop, and
 *   draining a subscriber whose queue was filled beforehand (msgs/s the
 *   receive path can take). "bare" is zeromq.js with the same frame (an
 *   encoded envelope, so the same size) and the same receive method
 *   (SocketPoller, drain while `readable`), without envelope, decoding or
 *   sequence checks;
 * - throughput, one hop PUB → SUB: a publisher in a child process sends as
 *   fast as it can to a subscriber in this process; the subscriber's rate is
 *   what it takes in while saturated, sharing the two cores with the
 *   publisher (messages beyond its queue are dropped and reported);
 * - one-hop latency at a fixed low rate (default 1,000 msgs/s for 3 s),
 *   publisher and subscriber in this process over TCP loopback, so both
 *   timestamps come from one monotonic clock (p50/p99/max);
 * - reliable channel: 100,000 messages sender → receiver (child process →
 *   this process), all acknowledged;
 * - CPU used by idle sockets (a subscriber, a reliable sender and receiver).
 *
 * `deno task bench` (`deno bench`) runs only the encode/decode micro
 * benchmarks below; {@linkcode run} is exported for a harness.
 *
 * @module
 */

import * as zmq from "zeromq";
import process from "node:process";
import { setImmediate } from "node:timers";
import { Registry } from "prom-client";
import { decode, encodeFrame, type Envelope } from "../lib/envelope.ts";
import { Publisher, ReliableReceiver, ReliableSender, Subscriber } from "../lib/messaging/mod.ts";
import { SocketPoller } from "../lib/zmq_poll.ts";
import { benchOptions } from "./smoke.ts";

/** Options of {@linkcode run}. */
export interface BenchOptions {
  /** Messages per throughput run (default 200,000). */
  messages?: number;
  /** Approximate body size in bytes (default 200). */
  bodyBytes?: number;
  /** Latency run: messages per second (default 1,000) and seconds (default 3). */
  rate?: number;
  seconds?: number;
  /** Messages for the reliable run (default 100,000). */
  reliableMessages?: number;
}

/** One throughput measurement. */
export interface Throughput {
  mode: "bare" | "envelope";
  frameBytes: number;
  sent: number;
  received: number;
  dropped: number;
  /** Publisher send rate (child process), msgs/s. */
  publishPerSec: number;
  /** Subscriber receive rate while saturated, msgs/s. */
  receivePerSec: number;
}

/** One latency measurement, in microseconds. */
export interface Latency {
  mode: "bare" | "envelope";
  samples: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
}

/** Cost of one side in one process, in msgs/s. */
export interface SideCost {
  mode: "bare" | "envelope";
  messages: number;
  publishPerSec: number;
  drainPerSec: number;
}

/** Everything {@linkcode run} measures (JSON-able). */
export interface BenchResults {
  runtime: string;
  cost: SideCost[];
  throughput: Throughput[];
  latency: Latency[];
  reliable: { messages: number; seconds: number; perSec: number; resends: number };
  idleCpuPercent: number;
}

const SELF = new URL(import.meta.url).pathname;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Lets the event loop run (setTimeout(0) would be clamped to ~2 ms when nested). */
const yieldNow = () => new Promise((r) => setImmediate(r));

function body(bytes: number): { symbol: string; px: number; pad: string } {
  return { symbol: "AAPL", px: 190.12, pad: "x".repeat(Math.max(0, bytes - 40)) };
}

function sampleFrame(bytes: number): string {
  return encodeFrame([{
    v: 2,
    type: "tick",
    seq: 1_000_000,
    pub: "bench/md",
    epoch: Date.now(),
    ts: Date.now(),
    trace: "0".repeat(32),
    body: body(bytes),
  }]);
}

async function until(cond: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`Bench timed out waiting for ${what}`);
    await sleep(5);
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

// ---------------------------------------------------------------------------
// Cost per message in one process

async function cost(mode: "bare" | "envelope", n: number, bytes: number): Promise<SideCost> {
  const frame = sampleFrame(bytes);
  const b = body(bytes);
  const pub = new zmq.Publisher({ sendTimeout: 0, linger: 0, sendHighWaterMark: n + 1000 });
  await pub.bind("tcp://127.0.0.1:0");
  const registry = new Registry();
  const publisher = await Publisher.open("bind:tcp://127.0.0.1:0", {
    service: "bench",
    name: "cost",
    registry,
    highWaterMark: n + 1000,
  });
  // Publish cost, nobody subscribed: encoding and the hand-off to ZeroMQ.
  let t0 = performance.now();
  if (mode === "bare") { for (let i = 0; i < n; i++) pub.send(frame).catch(() => {}); }
  else for (let i = 0; i < n; i++) publisher.publish("tick", b);
  const publishPerSec = Math.round(n / ((performance.now() - t0) / 1000));
  await publisher.close();

  // Drain cost: fill the subscriber's queue first, then time taking it in.
  let got = 0;
  let begin: () => void;
  let close: () => Promise<void>;
  if (mode === "bare") {
    const sub = new zmq.Subscriber({
      receiveTimeout: 0,
      linger: 0,
      receiveHighWaterMark: n + 1000,
    });
    sub.connect(pub.lastEndpoint!);
    sub.subscribe();
    let poller: SocketPoller | undefined;
    begin = () => {
      poller = SocketPoller.start(sub, async () => {
        let k = 0;
        while (k++ < 256 && sub.readable) {
          await sub.receive();
          got++;
        }
        return k > 256 ? 0 : undefined;
      });
    };
    close = async () => {
      await poller?.stop();
      sub.close();
    };
  } else {
    const sub = await Subscriber.open([pub.lastEndpoint!], {
      service: "bench",
      name: "cost",
      registry,
      highWaterMark: n + 1000,
    });
    begin = () =>
      sub.onMessage(() => {
        got++;
      });
    close = () => sub.close();
  }
  await sleep(300); // subscription in place
  for (let i = 1; i <= n; i++) {
    pub.send(
      mode === "bare" ? frame : encodeFrame([{
        v: 2,
        type: "tick",
        seq: i,
        pub: "bench/cost",
        epoch: 1,
        ts: 1,
        trace: "0".repeat(32),
        body: b,
      }]),
    ).catch(() => {});
  }
  await sleep(1500); // let ZeroMQ's I/O thread move everything into the queue
  t0 = performance.now();
  begin();
  await until(() => got === n, "the drain");
  const drainPerSec = Math.round(n / ((performance.now() - t0) / 1000));
  await close();
  pub.close();
  return { mode, messages: n, publishPerSec, drainPerSec };
}

// ---------------------------------------------------------------------------
// Throughput: child publisher, subscriber here

async function throughput(
  mode: "bare" | "envelope",
  n: number,
  bytes: number,
): Promise<Throughput> {
  const frame = sampleFrame(bytes);
  let received = 0;
  let firstAt = 0;
  let lastAt = 0;
  let warm = 0;
  let close: () => Promise<void>;
  let endpoint: string;
  const onData = () => {
    if (received === 0) firstAt = performance.now();
    received++;
    lastAt = performance.now();
  };
  if (mode === "bare") {
    const sock = new zmq.Subscriber({ receiveTimeout: 0, linger: 0, receiveHighWaterMark: 10_000 });
    await sock.bind("tcp://127.0.0.1:0");
    sock.subscribe();
    endpoint = sock.lastEndpoint!;
    const poller = SocketPoller.start(sock, async () => {
      let k = 0;
      while (k++ < 256 && sock.readable) {
        const [m] = await sock.receive();
        if (m.length < 16) warm++;
        else onData();
      }
      return k > 256 ? 0 : undefined;
    });
    close = async () => {
      await poller.stop();
      sock.close();
    };
  } else {
    const sub = await Subscriber.open(["bind:tcp://127.0.0.1:0"], {
      service: "bench",
      name: "md",
      registry: new Registry(),
    });
    endpoint = sub.endpoints[0];
    sub.onMessage((env) => {
      if (env.type === "warm") warm++;
      else onData();
    });
    close = () => sub.close();
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", SELF, "--child", mode, endpoint, String(n), String(bytes)],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  const output = new Response(child.stdout).text();
  try {
    await until(() => warm > 0, "the child publisher");
    await writer.write(new TextEncoder().encode("go\n"));
    await writer.close();
    const result = JSON.parse((await output).trim().split("\n").at(-1)!);
    // Let the subscriber take in what is queued: done when the count stops moving.
    let prev = -1;
    for (let i = 0; i < 600 && received < n && received !== prev; i++) {
      prev = received;
      await sleep(100);
    }
    await child.status;
    const seconds = (lastAt - firstAt) / 1000;
    return {
      mode,
      frameBytes: new TextEncoder().encode(frame).length,
      sent: n,
      received,
      dropped: n - received,
      publishPerSec: Math.round(n / result.seconds),
      receivePerSec: Math.round((received - 1) / seconds),
    };
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // exited
    }
    await child.status;
    await close();
  }
}

/** Child process: publishes warm-ups until "go" on stdin, then `n` messages as fast as it can. */
async function childPublisher(mode: string, endpoint: string, n: number, bytes: number) {
  let publish: () => void;
  let warm: () => void;
  let close: () => Promise<void>;
  if (mode === "bare") {
    const sock = new zmq.Publisher({ sendTimeout: 0, linger: 1000, sendHighWaterMark: 10_000 });
    sock.connect(endpoint);
    const frame = sampleFrame(bytes);
    publish = () => void sock.send(frame).catch(() => {});
    warm = () => void sock.send("warm").catch(() => {});
    close = () => Promise.resolve(sock.close());
  } else {
    const pub = await Publisher.open(`connect:${endpoint}`, {
      service: "bench",
      name: "md",
      registry: new Registry(),
      lingerMs: 1000,
    });
    const b = body(bytes);
    publish = () => void pub.publish("tick", b);
    warm = () => void pub.publish("warm", {});
    close = () => pub.close();
  }
  let go = false;
  (async () => {
    for await (const _ of Deno.stdin.readable) {
      go = true;
      break;
    }
    go = true;
  })();
  for (let i = 0; i < 3000 && !go; i++) {
    warm();
    await sleep(10);
  }
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    publish();
    if (i % 1000 === 999) await yieldNow();
  }
  const seconds = (performance.now() - t0) / 1000;
  await close();
  console.log(JSON.stringify({ seconds }));
}

// ---------------------------------------------------------------------------
// Latency: both ends here, one clock

async function latency(
  mode: "bare" | "envelope",
  rate: number,
  seconds: number,
  bytes: number,
): Promise<Latency> {
  const samples: number[] = [];
  let warm = 0;
  let send: (t: number) => void;
  let close: () => Promise<void>;
  if (mode === "bare") {
    const pub = new zmq.Publisher({ sendTimeout: 0, linger: 0 });
    await pub.bind("tcp://127.0.0.1:0");
    const sub = new zmq.Subscriber({ receiveTimeout: 0, linger: 0 });
    sub.connect(pub.lastEndpoint!);
    sub.subscribe();
    const pad = sampleFrame(bytes);
    const poller = SocketPoller.start(sub, async () => {
      while (sub.readable) {
        const [m] = await sub.receive();
        const now = performance.now();
        const s = new TextDecoder().decode(m);
        const t = Number(s.slice(0, s.indexOf("|")));
        if (t < 0) warm++;
        else samples.push(now - t);
      }
    });
    send = (t) => void pub.send(`${t}|${pad}`.slice(0, pad.length)).catch(() => {});
    close = async () => {
      await poller.stop();
      sub.close();
      pub.close();
    };
  } else {
    const registry = new Registry();
    const pub = await Publisher.open("bind:tcp://127.0.0.1:0", {
      service: "bench",
      name: "lat",
      registry,
    });
    const sub = await Subscriber.open([pub.endpoint], { service: "bench", name: "lat", registry });
    const b = body(bytes);
    sub.onMessage((env: Envelope) => {
      const now = performance.now();
      const t = (env.body as { t: number }).t;
      if (t < 0) warm++;
      else samples.push(now - t);
    });
    send = (t) => void pub.publish("tick", { ...b, t });
    close = async () => {
      await sub.close();
      await pub.close();
    };
  }
  for (let i = 0; i < 3000 && warm === 0; i++) {
    send(-1);
    await sleep(10);
  }
  const total = Math.round(rate * seconds);
  const t0 = performance.now();
  for (let k = 0; k < total; k++) {
    const due = t0 + (k * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait - 0.5);
    send(performance.now());
  }
  await until(() => samples.length >= total, "latency samples", 10_000).catch(() => {});
  await close();
  const sorted = samples.map((ms) => ms * 1000).sort((a, b) => a - b);
  return {
    mode,
    samples: sorted.length,
    p50Us: Math.round(percentile(sorted, 0.5)),
    p99Us: Math.round(percentile(sorted, 0.99)),
    maxUs: Math.round(sorted.at(-1) ?? NaN),
  };
}

// ---------------------------------------------------------------------------
// Reliable channel and idle CPU

async function reliable(n: number, bytes: number): Promise<BenchResults["reliable"]> {
  const registry = new Registry();
  const receiver = await ReliableReceiver.open("bind:tcp://127.0.0.1:0", {
    service: "bench",
    name: "orders",
    registry,
  });
  let got = 0;
  receiver.onMessage(() => {
    got++;
  });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--quiet",
      SELF,
      "--child",
      "reliable",
      receiver.endpoint,
      String(n),
      String(bytes),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    const out = JSON.parse((await new Response(child.stdout).text()).trim().split("\n").at(-1)!);
    await child.status;
    if (got !== n) throw new Error(`Reliable run delivered ${got} of ${n}`);
    return {
      messages: n,
      seconds: out.seconds,
      perSec: Math.round(n / out.seconds),
      resends: out.resends,
    };
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // exited
    }
    await child.status;
    await receiver.close();
  }
}

async function childReliable(endpoint: string, n: number, bytes: number) {
  const registry = new Registry();
  const sender = await ReliableSender.open(`connect:${endpoint}`, {
    service: "bench",
    name: "orders",
    registry,
  });
  const b = body(bytes);
  const t0 = performance.now();
  const acks: Promise<unknown>[] = [];
  for (let i = 0; i < n; i++) {
    acks.push(sender.send("order", b));
    if (i % 1000 === 999) await yieldNow();
  }
  await Promise.all(acks);
  const seconds = (performance.now() - t0) / 1000;
  const resends = (await registry.getSingleMetric("messaging_resends_total")?.get())?.values
    .reduce((s, v) => s + v.value, 0) ?? 0;
  await sender.close();
  console.log(JSON.stringify({ seconds, resends }));
}

async function idleCpu(seconds: number): Promise<number> {
  const registry = new Registry();
  const pub = await Publisher.open("bind:tcp://127.0.0.1:0", {
    service: "bench",
    name: "idle",
    registry,
  });
  const sub = await Subscriber.open([pub.endpoint], { service: "bench", name: "idle", registry });
  sub.onMessage(() => {});
  const sender = await ReliableSender.open("bind:tcp://127.0.0.1:0", {
    service: "bench",
    name: "o",
    registry,
  });
  const receiver = await ReliableReceiver.open(sender.endpoint, {
    service: "bench",
    name: "o",
    registry,
    sender: sender.pub,
  });
  receiver.onMessage(() => {});
  await sleep(500);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const c = process.cpuUsage(c0);
  const wall = (performance.now() - t0) * 1000;
  await receiver.close();
  await sender.close();
  await sub.close();
  await pub.close();
  return Math.round(((c.user + c.system) / wall) * 1000) / 10;
}

/**
 * Runs every measurement and prints a table; returns the figures.
 *
 * @example
 * ```ts
 * import { run } from "./bench/messaging_bench.ts";
 * const results = await run({ messages: 100_000 });
 * console.log(results.latency[1].p99Us);
 * ```
 */
export async function run(options: BenchOptions = {}, print = true): Promise<BenchResults> {
  const n = options.messages ?? 200_000;
  const bytes = options.bodyBytes ?? 200;
  const results: BenchResults = {
    runtime:
      `deno ${Deno.version.deno}, zeromq ${zmq.version}, ${navigator.hardwareConcurrency} cpus`,
    cost: [],
    throughput: [],
    latency: [],
    reliable: { messages: 0, seconds: 0, perSec: 0, resends: 0 },
    idleCpuPercent: 0,
  };
  for (const mode of ["bare", "envelope"] as const) {
    results.cost.push(await cost(mode, Math.min(n, 100_000), bytes));
  }
  for (const mode of ["bare", "envelope"] as const) {
    results.throughput.push(await throughput(mode, n, bytes));
  }
  for (const mode of ["bare", "envelope"] as const) {
    results.latency.push(await latency(mode, options.rate ?? 1000, options.seconds ?? 3, bytes));
  }
  results.reliable = await reliable(options.reliableMessages ?? 100_000, bytes);
  results.idleCpuPercent = await idleCpu(3);
  if (print) printTable(results);
  return results;
}

function printTable(r: BenchResults): void {
  const fmt = (n: number) => n.toLocaleString("en-US");
  console.log(`\nmessaging bench (${r.runtime})\n`);
  console.log("cost per message in one process (msgs/s one core can do)");
  console.log("| mode     | messages | publish() msgs/s | drain msgs/s |");
  console.log("|----------|----------|------------------|--------------|");
  for (const c of r.cost) {
    console.log(
      `| ${c.mode.padEnd(8)} | ${fmt(c.messages).padStart(8)} | ${
        fmt(c.publishPerSec).padStart(16)
      } | ${fmt(c.drainPerSec).padStart(12)} |`,
    );
  }
  console.log("\none hop PUB -> SUB, publisher in a child process, saturated");
  console.log(
    "| mode     | frame B | sent    | received | dropped | publish msgs/s | receive msgs/s |",
  );
  console.log(
    "|----------|---------|---------|----------|---------|----------------|----------------|",
  );
  for (const t of r.throughput) {
    console.log(
      `| ${t.mode.padEnd(8)} | ${String(t.frameBytes).padStart(7)} | ${fmt(t.sent).padStart(7)} | ${
        fmt(t.received).padStart(8)
      } | ${fmt(t.dropped).padStart(7)} | ${fmt(t.publishPerSec).padStart(14)} | ${
        fmt(t.receivePerSec).padStart(14)
      } |`,
    );
  }
  console.log("\none hop latency at a fixed rate, both ends in one process (µs)");
  console.log("| mode     | samples | p50  | p99  | max   |");
  console.log("|----------|---------|------|------|-------|");
  for (const l of r.latency) {
    console.log(
      `| ${l.mode.padEnd(8)} | ${String(l.samples).padStart(7)} | ${
        String(l.p50Us).padStart(4)
      } | ${String(l.p99Us).padStart(4)} | ${String(l.maxUs).padStart(5)} |`,
    );
  }
  console.log(
    `\nreliable sender (child) -> receiver: ${fmt(r.reliable.messages)} messages acknowledged in ${
      r.reliable.seconds.toFixed(2)
    } s = ${fmt(r.reliable.perSec)} msgs/s, ${r.reliable.resends} resends`,
  );
  console.log(
    `idle CPU with 4 open sockets and their poll loops: ${r.idleCpuPercent}% of one core\n`,
  );
}

// ---------------------------------------------------------------------------
// `deno bench`: encode/decode micro benchmarks

const frame = encodeFrame([{
  v: 2,
  type: "tick",
  seq: 1,
  pub: "bench/md",
  epoch: 1,
  ts: 1,
  trace: "0".repeat(32),
  body: body(200),
}]);
const sampleEnv = decode(frame);

Deno.bench("envelope: encodeFrame() of a 200-byte JSON body", benchOptions(), () => {
  encodeFrame([sampleEnv]);
});

Deno.bench("envelope: decode() of a 200-byte JSON body", benchOptions(), () => {
  decode(frame);
});

if (import.meta.main) {
  const [flag, mode, endpoint, n, bytes] = Deno.args;
  if (flag === "--child" && mode === "reliable") {
    await childReliable(endpoint, Number(n), Number(bytes));
  } else if (flag === "--child") {
    await childPublisher(mode, endpoint, Number(n), Number(bytes));
  } else {
    await run();
  }
}
