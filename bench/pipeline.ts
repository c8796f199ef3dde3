/**
 * The pipeline benchmark: starts the real services on the simulated exchange and
 * measures, in one run on this machine, each figure next to a bare zeromq.js
 * yardstick:
 *
 * - market-data throughput (messages/s it publishes, metrics on) against a bare
 *   PUB/SUB of the same message size, and with instrumentation off (overhead);
 * - tick-to-trade latency p50/p99/p99.9 at fixed tick rates (market-data's receipt
 *   of the exchange message to execution-engine's receipt of the order, read
 *   exactly from the order journal) against a bare three-hop relay at that rate, and
 *   each hop's transit over the same window (`messaging_transit_latency_seconds` of every
 *   receiving service and channel, from two scrapes of the services' `/metrics`);
 * - the same overhead in one process: market-data's core and a Publisher, instrumented and
 *   not, alternated every 20 frames (`--overhead-only` runs just that);
 * - tick-to-trade at 1000/s with tracing off and on (`OTEL_DENO=true` at the stack's head
 *   ratio, exporting to a collector in this process that discards), alternated
 *   (`--tracing-only` runs just that);
 * - `/metrics` render time and series count with 100 symbols;
 * - resident memory of each service at start and after sustained load;
 * - the live histograms of the default system (default config and log level, its own
 *   order rate): `all_checks`, the durable record, the order book update.
 *
 * Prints a table, writes `bench/results.json`, and exits 1 when a run is invalid
 * (a service died, an approved order did not reach execution-engine, a reliable
 * channel missed a message). Run: `deno run -A bench/pipeline.ts [--quick] [--overhead-only]
 * [--tracing-only] [--durability process]` (`--durability` sets risk-manager's and
 * execution-engine's for the tick-to-trade runs and the tracing comparison; default `power`, as
 * shipped). After a run stops the feed it waits until the pipeline has drained (approvals and
 * journaled orders equal and still) before it checks that nothing approved was lost.
 *
 * `--soak MINUTES` runs only a soak instead: the pipeline at 1k ticks/s (stress config)
 * for that long, every service's heap used and RSS sampled every 15 s, reported as
 * least-squares slopes in MB/min (after the first fifth of the samples, the warm-up),
 * written to `bench/soak.json`; exits 1 when the run is invalid or a slope is over its
 * bound ({@link SOAK_BOUNDS_MB_PER_MIN}). With `--soak-gc` every service also runs with
 * `--inspect=127.0.0.1:<free port>` and each sample adds its heap used after a forced full GC
 * (bench/inspector.ts), read after the RSS and heap used as they were: objects kept, not garbage
 * V8 has not collected yet; the heap bound then applies to that slope.
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import { type ServiceName, SERVICES } from "../lib/metrics.ts";
import {
  openRiskLimits,
  type RawConfig,
  sampleValue,
  type Stack,
  startStack,
} from "../lib/testing/stack.ts";
import { freePort, Proc, waitFor } from "../lib/testing/tools.ts";
import { barePublisher, bareSubscriber } from "./bare_zmq.ts";
import { createServiceMetrics } from "../lib/metrics.ts";
import { senderOptions } from "../lib/channels.ts";
import { parseCommandLine } from "../lib/cli.ts";
import { MarketDataCore } from "../services/market-data/core.ts";
import { MarketDataMetrics } from "../services/market-data/metrics.ts";
import {
  SIM_TRAFFIC_SYMBOLS,
  simTrafficFrames,
} from "../services/market-data/testing/sim_traffic.ts";
import { SimMarket } from "../services/market-data/sim_market.ts";
import { run as messagingBench } from "./messaging_bench.ts";
import { type Order } from "../lib/types.ts";
import { nowMs } from "../lib/clock.ts";
import { Publisher } from "../lib/messaging/mod.ts";
import { frameBytes, RECORD_HEADER_BYTES } from "../lib/envelope.ts";
import {
  difference,
  type HistogramSnapshot,
  quantile,
  readHistogram,
  readHistograms,
  shareAtMost,
} from "./histogram.ts";
import { slopePerMinute } from "./slope.ts";
import { serviceTracingEnv } from "../lib/tracing_config.ts";
import { HeapInspector } from "./inspector.ts";

const ARGS = import.meta.main
  ? parseCommandLine(Deno.args, {
    name: "bench",
    summary: "Runs the micro benchmarks (deno bench), then this pipeline benchmark: the real " +
      "services on the simulated exchange, each figure beside a bare zeromq.js yardstick " +
      "measured in the same run; writes bench/results.json and exits 1 on an invalid run.",
    flags: [
      { name: "quick", help: "shorter phases (a smoke run, not for the README's table)" },
      { name: "no-micro", help: "skip the micro benchmarks (bench/*_bench.ts)" },
      {
        name: "soak",
        value: "MINUTES",
        help: "run only a soak of that many minutes: heap and RSS slope per service " +
          "(bench/soak.json)",
      },
      {
        name: "overhead-only",
        help: "only the in-process metrics overhead (core + publisher, instrumented and not, " +
          "alternated every 20 frames; no results.json)",
      },
      {
        name: "soak-gc",
        help: "with --soak: also sample each service's heap used after a forced full GC " +
          "(services under --inspect on 127.0.0.1)",
      },
      {
        name: "tracing-only",
        help: "only tick-to-trade at 1000/s with tracing off and on, alternated (no results.json)",
      },
      {
        name: "durability",
        value: "process|power",
        help: "risk-manager's and execution-engine's durability in the tick-to-trade runs and " +
          "the tracing comparison (default power, as shipped; process takes the disk's fsync " +
          "out of the path)",
      },
    ],
  })
  : { values: {} as Record<string, string | true> };
const QUICK = ARGS.values.quick === true;
const DURABILITY = ARGS.values.durability ?? "power";
if (DURABILITY !== "power" && DURABILITY !== "process") {
  console.error(`Cannot run the bench: --durability is process or power, not ${DURABILITY}`);
  Deno.exit(2);
}
const THROUGHPUT_S = QUICK ? 3 : 5;
const LATENCY_S = QUICK ? 6 : 15;
const RATES = [1_000, 10_000];
const problems: string[] = [];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function quantiles(
  xs: number[],
): { n: number; p50: number; p99: number; p999: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : NaN;
  return { n: s.length, p50: q(0.5), p99: q(0.99), p999: q(0.999), max: s[s.length - 1] ?? NaN };
}

const round = (x: number, d = 1) => Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : x;

async function alive(stack: Stack, what: string): Promise<void> {
  for (const [s, p] of stack.procs) {
    const state = await Promise.race([p.done.then(() => "exited"), sleep(0).then(() => "running")]);
    if (state === "exited") problems.push(`${what}: ${s} died: ${p.stderr.slice(-500)}`);
  }
}

/** CPU seconds (user + system) each service used so far, from `/proc/<pid>/stat` (Linux). */
function cpuSeconds(stack: Stack): Record<string, number> {
  const out: Record<string, number> = {};
  const hz = 100; // USER_HZ on Linux
  for (const [s, p] of stack.procs) {
    try {
      const fields = Deno.readTextFileSync(`/proc/${p.child.pid}/stat`).split(") ")[1].split(" ");
      out[s] = (Number(fields[11]) + Number(fields[12])) / hz;
    } catch {
      out[s] = NaN; // exited
    }
  }
  return out;
}

async function rssMb(stack: Stack): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const s of stack.procs.keys()) {
    const text = await stack.metrics(s);
    const rss = sampleValue(text, "process_resident_memory_bytes");
    const heap = sampleValue(text, "nodejs_heap_size_used_bytes");
    out[s] = round((rss ?? NaN) / 2 ** 20);
    // The JS heap in use tells a leak in our objects from memory the allocator keeps.
    out[`${s}:heapUsed`] = round((heap ?? NaN) / 2 ** 20);
  }
  return out;
}

// ---------------------------------------------------------------- throughput

/**
 * The records of a frame of lib/envelope.ts's format, counted from their length fields
 * (no body decoded); a frame of anything else (the bare yardstick's) counts as one.
 */
function recordsIn(frame: Uint8Array): number {
  let bytes: Uint8Array;
  try {
    bytes = frameBytes(frame);
  } catch {
    return 1;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let n = 0;
  for (let at = 0; at + RECORD_HEADER_BYTES <= bytes.length; n++) {
    at += RECORD_HEADER_BYTES + bytes[at + 3] + bytes[at + 4] + view.getUint32(at + 5, true);
  }
  return Math.max(1, n);
}

/**
 * Counts messages (and bytes on the wire) a bare SUB receives from `endpoint` over
 * `seconds`: the records of each frame (market-data batches them), one per bare frame.
 */
async function countFrames(endpoint: string, seconds: number, warmupMs: number, records = false) {
  let frames = 0;
  let bytes = 0;
  let counting = false;
  const sub = bareSubscriber(endpoint, (f) => {
    if (!counting) return;
    frames += records ? recordsIn(f) : 1;
    bytes += f.length;
  });
  await sleep(warmupMs);
  counting = true;
  const t0 = performance.now();
  await sleep(seconds * 1000);
  counting = false;
  const elapsed = (performance.now() - t0) / 1000;
  await sub.close();
  return { rate: frames / elapsed, avgSize: frames ? bytes / frames : 0 };
}

async function marketDataThroughput(instrumented: boolean) {
  const stack = startStack({
    services: ["market-data"],
    env: { TRADING_INSTRUMENTATION: instrumented ? "on" : "off", LOG_LEVEL: "warning" },
    overrides: (c) => {
      c.marketData.sim.ticksPerSecond = 500_000;
      // Like for like with the bare PUB/SUB yardstick (plain TCP, counted by a bare SUB);
      // what CURVE costs is measured by tick-to-trade with it on and off.
      c.security.mode = "insecure";
    },
  });
  try {
    await stack.waitReady();
    const endpoint = stack.config.marketData.publish.replace(/^bind:/, "");
    const r = await countFrames(endpoint, THROUGHPUT_S, 1500, true);
    await alive(stack, "throughput");
    return r;
  } finally {
    await stack.stop();
    Deno.removeSync(stack.dir, { recursive: true });
  }
}

async function bareThroughput(size: number) {
  const port = freePort();
  const endpoint = `tcp://127.0.0.1:${port}`;
  const pub = new Proc("bench/bare_zmq.ts", [
    "pub",
    "--out",
    endpoint,
    "--size",
    String(Math.max(8, Math.round(size))),
    "--seconds",
    String(THROUGHPUT_S + 3),
    "--warmup",
    "0",
  ]);
  try {
    await waitFor("bare pub ready", () => pub.stdout.includes("ready"));
    return await countFrames(endpoint, THROUGHPUT_S, 1500);
  } finally {
    await pub.stop();
  }
}

// ---------------------------------------------------------------- tick to trade

/** The transit histogram every receiver observes (lib/messaging/transit.ts). */
const TRANSIT = "messaging_transit_latency_seconds";
/** The hops of a tick's way to an order, as `<receiving service>/<channel>`, in order. */
const TICK_PATH_HOPS = [
  "signal-bridge/market_data",
  "risk-manager/signals",
  "execution-engine/orders",
] as const;

/** Every service's `/metrics` text, joined (each labels its own series with `service`). */
async function scrapeAll(stack: Stack): Promise<string> {
  return (await Promise.all(SERVICES.map((s) => stack.metrics(s)))).join("\n");
}

/**
 * Each hop's transit between two scrapes (`before`, `after`: {@link scrapeAll}), keyed
 * `<receiving service>/<channel>`: how many messages, and p50/p99 in µs as
 * `histogram_quantile` estimates them (linear within a bucket). Hops that received nothing
 * in the window are left out.
 */
function transitUs(before: string, after: string) {
  const was = readHistograms(before, TRANSIT, ["service", "channel"]);
  const out: Record<string, { n: number; p50: number; p99: number }> = {};
  const now = [...readHistograms(after, TRANSIT, ["service", "channel"])].sort(([a], [b]) =>
    a < b ? -1 : 1
  );
  for (const [hop, h] of now) {
    const d = difference(h, was.get(hop));
    if (!(d.count > 0)) continue;
    out[hop] = {
      n: d.count,
      p50: round(quantile(d, 0.5) * 1e6),
      p99: round(quantile(d, 0.99) * 1e6),
    };
  }
  return out;
}

/** Settings that let every signal through risk so the latency sample is large. */
function stressRisk(c: RawConfig, rate: number): void {
  c.marketData.sim.ticksPerSecond = rate;
  c.signalBridge.minIntervalMs = 0;
  c.riskManager.sizing.notionalPerOrder = 100;
  openRiskLimits(c, 1e6, 1_000_000);
}

/**
 * Tick-to-trade at `rate` ticks/s. With `otlpEndpoint`, every service traces as `deno task stack`
 * runs it with that collector (lib/tracing_config.ts: `OTEL_DENO=true`, head ratio 0.01).
 */
async function tickToTrade(
  rate: number,
  security: "curve" | "insecure" = "curve",
  otlpEndpoint?: string,
) {
  const stack = startStack({
    env: { LOG_LEVEL: "warning" },
    serviceEnv: (service) =>
      otlpEndpoint === undefined ? {} : {
        OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint,
        ...serviceTracingEnv(service, { OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint }),
      },
    overrides: (c) => {
      stressRisk(c, rate);
      c.security.mode = security;
      c.riskManager.durability = DURABILITY;
      c.executionEngine.durability = DURABILITY;
    },
  });
  try {
    await stack.waitReady(60_000);
    const memStart = await rssMb(stack);
    // Signals need a warm-up (EMAs, RSI): wait for the first orders.
    await waitFor("first orders", async () => {
      const t = await stack.metrics("execution-engine");
      return (sampleValue(t, "execution_engine_tick_to_trade_latency_us_count") ?? 0) > 0;
    }, { timeoutMs: 60_000, everyMs: 500 });
    const transitFrom = await scrapeAll(stack);
    const from = performance.timeOrigin + performance.now();
    const cpuFrom = cpuSeconds(stack);
    await sleep(LATENCY_S * 1000);
    const to = performance.timeOrigin + performance.now();
    const cpuTo = cpuSeconds(stack);
    // Each hop's transit over the same window (the scrapes' few ms at its two ends aside).
    const transit = transitUs(transitFrom, await scrapeAll(stack));
    // The four services' CPU over the window, % of one core (a steadier cost than latency on a
    // shared machine).
    const windowCpuPercent = SERVICES.reduce((sum, s) => sum + (cpuTo[s] - cpuFrom[s]), 0) /
      ((to - from) / 1000) * 100;
    await alive(stack, `tick-to-trade ${rate}/s`);
    const memAfter = await rssMb(stack);
    const cpu: Record<string, number> = {};
    for (const s of SERVICES) {
      cpu[s] = round(
        sampleValue(await stack.metrics(s), "system_cpu_usage_percent") ?? NaN,
      );
    }
    // Stop the feed, let the pipeline drain, then check nothing approved was lost.
    const { approved, missed } = await drain(stack);
    const db = new DatabaseSync(stack.config.executionEngine.journalPath, { readOnly: true });
    const rows = db.prepare("SELECT body, created_at FROM orders").all() as {
      body: string;
      created_at: number;
    }[];
    db.close();
    const inWindow = rows
      .filter((r) => r.created_at >= from && r.created_at <= to)
      .map((r) => ({ at: r.created_at, order: JSON.parse(r.body) as Order }));
    const lat = inWindow.map((r) => (r.at - r.order.tickTs) * 1000)
      .filter((x) => Number.isFinite(x) && x >= 0);
    // Where the time goes: tick -> risk approval (market-data, signal-bridge, risk-manager
    // and two PUB/SUB hops), then approval -> journal (the reliable hop).
    const toApproval = quantiles(inWindow.map((r) => (r.order.createdAt - r.order.tickTs) * 1000));
    const approvalToJournal = quantiles(inWindow.map((r) => (r.at - r.order.createdAt) * 1000));
    if (rows.length !== approved) {
      problems.push(
        `tick-to-trade ${rate}/s: risk approved ${approved} orders, execution journaled ${rows.length}`,
      );
    }
    if (missed > 0) {
      problems.push(`tick-to-trade ${rate}/s: ${missed} messages missed on risk's channels`);
    }
    if (lat.length < 50) {
      problems.push(`tick-to-trade ${rate}/s: only ${lat.length} orders measured`);
    }
    return {
      rate,
      approved,
      journaled: rows.length,
      latencyUs: quantiles(lat),
      samples: lat,
      windowCpuPercent,
      segmentsUs: { tickToApproval: toApproval, approvalToJournal },
      transitUs: transit,
      memStart,
      memAfter,
      cpu,
    };
  } finally {
    await stack.stop();
    Deno.removeSync(stack.dir, { recursive: true });
  }
}

/** Latency through source -> relay -> relay -> sink (three hops), paced at `rate`. */
async function bareRelay(rate: number, size = 400) {
  const ports = [freePort(), freePort(), freePort()];
  const ep = ports.map((p) => `tcp://127.0.0.1:${p}`);
  const pub = await barePublisher(ep[0]);
  const relays = [
    new Proc("bench/bare_zmq.ts", ["relay", "--in", ep[0], "--out", ep[1]]),
    new Proc("bench/bare_zmq.ts", ["relay", "--in", ep[1], "--out", ep[2]]),
  ];
  const lat: number[] = [];
  const decoder = new TextDecoder();
  let received = 0;
  let measuring = false;
  const sub = bareSubscriber(ep[2], (f) => {
    received++;
    if (!measuring) return;
    const sentAt = Number(decoder.decode(f.subarray(0, 20)));
    lat.push((performance.now() - sentAt) * 1000);
  });
  try {
    for (const r of relays) await waitFor("relay ready", () => r.stdout.includes("ready"));
    const pad = "x".repeat(size);
    const run = async (seconds: number) => {
      let sent = 0;
      const t0 = performance.now();
      while (performance.now() - t0 < seconds * 1000) {
        const due = Math.floor(((performance.now() - t0) / 1000) * rate);
        while (sent < due) {
          // The send time leads the frame, as text (string frames, see bare_zmq.ts).
          await pub.send(`${performance.now().toFixed(4).padStart(20, "0")}|${pad}`);
          sent++;
        }
        await sleep(1);
      }
      return sent;
    };
    await waitFor("relay chain connected", async () => {
      await run(0.2);
      return received > 0;
    }, { timeoutMs: 10_000, everyMs: 10 });
    await sleep(200);
    measuring = true;
    const sent = await run(LATENCY_S / 2);
    await sleep(500);
    measuring = false;
    if (lat.length < sent * 0.99) {
      problems.push(`bare relay ${rate}/s: ${sent} sent, ${lat.length} received`);
    }
    return { rate, sent, latencyUs: quantiles(lat) };
  } finally {
    await sub.close();
    pub.close();
    for (const r of relays) await r.stop();
  }
}

// ---------------------------------------------------------------- the default system, live

/** How long {@link drain} waits at most, and how long the counts must stay still. */
const DRAIN_MAX_MS = 60_000;
const DRAIN_STILL_MS = 1_000;

/** The orders in the execution journal now. */
function journaledOrders(stack: Stack): number {
  const db = new DatabaseSync(stack.config.executionEngine.journalPath, { readOnly: true });
  try {
    return Number(db.prepare("SELECT COUNT(*) AS n FROM orders").get()!.n);
  } finally {
    db.close();
  }
}

/**
 * Stops market-data and waits until the pipeline has drained: risk-manager's approvals and the
 * execution journal's orders are equal and neither moved for {@link DRAIN_STILL_MS}, or
 * {@link DRAIN_MAX_MS} passed (a loaded machine drains a 10k ticks/s backlog slowly; a fixed
 * wait once compared the counts mid-drain). Returns the counts it saw last, for the caller's
 * check that nothing approved was lost.
 */
async function drain(stack: Stack) {
  await stack.procs.get("market-data")!.stop();
  const deadline = performance.now() + DRAIN_MAX_MS;
  let seen = "";
  let stillSince = performance.now();
  for (;;) {
    const rm = await stack.metrics("risk-manager");
    const approved = sampleValue(rm, "risk_manager_checks_performed_total", {
      check_type: "all_checks",
      result: "pass",
    }) ?? 0;
    const missed = sampleValue(rm, "messaging_messages_missed_total") ?? 0;
    const journaled = journaledOrders(stack);
    const now = performance.now();
    const key = `${approved}/${journaled}/${missed}`;
    if (key !== seen) {
      seen = key;
      stillSince = now;
    } else if (approved === journaled && now - stillSince >= DRAIN_STILL_MS) {
      return { approved, journaled, missed };
    }
    if (now >= deadline) return { approved, journaled, missed };
    await sleep(250);
  }
}

/** Stops market-data, lets the pipeline drain, and checks every approval reached the journal. */
async function approvalsJournaled(stack: Stack, what: string) {
  const { approved, journaled, missed } = await drain(stack);
  if (journaled !== approved) {
    problems.push(`${what}: risk approved ${approved} orders, execution journaled ${journaled}`);
  }
  if (missed > 0) problems.push(`${what}: ${missed} messages missed on risk's channels`);
  return { approved, journaled };
}

/** p50/p99 and the share at or under `bound` of one histogram's observations. */
function summary(h: HistogramSnapshot | undefined, bound: number, scale = 1) {
  if (h === undefined) return { n: 0, p50: NaN, p99: NaN, shareAtMostBound: NaN };
  return {
    n: h.count,
    p50: round(quantile(h, 0.5) * scale, 1),
    p99: round(quantile(h, 0.99) * scale, 1),
    shareAtMostBound: round(shareAtMost(h, bound / scale), 4),
  };
}

/**
 * The default system as it ships (config/system.json, LOG_LEVEL info, CURVE on) at the
 * order rate its own signals make: the live histograms of the services, taken as the
 * difference of two scrapes `seconds` apart (the warm-up left out). What the seed's
 * checklist asks of `all_checks` (p99 < 100 µs) is read here, not in a unit test.
 */
async function liveDefault(seconds = QUICK ? 20 : 60) {
  const stack = startStack();
  try {
    await stack.waitReady(60_000);
    await waitFor("first approvals", async () => {
      const t = await stack.metrics("risk-manager");
      return (sampleValue(t, "risk_manager_checks_performed_total", {
        check_type: "all_checks",
        result: "pass",
      }) ?? 0) > 0;
    }, { timeoutMs: 120_000, everyMs: 500 });
    const scrape = async () => ({
      rm: await stack.metrics("risk-manager"),
      md: await stack.metrics("market-data"),
    });
    const read = (t: { rm: string; md: string }) => ({
      allChecks: readHistogram(t.rm, "risk_manager_pretrade_check_latency_us", {
        check_type: "all_checks",
      }),
      record: readHistogram(t.rm, "risk_manager_decision_record_latency_seconds"),
      book: readHistogram(t.md, "market_data_orderbook_update_latency_us"),
      approved: sampleValue(t.rm, "risk_manager_checks_performed_total", {
        check_type: "all_checks",
        result: "pass",
      }) ?? 0,
    });
    const before = read(await scrape());
    await sleep(seconds * 1000);
    const after = read(await scrape());
    await alive(stack, "live default system");
    const allChecks = after.allChecks && difference(after.allChecks, before.allChecks);
    const record = after.record && difference(after.record, before.record);
    const book = after.book && difference(after.book, before.book);
    const valid = await approvalsJournaled(stack, "live default system");
    if ((allChecks?.count ?? 0) < 20) {
      problems.push(`live default system: only ${allChecks?.count ?? 0} signals checked`);
    }
    return {
      seconds,
      signalsPerS: round((allChecks?.count ?? 0) / seconds, 2),
      ordersPerS: round((after.approved - before.approved) / seconds, 2),
      allChecksUs: summary(allChecks, 100),
      // Seconds in the exposition, µs here.
      decisionRecordUs: summary(record, 250, 1e6),
      orderbookUpdateUs: summary(book, 100),
      ...valid,
    };
  } finally {
    await stack.stop();
    Deno.removeSync(stack.dir, { recursive: true });
  }
}

// ---------------------------------------------------------------- soak

/**
 * The bound a slope may reach, MB/min, per service. A service starts near 150 MB and its
 * pod may use 768 MiB (deploy/base): at 0.5 MB/min of RSS it reaches that no sooner than
 * the 16 hours of a session with extended hours (04:00-20:00 ET). The JS heap gets half
 * of it: a leak of our objects shows there first, RSS also holds what SQLite and the
 * allocator keep.
 */
export const SOAK_BOUNDS_MB_PER_MIN = { rss: 0.5, heapUsed: 0.25 } as const;
const SOAK_RATE = 1_000;
const SOAK_EVERY_MS = 15_000;

/** Each service's heap used and external memory after a forced full GC, MB. */
async function afterGcMb(inspectors: Map<ServiceName, HeapInspector>) {
  const out: Record<string, number> = {};
  for (const [s, inspector] of inspectors) {
    const m = await inspector.afterGc();
    out[`${s}:heapAfterGc`] = round(m.heapUsed / 2 ** 20);
    out[`${s}:externalAfterGc`] = round(m.external / 2 ** 20);
  }
  return out;
}

/** The pipeline at {@link SOAK_RATE} ticks/s for `minutes`, memory sampled; see the module doc. */
async function soak(minutes: number, forcedGc: boolean) {
  const inspectPorts = new Map<ServiceName, number>();
  const stack = startStack({
    env: { LOG_LEVEL: "warning" },
    overrides: (c) => stressRisk(c, SOAK_RATE),
    denoFlags: (service) => {
      if (!forcedGc) return [];
      const port = freePort();
      inspectPorts.set(service, port);
      return [`--inspect=127.0.0.1:${port}`];
    },
  });
  const samples: { atMs: number; mb: Record<string, number> }[] = [];
  const inspectors = new Map<ServiceName, HeapInspector>();
  // RSS and heap used as they are, then (with --soak-gc) after a forced GC.
  const sample = async () => ({ ...await rssMb(stack), ...await afterGcMb(inspectors) });
  try {
    await stack.waitReady(60_000);
    for (const [s, port] of inspectPorts) inspectors.set(s, await HeapInspector.connect(port));
    await waitFor("first orders", async () => {
      const t = await stack.metrics("execution-engine");
      return (sampleValue(t, "execution_engine_tick_to_trade_latency_us_count") ?? 0) > 0;
    }, { timeoutMs: 60_000, everyMs: 500 });
    const t0 = performance.now();
    const end = t0 + minutes * 60_000;
    while (performance.now() < end) {
      samples.push({ atMs: performance.now() - t0, mb: await sample() });
      console.error(
        `soak ${((performance.now() - t0) / 60_000).toFixed(1)}/${minutes} min: ` +
          SERVICES.map((s) => `${s} ${samples.at(-1)!.mb[s]} MB`).join(", "),
      );
      await sleep(Math.min(SOAK_EVERY_MS, Math.max(0, end - performance.now())));
    }
    samples.push({ atMs: performance.now() - t0, mb: await sample() });
    await alive(stack, "soak");
    const orders = sampleValue(
      await stack.metrics("execution-engine"),
      "execution_engine_tick_to_trade_latency_us_count",
    ) ?? 0;
    const valid = await approvalsJournaled(stack, "soak");
    const steady = samples.slice(Math.floor(samples.length / 5));
    const perService = Object.fromEntries(SERVICES.map((s) => {
      const slope = (key: string) =>
        round(slopePerMinute(steady.map((x) => ({ atMs: x.atMs, mb: x.mb[key] }))), 3);
      const rss = slope(s);
      const heapUsed = slope(`${s}:heapUsed`);
      const heapAfterGc = forcedGc ? slope(`${s}:heapAfterGc`) : undefined;
      const firstLast = (key: string) => ({
        first: samples[0].mb[key],
        last: samples.at(-1)!.mb[key],
      });
      return [s, {
        rssMbPerMin: rss,
        heapUsedMbPerMin: heapUsed,
        rssMb: firstLast(s),
        heapUsedMb: firstLast(`${s}:heapUsed`),
        ...(forcedGc
          ? {
            heapAfterGcMbPerMin: heapAfterGc,
            heapAfterGcMb: firstLast(`${s}:heapAfterGc`),
            externalAfterGcMb: firstLast(`${s}:externalAfterGc`),
          }
          : {}),
        // The heap bound is for kept objects: after a forced GC when measured.
        pass: rss <= SOAK_BOUNDS_MB_PER_MIN.rss &&
          (heapAfterGc ?? heapUsed) <= SOAK_BOUNDS_MB_PER_MIN.heapUsed,
      }];
    }));
    if (steady.length < 3) problems.push(`soak: only ${steady.length} samples after warm-up`);
    return {
      minutes,
      forcedGc,
      ticksPerS: SOAK_RATE,
      orders,
      samples: samples.length,
      boundsMbPerMin: SOAK_BOUNDS_MB_PER_MIN,
      perService,
      pass: Object.values(perService).every((p) => p.pass),
      ...valid,
      samplesMb: samples.map((x) => ({ atS: round(x.atMs / 1000), ...x.mb })),
    };
  } finally {
    for (const inspector of inspectors.values()) inspector.close();
    await stack.stop();
    Deno.removeSync(stack.dir, { recursive: true });
  }
}

async function soakMain(minutes: number, forcedGc: boolean) {
  const started = new Date().toISOString();
  const r = await soak(minutes, forcedGc);
  const out = { started, valid: problems.length === 0, problems, ...r };
  await Deno.mkdir("bench", { recursive: true });
  Deno.writeTextFileSync("bench/soak.json", JSON.stringify(out, null, 2) + "\n");
  const gc = (cells: string[]) => forcedGc ? cells : [];
  const rows: string[][] = [[
    "service",
    "RSS MB/min",
    "heap used MB/min",
    ...gc(["after GC MB/min"]),
    "RSS MB",
    "heap MB",
    ...gc(["after GC MB", "external MB"]),
    "",
  ]];
  for (const [s, p] of Object.entries(r.perService)) {
    rows.push([
      s,
      String(p.rssMbPerMin),
      String(p.heapUsedMbPerMin),
      ...gc([String(p.heapAfterGcMbPerMin)]),
      `${p.rssMb.first} -> ${p.rssMb.last}`,
      `${p.heapUsedMb.first} -> ${p.heapUsedMb.last}`,
      ...gc([
        `${p.heapAfterGcMb?.first} -> ${p.heapAfterGcMb?.last}`,
        `${p.externalAfterGcMb?.first} -> ${p.externalAfterGcMb?.last}`,
      ]),
      p.pass ? "pass" : "FAIL",
    ]);
  }
  const w = rows[0].map((_, i) => Math.max(...rows.map((x) => x[i].length)));
  console.log(
    `soak: ${minutes} min at ${r.ticksPerS} ticks/s, ${r.orders} orders, ${r.samples} samples; ` +
      `bounds RSS ${r.boundsMbPerMin.rss}, heap ${r.boundsMbPerMin.heapUsed} MB/min`,
  );
  for (const x of rows) console.log(x.map((c, i) => c.padEnd(w[i])).join("  "));
  if (problems.length) {
    console.log("\nINVALID RUN:");
    for (const p of problems) console.log(`- ${p}`);
  }
  console.log("\nwritten: bench/soak.json");
  Deno.exit(problems.length || !r.pass ? 1 : 0);
}

// ---------------------------------------------------------------- /metrics render

async function metricsRender(symbolCount = 100) {
  const symbols = Array.from({ length: symbolCount }, (_, i) => `S${String(i).padStart(3, "0")}`);
  const startPrices = Object.fromEntries(symbols.map((s, i) => [s, 20 + i]));
  const sim = new SimMarket({
    seed: 1,
    symbols,
    ticksPerSecond: 20_000,
    bookDepth: 10,
    startPrices,
    tickSize: {},
  });
  const m = createServiceMetrics("market-data", { sampleMs: 60_000 });
  const core = new MarketDataCore({
    exchange: "sim",
    symbols,
    bars: ["1s", "1m"],
    sink: () => {},
    metrics: new MarketDataMetrics(m.families, { exchange: "sim", symbols }),
  });
  const t0 = Date.parse("2024-03-01T15:00:00Z");
  const msgs = sim.due(5_000, t0);
  for (let i = 0; i < msgs.length; i += 100) {
    core.handle({ receivedTs: t0 + i, frame: msgs.slice(i, i + 100) });
  }
  const times: number[] = [];
  let text = "";
  for (let i = 0; i < 30; i++) {
    const s = performance.now();
    text = await m.registry.metrics();
    times.push(performance.now() - s);
  }
  m.stop();
  const series = text.split("\n").filter((l) => l && !l.startsWith("#")).length;
  const q = quantiles(times.slice(5));
  return {
    symbols: symbolCount,
    series,
    bytes: text.length,
    renderMs: { p50: round(q.p50, 2), max: round(q.max, 2) },
  };
}

/** One side of {@link coreOverhead}: a core and a Publisher on their own registry. */
async function overheadSide(instrumented: boolean) {
  const symbols = SIM_TRAFFIC_SYMBOLS;
  const m = createServiceMetrics("market-data", {
    defaultMetrics: false,
    sampleMs: 60_000,
    instrumented,
  });
  const pub = await Publisher.open("bind:tcp://127.0.0.1:0", {
    service: "market-data",
    registry: m.registry,
    ...senderOptions("market_data"),
  });
  const core = new MarketDataCore({
    exchange: "sim",
    symbols,
    bars: ["1s", "1m"],
    sink: (msg) => void pub.publish(msg.type, msg.body),
    metrics: new MarketDataMetrics(m.families, { exchange: "sim", symbols }),
  });
  return {
    instrumented,
    core,
    close: async () => {
      await pub.close();
      m.stop();
    },
  };
}

/** Frames each side handles in one go in {@link coreOverhead} (~1,000 messages, ~2.5 ms). */
const OVERHEAD_CHUNK_FRAMES = 20;

/**
 * Metrics overhead inside market-data, without the noise of separate processes: four
 * sides live in this process at once, each market-data's core and a real Publisher on its
 * own registry, instrumented, not, not, instrumented (the service's own switch: no-op
 * families; created in that order, so neither mode is always the first or the last made).
 * In each round every side handles the same next 20 sim frames (~1,000 messages), in
 * that order rotated by one place each round, each side timed by the wall clock:
 * ~2.5 ms a side, too short for most rounds to be preempted, and the four sides of a round
 * are neighbours in time, so another engineer's load on the machine and the JIT's drift
 * fall on both modes. The overhead is the median over rounds of the instrumented sides'
 * time over the uninstrumented ones', less 1; the first tenth of the rounds (warm-up) is
 * discarded. Between rounds the event loop runs (the publishers flush).
 */
async function coreOverhead(rounds = QUICK ? 300 : 800) {
  const frames = simTrafficFrames(20_000);
  const sides = [];
  for (const instrumented of [true, false, false, true]) {
    sides.push(await overheadSide(instrumented));
  }
  const perMessageNs = { on: [] as number[], off: [] as number[] };
  const roundPct: number[] = [];
  let next = 0;
  try {
    for (let r = 0; r < rounds; r++) {
      const first = next;
      const took = { on: 0, off: 0, onN: 0, offN: 0 };
      // Each side takes each place in the round in turn: the first after the event loop ran
      // is slower (~2% in an A/A run with a fixed order), and no side may always be it.
      for (let i = 0; i < sides.length; i++) {
        const side = sides[(i + r) % sides.length];
        let at = first;
        let n = 0;
        const start = performance.now();
        for (let k = 0; k < OVERHEAD_CHUNK_FRAMES; k++) {
          n += side.core.handle({ receivedTs: nowMs(), frame: frames[at++ % frames.length] });
        }
        const ns = (performance.now() - start) * 1e6;
        next = at;
        if (side.instrumented) (took.on += ns, took.onN += n);
        else (took.off += ns, took.offN += n);
      }
      await sleep(0);
      if (r < rounds / 10) continue;
      const on = took.on / took.onN;
      const off = took.off / took.offN;
      perMessageNs.on.push(on);
      perMessageNs.off.push(off);
      roundPct.push((on / off - 1) * 100);
    }
  } finally {
    for (const side of sides) await side.close();
  }
  const on = quantiles(perMessageNs.on).p50;
  const off = quantiles(perMessageNs.off).p50;
  return {
    rounds: roundPct.length,
    messagesPerSideAndRound: Math.round(frames.flat().length / frames.length) *
      OVERHEAD_CHUNK_FRAMES,
    onMsgsPerS: Math.round(1e9 / on),
    offMsgsPerS: Math.round(1e9 / off),
    overheadPct: round(quantiles(roundPct).p50, 2),
    /** The quartiles of the rounds' overheads: the spread of the figure. */
    roundQuartilesPct: [round(quartile(roundPct, 0.25), 1), round(quartile(roundPct, 0.75), 1)],
  };
}

/** The median of `xs` (the mean of the two middle values of an even count). */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The `p` quantile of `xs` (nearest rank). */
function quartile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}

/** The row of the table for {@link coreOverhead}'s result. */
function overheadRow(
  o: Awaited<ReturnType<typeof coreOverhead>>,
): [string, string, string, string] {
  return [
    `metrics overhead, core+publisher (median of ${o.rounds} rounds)`,
    `${o.overheadPct}%`,
    `on ${o.onMsgsPerS} / off ${o.offMsgsPerS} msgs/s ` +
    `(rounds' quartiles ${o.roundQuartilesPct[0]}..${o.roundQuartilesPct[1]}%)`,
    "< 3%",
  ];
}

/**
 * A collector that takes every OTLP/HTTP export and throws it away (an empty protobuf message is
 * a valid `ExportTraceServiceResponse`), counting requests and bytes: decoding the spans here
 * would take CPU from the services on a 2-core machine, which a collector elsewhere does not.
 * (services/tracing_test.ts decodes what the services export.)
 */
function discardingCollector() {
  const counts = { requests: 0, bytes: 0 };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const body = new Uint8Array(await req.arrayBuffer());
    if (req.method === "POST" && new URL(req.url).pathname === "/v1/traces") {
      counts.requests++;
      counts.bytes += body.length;
    }
    return new Response(new Uint8Array(0), {
      headers: { "content-type": "application/x-protobuf" },
    });
  });
  return { url: `http://127.0.0.1:${server.addr.port}`, counts, close: () => server.shutdown() };
}

/**
 * Tick-to-trade at 1000/s with tracing off and on, `rounds` times each, in ABBA order (off, on,
 * on, off, ...) so that a steady drift of the machine falls on both sides alike. Two figures: the
 * pooled samples of each side, and the median over rounds of each round's on/off p50 ratio (a
 * round's two runs are next to each other, so a slow spell of the shared machine weighs on one
 * ratio, not on one side).
 */
async function tracingCost(rounds: number) {
  const collector = discardingCollector();
  try {
    const off: number[] = [];
    const on: number[] = [];
    const runs: {
      tracing: boolean;
      p50: number;
      p99: number;
      orders: number;
      cpuPercent: Record<string, number>;
      windowCpuPercent: number;
    }[] = [];
    const pairCostPct: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const p50 = { on: 0, off: 0 };
      for (const tracing of r % 2 === 0 ? [false, true] : [true, false]) {
        console.error(
          `pipeline bench: tick-to-trade at 1000/s, tracing ${tracing ? "on" : "off"} ...`,
        );
        const t = await tickToTrade(1000, "curve", tracing ? collector.url : undefined);
        (tracing ? on : off).push(...t.samples);
        p50[tracing ? "on" : "off"] = t.latencyUs.p50;
        runs.push({
          tracing,
          p50: round(t.latencyUs.p50),
          p99: round(t.latencyUs.p99),
          orders: t.samples.length,
          cpuPercent: t.cpu,
          windowCpuPercent: round(t.windowCpuPercent),
        });
      }
      pairCostPct.push(round((p50.on / p50.off - 1) * 100, 1));
    }
    if (collector.counts.bytes === 0) problems.push("tracing on: nothing reached the collector");
    const offQ = quantiles(off);
    const onQ = quantiles(on);
    const meanCpu = (tracing: boolean) => {
      const xs = runs.filter((r) => r.tracing === tracing).map((r) => r.windowCpuPercent);
      return xs.reduce((a, b) => a + b, 0) / xs.length;
    };
    return {
      ticksPerS: 1000,
      headRatio: 0.01,
      durability: DURABILITY,
      offUs: { p50: round(offQ.p50), p99: round(offQ.p99), n: offQ.n },
      onUs: { p50: round(onQ.p50), p99: round(onQ.p99), n: onQ.n },
      p50CostPct: round((onQ.p50 / offQ.p50 - 1) * 100, 1),
      /** Each round's on/off p50 ratio, and their median: the figure the target is read on. */
      roundP50CostPct: pairCostPct,
      medianRoundP50CostPct: round(median(pairCostPct), 1),
      p99CostPct: round((onQ.p99 / offQ.p99 - 1) * 100, 1),
      servicesCpuPercent: { off: round(meanCpu(false)), on: round(meanCpu(true)) },
      cpuCostPct: round((meanCpu(true) / meanCpu(false) - 1) * 100, 1),
      exports: { ...collector.counts },
      runs,
      target: "p50 within 5% of tracing off",
    };
  } finally {
    await collector.close();
  }
}

/** The row of the table for {@link tracingCost}'s result. */
function tracingRow(t: Awaited<ReturnType<typeof tracingCost>>): [string, string, string, string] {
  return [
    "tick-to-trade @1000/s, tracing on / off, p50/p99 us",
    `${t.onUs.p50}/${t.onUs.p99}`,
    `off ${t.offUs.p50}/${t.offUs.p99} (${t.exports.requests} exports, ${
      Math.round(t.exports.bytes / 1024)
    } KiB)`,
    `p50 ${t.medianRoundP50CostPct >= 0 ? "+" : ""}${t.medianRoundP50CostPct}% ` +
    `(median of ${t.roundP50CostPct.length} rounds: ` +
    `${t.roundP50CostPct.join(", ")}; pooled ${t.p50CostPct}%; target: within 5%); ` +
    `CPU ${t.cpuCostPct}% (durability ${t.durability})`,
  ];
}

// ---------------------------------------------------------------- main

async function main() {
  if (ARGS.values.soak !== undefined) {
    const minutes = Number(ARGS.values.soak);
    if (!(minutes > 0)) {
      console.error(`Cannot soak: --soak wants a number of minutes > 0, not ${ARGS.values.soak}`);
      Deno.exit(2);
    }
    return await soakMain(minutes, ARGS.values["soak-gc"] === true);
  }
  if (ARGS.values["overhead-only"] === true) {
    const o = await coreOverhead();
    console.log(JSON.stringify(o));
    console.log(overheadRow(o).join("  "));
    Deno.exit(0);
  }
  if (ARGS.values["tracing-only"] === true) {
    const tracing = await tracingCost(QUICK ? 2 : 6);
    console.log(JSON.stringify(tracing.runs));
    console.log(tracingRow(tracing).join("  "));
    if (problems.length) console.log(`\nINVALID RUN:\n- ${problems.join("\n- ")}`);
    Deno.exit(problems.length ? 1 : 0);
  }
  if (ARGS.values["no-micro"] !== true) {
    console.error("micro benchmarks (deno bench) ...");
    const micro = await new Deno.Command(Deno.execPath(), {
      args: ["bench", "-A"],
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (micro.code !== 0) problems.push(`deno bench exited ${micro.code}`);
  }
  const started = new Date().toISOString();
  console.error(
    "pipeline bench: one hop, envelope against bare zeromq.js (bench/messaging_bench.ts) ...",
  );
  const messaging = await messagingBench({ messages: QUICK ? 50_000 : 200_000 }, true);
  console.error("pipeline bench: market-data throughput (metrics on, off) and bare zeromq.js ...");
  const on1 = await marketDataThroughput(true);
  const off1 = await marketDataThroughput(false);
  const on2 = await marketDataThroughput(true);
  const off2 = await marketDataThroughput(false);
  const on = Math.max(on1.rate, on2.rate);
  const off = Math.max(off1.rate, off2.rate);
  const bare = await bareThroughput(on1.avgSize);
  const inProcess = await coreOverhead();
  console.error("pipeline bench: tick-to-trade ...");
  const ttt = [];
  for (const rate of RATES) {
    const pipe = await tickToTrade(rate);
    const bareLat = await bareRelay(rate);
    ttt.push({ ...pipe, bare: bareLat.latencyUs });
  }
  console.error("pipeline bench: tick-to-trade at 1000/s with CURVE off ...");
  const plain = await tickToTrade(1000, "insecure");
  const curve = ttt.find((t) => t.rate === 1000)!;
  const tracing = await tracingCost(QUICK ? 2 : 4);
  console.error("pipeline bench: /metrics render ...");
  const render = await metricsRender(100);
  console.error("pipeline bench: the default system, live histograms ...");
  const live = await liveDefault();

  const results = {
    started,
    machine: { cores: navigator.hardwareConcurrency, deno: Deno.version.deno },
    durability: DURABILITY,
    valid: problems.length === 0,
    problems,
    messaging,
    throughput: {
      messageBytes: round(on1.avgSize),
      bareMsgsPerS: Math.round(bare.rate),
      marketDataMsgsPerS: Math.round(on),
      ratio: round(on / bare.rate, 3),
      target: ">= 0.5",
    },
    metricsOverhead: {
      service: {
        instrumentedMsgsPerS: Math.round(on),
        uninstrumentedMsgsPerS: Math.round(off),
        overheadPct: round((1 - on / off) * 100, 2),
      },
      inProcess,
      target: "< 3%",
    },
    tickToTrade: ttt.map((t) => ({
      ticksPerS: t.rate,
      orders: t.latencyUs.n,
      approved: t.approved,
      journaled: t.journaled,
      pipelineUs: {
        p50: round(t.latencyUs.p50),
        p99: round(t.latencyUs.p99),
        p999: round(t.latencyUs.p999),
      },
      bareThreeHopUs: { p50: round(t.bare.p50), p99: round(t.bare.p99), p999: round(t.bare.p999) },
      ratioP50: round(t.latencyUs.p50 / t.bare.p50, 2),
      ratioP99: round(t.latencyUs.p99 / t.bare.p99, 2),
      segmentsUs: Object.fromEntries(
        Object.entries(t.segmentsUs).map(([k, q]) => [k, { p50: round(q.p50), p99: round(q.p99) }]),
      ),
      transitUs: t.transitUs,
      cpuPercent: t.cpu,
      target: t.rate === 1000 ? "p99 < 2000 us" : undefined,
    })),
    curve: {
      ticksPerS: 1000,
      curveUs: { p50: round(curve.latencyUs.p50), p99: round(curve.latencyUs.p99) },
      plainUs: { p50: round(plain.latencyUs.p50), p99: round(plain.latencyUs.p99) },
      p50CostPct: round((curve.latencyUs.p50 / plain.latencyUs.p50 - 1) * 100, 1),
      target: "p50 within 10% of plain TCP",
    },
    tracing,
    metricsRender: { ...render, target: "< 10 ms" },
    liveDefault: { ...live, target: "all_checks p99 < 100 us; order book update p99 < 100 us" },
    memoryMb: Object.fromEntries(
      ttt.map((t) => [`${t.rate}/s`, { start: t.memStart, afterLoad: t.memAfter }]),
    ),
  };
  await Deno.mkdir("bench", { recursive: true });
  Deno.writeTextFileSync("bench/results.json", JSON.stringify(results, null, 2) + "\n");

  const rows: [string, string, string, string][] = [
    ["measure", "value", "yardstick", "ratio / target"],
    [
      "market-data msgs/s (metrics on)",
      String(results.throughput.marketDataMsgsPerS),
      `bare PUB/SUB ${results.throughput.bareMsgsPerS}`,
      `${results.throughput.ratio} (>= 0.5)`,
    ],
    [
      "metrics overhead, service (best of 2)",
      `${results.metricsOverhead.service.overheadPct}%`,
      `on ${Math.round(on)} / off ${Math.round(off)} msgs/s`,
      "< 3%",
    ],
    overheadRow(inProcess),
    ...results.tickToTrade.map((t): [string, string, string, string] => [
      `tick-to-trade @${t.ticksPerS}/s (n=${t.orders}) p50/p99/p99.9 us`,
      `${t.pipelineUs.p50}/${t.pipelineUs.p99}/${t.pipelineUs.p999}`,
      `bare 3-hop ${t.bareThreeHopUs.p50}/${t.bareThreeHopUs.p99}/${t.bareThreeHopUs.p999}`,
      `${t.ratioP50}x / ${t.ratioP99}x${t.ticksPerS === 1000 ? " (p99 < 2000)" : ""}`,
    ]),
    ...results.tickToTrade.map((t): [string, string, string, string] => [
      `  @${t.ticksPerS}/s: tick->approval, approval->journal p50/p99 us`,
      `${t.segmentsUs.tickToApproval.p50}/${t.segmentsUs.tickToApproval.p99}`,
      `${t.segmentsUs.approvalToJournal.p50}/${t.segmentsUs.approvalToJournal.p99}`,
      "",
    ]),
    ...results.tickToTrade.map((t): [string, string, string, string] => [
      `  @${t.ticksPerS}/s: transit md->sb, signals->rm, orders->ee p50/p99 us`,
      TICK_PATH_HOPS.map((hop) => {
        const h = t.transitUs[hop];
        return h === undefined ? "-" : `${h.p50}/${h.p99}`;
      }).join(", "),
      `pipeline p50 ${t.pipelineUs.p50}`,
      "",
    ]),
    [
      "tick-to-trade @1000/s, CURVE on / off, p50/p99 us",
      `${results.curve.curveUs.p50}/${results.curve.curveUs.p99}`,
      `plain TCP ${results.curve.plainUs.p50}/${results.curve.plainUs.p99}`,
      `${results.curve.p50CostPct}% at p50 (within 10%)`,
    ],
    tracingRow(tracing),
    [
      `/metrics render, ${render.symbols} symbols`,
      `${render.renderMs.p50} ms (max ${render.renderMs.max})`,
      `${render.series} series, ${Math.round(render.bytes / 1024)} KiB`,
      "< 10 ms",
    ],
    [
      `live default system (${live.ordersPerS} orders/s): all_checks p50/p99 us`,
      `${live.allChecksUs.p50}/${live.allChecksUs.p99} (n=${live.allChecksUs.n})`,
      `${round(live.allChecksUs.shareAtMostBound * 100, 2)}% <= 100 us`,
      "p99 < 100",
    ],
    [
      "  durable record (decision -> commit) p50/p99 us",
      `${live.decisionRecordUs.p50}/${live.decisionRecordUs.p99}`,
      `${round(live.decisionRecordUs.shareAtMostBound * 100, 2)}% <= 250 us`,
      "",
    ],
    [
      "  order book update p50/p99 us",
      `${live.orderbookUpdateUs.p50}/${live.orderbookUpdateUs.p99}`,
      `${round(live.orderbookUpdateUs.shareAtMostBound * 100, 2)}% <= 100 us`,
      "p99 < 100",
    ],
    ...Object.entries(results.memoryMb).flatMap(([rate, m]) =>
      SERVICES.map((s: ServiceName): [string, string, string, string] => [
        `RSS ${s} @${rate}`,
        `${m.start[s]} -> ${m.afterLoad[s]} MB`,
        `heap used ${m.start[`${s}:heapUsed`]} -> ${m.afterLoad[`${s}:heapUsed`]} MB`,
        "flat",
      ])
    ),
  ];
  const w = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(w[i])).join("  "));
  if (problems.length) {
    console.log("\nINVALID RUN:");
    for (const p of problems) console.log(`- ${p}`);
  }
  console.log("\nwritten: bench/results.json");
  Deno.exit(problems.length ? 1 : 0);
}

if (import.meta.main) await main();
