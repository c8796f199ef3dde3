import assert from "node:assert/strict";
import type { Logger } from "@logtape/logtape";
import { BurstLog, errorText } from "./burst_log.ts";

function recordingLogger(): { logger: Logger; lines: { msg: string; props: unknown }[] } {
  const lines: { msg: string; props: unknown }[] = [];
  const write = (msg: string, props: unknown) => lines.push({ msg, props });
  return { logger: { warn: write, error: write } as unknown as Logger, lines };
}

Deno.test("BurstLog logs the first event at once and summarises the rest of the burst", async () => {
  const { logger, lines } = recordingLogger();
  const log = new BurstLog(logger, "warn", "first {n}", "{suppressed} more");
  for (let n = 1; n <= 1000; n++) log.report({ n });
  assert.deepEqual(lines, [{ msg: "first {n}", props: { n: 1 } }]);
  const deadline = Date.now() + 5000;
  while (lines.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(lines[1], { msg: "{suppressed} more", props: { n: 1000, suppressed: 999 } });
  log.close();
});

Deno.test("BurstLog.close() writes the pending summary once", () => {
  const { logger, lines } = recordingLogger();
  const log = new BurstLog(logger, "error", "first", "{suppressed} more");
  log.report({});
  log.report({ k: 2 });
  log.close();
  log.close();
  assert.equal(lines.length, 2);
  assert.deepEqual(lines[1].props, { k: 2, suppressed: 1 });
});

Deno.test("errorText() shows an error's name and message, anything else as text", () => {
  assert.equal(errorText(new TypeError("bad")), "TypeError: bad");
  assert.equal(errorText("plain"), "plain");
  assert.equal(errorText(null), "null");
});
