import assert from "node:assert/strict";
import { sampleValue, startStack } from "../../lib/testing/stack.ts";
import { waitFor } from "../../lib/testing/tools.ts";

Deno.test({
  name: "with market-data on its sim feed, signals flow and the signal-bridge metrics move",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await using stack = startStack({
      services: ["market-data", "signal-bridge"],
      // A faster market only shortens the warm-up; everything else is the default config.
      overrides: (c) => {
        c.marketData.sim.ticksPerSecond = 400;
      },
    });
    await stack.waitReady();
    const text = await waitFor("signals from signal-bridge", async () => {
      const t = await stack.metrics("signal-bridge");
      const buys = sampleValue(t, "signal_bridge_signals_generated_total", { signal_type: "buy" });
      const sells = sampleValue(t, "signal_bridge_signals_generated_total", {
        signal_type: "sell",
      });
      return (buys ?? 0) > 0 && (sells ?? 0) > 0 ? t : undefined;
    }, { timeoutMs: 30_000, everyMs: 250 });
    assert.ok((sampleValue(text, "signal_bridge_inference_latency_us_count") ?? 0) > 0);
    assert.ok((sampleValue(text, "signal_bridge_signals_suppressed_total") ?? 0) > 0);
    const codes = await stack.stop();
    assert.equal(codes.get("signal-bridge"), 0);
  },
});
