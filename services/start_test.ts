import assert from "node:assert/strict";
import { SERVICES } from "../lib/metrics.ts";
import { isolatedConfig, writeConfig } from "../lib/testing/stack.ts";
import { Proc, waitFor } from "../lib/testing/tools.ts";

const SECTION = {
  "market-data": "marketData",
  "signal-bridge": "signalBridge",
  "risk-manager": "riskManager",
  "execution-engine": "executionEngine",
} as const;

Deno.test("deno task start runs all four services, each answering /metrics, /health and /ready, and stops them all cleanly on SIGTERM", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "trading-start-" });
  const config = isolatedConfig(dir);
  const path = writeConfig(dir, config);
  const p = new Proc("services/start.ts", ["--config", path]);
  try {
    for (const s of SERVICES) {
      const base = `http://127.0.0.1:${config[SECTION[s]].http.port}`;
      await waitFor(`${s} ready`, async () => {
        const r = await fetch(`${base}/ready`);
        await r.body?.cancel();
        return r.status === 200;
      }, { timeoutMs: 30_000, everyMs: 200 });
      const h = await fetch(`${base}/health`);
      assert.equal((await h.json()).service, s);
      const m = await fetch(`${base}/metrics`);
      assert.match(m.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/);
      assert.match(await m.text(), /^system_cpu_usage_percent\{service="/m);
    }
    // deno task status, as a script or cron would run it: exit 0 and every service ready.
    const up = new Proc("services/status.ts", ["--config", path, "--json"]);
    assert.equal((await up.done).code, 0, up.stderr);
    const report = JSON.parse(up.stdout);
    assert.equal(report.allReady, true);
    assert.deepEqual(report.services.map((s: { service: string }) => s.service), [...SERVICES]);
    assert.equal(report.tradingState, "ACTIVE");
  } finally {
    const status = await p.stop(15_000);
    assert.equal(status.code, 0, p.stderr.slice(-2000));
  }
  try {
    // Once they are stopped, status exits 1 and says why for each.
    const down = new Proc("services/status.ts", ["--config", path]);
    assert.equal((await down.done).code, 1, down.stderr);
    assert.match(down.stdout, /unreachable/);
    assert.match(down.stdout, /NOT READY$/m);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

/** The launcher's own JSON lines (on stderr when piped). */
function launcherEvents(p: Proc, msg: string): { child: string; pid?: number; code?: number }[] {
  return p.stderr.split("\n").filter((l) => l.startsWith("{")).map((l) => {
    try {
      return JSON.parse(l);
    } catch {
      return {};
    }
  }).filter((e) => e.service === "start" && e.msg === msg);
}

Deno.test("deno task start restarts a service killed with SIGKILL, leaves the others running and counts the restart", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "trading-start-" });
  const config = isolatedConfig(dir);
  const path = writeConfig(dir, config);
  const p = new Proc("services/start.ts", ["--config", path]);
  const url = (s: keyof typeof SECTION) => `http://127.0.0.1:${config[SECTION[s]].http.port}`;
  const ready = async (s: keyof typeof SECTION) => {
    const r = await fetch(`${url(s)}/ready`).catch(() => undefined);
    await r?.body?.cancel();
    return r?.status === 200;
  };
  try {
    for (const s of SERVICES) await waitFor(`${s} ready`, () => ready(s), { timeoutMs: 30_000 });
    const started = launcherEvents(p, "Service started");
    const pidOf = (s: string) => started.filter((e) => e.child === s).at(-1)?.pid;
    const before = Object.fromEntries(SERVICES.map((s) => [s, pidOf(s)]));
    assert.ok(before["market-data"], "the launcher logs each child's pid");
    Deno.kill(before["market-data"]!, "SIGKILL");
    await waitFor(
      "market-data restarted",
      () =>
        launcherEvents(p, "Service started").filter((e) => e.child === "market-data").length === 2,
      { timeoutMs: 20_000 },
    );
    await waitFor("market-data ready again", () => ready("market-data"), { timeoutMs: 30_000 });
    const metrics = await (await fetch(`${url("market-data")}/metrics`)).text();
    assert.match(metrics, /^service_restarts_total\{service="market-data"\} 1$/m);
    const after = launcherEvents(p, "Service started");
    for (const s of SERVICES.filter((s) => s !== "market-data")) {
      assert.equal(after.filter((e) => e.child === s).length, 1, `${s} was not restarted`);
      assert.ok(await ready(s), `${s} kept running`);
    }
  } finally {
    const status = await p.stop(15_000);
    assert.equal(status.code, 0, p.stderr.slice(-2000));
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("deno task start stops everything when a service cannot start, and prints why last", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "trading-start-" });
  const config = isolatedConfig(dir);
  const path = writeConfig(dir, config);
  const held = Deno.listen({ hostname: "127.0.0.1", port: config.riskManager.http.port });
  const p = new Proc("services/start.ts", ["--config", path]);
  try {
    const status = await p.done;
    assert.equal(status.code, 3);
    const last = p.stderr.trim().split("\n").at(-1)!;
    assert.match(last, /^start: risk-manager cannot run: metrics port already in use \(exit 3\)/);
    assert.match(
      last,
      new RegExp(`127\\.0\\.0\\.1:${config.riskManager.http.port} is already in use`),
    );
    assert.equal(launcherEvents(p, "Restarting a service after it exited").length, 0);
  } finally {
    held.close();
    await p.stop();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("on a terminal deno task start shows a live view and writes the logs to a file (tmux)", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "trading-start-" });
  const config = isolatedConfig(dir);
  const path = writeConfig(dir, config);
  const logPath = `${dir}/view.log`;
  const session = `trading-view-${Deno.pid}`;
  const tmux = (...args: string[]) =>
    new Deno.Command("tmux", { args, stdout: "piped", stderr: "piped" }).output();
  const screen = async () =>
    new TextDecoder().decode((await tmux("capture-pane", "-p", "-t", session)).stdout);
  const command = `${Deno.execPath()} run -A services/start.ts --config ${path} ` +
    `--log-file ${logPath}; echo "exited $?"; sleep 60`;
  const started = await tmux(
    "new-session",
    "-d",
    "-s",
    session,
    "-x",
    "160",
    "-y",
    "50",
    "-e",
    `TRADING__SECURITY__KEYS_DIR=${dir}/data/keys`,
    command,
  );
  assert.equal(started.code, 0, new TextDecoder().decode(started.stderr));
  try {
    const view = await waitFor("every service up and ready in the view", async () => {
      const text = await screen();
      return SERVICES.every((s) => new RegExp(`^${s}\\s+yes\\s+yes\\s+0`, "m").test(text)) &&
          /ticks\/s [1-9]/.test(text)
        ? text
        : undefined;
    }, { timeoutMs: 60_000, everyMs: 500 });
    assert.match(view, new RegExp(`logs: ${logPath.replaceAll(".", "\\.")}`));
    assert.match(view, /trading state: ACTIVE\s+breaker: off/);
    assert.match(view, /tick-to-trade \(last 10 s\)/);
    await tmux("send-keys", "-t", session, "C-c");
    const end = await waitFor("the launcher to stop", async () => {
      const text = await screen();
      return /exited \d+/.test(text) ? text : undefined;
    }, { timeoutMs: 30_000, everyMs: 300 });
    assert.match(end, /exited 0/);
    assert.match(end, /start: stopped \(code 0\); logs are in /);
    const lines = Deno.readTextFileSync(logPath).split("\n").filter((l) => l.trim());
    assert.ok(lines.length > 10);
    for (const l of lines) JSON.parse(l); // every log line is JSON
    assert.ok(lines.some((l) => JSON.parse(l).service === "risk-manager"));
  } finally {
    await tmux("kill-session", "-t", session);
    Deno.removeSync(dir, { recursive: true });
  }
});
