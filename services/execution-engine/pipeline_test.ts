import assert from "node:assert/strict";
import { sampleValue, startStack } from "../../lib/testing/stack.ts";
import { waitFor } from "../../lib/testing/tools.ts";
import { Journal } from "./journal.ts";

Deno.test("with every service on defaults, orders fill on the paper exchange and the reports reach risk-manager", async () => {
  const stack = startStack();
  let journal: Journal | undefined;
  try {
    await stack.waitReady(60_000);
    journal = new Journal(stack.config.executionEngine.journalPath);
    const j = journal;
    await waitFor(
      "an order filled on the paper exchange",
      () => (j.countByState().filled ?? 0) > 0,
      { timeoutMs: 60_000, everyMs: 500 },
    );
    await waitFor("risk-manager to acknowledge every report", async () => {
      const rm = await stack.metrics("risk-manager");
      const got = sampleValue(rm, "messaging_messages_received_total", {
        channel: "execution_reports",
        type: "execution_report",
      }) ?? 0;
      return got >= 2 && j.outbox().length === 0;
    }, { timeoutMs: 30_000, everyMs: 250 });
    const ee = await stack.metrics("execution-engine");
    assert.ok((sampleValue(ee, "execution_engine_tick_to_trade_latency_us_count") ?? 0) > 0);
    assert.ok((sampleValue(ee, "execution_engine_order_submission_latency_us_count") ?? 0) > 0);
  } finally {
    journal?.close();
    const codes = await stack.stop();
    Deno.removeSync(stack.dir, { recursive: true });
    assert.equal(codes.get("execution-engine"), 0, stack.procs.get("execution-engine")?.stderr);
  }
});
