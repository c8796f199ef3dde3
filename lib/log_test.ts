import assert from "node:assert/strict";
import { getLogger, redact, setupLogging } from "./log.ts";
import { resetSync } from "@logtape/logtape";

function capture(level = "debug"): string[] {
  const lines: string[] = [];
  setupLogging("test-service", { level, format: "json", write: (l) => lines.push(l) });
  return lines;
}

Deno.test("every log line is one JSON object with the standard fields", () => {
  const lines = capture();
  try {
    getLogger(["trading", "test"]).info("Order {id} accepted", { id: "o-1", qty: 5 });
    assert.equal(lines.length, 1);
    const o = JSON.parse(lines[0]);
    assert.equal(o.level, "info");
    assert.equal(o.service, "test-service");
    assert.equal(o.logger, "trading.test");
    assert.equal(o.msg, "Order o-1 accepted");
    assert.equal(o.qty, 5);
    assert.ok(!Number.isNaN(Date.parse(o.ts)));
    assert.match(o.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  } finally {
    resetSync();
  }
});

Deno.test("an error field carries its name, message and stack", () => {
  const lines = capture();
  try {
    getLogger(["trading"]).error("Failed", { error: new TypeError("bad input") });
    const o = JSON.parse(lines[0]);
    assert.equal(o.error.name, "TypeError");
    assert.equal(o.error.message, "bad input");
    assert.match(o.error.stack, /log_test\.ts/);
  } finally {
    resetSync();
  }
});

Deno.test("values under secret-looking keys are redacted, nested too", () => {
  const lines = capture();
  try {
    getLogger(["trading"]).info("Connecting", {
      apiKey: "AKXXXX",
      headers: { Authorization: "Bearer abc", "APCA-API-SECRET-KEY": "s3cr3t" },
      password: "p",
      token: "t",
      symbol: "AAPL",
    });
    const line = lines[0];
    for (const secret of ["AKXXXX", "Bearer abc", "s3cr3t", '"p"', '"t"']) {
      assert.ok(!line.includes(secret), `${secret} leaked: ${line}`);
    }
    const o = JSON.parse(line);
    assert.equal(o.apiKey, "[REDACTED]");
    assert.equal(o.headers.Authorization, "[REDACTED]");
    assert.equal(o.symbol, "AAPL");
  } finally {
    resetSync();
  }
});

Deno.test("LOG_LEVEL filters lower levels and an unknown level is refused", () => {
  const lines = capture("warning");
  try {
    const log = getLogger(["trading"]);
    log.info("hidden");
    log.warn("shown");
    assert.equal(lines.length, 1);
    assert.equal(JSON.parse(lines[0]).level, "warning");
  } finally {
    resetSync();
  }
  assert.throws(() => setupLogging("x", { level: "loud" }), /"LOG_LEVEL" must be one of/);
});

Deno.test("redact() leaves plain values alone and survives cycles of depth", () => {
  assert.equal(redact(5), 5);
  assert.deepEqual(redact({ a: [{ secret: 1, b: 2 }] }), { a: [{ secret: "[REDACTED]", b: 2 }] });
  const deep: Record<string, unknown> = {};
  let cur = deep;
  for (let i = 0; i < 50; i++) {
    cur.next = {};
    cur = cur.next as Record<string, unknown>;
  }
  assert.doesNotThrow(() => JSON.stringify(redact(deep)));
});

Deno.test("a running service writes JSON log lines to stdout", async () => {
  const { Proc, waitFor, freePort } = await import("./testing/tools.ts");
  const port = freePort();
  const p = new Proc("services/signal-bridge/main.ts", [], {
    TRADING__SIGNAL_BRIDGE__HTTP__PORT: String(port),
    TRADING__SIGNAL_BRIDGE__PUBLISH: `bind:tcp://127.0.0.1:${freePort()}`,
  });
  try {
    await waitFor("a log line", () => p.stdout.includes("\n"), { timeoutMs: 15_000 });
  } finally {
    await p.stop();
  }
  const lines = p.stdout.split("\n").filter((l) => l.trim() !== "");
  assert.ok(lines.length >= 1);
  for (const l of lines) {
    const o = JSON.parse(l);
    assert.equal(o.service, "signal-bridge");
    assert.ok(o.level && o.ts && o.logger);
  }
});
