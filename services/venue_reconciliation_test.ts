/**
 * Risk-manager and the venue, end to end (issue 16): the real services as subprocesses.
 *
 * - On Alpaca (the local fake, holding a position risk-manager's book lacks): the
 *   mismatch is counted, logged and handled by `riskManager.positionMismatch`: `halt`
 *   stops trading, `adopt` books the venue's quantity.
 * - On the defaults (sim feed, paper venue, no session hours): orders are approved from
 *   start-up, no signal is ever denied for the session, and positions reconciled with the
 *   paper venue's net fills never mismatch.
 */
import assert from "node:assert/strict";
import { type RawConfig, sampleValue, type Stack, startStack } from "../lib/testing/stack.ts";
import { removeDir, waitFor } from "../lib/testing/tools.ts";
import { FakeAlpaca } from "./execution-engine/testing/fake_alpaca.ts";

const json = async (stack: Stack, path: string) =>
  await (await fetch(`${stack.url("risk-manager")}${path}`)).json();
const metric = async (stack: Stack, name: string, labels: Record<string, string> = {}) =>
  sampleValue(await stack.metrics("risk-manager"), name, labels);

/**
 * risk-manager and execution-engine on `fake`, positions reconciled every 300 ms and read
 * from Alpaca every 300 ms (a mismatch is confirmed only by a read after the first).
 */
function alpacaStack(fake: FakeAlpaca, over: (c: RawConfig) => void): Stack {
  return startStack({
    services: ["risk-manager", "execution-engine"],
    env: { APCA_API_KEY_ID: fake.keyId, APCA_API_SECRET_KEY: fake.secretKey },
    overrides: (c) => {
      c.executionEngine.venue = "alpaca";
      c.executionEngine.alpaca.baseUrl = fake.baseUrl;
      c.executionEngine.alpaca.streamUrl = fake.streamUrl;
      c.executionEngine.alpaca.accountPollMs = 300;
      c.riskManager.reconcileMs = 300;
      over(c);
    },
  });
}

for (const policy of ["halt", "adopt"] as const) {
  Deno.test({
    name:
      `risk-manager finds a position the Alpaca venue holds and its book lacks, counts it once and ${
        policy === "halt" ? "halts trading" : "adopts the venue's quantity"
      } (positionMismatch ${policy})`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const fake = FakeAlpaca.start();
      fake.positions.set("AAPL", 10); // avg_entry_price: the fake's price, 100
      const stack = alpacaStack(fake, (c) => (c.riskManager.positionMismatch = policy));
      try {
        await stack.waitReady(60_000);
        // Every series exists from start-up (MSFT never differs: still 0 at the end).
        assert.equal(
          await metric(stack, "risk_manager_position_mismatches_total", { symbol: "MSFT" }),
          0,
        );
        await waitFor(
          "the mismatch counted",
          async () =>
            await metric(stack, "risk_manager_position_mismatches_total", { symbol: "AAPL" }) === 1,
          {
            timeoutMs: 20_000,
            everyMs: 200,
          },
        );
        const shown = await json(stack, "/admin/positions");
        assert.equal(shown.reconciliation.policy, policy);
        assert.equal(shown.reconciliation.venue, "alpaca");
        assert.ok(shown.reconciliation.at > 0 && shown.reconciliation.readAt > 0);
        const aapl = shown.positions.find((p: { symbol: string }) => p.symbol === "AAPL");
        const state = await json(stack, "/admin/state");
        if (policy === "halt") {
          assert.equal(state.state, "HALTED");
          assert.equal(state.actor, "reconciliation");
          assert.equal(await metric(stack, "risk_manager_trading_state"), 2);
          assert.equal(await metric(stack, "risk_manager_position_mismatched_symbols"), 1);
          assert.equal(aapl?.qty ?? 0, 0, "halt leaves the book alone");
          assert.deepEqual(
            shown.reconciliation.mismatched.map((d: { symbol: string; venue: number }) => [
              d.symbol,
              d.venue,
            ]),
            [["AAPL", 10]],
          );
        } else {
          assert.equal(state.state, "ACTIVE");
          assert.deepEqual([aapl.qty, aapl.avgPrice, aapl.realized], [10, 100, 0]);
          // Adopted: the next answers agree, nothing is mismatched and nothing counted again.
          await waitFor("an answer after the adoption", async () => {
            const r = (await json(stack, "/admin/positions")).reconciliation;
            return r.answer > shown.reconciliation.answer && r.differences.length === 0;
          }, { timeoutMs: 10_000, everyMs: 200 });
          assert.equal(await metric(stack, "risk_manager_position_mismatched_symbols"), 0);
        }
        assert.equal(
          await metric(stack, "risk_manager_position_mismatches_total", { symbol: "AAPL" }),
          1,
        );
        assert.equal(
          await metric(stack, "risk_manager_position_mismatches_total", { symbol: "MSFT" }),
          0,
        );
        // Logged as an error with its figures (the lines are JSON; their wording is not tested).
        const logged = stack.procs.get("risk-manager")!.stdout.split("\n").flatMap((line) => {
          try {
            return [JSON.parse(line)];
          } catch {
            return [];
          }
        });
        assert.ok(
          logged.some((l) =>
            l.level === "error" && l.symbol === "AAPL" && l.venue === 10 && l.policy === policy
          ),
        );
      } finally {
        const codes = await stack.stop();
        await fake.close();
        await removeDir(stack.dir);
        assert.equal(codes.get("risk-manager"), 0, stack.procs.get("risk-manager")?.stderr);
      }
    },
  });
}

Deno.test({
  name:
    "on the defaults risk-manager approves orders from start-up, never denies for the session, and finds no position mismatch with the paper venue",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const stack = startStack({ overrides: (c) => (c.riskManager.reconcileMs = 500) });
    try {
      await stack.waitReady(60_000);
      // The first signals come once signal-bridge's features are warm (~8 s here): the
      // first one is approved, with no wait for a trading status.
      let firstSignalAt = 0;
      await waitFor("the first approval", async () => {
        const signals = sampleValue(
          await stack.metrics("signal-bridge"),
          "signal_bridge_signals_generated_total",
        ) ?? 0;
        if (signals > 0 && firstSignalAt === 0) firstSignalAt = Date.now();
        return (await metric(stack, "risk_manager_checks_performed_total", {
          check_type: "all_checks",
          result: "pass",
        }) ?? 0) > 0;
      }, { timeoutMs: 45_000, everyMs: 100 });
      const lagMs = Date.now() - (firstSignalAt || Date.now());
      console.log(`first approval ${lagMs} ms after the first signal was seen`);
      assert.ok(lagMs < 3000, `first approval ${lagMs} ms after the first signal`);
      // Positions from fills, reconciled several times while orders flow.
      await waitFor("fills reconciled", async () => {
        const shown = await json(stack, "/admin/positions");
        const held = shown.positions.some((p: { qty: number }) => p.qty !== 0);
        return held && shown.reconciliation?.compared && shown.reconciliation.answer >= 10;
      }, { timeoutMs: 60_000, everyMs: 250 });
      const shown = await json(stack, "/admin/positions");
      assert.equal(shown.reconciliation.venue, "sim");
      assert.deepEqual(shown.reconciliation.mismatched, []);
      assert.equal(await metric(stack, "risk_manager_position_mismatches_total"), 0);
      assert.equal(await metric(stack, "risk_manager_position_mismatched_symbols"), 0);
      for (const code of ["session_unknown", "market_closed", "symbol_halted"]) {
        assert.equal(
          await metric(stack, "risk_manager_risk_failures_total", { failure_type: code }) ?? 0,
          0,
          code,
        );
      }
      assert.equal(await metric(stack, "risk_manager_trading_state"), 0);
    } finally {
      await stack.stop();
      await removeDir(stack.dir);
    }
  },
});
