import assert from "node:assert/strict";
import { parseConfig } from "../lib/config.ts";
import { SERVICES } from "../lib/metrics.ts";
import { acrossHosts, bindings, catalogueEdges, type Place, PlacementError } from "./hosts.ts";

const system = () => JSON.parse(Deno.readTextFileSync("config/system.json"));

const PLACES: Record<(typeof SERVICES)[number], Place> = {
  "market-data": { bind: "10.0.0.1", host: "md.example" },
  "signal-bridge": { bind: "10.0.0.2", host: "sb.example" },
  "risk-manager": { bind: "10.0.0.3", host: "rm.example" },
  "execution-engine": { bind: "10.0.0.4", host: "ee.example" },
};

Deno.test("bindings() reads who binds and who connects from config/system.json", () => {
  const rows = bindings(system()).map((b) => [b.service, b.channel, b.port, b.connectors]);
  assert.deepEqual(rows, [
    ["market-data", "market_data", 5555, ["execution-engine", "risk-manager", "signal-bridge"]],
    ["signal-bridge", "signals", 5556, ["risk-manager"]],
    ["risk-manager", "orders", 5557, ["execution-engine"]],
    ["risk-manager", "execution_reports", 5558, ["execution-engine"]],
    ["risk-manager", "risk_events", 5559, []],
  ]);
});

Deno.test("the config's edges are exactly the channel catalogue's sender-reader pairs", () => {
  const fromConfig = bindings(system()).flatMap((b) =>
    b.connectors.map((c) => `${b.channel}:${[b.service, c].sort().join("+")}`)
  ).sort();
  const fromCatalogue = catalogueEdges().map((e) => `${e.channel}:${[...e.pair].sort().join("+")}`)
    .sort();
  assert.deepEqual(fromConfig, fromCatalogue);
});

Deno.test("acrossHosts() binds on each service's address and connects to the binder's host", () => {
  const spread = acrossHosts(system(), PLACES);
  assert.equal(spread.marketData.publish, "bind:tcp://10.0.0.1:5555");
  assert.deepEqual(spread.signalBridge.marketData, ["connect:tcp://md.example:5555"]);
  assert.deepEqual(spread.riskManager.signals, ["connect:tcp://sb.example:5556"]);
  assert.equal(spread.riskManager.orders, "bind:tcp://10.0.0.3:5557");
  assert.equal(spread.executionEngine.orders, "connect:tcp://rm.example:5557");
  assert.equal(spread.executionEngine.executionReports, "connect:tcp://rm.example:5558");
  assert.equal(spread.executionEngine.http.host, "10.0.0.4");
  // Still a valid config, with the same edges.
  parseConfig(spread);
  assert.deepEqual(
    bindings(spread).map((b) => b.connectors),
    bindings(system()).map((b) => b.connectors),
  );
  // The input is left alone.
  assert.equal(system().marketData.publish, "bind:tcp://127.0.0.1:5555");
});

Deno.test("acrossHosts() refuses endpoints it cannot place, naming the field", () => {
  const orphan = system();
  orphan.executionEngine.orders = "connect:tcp://127.0.0.1:6000";
  assert.throws(
    () => acrossHosts(orphan, PLACES),
    (e) => e instanceof PlacementError && /executionEngine\.orders.*port 6000/.test(e.message),
  );
  const twice = system();
  twice.signalBridge.publish = "bind:tcp://127.0.0.1:5555";
  assert.throws(() => bindings(twice), /port 5555 is bound by/);
  const crossed = system();
  crossed.riskManager.signals = ["tcp://127.0.0.1:5555"];
  assert.throws(() => bindings(crossed), /riskManager\.signals\.0.*reads "signals" on port 5555/);
  const bad = system();
  bad.riskManager.orders = "ipc:///tmp/orders";
  assert.throws(() => bindings(bad), /riskManager\.orders.*tcp endpoint/);
});
