/**
 * Tests of the monitoring stack as code: the Prometheus, alert and Alertmanager
 * configurations through the real tools (promtool, amtool), the rules' unit tests, the
 * compose file, and the dashboard and alert queries against a real Prometheus scraping
 * exporters shaped like the metric catalogue.
 *
 * Needs `prometheus`, `promtool`, `amtool` and `docker-compose` on PATH (Debian packages
 * prometheus, prometheus-alertmanager, docker-compose). A missing tool fails its test
 * with the command that installs it: these checks are never skipped.
 */
import assert from "node:assert/strict";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { parse as parseYaml } from "yaml";
import { loadConfig } from "../lib/config.ts";
import { CATALOGUE, type ServiceName, SERVICES } from "../lib/metrics.ts";
import type { Logger } from "@logtape/logtape";
import { AlertReceiver, type ReceiverEvent } from "./alert_receiver.ts";
import { dashboardQueries } from "./dashboard_queries.ts";
import { metricNamesIn } from "./promql_names.ts";
import { alertmanagerConfig, drainTo, startAlertmanager } from "./stack.ts";

const path = (rel: string): string => decodeURIComponent(new URL(rel, import.meta.url).pathname);
const REPO = path("../");
const PROMETHEUS_YML = path("./prometheus.yml");
const PROMETHEUS_COMPOSE_YML = path("./prometheus.compose.yml");
const RULES = path("./alerts/trading_system.yml");
const RULES_TESTS = [
  path("./alerts/trading_system_test.yml"),
  path("./alerts/trading_system_slo_test.yml"),
];
const ALERTMANAGER_YML = path("./alertmanager.yml");
const COMPOSE_YAML = path("../compose.yaml");

/** Severities the rules may use; monitoring/alertmanager.yml routes each one. */
const SEVERITIES = ["critical", "high", "warning"];
/** The one alert that always fires, routed to the dead-man's switch (severity `none`). */
const WATCHDOG = "Watchdog";

// ---------------------------------------------------------------- helpers

/** The absolute path of `name` on PATH; throws with the install command if it is missing. */
function requireBinary(name: string, aptPackage: string): string {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir === "") continue;
    try {
      if (Deno.statSync(`${dir}/${name}`).isFile) return `${dir}/${name}`;
    } catch {
      // not in this directory
    }
  }
  throw new Error(
    `Cannot run ${name}: it is not on PATH. Install it with ` +
      `\`apt-get install -y ${aptPackage}\` (CI must install it before the tests)`,
  );
}

/** Runs a tool to completion (at most `timeoutMs`) and asserts it exits 0; returns its output. */
async function assertRuns(
  binary: string,
  args: string[],
  timeoutMs = 60_000,
): Promise<string> {
  const out = await new Deno.Command(binary, {
    args,
    cwd: REPO,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeoutMs),
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `${binary} ${args.join(" ")} exited ${out.code}:\n${text}`);
  return text;
}

/** The names of the alerts declared in the rules file, in order. */
function alertNames(): string[] {
  const text = Deno.readTextFileSync(RULES);
  return [...text.matchAll(/^\s*- alert:\s*(\S+)\s*$/gm)].map((m) => m[1]);
}

/** The names of the recording rules declared in the rules file, in order. */
function recordNames(): string[] {
  const text = Deno.readTextFileSync(RULES);
  return [...text.matchAll(/^\s*- record:\s*(\S+)\s*$/gm)].map((m) => m[1]);
}

/** A free TCP port on 127.0.0.1 (free when this returns; another process may take it). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * Calls `probe` every `everyMs` until it returns true, at most `timeoutMs` and
 * `timeoutMs / everyMs + 1` times. Returns whether it did.
 */
async function pollUntil(
  probe: () => Promise<boolean>,
  timeoutMs: number,
  everyMs = 250,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  const maxTries = Math.ceil(timeoutMs / everyMs) + 1;
  for (let i = 0; i < maxTries && Date.now() <= deadline; i++) {
    if (await probe()) return true;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return false;
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const body = await res.text();
  try {
    return JSON.parse(body) as T;
  } catch {
    throw new Error(`GET ${url}: HTTP ${res.status}, not JSON: ${body.slice(0, 200)}`);
  }
}

/** A logger that drops every line (the receiver's lines are not what these tests check). */
function silentLogger(): Logger {
  const drop = () => {};
  return { debug: drop, info: drop, warn: drop, error: drop } as unknown as Logger;
}

// ------------------------------------------------- static checks with the real tools

Deno.test("prometheus.yml and prometheus.compose.yml pass promtool check config", async () => {
  const promtool = requireBinary("promtool", "prometheus");
  for (const file of [PROMETHEUS_YML, PROMETHEUS_COMPOSE_YML]) {
    const out = await assertRuns(promtool, ["check", "config", file]);
    assert.match(out, /SUCCESS: 1 rule files found/, out);
  }
});

Deno.test("prometheus.compose.yml is prometheus.yml with the compose hostnames", () => {
  const body = (text: string) =>
    text.split("\n").filter((l) => l.trim() !== "" && !/^\s*#/.test(l)).join("\n");
  const hosts: [string, string][] = [
    ['"localhost:9090"', '"market-data:9090"'],
    ['"localhost:9091"', '"signal-bridge:9091"'],
    ['"localhost:9092"', '"risk-manager:9092"'],
    ['"localhost:9093"', '"execution-engine:9093"'],
    // Alertmanager: where alerts go, and a scrape target
    ['"localhost:9094"', '"alertmanager:9093"'],
    ['"localhost:9999"', '"prometheus:9090"'],
  ];
  let expected = body(Deno.readTextFileSync(PROMETHEUS_YML));
  for (const [local, compose] of hosts) {
    assert.ok(expected.includes(local), `prometheus.yml has no target ${local}`);
    expected = expected.replaceAll(local, compose);
  }
  // Compose alone runs Grafana, and scrapes it: its job is the last one.
  const grafanaJob =
    '\n  - job_name: grafana\n    static_configs:\n      - targets: ["grafana:3000"]';
  const compose = body(Deno.readTextFileSync(PROMETHEUS_COMPOSE_YML));
  assert.ok(compose.endsWith(grafanaJob), "prometheus.compose.yml ends with the grafana job");
  assert.equal(compose.slice(0, -grafanaJob.length), expected);
});

Deno.test("the alert rules pass promtool check rules", async () => {
  const promtool = requireBinary("promtool", "prometheus");
  const out = await assertRuns(promtool, ["check", "rules", RULES]);
  const rules = alertNames().length + recordNames().length;
  assert.match(out, new RegExp(`SUCCESS: ${rules} rules found`), out);
});

Deno.test("the alert rules pass their promtool unit tests", async () => {
  const promtool = requireBinary("promtool", "prometheus");
  const out = await assertRuns(promtool, ["test", "rules", ...RULES_TESTS], 180_000);
  assert.equal(out.match(/SUCCESS/g)?.length, RULES_TESTS.length, out);
});

Deno.test("the unit tests show every alert firing and every alert not firing", () => {
  const lines = RULES_TESTS.flatMap((f) => Deno.readTextFileSync(f).split("\n"));
  const fires = new Set<string>();
  const quiet = new Set<string>();
  for (let i = 0; i + 1 < lines.length; i++) {
    const name = /^\s*alertname:\s*(\S+)\s*$/.exec(lines[i])?.[1];
    const expected = /^\s*exp_alerts:\s*(\[\])?\s*$/.exec(lines[i + 1]);
    if (name === undefined || expected === null) continue;
    (expected[1] === "[]" ? quiet : fires).add(name);
  }
  for (const alert of alertNames()) {
    assert.ok(fires.has(alert), `no unit test shows ${alert} firing`);
    // The Watchdog fires always, by design.
    if (alert !== WATCHDOG) assert.ok(quiet.has(alert), `no unit test shows ${alert} not firing`);
  }
});

Deno.test("the unit tests start series absent and let them appear at 1, and make a target flap", () => {
  const text = RULES_TESTS.map((f) => Deno.readTextFileSync(f)).join("\n");
  const appearing = [...text.matchAll(/values: "_x\d+ 1[ x]/g)].length;
  assert.ok(appearing >= 6, `only ${appearing} series appear at 1 after being absent`);
  assert.match(text, /- series: 'up\{[^']*'\n\s+values: "1 0 0 1 0 0 1 0 0/);
});

Deno.test("alertmanager.yml passes amtool check-config", async () => {
  const amtool = requireBinary("amtool", "prometheus-alertmanager");
  const out = await assertRuns(amtool, ["check-config", ALERTMANAGER_YML]);
  assert.match(out, /SUCCESS/, out);
});

Deno.test("alertmanager.yml routes critical and high alerts to oncall, warnings to team, the Watchdog to the dead-man's switch", async () => {
  const amtool = requireBinary("amtool", "prometheus-alertmanager");
  const route = async (...labels: string[]) =>
    (await assertRuns(amtool, [
      "config",
      "routes",
      "test",
      `--config.file=${ALERTMANAGER_YML}`,
      ...labels,
    ])).split("\n")[0].trim();
  const expected: Record<string, string> = { critical: "oncall", high: "oncall", warning: "team" };
  for (const severity of SEVERITIES) {
    const got = await route("alertname=Test", "service=risk-manager", `severity=${severity}`);
    assert.equal(got, expected[severity], `severity=${severity}`);
  }
  assert.equal(await route("alertname=Watchdog", "severity=none"), "deadmansswitch");
  // The stock feed's alerts take the muted routes, to the same receivers.
  assert.equal(
    await route("alertname=MarketDataStale", "socket=stocks", "severity=high"),
    "oncall",
  );
  assert.equal(
    await route("alertname=WebSocketFailures", "socket=stocks", "severity=warning"),
    "team",
  );
});

Deno.test("alertmanager.yml mutes the stock feed's alerts by the NYSE session, and only those", () => {
  const text = Deno.readTextFileSync(ALERTMANAGER_YML);
  const muted = [
    ...text.matchAll(
      /- matchers:\n((?:\s+- .*\n)+)(?:\s+\w+: .*\n)*?\s+mute_time_intervals: \[([^\]]+)\]/g,
    ),
  ];
  assert.equal(muted.length, 2, "one muted route per severity of the stock feed's alerts");
  for (const m of muted) {
    assert.match(m[1], /socket="stocks"/);
    assert.match(
      m[1],
      /alertname=~"MarketDataStale\|MarketDataFeedDisconnected\|WebSocketFailures"/,
    );
    assert.equal(m[2], "outside-nyse-session");
  }
  assert.equal(text.match(/mute_time_intervals:/g)?.length, 2);
});

Deno.test("compose.yaml passes docker-compose config", async () => {
  const compose = requireBinary("docker-compose", "docker-compose");
  await assertRuns(compose, ["-f", COMPOSE_YAML, "config", "-q"]);
  const services = await assertRuns(compose, ["-f", COMPOSE_YAML, "config", "--services"]);
  for (const s of [...SERVICES, "prometheus", "alertmanager", "grafana", "alert-receiver"]) {
    assert.ok(services.split("\n").includes(s), `compose.yaml has no service ${s}`);
  }
});

Deno.test("compose.yaml's config overrides bind every service on 0.0.0.0 and connect by service name", () => {
  // The `x-trading-env` block: one `KEY: value` line each, until the first blank line.
  const text = Deno.readTextFileSync(COMPOSE_YAML);
  const block = text.slice(text.indexOf("x-trading-env:")).split("\n\n")[0].split("\n").slice(1);
  const env: Record<string, string> = {};
  for (const line of block) {
    const m = /^\s+(\w+):\s*(.*)$/.exec(line);
    assert.ok(m, `x-trading-env: cannot read line ${JSON.stringify(line)}`);
    env[m[1]] = m[2].replace(/^'(.*)'$/, (_, v: string) => v.replaceAll("''", "'"));
  }
  assert.ok(Object.keys(env).some((k) => k.startsWith("TRADING__")), "no TRADING__ overrides");
  const config = loadConfig({
    args: [],
    env,
    readFile: (p: string) => Deno.readTextFileSync(REPO + p),
  });
  const sections = [
    config.marketData,
    config.signalBridge,
    config.riskManager,
    config.executionEngine,
  ];
  sections.forEach((c, i) => {
    assert.equal(c.http.host, "0.0.0.0", `${SERVICES[i]} must listen on every interface`);
    assert.equal(c.http.port, 9090 + i, `${SERVICES[i]}'s port is published and scraped`);
  });
  const endpoints = [
    config.marketData.publish,
    config.signalBridge.publish,
    ...config.signalBridge.marketData,
    ...config.riskManager.signals,
    ...config.riskManager.marketData,
    config.riskManager.orders,
    config.riskManager.executionReports,
    config.riskManager.publish,
    config.executionEngine.orders,
    config.executionEngine.executionReports,
    ...config.executionEngine.marketData,
  ];
  for (const e of endpoints) {
    const host = /^(?:bind:|connect:)?tcp:\/\/([^:]+):\d+$/.exec(e)?.[1];
    const binds = e.startsWith("bind:");
    assert.ok(
      binds ? host === "0.0.0.0" : (SERVICES as readonly string[]).includes(host ?? ""),
      `endpoint ${e} ${binds ? "must bind 0.0.0.0" : "must name a compose service"}`,
    );
  }
});

Deno.test("every seed metric of the catalogue appears in a dashboard query", () => {
  const used = new Set(dashboardQueries().flatMap((q) => [...metricNamesIn(q.expr)]));
  const missing = CATALOGUE.filter((s) => s.seed).filter((s) =>
    s.type === "histogram"
      ? !["_bucket", "_sum", "_count"].some((suffix) => used.has(s.name + suffix))
      : !used.has(s.name)
  ).map((s) => s.name);
  assert.deepEqual(missing, [], `seed metrics on no dashboard panel: ${missing.join(", ")}`);
});

// ------------------------------------------------ against a real Prometheus

/** A fake service: every family it owns in the catalogue (messaging included), kept moving. */
interface FakeExporter {
  readonly registry: Registry;
  tick(): void;
}

/** Gauge values that keep the dashboard's ratios meaningful and no alert firing. */
const GAUGE_VALUES: Record<string, number> = {
  risk_manager_daily_pnl_usd: -100,
  risk_manager_daily_loss_limit_usd: 1000,
  risk_manager_trading_state: 0,
  risk_manager_circuit_breaker_tripped: 0,
  market_data_feed_connected: 1,
  market_data_feed_last_message_age_seconds: 0.2,
  messaging_last_message_age_seconds: 0.1,
  market_data_feed_stopped: 0,
  risk_manager_position_mismatched_symbols: 0,
  execution_engine_api_rate_limit_remaining: 180,
};

/** Label values that panels and rules select on (the rest are made up). */
const LABEL_VALUES: Record<string, string> = {
  fill: "full",
  status: "success",
  failure_type: "market_closed",
};

function fakeExporter(service: ServiceName): FakeExporter {
  const registry = new Registry();
  const specs = CATALOGUE.filter((s) => s.owner === service || s.owner === "all");
  const updates: ((n: number) => void)[] = [];
  for (const s of specs) {
    const labelNames = [...s.labelNames];
    const labels = Object.fromEntries(
      labelNames.map((l) => [l, l === "service" ? service : LABEL_VALUES[l] ?? `${l}_1`]),
    );
    const common = { name: s.name, help: s.name, labelNames, registers: [registry] };
    if (s.type === "counter") {
      const c = new Counter(common);
      updates.push(() => c.inc(labels, 1));
    } else if (s.type === "gauge") {
      const g = new Gauge(common);
      updates.push(() => g.set(labels, GAUGE_VALUES[s.name] ?? 1));
    } else {
      const buckets = [...(s.buckets ?? [1])];
      const h = new Histogram({ ...common, buckets });
      // spread observations over the buckets, mostly in the lower ones
      updates.push((n) => h.observe(labels, buckets[n % Math.min(3, buckets.length)] * 0.9));
    }
  }
  collectDefaultMetrics({ register: registry });
  let n = 0;
  return { registry, tick: () => updates.forEach((u) => u(n++)) };
}

/**
 * monitoring/prometheus.yml with its four targets replaced by `targets` (in SERVICES
 * order), Alertmanager by `alertmanager` (where alerts go and a target), its own target
 * by `prometheus`, intervals of 1 s and an absolute rule path.
 */
function testConfig(targets: number[], alertmanager: number, prometheus: number): string {
  let config = Deno.readTextFileSync(PROMETHEUS_YML);
  const swap = (from: string, to: string, times = 1) => {
    assert.equal(
      config.split(from).length - 1,
      times,
      `prometheus.yml should hold "${from}" ${times} times`,
    );
    config = config.replaceAll(from, to);
  };
  swap("scrape_interval: 15s", "scrape_interval: 1s");
  swap("evaluation_interval: 15s", "evaluation_interval: 1s");
  swap("- alerts/trading_system.yml", `- ${JSON.stringify(RULES)}`);
  swap('"localhost:9094"', `"127.0.0.1:${alertmanager}"`, 2);
  swap('"localhost:9999"', `"127.0.0.1:${prometheus}"`);
  SERVICES.forEach((_, i) => swap(`"localhost:${9090 + i}"`, `"127.0.0.1:${targets[i]}"`));
  return config;
}

interface QueryResponse {
  status: string;
  error?: string;
  data?: { result: { metric: Record<string, string>; value: [number, string] }[] };
}
interface RulesResponse {
  data: {
    groups: {
      name: string;
      rules: {
        type: string;
        name: string;
        query: string;
        health: string;
        lastError?: string;
        labels: Record<string, string>;
        annotations: Record<string, string>;
      }[];
    }[];
  };
}

Deno.test("the dashboard and the alerts work in a real Prometheus scraping catalogue-shaped services", async (t) => {
  const prometheus = requireBinary("prometheus", "prometheus");
  const exporters = SERVICES.map(fakeExporter);
  const servers = exporters.map((e) =>
    Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      async () =>
        new Response(await e.registry.metrics(), {
          headers: { "content-type": e.registry.contentType },
        }),
    )
  );
  exporters.forEach((e) => e.tick());
  const ticker = setInterval(() => exporters.forEach((e) => e.tick()), 100);
  const tmp = await Deno.makeTempDir({ prefix: "monitoring_test_" });
  let child: Deno.ChildProcess | undefined;
  let log: Promise<string> = Promise.resolve("");
  // A real Alertmanager, which Prometheus sends to and scrapes, sending to a receiver.
  const receiver = AlertReceiver.start({ port: 0, logger: silentLogger() });
  const amPort = freePort();
  const receiverAt = (route: string) => `http://127.0.0.1:${receiver.port}/${route}`;
  await Deno.writeTextFile(
    `${tmp}/alertmanager.yml`,
    alertmanagerConfig({ alerts: receiverAt("alerts"), watchdog: receiverAt("watchdog") }, 1),
  );
  const am = startAlertmanager(
    requireBinary("prometheus-alertmanager", "prometheus-alertmanager"),
    `${tmp}/alertmanager.yml`,
    `${tmp}/am`,
    amPort,
  );
  const amLog = drainTo(am, `${tmp}/alertmanager.log`);
  try {
    const port = freePort();
    const base = `http://127.0.0.1:${port}`;
    await Deno.writeTextFile(
      `${tmp}/prometheus.yml`,
      testConfig(servers.map((s) => s.addr.port), amPort, port),
    );
    child = new Deno.Command(prometheus, {
      args: [
        `--config.file=${tmp}/prometheus.yml`,
        `--storage.tsdb.path=${tmp}/data`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--log.level=warn",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    log = new Response(child.stderr).text();
    let exited = false;
    child.status.then(() => exited = true);
    const ready = await pollUntil(async () => {
      if (exited) return true;
      try {
        const res = await fetch(`${base}/-/ready`, { signal: AbortSignal.timeout(1000) });
        await res.body?.cancel();
        return res.ok;
      } catch {
        return false;
      }
    }, 30_000);
    if (!ready || exited) {
      if (!exited) child.kill("SIGKILL");
      throw new Error(`Prometheus did not become ready: ${await log}`);
    }
    const query = (expr: string) =>
      getJson<QueryResponse>(`${base}/api/v1/query?query=${encodeURIComponent(expr)}`);

    await t.step(
      "it scrapes the four services with their job and service labels, itself and Alertmanager",
      async () => {
        let up: QueryResponse | undefined;
        const services = `up{job=~"${SERVICES.join("|")}"}`;
        const allUp = await pollUntil(async () => {
          up = await query(`sum by (job, service) (${services}) == 1`);
          const meta = await query('up{job=~"prometheus|alertmanager"} == 1');
          return up.data?.result.length === SERVICES.length && meta.data?.result.length === 2;
        }, 20_000);
        assert.ok(allUp, `not all targets up: ${JSON.stringify(up)}`);
        for (const s of up!.data!.result) assert.equal(s.metric.service, s.metric.job);
        // The services label system_* and messaging_* with `service` themselves; the copy
        // Prometheus renames to exported_service is dropped.
        const copies = await query('count by (__name__) ({exported_service=~".+"})');
        assert.deepEqual(copies.data?.result, [], "series still carry exported_service");
        const cpu = await query("system_cpu_usage_percent");
        assert.equal(cpu.data?.result.length, SERVICES.length);
        for (const s of cpu.data!.result) assert.equal(s.metric.service, s.metric.job);
      },
    );

    await t.step("every alert has a severity, summary, description and runbook", async () => {
      const rules = (await getJson<RulesResponse>(`${base}/api/v1/rules`)).data.groups
        .flatMap((g) => g.rules).filter((r) => r.type === "alerting");
      assert.deepEqual(rules.map((r) => r.name).sort(), alertNames().sort());
      for (const r of rules) {
        assert.ok(
          r.name === WATCHDOG
            ? r.labels.severity === "none"
            : SEVERITIES.includes(r.labels.severity),
          `${r.name}: severity ${r.labels.severity}`,
        );
        assert.ok(r.annotations.summary?.trim(), `${r.name}: no summary`);
        assert.ok(r.annotations.description?.trim(), `${r.name}: no description`);
        assert.equal(r.annotations.runbook_url, `monitoring/runbooks/${r.name}.md`);
        const runbook = await Deno.stat(`${REPO}/${r.annotations.runbook_url}`).catch(() => null);
        assert.ok(runbook?.isFile, `${r.name}: runbook ${r.annotations.runbook_url} is missing`);
      }
    });

    await t.step("every alert rule evaluates without error", async () => {
      let pending: string[] = [];
      const evaluated = await pollUntil(async () => {
        const rules = (await getJson<RulesResponse>(`${base}/api/v1/rules`)).data.groups
          .flatMap((g) => g.rules);
        for (const r of rules) {
          assert.notEqual(r.health, "err", `${r.name} fails to evaluate: ${r.lastError}`);
        }
        pending = rules.filter((r) => r.health !== "ok").map((r) => r.name);
        return pending.length === 0;
      }, 20_000);
      assert.ok(evaluated, `rules never evaluated: ${pending.join(", ")}`);
    });

    await t.step("every dashboard annotation query is valid PromQL", async () => {
      for (const q of dashboardQueries(undefined, { annotations: true })) {
        const r = await query(q.expr);
        assert.equal(r.status, "success", `"${q.panel}": ${r.error}\n${q.expr}`);
      }
    });

    await t.step("every dashboard panel query is valid PromQL and returns data", async () => {
      const queries = dashboardQueries();
      let empty: string[] = [];
      const allData = await pollUntil(
        async () => {
          empty = [];
          for (const q of queries) {
            const r = await query(q.expr);
            assert.equal(r.status, "success", `panel "${q.panel}": ${r.error}\n${q.expr}`);
            const finite = r.data!.result.some((s) => Number.isFinite(Number(s.value[1])));
            if (!finite) empty.push(`${q.panel}: ${q.expr}`);
          }
          return empty.length === 0;
        },
        30_000,
        500,
      );
      assert.ok(allData, `queries with no finite value:\n${empty.join("\n")}`);
    });

    await t.step("the dashboard and the alerts only name metrics the services export", async () => {
      const exported = new Set(
        (await getJson<{ data: string[] }>(`${base}/api/v1/label/__name__/values`)).data,
      );
      exported.add("ALERTS"); // made by Prometheus itself while an alert is pending or firing
      const rules = (await getJson<RulesResponse>(`${base}/api/v1/rules`)).data.groups
        .flatMap((g) => g.rules);
      const sources = [
        ...dashboardQueries(undefined, { annotations: true }).map((q) => ({
          where: `panel "${q.panel}"`,
          expr: q.expr,
        })),
        ...rules.map((r) => ({ where: `alert ${r.name}`, expr: r.query })),
      ];
      // Every alert's signal is on a panel: a metric its expression reads is plotted.
      const plotted = new Set(
        dashboardQueries().flatMap((q) => [...metricNamesIn(q.expr)]),
      );
      const unplotted = rules.filter((r) => r.type === "alerting" && r.name !== WATCHDOG)
        .filter((r) => ![...metricNamesIn(r.query)].some((n) => plotted.has(n)))
        .map((r) => `${r.name}: ${[...metricNamesIn(r.query)].join(", ")}`);
      assert.deepEqual(
        unplotted,
        [],
        `alerts whose signal no panel shows:\n${unplotted.join("\n")}`,
      );
      const unknown = sources.flatMap(({ where, expr }) =>
        [...metricNamesIn(expr)].filter((n) => !exported.has(n)).map((n) => `${where}: ${n}`)
      );
      assert.deepEqual(unknown, [], `metrics no service exports:\n${unknown.join("\n")}`);
    });
  } finally {
    clearInterval(ticker);
    if (child !== undefined) {
      try {
        child.kill("SIGTERM");
      } catch {
        // already exited
      }
      await child.status;
    }
    await log;
    am.kill("SIGTERM");
    await am.status;
    await amLog;
    await receiver.close();
    await Promise.all(servers.map((s) => s.shutdown()));
    await Deno.remove(tmp, { recursive: true });
  }
});

// ------------------------------------------------ compose's Alertmanager and market hours

Deno.test("compose's Alertmanager writes the receiver URLs of the environment into its config", async () => {
  const compose = requireBinary("docker-compose", "docker-compose");
  const amtool = requireBinary("amtool", "prometheus-alertmanager");
  const tmp = await Deno.makeTempDir({ prefix: "compose_am_" });
  try {
    // A URL with every character the entrypoint must escape for sed and for YAML.
    const webhook = "https://hooks.example.com/alerts?a=1&b=x|y's";
    const out = await new Deno.Command(compose, {
      args: ["-f", COMPOSE_YAML, "config"],
      env: { ALERT_WEBHOOK_URL: webhook },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const service = JSON.parse(
      await runPython(
        "import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin)['services']['alertmanager']))",
        new TextDecoder().decode(out.stdout),
      ),
    );
    assert.deepEqual(service.entrypoint, ["/bin/sh", "-c"]);
    // What the container's shell runs ($$ is compose's escape of $), with the container's
    // paths moved into the temp dir and Alertmanager replaced by amtool's check.
    const script = (service.command[0] as string).replaceAll("$$", "$")
      .replaceAll("/etc/alertmanager/alertmanager.yml", ALERTMANAGER_YML)
      .replaceAll("/alertmanager/alertmanager.yml", `${tmp}/alertmanager.yml`)
      .replace(
        /exec \/bin\/alertmanager[^]*$/,
        `exec ${amtool} check-config ${tmp}/alertmanager.yml\n`,
      );
    const run = await new Deno.Command("sh", {
      args: ["-c", script],
      env: service.environment,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(run.stdout) + new TextDecoder().decode(run.stderr);
    assert.equal(run.code, 0, text);
    assert.match(text, /SUCCESS/);
    const written = await Deno.readTextFile(`${tmp}/alertmanager.yml`);
    assert.equal(
      written.match(/url: 'https:\/\/hooks\.example\.com\/alerts\?a=1&b=x\|y''s'/g)?.length,
      2,
    );
    // Unset, the Watchdog goes to the alert-receiver service, never to 127.0.0.1.
    assert.match(written, /url: 'http:\/\/alert-receiver:5001\/watchdog'/);
    assert.doesNotMatch(written, /url: .*127\.0\.0\.1/);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

/** Runs `code` under Debian's python3 (which has PyYAML, docker-compose's dependency). */
async function runPython(code: string, stdin: string): Promise<string> {
  const child = new Deno.Command("/usr/bin/python3", {
    args: ["-c", code],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(stdin));
  await w.close();
  const out = await child.output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout);
}

/** True while the NYSE regular session is open (09:30-16:00 New York, Monday to Friday). */
function nyseSessionOpen(at: Date): boolean {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-US", {
      timeZone: "America/New_York",
      weekday: "short",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    }).formatToParts(at).map((p) => [p.type, p.value]),
  );
  const minutes = Number(parts.hour) * 60 + Number(parts.minute);
  return !["Sat", "Sun"].includes(parts.weekday) && minutes >= 9 * 60 + 30 && minutes < 16 * 60;
}

Deno.test("nyseSessionOpen() knows the session in New York time, daylight saving included", () => {
  assert.equal(nyseSessionOpen(new Date("2026-07-01T13:29:00Z")), false); // 09:29 EDT
  assert.equal(nyseSessionOpen(new Date("2026-07-01T13:30:00Z")), true); // 09:30 EDT
  assert.equal(nyseSessionOpen(new Date("2026-12-01T14:29:00Z")), false); // 09:29 EST
  assert.equal(nyseSessionOpen(new Date("2026-12-01T20:59:00Z")), true); // 15:59 EST
  assert.equal(nyseSessionOpen(new Date("2026-12-01T21:00:00Z")), false); // 16:00 EST
  assert.equal(nyseSessionOpen(new Date("2026-12-05T15:00:00Z")), false); // a Saturday
});

Deno.test("the real Alertmanager delivers a stock feed alert only in the NYSE session, a crypto one always", async () => {
  const bin = requireBinary("prometheus-alertmanager", "prometheus-alertmanager");
  const tmp = await Deno.makeTempDir({ prefix: "am_hours_" });
  const events: ReceiverEvent[] = [];
  const receiver = AlertReceiver.start({
    port: 0,
    logger: silentLogger(),
    onEvent: (e) => events.push(e),
  });
  const at = (route: string) => `http://127.0.0.1:${receiver.port}/${route}`;
  await Deno.writeTextFile(
    `${tmp}/am.yml`,
    alertmanagerConfig({ alerts: at("alerts"), watchdog: at("watchdog") }, 1),
  );
  const port = freePort();
  const am = startAlertmanager(bin, `${tmp}/am.yml`, `${tmp}/data`, port);
  const amLog = drainTo(am, `${tmp}/am.log`);
  try {
    const ready = await pollUntil(async () => {
      try {
        const r = await fetch(`http://127.0.0.1:${port}/-/ready`);
        await r.body?.cancel();
        return r.ok;
      } catch {
        return false;
      }
    }, 20_000);
    assert.ok(ready, await Deno.readTextFile(`${tmp}/am.log`));
    const now = new Date();
    const alert = (socket: string, alertname: string, severity: string) => ({
      labels: { alertname, severity, socket, exchange: "alpaca", service: "market-data" },
      annotations: { summary: `${alertname} ${socket}` },
      startsAt: now.toISOString(),
      endsAt: new Date(now.getTime() + 300_000).toISOString(),
    });
    const posted = await fetch(`http://127.0.0.1:${port}/api/v2/alerts`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify([
        alert("stocks", "MarketDataStale", "high"),
        alert("stocks", "WebSocketFailures", "warning"),
        alert("crypto", "MarketDataStale", "high"),
      ]),
    });
    await posted.body?.cancel();
    assert.equal(posted.status, 200);
    const delivered = (socket: string) =>
      events.filter((e) => e.kind === "alert" && e.alert.labels.socket === socket);
    assert.ok(await pollUntil(() => Promise.resolve(delivered("crypto").length > 0), 20_000));
    const open = nyseSessionOpen(now);
    if (open) {
      assert.ok(await pollUntil(() => Promise.resolve(delivered("stocks").length === 2), 20_000));
    } else {
      // Routed at the same time as the crypto alert, muted by the time interval: give it
      // a few group intervals to prove it stays undelivered.
      await new Promise((r) => setTimeout(r, 3000));
      assert.deepEqual(delivered("stocks"), [], "stock feed alerts delivered outside the session");
    }
  } finally {
    am.kill("SIGTERM");
    await am.status;
    await amLog;
    await receiver.close();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("compose gives each service a key volume with its own secret only, filled by the keys container", async () => {
  const compose = requireBinary("docker-compose", "docker-compose");
  const resolved = parseYaml(await assertRuns(compose, ["-f", COMPOSE_YAML, "config"])) as {
    services: Record<
      string,
      { volumes?: (string | { source: string; target: string })[]; command?: string[] }
    >;
  };
  const mounts = (name: string) =>
    (resolved.services[name].volumes ?? []).map((v) => {
      if (typeof v !== "string") return { source: v.source, target: v.target };
      const [source, target] = v.split(":");
      return { source, target };
    });
  for (const [name] of Object.entries(resolved.services)) {
    if (name === "keys") continue;
    assert.ok(
      !mounts(name).some((m) => m.source === "trading-keys"),
      `${name} must not mount the volume of every secret key`,
    );
  }
  const hostDirs: Record<string, string> = {};
  for (const m of mounts("keys")) {
    const svc = /^keys-(.+)$/.exec(m.source)?.[1];
    if (svc) hostDirs[svc] = m.target;
  }
  for (const service of SERVICES) {
    const own = mounts(service);
    const keyMounts = own.filter((m) => m.source.startsWith("keys-") || m.target === "/keys");
    assert.deepEqual(keyMounts, [{ source: `keys-${service}`, target: "/keys" }], service);
    assert.ok(hostDirs[service], `the keys container fills keys-${service}`);
    assert.ok(
      own.some((m) => m.source === `data-${service}` && m.target === "/app/data"),
      `${service} has a data volume of its own over the checkout's data/`,
    );
  }
  // The keys container's command, run here with its volumes as directories.
  const command = resolved.services.keys.command!;
  assert.deepEqual(command.slice(0, 3), ["deno", "task", "keys"]);
  const tmp = await Deno.makeTempDir({ prefix: "compose_keys_" });
  try {
    const args = command.slice(3).map((a) => a === "/host-keys" ? `${tmp}/host-keys` : a);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${REPO}services/keys.ts`, ...args],
      env: { TRADING__SECURITY__KEYS_DIR: `${tmp}/keys` },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    for (const service of SERVICES) {
      const dir = hostDirs[service].replace("/host-keys", `${tmp}/host-keys`);
      const secrets = [...Deno.readDirSync(dir)].map((e) => e.name)
        .filter((n) => n.endsWith(".key_secret"));
      assert.deepEqual(secrets, [`${service}.key_secret`], dir);
      for (const other of SERVICES) {
        assert.ok(Deno.statSync(`${dir}/${other}.key`).isFile, `${dir} has ${other}'s public key`);
      }
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
