import assert from "node:assert/strict";
import { type Counter, type Gauge, type Histogram, Registry } from "prom-client";
import {
  exposition,
  OPENMETRICS_CONTENT_TYPE,
  openMetricsToPrometheus,
  PROMETHEUS_CONTENT_TYPE,
  prometheusText,
  wantsOpenMetrics,
} from "./exposition.ts";
import { createServiceApp, serve } from "./http.ts";
import {
  CATALOGUE,
  createServiceMetrics,
  familyOn,
  observeWithExemplar,
  type ServiceName,
  SERVICES,
} from "./metrics.ts";

// Source: the Accept header Debian's Prometheus 2.42 sends on every scrape (measured, see
// README "Tracing"), and the form Prometheus 2.49+ builds from its default scrape_protocols
// (prometheus/prometheus scrape/scrape.go, acceptHeader()).
const PROMETHEUS_2_42 = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;" +
  "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
const PROMETHEUS_2_55 = "application/openmetrics-text;version=1.0.0;q=0.5,application/" +
  "openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";

const TRACE = { trace_id: "4bf92f3577b34da6a3ce929d0e0e4736", span_id: "00f067aa0ba902b7" };

Deno.test("wantsOpenMetrics() says yes to Prometheus's Accept headers and no to curl, browsers and text/plain", () => {
  const cases: [string | undefined, boolean][] = [
    [PROMETHEUS_2_42, true],
    [PROMETHEUS_2_55, true],
    ["application/openmetrics-text", true],
    ["application/openmetrics-text; version=1.0.0; charset=utf-8", true],
    ["APPLICATION/OpenMetrics-Text;Version=1.0.0", true],
    [undefined, false],
    ["", false],
    ["*/*", false], // curl
    ["text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", false], // a browser
    ["text/plain;version=0.0.4", false],
    ["application/*", false],
    ["application/openmetrics-text;q=0", false],
    ["application/openmetrics-text;q=0.3,text/plain;q=0.9", false],
    ["text/plain;q=0.2,application/openmetrics-text;q=0.2", true],
    ["application/openmetrics-text;q=0.5,text/*;q=0.6", false],
    ["application/openmetrics-text;q=bogus", false],
  ];
  for (const [accept, want] of cases) {
    assert.equal(wantsOpenMetrics(accept), want, JSON.stringify(accept));
  }
});

type AnyFamily = Counter<string> & Gauge<string> & Histogram<string>;

/** One sample in every family, the same on any registry: what a day of trading leaves behind. */
function touch(
  families: Record<string, unknown>,
  service: ServiceName,
  withExemplars: boolean,
): void {
  for (const name of ["system_cpu_usage_percent", "system_memory_usage_mb"]) {
    (families[name] as AnyFamily).set({ service }, 1);
  }
  for (const s of CATALOGUE) {
    const m = families[s.name] as AnyFamily | undefined;
    if (!m) continue;
    const labels = Object.fromEntries(s.labelNames.map((l) => [l, `${l}_1`]));
    if (s.type === "counter") m.inc(labels, 3);
    else if (s.type === "gauge") m.set(labels, -2.5);
    else {
      const buckets = s.buckets ?? [1];
      observeWithExemplar(m, labels, buckets[0] * 0.5, withExemplars ? TRACE : undefined);
      observeWithExemplar(m, labels, buckets[buckets.length - 1] * 10, undefined);
    }
  }
}

for (const service of SERVICES) {
  Deno.test(`${service}: the Prometheus text converted from its OpenMetrics registry is byte-identical to a Prometheus registry's`, async () => {
    const m = createServiceMetrics(service, { defaultMetrics: false });
    m.stop();
    const reference = new Registry();
    const refFamilies: Record<string, unknown> = {};
    for (const s of CATALOGUE) {
      if (s.owner === service || s.owner === "all") {
        refFamilies[s.name] = familyOn(reference, s.name);
      }
    }
    touch(m.families as Record<string, unknown>, service, true);
    touch(refFamilies, service, false);
    const om = await m.registry.metrics();
    assert.equal(m.registry.contentType, OPENMETRICS_CONTENT_TYPE);
    assert.match(om, /# EOF\n$/);
    const converted = openMetricsToPrometheus(om);
    assert.equal(converted, await reference.metrics());
    assert.doesNotMatch(converted, /# \{/, "no exemplar in the Prometheus text");
    // A second render must not drift: prom-client renames counters on each OpenMetrics render.
    assert.equal(openMetricsToPrometheus(await m.registry.metrics()), converted);
  });
}

Deno.test("the OpenMetrics render carries the exemplar of a sampled trace on the tick-to-trade bucket it fell in", async () => {
  const m = createServiceMetrics("execution-engine", { defaultMetrics: false });
  m.stop();
  const h = m.families.execution_engine_tick_to_trade_latency_us;
  observeWithExemplar(h, { exchange: "sim" }, 3700, TRACE);
  observeWithExemplar(h, { exchange: "sim" }, 80, undefined);
  // The bound child and the two-argument form still count (they never carry an exemplar).
  h.labels({ exchange: "sim" }).observe(90);
  h.observe({ exchange: "sim" }, 95);
  const om = await m.registry.metrics();
  const bucket = om.split("\n").find((l) =>
    l.startsWith('execution_engine_tick_to_trade_latency_us_bucket{le="5000"')
  );
  assert.match(
    bucket!,
    /^\S+ 4 # \{trace_id="4bf92f3577b34da6a3ce929d0e0e4736",span_id="00f067aa0ba902b7"\} 3700 \d+(\.\d+)?$/,
  );
  const low = om.split("\n").find((l) =>
    l.startsWith('execution_engine_tick_to_trade_latency_us_bucket{le="100"')
  );
  assert.doesNotMatch(low!, /#/, "no exemplar where only unsampled observations fell");
  assert.match(om, /^execution_engine_tick_to_trade_latency_us_count\{exchange="sim"\} 4$/m);
});

Deno.test("observeWithExemplar() on a histogram without exemplars just observes", async () => {
  const m = createServiceMetrics("execution-engine", { defaultMetrics: false });
  m.stop();
  const h = m.families.execution_engine_api_call_latency_ms;
  observeWithExemplar(h, { endpoint: "/v2/orders", method: "POST", status_code: "200" }, 12, TRACE);
  const om = await m.registry.metrics();
  assert.match(om, /^execution_engine_api_call_latency_ms_count\{[^}]*\} 1$/m);
  assert.doesNotMatch(om, /trace_id/);
});

Deno.test("openMetricsToPrometheus() strips an exemplar but not a label value that looks like one", () => {
  const om = [
    "# HELP x_total A counter",
    "# TYPE x counter",
    'x_total{a="v # {q=\\"1\\"} 2 3",b="}"} 7 # {trace_id="abc"} 1 1700000000.5',
    "x_total 8",
    "# HELP g A gauge",
    "# TYPE g gauge",
    'g{a="\\\\"} 1',
    "# EOF",
    "",
  ].join("\n");
  assert.equal(
    openMetricsToPrometheus(om),
    [
      "# HELP x_total A counter",
      "# TYPE x_total counter",
      'x_total{a="v # {q=\\"1\\"} 2 3",b="}"} 7',
      "x_total 8",
      "",
      "# HELP g A gauge",
      "# TYPE g gauge",
      'g{a="\\\\"} 1',
      "",
    ].join("\n"),
  );
});

Deno.test("exposition() serves OpenMetrics to Prometheus and the Prometheus text to anyone else", async () => {
  const m = createServiceMetrics("risk-manager", { defaultMetrics: false });
  m.stop();
  const om = await exposition(m.registry, PROMETHEUS_2_42);
  assert.equal(om.contentType, OPENMETRICS_CONTENT_TYPE);
  assert.match(om.body, /# EOF\n$/);
  const text = await exposition(m.registry, "*/*");
  assert.equal(text.contentType, PROMETHEUS_CONTENT_TYPE);
  assert.doesNotMatch(text.body, /# EOF/);
  assert.equal(await prometheusText(m.registry), text.body);
  // A Prometheus-text registry (a bare test registry) is served as it is, whatever is asked.
  const plain = new Registry();
  assert.equal((await exposition(plain, PROMETHEUS_2_42)).contentType, PROMETHEUS_CONTENT_TYPE);
});

Deno.test("curl without an Accept header gets the Prometheus text from a running service app, Prometheus's Accept gets OpenMetrics", async () => {
  const m = createServiceMetrics("execution-engine", { defaultMetrics: false });
  m.stop();
  observeWithExemplar(
    m.families.execution_engine_tick_to_trade_latency_us,
    { exchange: "sim" },
    3700,
    TRACE,
  );
  const app = createServiceApp({ service: "execution-engine", registry: m.registry });
  const server = serve(app, { host: "127.0.0.1", port: 0 });
  try {
    const url = `http://127.0.0.1:${server.port}/metrics`;
    const curl = async (...args: string[]) => {
      const out = await new Deno.Command("curl", {
        args: ["-s", "-i", "--max-time", "10", ...args, url],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      return new TextDecoder().decode(out.stdout);
    };
    const plain = await curl("-H", "Accept:"); // no Accept header at all
    assert.match(plain, /^content-type: text\/plain; version=0\.0\.4; charset=utf-8\r$/im);
    assert.match(plain, /^vary: accept\r$/im);
    assert.match(plain, /^# TYPE execution_engine_orders_submitted_total counter$/m);
    assert.doesNotMatch(plain, /# EOF|trace_id/);
    const defaults = await curl(); // curl's own */*
    assert.match(defaults, /^content-type: text\/plain; version=0\.0\.4/im);
    const om = await curl("-H", `Accept: ${PROMETHEUS_2_42}`);
    assert.match(
      om,
      /^content-type: application\/openmetrics-text; version=1\.0\.0; charset=utf-8\r$/im,
    );
    assert.match(om, /trace_id="4bf92f3577b34da6a3ce929d0e0e4736"/);
    assert.match(om, /# EOF\n$/);
  } finally {
    await server.shutdown();
  }
});

/** Parses `text` with the Python client's strict OpenMetrics parser; returns its error, if any. */
async function pythonOpenMetricsParse(text: string): Promise<{ code: number; output: string }> {
  const script = [
    "import sys",
    "from prometheus_client.openmetrics.parser import text_string_to_metric_families",
    "families = list(text_string_to_metric_families(sys.stdin.read()))",
    "exemplars = sum(1 for f in families for s in f.samples if s.exemplar is not None)",
    "print(len(families), exemplars)",
  ].join("\n");
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("/usr/bin/python3", {
      args: ["-c", script],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    throw new Error(
      `Cannot run /usr/bin/python3 (apt-get install python3-prometheus-client): ${e}`,
    );
  }
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(text));
  await w.close();
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, output: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

for (const service of SERVICES) {
  Deno.test(`${service}'s OpenMetrics exposition passes the Python client's strict OpenMetrics parser, exemplars included`, async () => {
    const m = createServiceMetrics(service);
    try {
      touch(m.families as Record<string, unknown>, service, true);
      const { code, output } = await pythonOpenMetricsParse(await m.registry.metrics());
      assert.equal(code, 0, output);
      const [families, exemplars] = output.trim().split(" ").map(Number);
      assert.ok(families > 10, output);
      const owned = CATALOGUE.filter((s) =>
        s.exemplars && (s.owner === service || s.owner === "all")
      ).length;
      assert.equal(exemplars, owned, `one exemplar per exemplar histogram of ${service}`);
    } finally {
      m.stop();
    }
  });
}
