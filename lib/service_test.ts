import assert from "node:assert/strict";
import { freePort, Proc, waitFor } from "./testing/tools.ts";

Deno.test("a SIGTERM that arrives while a service is still starting stops it cleanly (exit 0)", async () => {
  const p = new Proc("services/signal-bridge/main.ts", [], {
    TRADING__SIGNAL_BRIDGE__HTTP__PORT: String(freePort()),
    TRADING__SIGNAL_BRIDGE__PUBLISH: `bind:tcp://127.0.0.1:${freePort()}`,
  });
  try {
    // "Service starting" is logged as soon as the port is open, before the keys are read,
    // the ZAP handler runs and the core starts: the earliest a supervisor could stop it.
    await waitFor("the service to open its port", () => p.stdout.includes("Service starting"), {
      timeoutMs: 20_000,
      everyMs: 1,
    });
    p.child.kill("SIGTERM");
    const status = await p.done;
    assert.equal(status.code, 0, `stopped by the signal instead: ${p.stderr.slice(-1000)}`);
    assert.match(p.stdout, /Service stopped/);
  } finally {
    await p.stop();
  }
});
