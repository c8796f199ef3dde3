import assert from "node:assert/strict";
import { getLogger, redact, setupLogging } from "./log.ts";
import { resetSync } from "@logtape/logtape";
import { withContextManager } from "./testing/context_manager.ts";
import { RecordingTracer } from "./testing/recording_tracer.ts";
import { ServiceTracer } from "./tracing.ts";

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

Deno.test("a line written inside an active span carries its trace_id and span_id right after msg, after an await too", async () => {
  const lines = capture();
  try {
    await withContextManager(async () => {
      const tracer = new ServiceTracer("risk-manager", new RecordingTracer());
      const scope = tracer.receive("risk-manager receive", {
        trace: "4bf92f3577b34da6a3ce929d0e0e4736",
        span: "00f067aa0ba902b7",
        flags: 1,
      });
      const log = getLogger(["trading", "test"]);
      log.info("Before the message");
      await scope.run(async () => {
        log.warn("Order denied", { code: "MAX_ORDER_QTY", trace_id: "from-the-caller" });
        await new Promise((r) => setTimeout(r, 1));
        log.info("After an await");
      });
      log.info("After the message");
      scope.end();
      const [before, denied, later, after] = lines.map((l) => JSON.parse(l));
      const spanId = scope.span!.spanContext().spanId;
      for (const o of [denied, later]) {
        assert.equal(o.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert.equal(o.span_id, spanId);
        assert.deepEqual(Object.keys(o).slice(4, 7), ["msg", "trace_id", "span_id"]);
      }
      assert.equal(denied.field_trace_id, "from-the-caller", "a caller's own field is kept aside");
      assert.equal(denied.code, "MAX_ORDER_QTY");
      for (const o of [before, after]) {
        assert.equal(o.trace_id, undefined);
        assert.equal(o.span_id, undefined);
      }
    });
  } finally {
    resetSync();
  }
});

Deno.test("a line written while an unsampled message is handled carries the message's trace_id and the sender's span_id", async () => {
  const lines = capture();
  try {
    await withContextManager(() => {
      const tracer = new ServiceTracer("signal-bridge", new RecordingTracer());
      const scope = tracer.receive("signal-bridge receive", {
        trace: "4bf92f3577b34da6a3ce929d0e0e4736",
        span: "00f067aa0ba902b7",
        flags: 0,
      });
      scope.run(() => getLogger(["trading", "test"]).info("Signal suppressed"));
      const o = JSON.parse(lines[0]);
      assert.equal(o.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
      assert.equal(o.span_id, "00f067aa0ba902b7");
    });
  } finally {
    resetSync();
  }
});
