import assert from "node:assert/strict";
import { SERVICES } from "../lib/metrics.ts";
import { isolatedConfig, writeConfig } from "../lib/testing/stack.ts";
import { Proc, waitFor } from "../lib/testing/tools.ts";

const SECTION = {
  "market-data": "marketData",
  "signal-bridge": "signalBridge",
  "risk-manager": "riskManager",
  "execution-engine": "executionEngine",
} as const;

Deno.test("deno task start runs all four services, each answering /metrics, /health and /ready, and stops them all cleanly on SIGTERM", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "trading-start-" });
  const config = isolatedConfig(dir);
  const path = writeConfig(dir, config);
  const p = new Proc("services/start.ts", ["--config", path]);
  try {
    for (const s of SERVICES) {
      const base = `http://127.0.0.1:${config[SECTION[s]].http.port}`;
      await waitFor(`${s} ready`, async () => {
        const r = await fetch(`${base}/ready`);
        await r.body?.cancel();
        return r.status === 200;
      }, { timeoutMs: 30_000, everyMs: 200 });
      const h = await fetch(`${base}/health`);
      assert.equal((await h.json()).service, s);
      const m = await fetch(`${base}/metrics`);
      assert.match(m.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/);
      assert.match(await m.text(), /^system_cpu_usage_percent\{service="/m);
    }
  } finally {
    const status = await p.stop(15_000);
    assert.equal(status.code, 0, p.stderr.slice(-2000));
    Deno.removeSync(dir, { recursive: true });
  }
});
