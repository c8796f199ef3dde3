import assert from "node:assert/strict";
import type { Logger } from "@logtape/logtape";
import { ActivityLog } from "./activity_log.ts";
import { waitFor } from "./testing/tools.ts";

function recordingLogger(debug: boolean) {
  const lines: { level: string; props: Record<string, unknown> }[] = [];
  const at = (level: string) => (_msg: string, props: Record<string, unknown>) =>
    lines.push({ level, props });
  const logger = {
    info: at("info"),
    debug: at("debug"),
    isEnabledFor: (level: string) => level !== "debug" || debug,
  } as unknown as Logger;
  return { logger, lines };
}

Deno.test("ActivityLog writes one summary line per period with the count of each kind, not a line per event", async () => {
  const { logger, lines } = recordingLogger(false);
  const log = new ActivityLog(logger, "Signals decided", 50);
  for (let i = 0; i < 1000; i++) log.count(i % 4 === 0 ? "MAX_ORDER_QTY" : "approved", { i });
  assert.equal(lines.length, 0, "nothing written per event");
  await waitFor("the summary line", () => lines.length === 1, { timeoutMs: 5000 });
  const { level, props } = lines[0];
  assert.equal(level, "info");
  assert.equal(props.approved, 750);
  assert.equal(props.MAX_ORDER_QTY, 250);
  assert.deepEqual(props.last, { i: 999 });
  assert.ok(typeof props.seconds === "number");
  log.count("approved");
  log.close();
  assert.equal(lines.length, 2);
  assert.equal(lines[1].props.approved, 1, "counts restart after each line");
  log.close();
  assert.equal(lines.length, 2, "close() writes nothing more when nothing happened");
});

Deno.test("ActivityLog builds and writes an event's own line only when debug is on", () => {
  for (const debug of [false, true]) {
    const { logger, lines } = recordingLogger(debug);
    const log = new ActivityLog(logger, "Orders", 60_000);
    let built = 0;
    log.detail("Order approved", () => ({ n: ++built }));
    assert.equal(built, debug ? 1 : 0);
    assert.deepEqual(lines, debug ? [{ level: "debug", props: { n: 1 } }] : []);
    log.close();
  }
});
