import assert from "node:assert/strict";
import { HeapInspector } from "./inspector.ts";
import { freePort, waitFor } from "../lib/testing/tools.ts";

// Keeps ~200 000 objects until SIGUSR1, then lets go of them (garbage until a GC).
const HOLDER = `
let kept = Array.from({ length: 200_000 }, (_, i) => ({ i, at: i * 0.5 }));
Deno.addSignalListener("SIGUSR1", () => { kept = null; console.log("released"); });
console.log("ready", kept.length);
setInterval(() => {}, 1_000);
`;

Deno.test("HeapInspector tells objects a process keeps from those it let go of, after a forced GC", async () => {
  const dir = await Deno.makeTempDir({ prefix: "heap-inspector-" });
  const script = `${dir}/holder.ts`;
  await Deno.writeTextFile(script, HOLDER);
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", `--inspect=127.0.0.1:${port}`, script],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  let out = "";
  const pump = (async () => {
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) out += chunk;
  })();
  let inspector: HeapInspector | undefined;
  try {
    await waitFor("holder ready", () => out.includes("ready"), { timeoutMs: 20_000 });
    inspector = await waitFor("inspector", () => HeapInspector.connect(port), {
      timeoutMs: 10_000,
    });
    const holding = await inspector.afterGc();
    assert.ok(holding.heapUsed > 8 * 2 ** 20, `heap used ${holding.heapUsed} with the objects`);
    assert.ok(holding.rss >= holding.heapUsed && holding.external >= 0);
    child.kill("SIGUSR1");
    await waitFor("released", () => out.includes("released"), { timeoutMs: 10_000 });
    const released = await inspector.afterGc();
    assert.ok(
      released.heapUsed < holding.heapUsed - 6 * 2 ** 20,
      `heap used ${holding.heapUsed} -> ${released.heapUsed} after letting go`,
    );
  } finally {
    inspector?.close();
    child.kill("SIGKILL");
    await child.status;
    await pump;
    await Deno.remove(dir, { recursive: true });
  }
});
