import assert from "node:assert/strict";
import { isolatedConfig, writeConfig } from "../lib/testing/stack.ts";
import { freePort, Proc, waitFor } from "../lib/testing/tools.ts";
import { alertmanagerConfig, checkWebhookUrl, RECEIVER_PLACEHOLDERS } from "./stack.ts";
import { findBinary } from "./stack.ts";

const TOKEN = "stack-test-token";

/** The JSON log lines of `text` (the services' and the stack's). */
function jsonLines(text: string): Record<string, unknown>[] {
  return text.split("\n").flatMap((l) => {
    try {
      const o = JSON.parse(l);
      return o && typeof o === "object" ? [o] : [];
    } catch {
      return [];
    }
  });
}

Deno.test("deno task stack runs the services, Prometheus scraping them and itself, and Alertmanager: alerts go to --webhook, the Watchdog to the console", async () => {
  assert.ok(findBinary("prometheus"), "prometheus is not installed: apt-get install -y prometheus");
  const dir = Deno.makeTempDirSync({ prefix: "trading-task-stack-" });
  const path = writeConfig(dir, isolatedConfig(dir));
  const config = JSON.parse(Deno.readTextFileSync(path));
  const prom = freePort();
  const am = freePort();
  const receiverPort = freePort();
  // The user's webhook: records every notification it gets.
  const received: { alerts: { status: string; labels: Record<string, string> }[] }[] = [];
  const webhook = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (r) => {
    received.push(await r.json());
    return new Response("ok");
  });
  const p = new Proc("monitoring/stack.ts", [
    "--config",
    path,
    "--prometheus-port",
    String(prom),
    "--alertmanager-port",
    String(am),
    "--receiver-port",
    String(receiverPort),
    "--webhook",
    `http://127.0.0.1:${webhook.addr.port}/hook`,
  ], { RISK_ADMIN_TOKEN: TOKEN });
  try {
    // Prometheus scrapes every 15 s (the shipped config), so the first scrape of each
    // target can take that long.
    await waitFor("the four services, Prometheus and Alertmanager up in Prometheus", async () => {
      const r = await (await fetch(`http://127.0.0.1:${prom}/api/v1/targets`)).json();
      const t = r.data.activeTargets as { health: string; labels: { job: string } }[];
      return t.length === 6 && t.every((x) => x.health === "up");
    }, { timeoutMs: 60_000, everyMs: 500 });
    const amReady = await fetch(`http://127.0.0.1:${am}/-/ready`);
    await amReady.body?.cancel();
    assert.equal(amReady.status, 200);
    const alertmanagers = await (await fetch(`http://127.0.0.1:${prom}/api/v1/alertmanagers`))
      .json();
    assert.equal(alertmanagers.data.activeAlertmanagers.length, 1);

    // No dead-man's switch given: the Watchdog is printed on the stack's console.
    await waitFor(
      "the Watchdog on the console",
      () =>
        jsonLines(p.stdout).some((l) =>
          l.logger === "trading.alerts" && l.alertname === "Watchdog" && l.status === "firing"
        ),
      { timeoutMs: 90_000, everyMs: 500 },
    ).catch(async (e) => {
      const alerts = await fetch(`http://127.0.0.1:${prom}/api/v1/alerts`).then((r) => r.text());
      const log = (name: string) =>
        Deno.readTextFileSync(`${config.dataDir}/monitoring/${name}.log`).slice(-3000);
      throw new Error(
        `${e.message}\nPrometheus alerts: ${alerts}\nAlertmanager: ${log("alertmanager")}\n` +
          `Prometheus: ${log("prometheus")}\nstack: ${p.stderr.slice(-2000)}`,
      );
    });

    // An alert goes to the webhook given.
    const admin = `http://127.0.0.1:${config.riskManager.http.port}`;
    const trip = await fetch(`${admin}/admin/breaker/trip`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ reason: "stack test", actor: "test" }),
    });
    await trip.body?.cancel();
    assert.equal(trip.status, 200);
    await waitFor(
      "CircuitBreakerTriggered at the webhook",
      () =>
        received.some((n) =>
          n.alerts.some((a) =>
            a.labels.alertname === "CircuitBreakerTriggered" && a.status === "firing"
          )
        ),
      { timeoutMs: 60_000, everyMs: 500 },
    );
    assert.ok(
      received.every((n) => n.alerts.every((a) => a.labels.alertname !== "Watchdog")),
      "the Watchdog goes to the dead-man's switch, not to the webhook",
    );
  } finally {
    const status = await p.stop(20_000);
    await webhook.shutdown();
    assert.equal(status.code, 0, p.stderr.slice(-2000));
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("deno task stack refuses a bad port flag or webhook URL with exit code 2", async () => {
  const port = new Proc("monitoring/stack.ts", ["--prometheus-port", "ninety"]);
  assert.equal((await port.done).code, 2);
  assert.match(port.stderr, /--prometheus-port must be a port number/);
  const url = new Proc("monitoring/stack.ts", ["--webhook", "ftp://example.com/x"]);
  assert.equal((await url.done).code, 2);
  assert.match(url.stderr, /--webhook must be an http\(s\) URL/);
  const env = new Proc("monitoring/stack.ts", [], { DEADMANS_SWITCH_URL: "not a url" });
  assert.equal((await env.done).code, 2);
  assert.match(env.stderr, /\$DEADMANS_SWITCH_URL must be an http\(s\) URL/);
});

Deno.test("alertmanagerConfig() points every receiver at the URLs given and none at a placeholder", () => {
  const text = alertmanagerConfig({
    alerts: "https://pager.example.com/hook?x=1",
    watchdog: "https://hc-ping.com/uuid",
  });
  assert.equal(text.match(/url: "https:\/\/pager\.example\.com\/hook\?x=1"/g)?.length, 2);
  assert.equal(text.match(/url: "https:\/\/hc-ping\.com\/uuid"/g)?.length, 1);
  assert.doesNotMatch(text, new RegExp(`url: ${RECEIVER_PLACEHOLDERS.alerts}`));
  assert.doesNotMatch(text, new RegExp(`url: ${RECEIVER_PLACEHOLDERS.watchdog}`));
});

Deno.test("checkWebhookUrl() accepts http and https URLs only", () => {
  assert.equal(checkWebhookUrl("--webhook", "http://x:1/a"), "http://x:1/a");
  assert.throws(() => checkWebhookUrl("--webhook", "x"), /--webhook must be an http\(s\) URL/);
  assert.throws(() => checkWebhookUrl("--webhook", "file:///etc/passwd"), /http\(s\)/);
});
