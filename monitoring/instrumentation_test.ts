/**
 * A service that serves /metrics with its instrumentation off must not look healthy: a
 * real signal-bridge started with TRADING_INSTRUMENTATION=off, scraped by a real
 * Prometheus running the shipped rules, makes ServiceInstrumentationMissing match (it is
 * pending at once, and would fire after its `for: 1m`).
 */
import assert from "node:assert/strict";
import { startStack } from "../lib/testing/stack.ts";
import { freePort, removeDir, waitFor } from "../lib/testing/tools.ts";
import { drainTo, findBinary, prometheusConfig, RULES_YML, startPrometheus } from "./stack.ts";

Deno.test("a service with TRADING_INSTRUMENTATION=off makes ServiceInstrumentationMissing match for its own families only", async () => {
  const bin = findBinary("prometheus");
  assert.ok(bin, "prometheus is not installed: apt-get install -y prometheus");
  const stack = startStack({
    services: ["signal-bridge"],
    env: { TRADING_INSTRUMENTATION: "off" },
  });
  const port = freePort();
  let prometheus: Deno.ChildProcess | undefined;
  try {
    await stack.waitReady(60_000);
    const sb = Number(new URL(stack.url("signal-bridge")).port);
    // Only signal-bridge runs: the other targets are ports nobody listens on.
    Deno.writeTextFileSync(
      `${stack.dir}/prometheus.yml`,
      prometheusConfig(
        {
          services: [freePort(), sb, freePort(), freePort()],
          alertmanager: freePort(),
          prometheus: port,
        },
        RULES_YML,
        1,
      ),
    );
    prometheus = startPrometheus(bin, `${stack.dir}/prometheus.yml`, `${stack.dir}/prom`, port);
    void drainTo(prometheus, `${stack.dir}/prometheus.log`);
    const alerts = async () => {
      const r = await fetch(
        `http://127.0.0.1:${port}/api/v1/query?query=${
          encodeURIComponent('ALERTS{alertname="ServiceInstrumentationMissing"}')
        }`,
      );
      const body = await r.json();
      return (body.data?.result ?? []) as { metric: Record<string, string> }[];
    };
    const families = await waitFor("ServiceInstrumentationMissing pending", async () => {
      const found = (await alerts()).filter((a) => a.metric.job === "signal-bridge");
      return found.length >= 2 ? found.map((a) => a.metric.family).sort() : undefined;
    }, { timeoutMs: 60_000, everyMs: 500 });
    assert.deepEqual(families, [
      "signal_bridge_inference_latency_us",
      "signal_bridge_signals_generated_total",
    ]);
    // The messaging layer stays instrumented (its families describe the run): its key
    // family is there, so it is not reported.
    assert.ok(!(await alerts()).some((a) => a.metric.family === "messaging_channel_secure"));
  } finally {
    prometheus?.kill("SIGTERM");
    await prometheus?.status;
    await stack.stop();
    await removeDir(stack.dir);
  }
});
