import assert from "node:assert/strict";
import { createSignalBridgeAdminApi } from "./admin_api.ts";
import { SignalBridgeCore } from "./core.ts";
import type { SignalBridgeStats } from "./handlers.ts";
import { RulesModel } from "./rules_model.ts";

function setup() {
  const core = new SignalBridgeCore({
    symbols: ["AAPL"],
    model: new RulesModel(),
    maxDataAgeMs: 1000,
    signalTtlMs: 1000,
    minIntervalMs: 0,
    minConfidence: 0.5,
  });
  const stats: SignalBridgeStats = {
    received: 3,
    signals: 1,
    suppressed: 1,
    ignored: 1,
    errors: 0,
  };
  return { core, stats, app: createSignalBridgeAdminApi({ core, stats: () => stats }) };
}

Deno.test("GET /admin/model shows the model in use", async () => {
  const { app } = setup();
  const response = await app.request("/admin/model");
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), {
    kind: "rules",
    name: "rules",
    version: "1",
    features: ["rsi", "trend_z"],
  });
});

Deno.test("GET /admin/features shows each symbol's features", async () => {
  const { app } = setup();
  const features = await (await app.request("/admin/features")).json();
  assert.deepEqual(Object.keys(features), ["AAPL"]);
  assert.equal(features.AAPL.priceUpdates, 0);
  assert.equal(features.AAPL.lastAction, "flat");
  assert.equal(features.AAPL.lastSignalAt, null);
});

Deno.test("GET /admin/stats shows the handlers' counts as they are now", async () => {
  const { app, stats } = setup();
  stats.received++;
  assert.deepEqual(await (await app.request("/admin/stats")).json(), {
    received: 4,
    signals: 1,
    suppressed: 1,
    ignored: 1,
    errors: 0,
  });
});
