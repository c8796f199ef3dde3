/**
 * The wire format, measured: what the binary records of lib/envelope.ts cost against the
 * JSON envelopes they replaced, and which way of handing a binary frame to zeromq.js
 * keeps memory flat under Deno.
 *
 * `deno bench -A bench/wire_bench.ts` (also run by `deno task bench`): encode and decode
 * per message type, JSON (format 1) against binary (format 2), body checks included
 * (zod or the fast check for JSON bodies; none for a layout the codec checked).
 *
 * `deno run -A bench/wire_bench.ts --soak SECONDS [--rate N]`: for each way of sending a
 * 10-level book (format 1 JSON text; format 2 as base64 text, as raw bytes, as a
 * `node:buffer` Buffer, cut in parts of at most 128 bytes), a child process publishes N
 * messages a second (default 20,000) for SECONDS to a pyzmq subscriber that drains them,
 * and samples its resident memory and JS heap every second after a full collection (so
 * garbage not yet collected does not count); prints the least-squares slope (MB/min) of
 * each. zeromq.js copies strings and parts of 128 bytes or less; it sends a larger
 * Uint8Array or Buffer without copying and releases it through a libuv async handle that
 * Deno does not run reliably.
 * @module
 */
import * as zmq from "zeromq";
import { Buffer } from "node:buffer";
import { decodeFrame, encode, encodeFrame, type Envelope } from "../lib/envelope.ts";
import { validatorsFor } from "../lib/types.ts";
import { parseCommandLine } from "../lib/cli.ts";
import { decode as decodeJson, encodeText } from "./json_envelope_v1.ts";
import { freePort } from "../lib/testing/tools.ts";
import { type MemorySample, slopePerMinute } from "./slope.ts";
import { benchOptions } from "./smoke.ts";

const levels = (p: number, d: number) =>
  Array.from(
    { length: 10 },
    (_, i) => [Math.round((p + d * i * 0.01) * 100) / 100, 100 + i * 7] as [number, number],
  );

/** One body of each type a service sends most, as the services build them. */
export const SAMPLE_BODIES: Record<"book" | "quote" | "trade" | "signal", unknown> = {
  book: {
    symbol: "AAPL",
    bids: levels(228.14, -1),
    asks: levels(228.15, 1),
    mid: 228.145,
    spreadBps: 0.438,
    imbalance: 0.12,
    crossed: false,
    exchange: "sim",
    exchangeTs: 1_764_620_000_123.25,
    receivedTs: 1_764_620_000_124.5,
  },
  quote: {
    symbol: "AAPL",
    bidPrice: 228.14,
    bidSize: 300,
    askPrice: 228.15,
    askSize: 200,
    exchange: "sim",
    exchangeTs: 1_764_620_000_123.25,
    receivedTs: 1_764_620_000_124.5,
  },
  trade: {
    symbol: "AAPL",
    price: 228.14,
    size: 37,
    exchange: "sim",
    exchangeTs: 1_764_620_000_123.25,
    receivedTs: 1_764_620_000_124.5,
  },
  signal: {
    id: "sb-1764620000123-AAPL-42",
    symbol: "AAPL",
    action: "buy",
    confidence: 0.71,
    model: "rules",
    modelVersion: "1",
    features: { ret_1: 0.0001, ema_fast: 228.1, ema_slow: 228, rsi: 44.2, macd: 0.01 },
    price: 228.145,
    createdAt: 1_764_620_000_125,
    expiresAt: 1_764_620_005_125,
    tickTs: 1_764_620_000_124.5,
  },
};

/** The envelope of `type` with its sample body. */
export function sampleEnvelope(type: keyof typeof SAMPLE_BODIES): Envelope {
  return {
    v: 2,
    type,
    seq: 123_456,
    pub: "market-data/market_data",
    epoch: 1_764_620_000_000,
    ts: 1_764_620_000_125.75,
    trace: "4bf92f3577b34da6a3ce929d0e0e4736",
    body: SAMPLE_BODIES[type],
  };
}

const validators = validatorsFor(["book", "quote", "trade", "signal"]);
const utf8 = new TextEncoder();

for (const type of ["book", "quote", "trade", "signal"] as const) {
  const env = sampleEnvelope(type);
  const json = { ...env, v: 1 as const };
  const jsonFrame = utf8.encode(encodeText(json));
  const binaryFrame = utf8.encode(encodeFrame([env]));
  Deno.bench(
    `${type}: encode, JSON (${jsonFrame.length} B)`,
    benchOptions({ group: `${type} encode` }),
    () => {
      encodeText(json);
    },
  );
  Deno.bench(
    `${type}: encode, binary (${binaryFrame.length} B base64, ${encode(env).length} B raw)`,
    benchOptions({ group: `${type} encode`, baseline: true }),
    () => {
      encodeFrame([env]);
    },
  );
  Deno.bench(`${type}: decode and check, JSON`, benchOptions({ group: `${type} decode` }), () => {
    validators[type](decodeJson(jsonFrame).body);
  });
  Deno.bench(
    `${type}: decode and check, binary`,
    benchOptions({ group: `${type} decode`, baseline: true }),
    () => {
      const [r] = decodeFrame(binaryFrame);
      if (!r.checked) validators[type](r.env.body);
    },
  );
}

{
  // A feed frame's worth (50 books) in one frame, as market-data batches them.
  const envs = Array.from({ length: 50 }, (_, i) => ({ ...sampleEnvelope("book"), seq: i + 1 }));
  const frame = utf8.encode(encodeFrame(envs));
  Deno.bench("50 books: encode one batched frame", benchOptions({ group: "batch" }), () => {
    encodeFrame(envs);
  });
  Deno.bench("50 books: decode one batched frame", benchOptions({ group: "batch" }), () => {
    decodeFrame(frame);
  });
  Deno.bench(
    "50 books: decode only the headers (a subscriber that wants none)",
    benchOptions({ group: "batch" }),
    () => {
      decodeFrame(frame, () => false);
    },
  );
}

// ---------------------------------------------------------------- soak of send modes

/** The ways of handing a book's frame to zeromq.js that the soak compares. */
export const SEND_MODES = ["json-string", "base64-string", "bytes", "buffer", "parts"] as const;
type SendMode = typeof SEND_MODES[number];

function frameFor(mode: SendMode, seq: number): zmq.MessageLike | zmq.MessageLike[] {
  const env = { ...sampleEnvelope("book"), seq };
  switch (mode) {
    case "json-string":
      return encodeText({ ...env, v: 1 });
    case "base64-string":
      return encodeFrame([env]);
    case "bytes":
      return encode(env);
    case "buffer":
      return Buffer.from(encode(env));
    case "parts": {
      const bytes = encode(env);
      const parts: Uint8Array[] = [];
      for (let o = 0; o < bytes.length; o += 128) parts.push(bytes.subarray(o, o + 128));
      return parts;
    }
  }
}

/** Child: publishes `rate` frames a second for `seconds`; prints its memory samples. */
async function sendChild(mode: SendMode, endpoint: string, seconds: number, rate: number) {
  const pub = new zmq.Publisher({ sendTimeout: 0, linger: 0, sendHighWaterMark: 100_000 });
  await pub.bind(endpoint);
  console.log(JSON.stringify({ ready: true }));
  await new Promise((r) => setTimeout(r, 1000));
  const samples: MemorySample[] = [];
  const heap: MemorySample[] = [];
  const t0 = performance.now();
  let sent = 0;
  let nextSample = 0;
  while (performance.now() - t0 < seconds * 1000) {
    const due = Math.floor(((performance.now() - t0) / 1000) * rate);
    for (; sent < due; sent++) {
      try {
        pub.send(frameFor(mode, sent + 1)).catch(() => {});
      } catch { /* the queue is full: dropped */ }
    }
    if (performance.now() - t0 >= nextSample) {
      // After a full collection: what is still held, not garbage not yet collected.
      (globalThis as { gc?: () => void }).gc?.();
      const m = Deno.memoryUsage();
      samples.push({ atMs: performance.now() - t0, mb: m.rss / 2 ** 20 });
      heap.push({ atMs: performance.now() - t0, mb: m.heapUsed / 2 ** 20 });
      nextSample += 1000;
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  pub.close();
  console.log(JSON.stringify({ samples, heap, sent }));
}

/** What a send mode's soak measured: slopes (MB/min) after a full collection at each sample. */
export interface SendModeSoak {
  readonly rssSlopeMbPerMin: number;
  readonly heapSlopeMbPerMin: number;
  readonly startMb: number;
  readonly endMb: number;
}

/** Runs each send mode in its own child for `seconds`; returns the memory slopes of each. */
export async function soakSendModes(
  seconds: number,
  rate = 20_000,
): Promise<Record<SendMode, SendModeSoak>> {
  const out = {} as Record<SendMode, SendModeSoak>;
  for (const mode of SEND_MODES) {
    const endpoint = `tcp://127.0.0.1:${freePort()}`;
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--v8-flags=--expose-gc",
        new URL(import.meta.url).pathname,
        "--send",
        mode,
        "--endpoint",
        endpoint,
        "--seconds",
        String(seconds),
        "--rate",
        String(rate),
      ],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    await new Promise((r) => setTimeout(r, 500));
    const drain = new Deno.Command("/usr/bin/python3", {
      args: [
        new URL("../lib/testing/zmq_foreign.py", import.meta.url).pathname,
        "drain",
        endpoint,
        String(seconds + 3),
      ],
      stdout: "piped",
    }).spawn();
    const text = new TextDecoder().decode((await child.output()).stdout);
    await drain.output();
    const result = JSON.parse(text.trim().split("\n").at(-1)!) as {
      samples: MemorySample[];
      heap: MemorySample[];
    };
    // The first fifth is warm-up (the JIT, the allocator's first arenas).
    const steady = result.samples.slice(Math.floor(result.samples.length / 5));
    const heap = result.heap.slice(Math.floor(result.heap.length / 5));
    out[mode] = {
      rssSlopeMbPerMin: Math.round(slopePerMinute(steady) * 100) / 100,
      heapSlopeMbPerMin: Math.round(slopePerMinute(heap) * 100) / 100,
      startMb: Math.round(steady[0]?.mb ?? NaN),
      endMb: Math.round(steady.at(-1)?.mb ?? NaN),
    };
  }
  return out;
}

if (import.meta.main) {
  const args = parseCommandLine(Deno.args, {
    name: "wire_bench",
    summary: "Soaks each way of sending a binary frame through zeromq.js and prints its " +
      "memory slope (the codec costs are `deno bench -A bench/wire_bench.ts`).",
    flags: [
      { name: "soak", value: "SECONDS", help: "seconds each send mode runs (default 60)" },
      { name: "rate", value: "N", help: "messages a second (default 20000)" },
      { name: "send", value: "MODE", help: "(child) the send mode" },
      { name: "endpoint", value: "ADDRESS", help: "(child) where to bind" },
      { name: "seconds", value: "SECONDS", help: "(child) how long" },
    ],
  });
  const v = args.values;
  if (typeof v.send === "string") {
    await sendChild(v.send as SendMode, String(v.endpoint), Number(v.seconds), Number(v.rate));
  } else {
    const seconds = Number(v.soak ?? 60);
    const rate = Number(v.rate ?? 20_000);
    const slopes = await soakSendModes(seconds, rate);
    console.log(`RSS of a publisher sending ${rate} books/s for ${seconds} s, by send mode:`);
    for (const [mode, s] of Object.entries(slopes)) {
      console.log(
        `  ${mode.padEnd(14)} RSS ${
          String(s.rssSlopeMbPerMin).padStart(7)
        } MB/min (${s.startMb} -> ${s.endMb} MB), heap used ${s.heapSlopeMbPerMin} MB/min`,
      );
    }
  }
}
