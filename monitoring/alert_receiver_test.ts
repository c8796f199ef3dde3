import assert from "node:assert/strict";
import type { Logger } from "@logtape/logtape";
import { waitFor } from "../lib/testing/tools.ts";
import { AlertReceiver, MAX_BODY_BYTES, type ReceiverEvent } from "./alert_receiver.ts";

/** A logger that keeps each line's level and fields (never its wording). */
function recordingLogger() {
  const lines: { level: string; fields: Record<string, unknown> }[] = [];
  const at = (level: string) => (_msg: string, fields: Record<string, unknown> = {}) =>
    void lines.push({ level, fields });
  const logger = {
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
  } as unknown as Logger;
  return { logger, lines };
}

/** A notification as Alertmanager's webhook sends it (version 4). */
function notification(status: "firing" | "resolved", alertname: string, severity: string) {
  return {
    version: "4",
    groupKey: '{}:{alertname="' + alertname + '"}',
    truncatedAlerts: 0,
    status,
    receiver: "oncall",
    groupLabels: { alertname },
    commonLabels: { alertname, severity },
    commonAnnotations: {},
    externalURL: "http://alertmanager:9093",
    alerts: [{
      status,
      labels: { alertname, severity, service: "risk-manager", job: "risk-manager" },
      annotations: {
        summary: "CRITICAL: circuit breaker triggered on risk-manager",
        description: "The risk manager's circuit breaker is tripped.",
        runbook_url: "monitoring/runbooks/CircuitBreakerTriggered.md",
      },
      startsAt: "2026-12-01T10:00:00Z",
      endsAt: status === "resolved" ? "2026-12-01T10:05:00Z" : "0001-01-01T00:00:00Z",
      generatorURL: "http://prometheus:9090/graph",
      fingerprint: "0123456789abcdef",
    }],
  };
}

async function withReceiver(
  fn: (
    r: AlertReceiver,
    post: (route: string, body: BodyInit) => Promise<number>,
    events: ReceiverEvent[],
    lines: ReturnType<typeof recordingLogger>["lines"],
  ) => Promise<void>,
  watchdogTimeoutMs = 60_000,
) {
  const { logger, lines } = recordingLogger();
  const events: ReceiverEvent[] = [];
  const r = AlertReceiver.start({
    port: 0,
    logger,
    watchdogTimeoutMs,
    onEvent: (e) => events.push(e),
  });
  const post = async (route: string, body: BodyInit) => {
    const res = await fetch(`http://127.0.0.1:${r.port}/${route}`, { method: "POST", body });
    await res.body?.cancel();
    return res.status;
  };
  try {
    await fn(r, post, events, lines);
  } finally {
    await r.close();
  }
}

Deno.test("AlertReceiver logs every alert it receives, firing and then resolved, with its labels and runbook", async () => {
  await withReceiver(async (_r, post, events, lines) => {
    const firing = notification("firing", "CircuitBreakerTriggered", "critical");
    assert.equal(await post("alerts", JSON.stringify(firing)), 200);
    const resolved = notification("resolved", "CircuitBreakerTriggered", "critical");
    assert.equal(await post("alerts", JSON.stringify(resolved)), 200);
    assert.deepEqual(
      events.map((e) => e.kind === "alert" && `${e.alert.labels.alertname} ${e.alert.status}`),
      ["CircuitBreakerTriggered firing", "CircuitBreakerTriggered resolved"],
    );
    assert.deepEqual(lines.map((l) => [l.level, l.fields.status]), [
      ["error", "firing"], // critical
      ["info", "resolved"],
    ]);
    assert.equal(lines[0].fields.runbook_url, "monitoring/runbooks/CircuitBreakerTriggered.md");
    assert.equal(lines[0].fields.service, "risk-manager");
    assert.equal(lines[1].fields.endsAt, "2026-12-01T10:05:00Z");
  });
});

Deno.test("AlertReceiver logs a firing warning at warning level", async () => {
  await withReceiver(async (_r, post, _events, lines) => {
    assert.equal(
      await post("alerts", JSON.stringify(notification("firing", "SequenceGaps", "warning"))),
      200,
    );
    assert.equal(lines[0].level, "warn");
  });
});

Deno.test("AlertReceiver answers a body that is not a webhook notification with 400, and one over 1 MiB with 413", async () => {
  await withReceiver(async (r, post, events) => {
    assert.equal(await post("alerts", "{not json"), 400);
    assert.equal(await post("alerts", JSON.stringify({ alerts: "nope" })), 400);
    assert.equal(
      await post("alerts", JSON.stringify({ status: "firing", alerts: [{ status: "odd" }] })),
      400,
    );
    assert.equal(await post("watchdog", "x".repeat(MAX_BODY_BYTES + 1)), 413);
    assert.deepEqual(events.map((e) => e.kind), ["rejected", "rejected", "rejected", "rejected"]);
    // and it goes on working
    assert.equal(
      await post("alerts", JSON.stringify(notification("firing", "ServiceDown", "critical"))),
      200,
    );
    const res = await fetch(`http://127.0.0.1:${r.port}/health`);
    assert.equal(await res.text(), "ok");
  });
});

Deno.test("AlertReceiver trips its dead-man's switch when the Watchdog stops, and resets when it is back", async () => {
  await withReceiver(async (_r, post, events, lines) => {
    const watchdog = JSON.stringify(notification("firing", "Watchdog", "none"));
    assert.equal(await post("watchdog", watchdog), 200);
    await waitFor("the switch trips", () => events.some((e) => e.kind === "watchdog_silent"), {
      timeoutMs: 5000,
    });
    const silent = events.find((e) => e.kind === "watchdog_silent")!;
    assert.ok(silent.kind === "watchdog_silent" && silent.silentMs >= 300);
    assert.ok(lines.some((l) => l.level === "error"), "the silence is an error");
    assert.equal(await post("watchdog", watchdog), 200);
    assert.ok(events.some((e) => e.kind === "watchdog_back"));
    // one trip per silence, not one per check
    assert.equal(events.filter((e) => e.kind === "watchdog_silent").length, 1);
  }, 300);
});

Deno.test("AlertReceiver treats a resolved Watchdog as an error: Prometheus stopped sending it", async () => {
  await withReceiver(async (_r, post, _events, lines) => {
    await post("watchdog", JSON.stringify(notification("firing", "Watchdog", "none")));
    await post("watchdog", JSON.stringify(notification("resolved", "Watchdog", "none")));
    assert.deepEqual(lines.map((l) => l.level), ["info", "error"]);
  });
});
