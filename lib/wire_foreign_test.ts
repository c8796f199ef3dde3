/**
 * The wire format against a client in another language: Debian's pyzmq with
 * lib/testing/wire_foreign.py, which implements the README's "Wire format" section with
 * Python's standard library only (base64, struct, json). It reads live market-data
 * frames of the real service, and takes an order from a reliable sender, decoding the
 * envelope and acknowledging it as execution-engine would.
 */
import assert from "node:assert/strict";
import { Registry } from "prom-client";
import { KeyStore } from "./keys.ts";
import { ReliableSender } from "./messaging/mod.ts";
import { SCHEMAS } from "./types.ts";
import { startStack } from "./testing/stack.ts";
import { freePort, removeDir, testKeysDir } from "./testing/tools.ts";

const FOREIGN = new URL("./testing/zmq_foreign.py", import.meta.url).pathname;

async function foreign(...args: string[]): Promise<Record<string, unknown>> {
  const out = await new Deno.Command("/usr/bin/python3", {
    args: [FOREIGN, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `zmq_foreign.py ${args.join(" ")}: ${stderr}`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

type Decoded = {
  frames: number;
  records: number;
  errors: string[];
  types: Record<string, number>;
  samples: Record<string, Record<string, unknown>[]>;
};

Deno.test({
  name: "a pyzmq client decodes live market-data frames from the README's description alone",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const stack = startStack({
      services: ["market-data"],
      overrides: (c) => {
        c.marketData.sim.ticksPerSecond = 2000;
      },
    });
    try {
      await stack.waitReady(60_000);
      const keys = KeyStore.open(testKeysDir());
      const endpoint = stack.config.marketData.publish.replace(/^bind:/, "");
      const got = await foreign(
        "decode",
        endpoint,
        "2",
        keys.secretPath("operator"),
        keys.publicPath("market-data"),
      ) as unknown as Decoded;
      assert.deepEqual(got.errors, [], "every frame decoded");
      assert.ok(
        got.records > got.frames,
        `batched: ${got.records} records in ${got.frames} frames`,
      );
      for (const type of ["trade", "quote", "book"] as const) {
        assert.ok((got.types[type] ?? 0) > 0, `some ${type}s among ${JSON.stringify(got.types)}`);
        for (const env of got.samples[type]) {
          assert.equal(env.v, 2);
          assert.equal(env.pub, "market-data/market_data");
          assert.match(String(env.trace), /^[0-9a-f]{32}$/);
          assert.ok(Number(env.seq) > 0 && Number(env.epoch) > 0 && Number(env.ts) > 0);
          // Every field the Python decoder read is the body the schema describes.
          SCHEMAS[type].parse(env.body);
          assert.deepEqual(SCHEMAS[type].parse(env.body), env.body, `${type}: no field left out`);
        }
      }
      const hb = got.samples.heartbeat?.[0];
      assert.deepEqual(hb?.body, { intervalMs: 1000 }, "a JSON body: the heartbeat");
    } finally {
      await stack.stop();
      await removeDir(stack.dir);
    }
  },
});

Deno.test({
  name: "a pyzmq client takes an order from a reliable sender, decoding and acknowledging it",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const sender = await ReliableSender.open(`bind:tcp://127.0.0.1:${freePort()}`, {
      service: "risk-manager",
      name: "orders",
      registry: new Registry(),
      heartbeatMs: 200,
    });
    try {
      const python = foreign("receive-orders", sender.endpoint, "3");
      const order = {
        clientOrderId: "rm-sb-1-AAPL",
        signalId: "sb-1-AAPL",
        symbol: "AAPL",
        side: "buy",
        qty: 4.25,
        type: "market",
        timeInForce: "day",
        strategy: "default",
        createdAt: 1_764_620_000_125.5,
        tickTs: 1_764_620_000_124.25,
        expiresAt: 1_764_620_030_125,
      };
      const sent = await sender.send("order", order, {
        trace: "4bf92f3577b34da6a3ce929d0e0e4736",
        span: "00f067aa0ba902b7",
        flags: 1,
      });
      // Resolved: the Python peer acknowledged it on the protocol's control frames.
      const got = await python as { envelopes: unknown[]; headers: { k: string }[] };
      assert.deepEqual(got.envelopes, [{ ...sent }]);
      assert.equal(got.headers[0].k, "msg");
      assert.equal(sender.pending(), 0);
    } finally {
      await sender.close();
    }
  },
});
