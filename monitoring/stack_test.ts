import assert from "node:assert/strict";
import { isolatedConfig, writeConfig } from "../lib/testing/stack.ts";
import { freePort, Proc, waitFor } from "../lib/testing/tools.ts";
import { findBinary } from "./stack.ts";

Deno.test("deno task stack runs the services with Prometheus scraping them and Alertmanager, and stops them all", async () => {
  assert.ok(findBinary("prometheus"), "prometheus is not installed: apt-get install -y prometheus");
  const dir = Deno.makeTempDirSync({ prefix: "trading-task-stack-" });
  const path = writeConfig(dir, isolatedConfig(dir));
  const prom = freePort();
  const am = freePort();
  const p = new Proc("monitoring/stack.ts", [
    "--config",
    path,
    "--prometheus-port",
    String(prom),
    "--alertmanager-port",
    String(am),
  ]);
  try {
    // Prometheus scrapes every 15 s (the shipped config), so the first scrape of each
    // target can take that long.
    await waitFor("four targets up in Prometheus", async () => {
      const r = await (await fetch(`http://127.0.0.1:${prom}/api/v1/targets`)).json();
      const t = r.data.activeTargets as { health: string }[];
      return t.length === 4 && t.every((x) => x.health === "up");
    }, { timeoutMs: 60_000, everyMs: 500 });
    const amReady = await fetch(`http://127.0.0.1:${am}/-/ready`);
    await amReady.body?.cancel();
    assert.equal(amReady.status, 200);
    const alertmanagers = await (await fetch(`http://127.0.0.1:${prom}/api/v1/alertmanagers`))
      .json();
    assert.equal(alertmanagers.data.activeAlertmanagers.length, 1);
  } finally {
    const status = await p.stop(20_000);
    assert.equal(status.code, 0, p.stderr.slice(-2000));
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("deno task stack refuses a bad port flag with exit code 2", async () => {
  const p = new Proc("monitoring/stack.ts", ["--prometheus-port", "ninety"]);
  const status = await p.done;
  assert.equal(status.code, 2);
  assert.match(p.stderr, /--prometheus-port must be a port number/);
});
