/**
 * Exemplars through a real Prometheus: Debian's 2.42, started as `deno task stack` starts it
 * (monitoring/stack.ts, exemplar storage on), scrapes a small server that uses the services'
 * registry, recorder and `/metrics` (lib/metrics.ts, services' metrics.ts, lib/http.ts), and
 * serves the trace id of a sampled order from `/api/v1/query_exemplars`; the Prometheus text a
 * client without `Accept` gets passes `promtool check metrics`. Then the same Prometheus scrapes
 * the four real services, traced at the stack's head ratio: every exemplar of the tick-to-trade,
 * submission and `all_checks` histograms names an order of the execution journal, whose trace id
 * risk-manager's and execution-engine's log lines carry.
 *
 * Needs `prometheus`, `promtool` and `curl` on PATH (.ci/ensure-tools installs them).
 */
import assert from "node:assert/strict";
import { createServiceApp, serve } from "../lib/http.ts";
import { createServiceMetrics } from "../lib/metrics.ts";
import { SERVICES } from "../lib/metrics.ts";
import { startOtlpReceiver } from "../lib/testing/otlp_receiver.ts";
import { journalOrders, logLines, startTracedStack } from "../lib/testing/traced_stack.ts";
import { freePort, promtool, removeDir, waitFor } from "../lib/testing/tools.ts";
import { ExecutionEngineMetrics } from "../services/execution-engine/metrics.ts";
import { drainTo, findBinary, PROMETHEUS_FLAGS, startPrometheus } from "./stack.ts";

// Two traces, with the W3C spec's example span id: one sampled (an order), one not.
const SAMPLED = "4bf92f3577b34da6a3ce929d0e0e4736";
const UNSAMPLED = "0af7651916cd43dd8448eb211c80319c";
const SPAN = "00f067aa0ba902b7";

interface ExemplarsResponse {
  status: string;
  data: {
    seriesLabels: Record<string, string>;
    exemplars: { labels: Record<string, string>; value: string; timestamp: number }[];
  }[];
}

interface TargetsResponse {
  data: { activeTargets: { health: string; lastError: string; scrapeUrl: string }[] };
}

Deno.test("deno task stack's Prometheus runs with exemplar storage", () => {
  assert.ok(PROMETHEUS_FLAGS.includes("--enable-feature=exemplar-storage"));
});

Deno.test("a real Prometheus scraping a service's /metrics stores a sampled order's trace id as the tick-to-trade exemplar, and curl still gets the Prometheus text", async () => {
  const bin = findBinary("prometheus");
  assert.ok(bin, "prometheus is not installed: apt-get install -y prometheus");
  const m = createServiceMetrics("execution-engine", { defaultMetrics: true });
  const recorder = new ExecutionEngineMetrics(m.families, { exchange: "sim", symbols: ["AAPL"] });
  recorder.tickToTrade(3700, { traceId: SAMPLED, spanId: SPAN, traceFlags: 1 });
  recorder.tickToTrade(800, { traceId: UNSAMPLED, spanId: SPAN, traceFlags: 0 });
  recorder.submissionLatency("market", 40, { traceId: SAMPLED, spanId: SPAN, traceFlags: 1 });
  const app = createServiceApp({
    service: "execution-engine",
    registry: m.registry,
    requests: m.families.http_requests_total,
  });
  const server = serve(app, { host: "127.0.0.1", port: 0 });
  const dir = await Deno.makeTempDir({ prefix: "exemplars_test_" });
  const port = freePort();
  const base = `http://127.0.0.1:${port}`;
  await Deno.writeTextFile(
    `${dir}/prometheus.yml`,
    [
      "global:",
      "  scrape_interval: 1s",
      "scrape_configs:",
      "  - job_name: execution-engine",
      "    static_configs:",
      `      - targets: ["127.0.0.1:${server.port}"]`,
      "",
    ].join("\n"),
  );
  const start = Date.now() / 1000 - 60;
  const prometheus = startPrometheus(bin, `${dir}/prometheus.yml`, `${dir}/data`, port);
  const log = drainTo(prometheus, `${dir}/prometheus.log`);
  try {
    await waitFor("Prometheus to be ready", async () => {
      const res = await fetch(`${base}/-/ready`, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      return res.ok;
    }, { timeoutMs: 30_000, everyMs: 250 });

    const exemplars = await waitFor("the tick-to-trade exemplar", async () => {
      const q = new URLSearchParams({
        query: "execution_engine_tick_to_trade_latency_us_bucket",
        start: String(start),
        end: String(Date.now() / 1000 + 60),
      });
      const res = await fetch(`${base}/api/v1/query_exemplars?${q}`);
      const body = await res.json() as ExemplarsResponse;
      const all = body.data?.flatMap((s) => s.exemplars.map((e) => ({ ...e, series: s })));
      return all?.length ? all : undefined;
    }, { timeoutMs: 30_000, everyMs: 500 });
    const ids = exemplars.map((e) => e.labels.trace_id);
    assert.ok(ids.includes(SAMPLED), `exemplar trace ids: ${ids.join(", ")}`);
    assert.ok(!ids.includes(UNSAMPLED), "an unsampled trace is never an exemplar");
    const ours = exemplars.find((e) => e.labels.trace_id === SAMPLED)!;
    assert.equal(ours.labels.span_id, SPAN);
    assert.equal(Number(ours.value), 3700);
    assert.equal(ours.series.seriesLabels.le, "5000");
    assert.equal(ours.series.seriesLabels.exchange, "sim");

    // Prometheus parsed the OpenMetrics exposition it negotiated without an error.
    const targets = await (await fetch(`${base}/api/v1/targets`)).json() as TargetsResponse;
    assert.deepEqual(
      targets.data.activeTargets.map((t) => [t.health, t.lastError]),
      [["up", ""]],
    );
    // And it asked for OpenMetrics: /metrics counted its scrapes, never a 406 or an error.
    const q = new URLSearchParams({ query: "up" });
    const up = await (await fetch(`${base}/api/v1/query?${q}`)).json();
    assert.equal(up.data.result[0].value[1], "1");

    // A client that asks for nothing gets the seed's Prometheus text, which promtool accepts.
    const out = await new Deno.Command("curl", {
      args: ["-s", "--max-time", "10", `http://127.0.0.1:${server.port}/metrics`],
      stdout: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.doesNotMatch(text, /# EOF|trace_id/);
    assert.match(
      text,
      /^execution_engine_tick_to_trade_latency_us_bucket\{le="5000",exchange="sim"\} 2$/m,
    );
    const check = await promtool(["check", "metrics"], text);
    // Exit 1 is a parse error; 3 lint findings only (the seed's names: lib/metrics_test.ts).
    assert.ok(check.code === 0 || check.code === 3, check.output);
    assert.doesNotMatch(check.output, /error/i);
  } finally {
    try {
      prometheus.kill("SIGTERM");
    } catch { /* gone */ }
    await prometheus.status;
    await log;
    await server.shutdown();
    m.stop();
    await removeDir(dir);
  }
});

/** Every exemplar Prometheus holds for `query` over the last few minutes. */
async function exemplarsOf(base: string, query: string) {
  const q = new URLSearchParams({
    query,
    start: String(Date.now() / 1000 - 600),
    end: String(Date.now() / 1000 + 60),
  });
  const res = await fetch(`${base}/api/v1/query_exemplars?${q}`);
  const body = await res.json() as ExemplarsResponse;
  assert.equal(body.status, "success", JSON.stringify(body));
  return body.data.flatMap((s) => s.exemplars.map((e) => ({ ...e, series: s.seriesLabels })));
}

Deno.test({
  name:
    "a real Prometheus scraping the four traced services gets tick-to-trade exemplars whose trace ids are orders of the execution journal, in risk-manager's and execution-engine's log lines",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const bin = findBinary("prometheus");
    assert.ok(bin, "prometheus is not installed: apt-get install -y prometheus");
    await using receiver = startOtlpReceiver();
    // The stack's default head ratio: most ticks are not kept, every order is.
    const stack = startTracedStack(receiver.url, "0.01");
    const dir = await Deno.makeTempDir({ prefix: "exemplars_services_test_" });
    const port = freePort();
    const base = `http://127.0.0.1:${port}`;
    let prometheus: Deno.ChildProcess | undefined;
    let log: Promise<void> | undefined;
    try {
      await stack.waitReady(60_000);
      await Deno.writeTextFile(
        `${dir}/prometheus.yml`,
        [
          "global:",
          "  scrape_interval: 1s",
          "scrape_configs:",
          ...SERVICES.flatMap((s) => [
            `  - job_name: ${s}`,
            "    static_configs:",
            `      - targets: ["${new URL(stack.url(s)).host}"]`,
          ]),
          "",
        ].join("\n"),
      );
      prometheus = startPrometheus(bin, `${dir}/prometheus.yml`, `${dir}/data`, port);
      log = drainTo(prometheus, `${dir}/prometheus.log`);
      const journalPath = stack.config.executionEngine.journalPath;
      const exemplars = await waitFor("three tick-to-trade exemplars", async () => {
        const all = await exemplarsOf(base, "execution_engine_tick_to_trade_latency_us_bucket");
        return all.length >= 3 ? all : undefined;
      }, { timeoutMs: 60_000, everyMs: 1000 });
      // Each job is scraped on its own 1 s schedule: risk-manager's first scrape after its
      // first approval can come after execution-engine's, so each histogram is waited for.
      const exemplarsOfEach = (query: string) =>
        waitFor(`exemplars of ${query}`, async () => {
          const found = await exemplarsOf(base, query);
          return found.length > 0 ? found : undefined;
        }, { timeoutMs: 30_000, everyMs: 500 });
      const submission = await exemplarsOfEach(
        "execution_engine_order_submission_latency_us_bucket",
      );
      const checks = await exemplarsOfEach(
        'risk_manager_pretrade_check_latency_us_bucket{check_type="all_checks"}',
      );
      // The seconds histograms the dashboard's panels and the SLOs read, and the durable record.
      const inSeconds = [];
      for (
        const name of [
          "execution_engine_tick_to_trade_latency_seconds_bucket",
          "execution_engine_order_submission_latency_seconds_bucket",
          "risk_manager_decision_record_latency_seconds_bucket",
        ]
      ) {
        inSeconds.push(...await exemplarsOfEach(name));
      }
      // The services flush their last log lines and spans as they stop.
      await stack.stop();
      const orders = new Map((await journalOrders(journalPath)).map((o) => [o.trace, o]));
      const traced = (service: "risk-manager" | "execution-engine") =>
        new Set(logLines(stack, service).map((l) => l.trace_id).filter((t) => t !== undefined));
      const rmTraces = traced("risk-manager");
      const eeTraces = traced("execution-engine");
      for (const e of [...exemplars, ...submission, ...checks, ...inSeconds]) {
        const id = e.labels.trace_id;
        assert.match(id, /^[0-9a-f]{32}$/);
        assert.match(e.labels.span_id, /^[0-9a-f]{16}$/);
        assert.ok(orders.has(id), `exemplar ${id} is an order of the execution journal`);
        assert.ok(rmTraces.has(id), `risk-manager's log lines carry ${id}`);
        assert.ok(eeTraces.has(id), `execution-engine's log lines carry ${id}`);
      }
      for (const e of exemplars) assert.equal(e.series.exchange, "sim");
      // The orders' spans were exported: an exemplar leads to a trace that exists.
      const exported = new Set(receiver.spans().map((s) => s.traceId));
      for (const e of exemplars) {
        assert.ok(
          exported.has(e.labels.trace_id),
          `the trace of ${e.labels.trace_id} was exported`,
        );
      }
    } finally {
      await stack.stop();
      if (prometheus !== undefined) {
        try {
          prometheus.kill("SIGTERM");
        } catch { /* gone */ }
        await prometheus.status;
        await log;
      }
      await removeDir(dir);
      await removeDir(stack.dir);
    }
  },
});
