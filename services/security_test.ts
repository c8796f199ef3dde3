/**
 * The bus against a stranger: the four real services with CURVE on (the default) under
 * order flow, and a foreign ZeroMQ peer (Debian's pyzmq, lib/testing/zmq_foreign.py)
 * trying every attack of issue 13 on every channel, with no key, with a key nobody
 * configured, and with a genuine service key used out of turn. Each attempt must be
 * refused and counted, and at the end the books must balance: risk-manager's positions
 * equal the net of the execution journal's fills, every journaled order is one
 * risk-manager approved, and nothing forged was applied.
 */
import assert from "node:assert/strict";
import { KeyStore } from "../lib/keys.ts";
import { readBooks } from "../lib/testing/books.ts";
import { sampleValue, startStack } from "../lib/testing/stack.ts";
import { removeDir, testKeysDir, waitFor } from "../lib/testing/tools.ts";

const TOKEN = "security-test-token";
const FOREIGN = new URL("../lib/testing/zmq_foreign.py", import.meta.url).pathname;

/** Runs the pyzmq peer; returns its one JSON line. */
async function foreign(...args: string[]): Promise<Record<string, number>> {
  const out = await new Deno.Command("/usr/bin/python3", {
    args: [FOREIGN, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `zmq_foreign.py ${args.join(" ")}: ${stderr}`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/** `bind:tcp://127.0.0.1:5557` -> `tcp://127.0.0.1:5557`. */
const address = (endpoint: string) => endpoint.replace(/^(bind|connect):/, "");

Deno.test({
  name:
    "a stranger on the bus is refused and counted on every channel, and the books still balance",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const strangerDir = await Deno.makeTempDir({ prefix: "stranger-keys-" });
    const stranger = KeyStore.open(strangerDir);
    stranger.create(["stranger"], { overwrite: false });
    const keys = KeyStore.open(testKeysDir());
    const stack = startStack({ env: { RISK_ADMIN_TOKEN: TOKEN } });
    const rm = stack.config.riskManager;
    const metric = async (service: Parameters<typeof stack.url>[0], name: string, labels = {}) =>
      sampleValue(await stack.metrics(service), name, labels) ?? 0;
    try {
      await stack.waitReady(60_000);
      await waitFor(
        "orders flowing",
        async () =>
          await metric("execution-engine", "execution_engine_orders_submitted_total") >= 2,
        { timeoutMs: 60_000, everyMs: 500 },
      );
      const strangerCert = [stranger.secretPath("stranger"), keys.publicPath("risk-manager")];

      // 1. Forged fills (and the huge-base heartbeat) on the execution reports channel.
      for (const cert of [strangerCert, []]) {
        const r = await foreign("forge-fills", address(rm.executionReports), "1.5", ...cert);
        assert.ok(r.sent > 5);
        assert.equal(r.answers, 0, "risk-manager never answered the forger");
      }
      assert.ok(
        await metric("risk-manager", "messaging_peers_refused_total", {
          channel: "execution_reports",
          reason: "unknown_key",
        }) >= 1,
      );

      // 2. Stealing orders: a stranger, then the engine's own key used by a second peer.
      for (const cert of [strangerCert, []]) {
        const r = await foreign("steal", address(rm.orders), "1.5", ...cert);
        assert.equal(r.stolen, 0);
      }
      assert.ok(
        await metric("risk-manager", "messaging_peers_refused_total", {
          channel: "orders",
          reason: "unknown_key",
        }) >= 1,
      );
      const insider = await foreign(
        "steal",
        address(rm.orders),
        "2",
        keys.secretPath("execution-engine"),
        keys.publicPath("risk-manager"),
      );
      assert.equal(insider.stolen, 0, "a second receiver with the engine's key gets no order");
      assert.ok(
        await metric("risk-manager", "messaging_control_refused_total", {
          channel: "orders",
          reason: "unknown_peer",
        }) >= 1,
      );
      assert.ok(
        await metric("risk-manager", "messaging_decode_errors_total", {
          channel: "orders",
          reason: "not_json",
        }) >= 1,
        "a null control frame is a counted decode error",
      );

      // 3. Inflating a publisher's memory with subscriptions.
      const mdCert = [stranger.secretPath("stranger"), keys.publicPath("market-data")];
      const before = await metric("market-data", "system_memory_usage_mb");
      for (const cert of [mdCert, []]) {
        await foreign("flood", address(stack.config.marketData.publish), "300000", ...cert);
      }
      await waitFor(
        "a fresh memory sample",
        async () => (await metric("market-data", "system_memory_usage_mb")) !== before,
        { timeoutMs: 15_000, everyMs: 500 },
      );
      const after = await metric("market-data", "system_memory_usage_mb");
      assert.ok(after - before < 40, `market-data RSS ${before} -> ${after} MB`);
      assert.ok(
        await metric("market-data", "messaging_peers_refused_total", {
          channel: "market_data",
          reason: "unknown_key",
        }) >= 1,
      );

      // 4. The admin API: a stranger's big body and a stranger's token.
      const admin = `${stack.url("risk-manager")}/admin/state`;
      const big = await fetch(admin, {
        method: "PUT",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify({ state: "HALTED", reason: "x".repeat(50_000) }),
      });
      assert.equal(big.status, 413);
      await big.body?.cancel();
      const forged = await fetch(admin, {
        method: "PUT",
        headers: { "Content-Type": "application/json", Authorization: "Bearer guess" },
        body: JSON.stringify({ state: "HALTED", reason: "stranger" }),
      });
      assert.equal(forged.status, 401);
      await forged.body?.cancel();

      // 5. Injecting orders: an impostor bound where risk-manager's orders are, while it is
      //    down. The engine pins risk-manager's key, so it never even says hello.
      await stack.procs.get("risk-manager")!.stop();
      // Orders already with the engine when risk-manager stopped may still be in flight.
      const submitted = () => metric("execution-engine", "execution_engine_orders_submitted_total");
      let journaledBefore = -1;
      await waitFor("the engine to settle", async () => {
        const now = await submitted();
        const settled = now === journaledBefore;
        journaledBefore = now;
        return settled;
      }, { timeoutMs: 20_000, everyMs: 1000 });
      for (const cert of [[stranger.secretPath("stranger")], []]) {
        const r = await foreign("inject", address(rm.orders), "3", ...cert);
        assert.equal(r.hellos, 0, "the engine never talked to the impostor");
        assert.equal(r.offered, 0);
      }
      assert.equal(await submitted(), journaledBefore, "no order reached the engine meanwhile");
      stack.start("risk-manager");
      await stack.waitReady(60_000);
      await waitFor(
        "orders flowing again",
        async () =>
          await metric("execution-engine", "execution_engine_orders_submitted_total") >
            journaledBefore,
        { timeoutMs: 60_000, everyMs: 500 },
      );

      // 6. The books: stop the sources, let every order finish, then compare the stores.
      await stack.procs.get("market-data")!.stop();
      await stack.procs.get("signal-bridge")!.stop();
      await waitFor("no open order left", async () => {
        const ee = await (await fetch(`${stack.url("execution-engine")}/admin/orders`)).json();
        const r = await (await fetch(`${stack.url("risk-manager")}/admin/positions`)).json();
        return ee.open.length === 0 && r.openOrders === 0;
      }, { timeoutMs: 30_000, everyMs: 200 });
    } finally {
      await stack.stop();
    }
    try {
      const books = readBooks(rm.statePath, stack.config.executionEngine.journalPath);
      assert.ok(books.journaled.size >= 2, `${books.journaled.size} orders journaled`);
      assert.deepEqual(books.foreign, [], "every journaled order was approved by risk-manager");
      assert.deepEqual(books.lost, [], "every approved order reached the engine");
      assert.deepEqual(books.fillMismatches, [], "no forged fill was booked");
      assert.deepEqual(books.positionMismatches, [], "positions equal the journal's net fills");
      for (const [symbol, realized] of books.realized) {
        assert.ok(Math.abs(realized) < 100_000, `${symbol} realized ${realized}`);
      }
    } finally {
      await removeDir(stack.dir);
      await removeDir(strangerDir);
    }
  },
});
