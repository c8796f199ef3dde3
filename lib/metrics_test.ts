import assert from "node:assert/strict";
import { CATALOGUE, closedSet, createServiceMetrics, SERVICES, symbolLabel } from "./metrics.ts";
import { prometheusText } from "./exposition.ts";
import { promtool } from "./testing/tools.ts";

/** The seed's catalogue, written out again from the seed by hand, so a drift in CATALOGUE fails. */
const SEED: Record<string, { type: string; labels: string[]; buckets?: number[]; owner: string }> =
  {
    market_data_websocket_latency_us: {
      type: "histogram",
      labels: ["exchange", "message_type", "symbol"],
      buckets: [1, 5, 10, 25, 50, 100, 250, 500, 1000, 5000],
      owner: "market-data",
    },
    market_data_orderbook_update_latency_us: {
      type: "histogram",
      labels: ["symbol", "update_type"],
      buckets: [1, 2, 5, 10, 25, 50, 100],
      owner: "market-data",
    },
    signal_bridge_inference_latency_us: {
      type: "histogram",
      labels: ["model_name"],
      buckets: [10, 25, 50, 100, 250, 500, 1000, 5000],
      owner: "signal-bridge",
    },
    risk_manager_pretrade_check_latency_us: {
      type: "histogram",
      labels: ["check_type"],
      buckets: [5, 10, 25, 50, 100, 250, 500],
      owner: "risk-manager",
    },
    execution_engine_order_submission_latency_us: {
      type: "histogram",
      labels: ["exchange", "order_type"],
      buckets: [25, 50, 100, 250, 500, 1000, 2500, 5000],
      owner: "execution-engine",
    },
    execution_engine_api_call_latency_ms: {
      type: "histogram",
      labels: ["endpoint", "method", "status_code"],
      buckets: [10, 25, 50, 100, 250, 500, 1000, 2500],
      owner: "execution-engine",
    },
    market_data_messages_processed_total: {
      type: "counter",
      labels: ["message_type", "symbol", "exchange"],
      owner: "market-data",
    },
    signal_bridge_signals_generated_total: {
      type: "counter",
      labels: ["signal_type", "symbol", "confidence_bucket"],
      owner: "signal-bridge",
    },
    execution_engine_orders_submitted_total: {
      type: "counter",
      labels: ["order_type", "status", "exchange"],
      owner: "execution-engine",
    },
    risk_manager_checks_performed_total: {
      type: "counter",
      labels: ["check_type", "result"],
      owner: "risk-manager",
    },
    market_data_websocket_connection_failures_total: {
      type: "counter",
      labels: ["exchange", "error_type"],
      owner: "market-data",
    },
    execution_engine_order_rejections_total: {
      type: "counter",
      labels: ["rejection_reason", "symbol"],
      owner: "execution-engine",
    },
    risk_manager_risk_failures_total: {
      type: "counter",
      labels: ["failure_type", "symbol"],
      owner: "risk-manager",
    },
    execution_engine_api_failures_total: {
      type: "counter",
      labels: ["endpoint", "status_code", "error_message"],
      owner: "execution-engine",
    },
    trading_position_value_usd: {
      type: "gauge",
      labels: ["symbol", "side"],
      owner: "risk-manager",
    },
    trading_unrealized_pnl_usd: { type: "gauge", labels: ["symbol"], owner: "risk-manager" },
    // Deviation: a gauge without trade_id (README).
    trading_realized_pnl_usd: {
      type: "gauge",
      labels: ["symbol", "strategy"],
      owner: "risk-manager",
    },
    trading_open_positions_count: { type: "gauge", labels: [], owner: "risk-manager" },
    trading_portfolio_value_usd: { type: "gauge", labels: [], owner: "risk-manager" },
    system_cpu_usage_percent: { type: "gauge", labels: ["service"], owner: "all" },
    system_memory_usage_mb: { type: "gauge", labels: ["service"], owner: "all" },
    system_zmq_queue_depth: { type: "gauge", labels: ["service", "queue"], owner: "all" },
  };

type AnyMetric = {
  inc?: (l: Record<string, string>, v?: number) => void;
  set?: (l: Record<string, string>, v: number) => void;
  observe?: (l: Record<string, string>, v: number) => void;
};

/** Puts one sample into every family so every series shows in the output. */
function touchAll(families: Record<string, unknown>): void {
  for (const s of CATALOGUE) {
    const m = families[s.name] as AnyMetric | undefined;
    if (!m) continue;
    const labels = Object.fromEntries(s.labelNames.map((l) => [l, "x"]));
    if (s.type === "counter") m.inc!(labels, 1);
    else if (s.type === "gauge") m.set!(labels, 1);
    else m.observe!(labels, 3);
  }
}

Deno.test("CATALOGUE declares every seed family exactly as the seed does", () => {
  const seedInCatalogue = CATALOGUE.filter((s) => s.seed);
  assert.deepEqual(seedInCatalogue.map((s) => s.name).sort(), Object.keys(SEED).sort());
  for (const s of seedInCatalogue) {
    const want = SEED[s.name];
    assert.equal(s.type, want.type, s.name);
    assert.deepEqual([...s.labelNames], want.labels, s.name);
    assert.deepEqual(s.buckets ? [...s.buckets] : undefined, want.buckets, s.name);
    assert.equal(s.owner, want.owner, s.name);
  }
});

Deno.test("CATALOGUE has no duplicate names and no unbounded label names", () => {
  const names = CATALOGUE.map((s) => s.name);
  assert.equal(new Set(names).size, names.length);
  for (const s of CATALOGUE) {
    for (const l of s.labelNames) {
      assert.ok(!["trade_id", "order_id", "client_order_id", "url", "path"].includes(l), s.name);
    }
  }
});

for (const service of SERVICES) {
  Deno.test(`${service} serves its own seed families with the seed's labels and buckets, and no one else's`, async () => {
    const m = createServiceMetrics(service);
    try {
      touchAll(m.families as Record<string, unknown>);
      // What /metrics serves every client but Prometheus (lib/exposition.ts).
      const text = await prometheusText(m.registry);
      for (const [name, want] of Object.entries(SEED)) {
        const owned = want.owner === service || want.owner === "all";
        const typeLine = `# TYPE ${name} ${want.type}`;
        assert.equal(text.includes(typeLine + "\n"), owned, `${name} on ${service}`);
        if (!owned) continue;
        const sampleName = want.type === "histogram" ? `${name}_bucket` : name;
        const line = text.split("\n").find((l) =>
          l.startsWith(sampleName + "{") || l.startsWith(sampleName + " ")
        );
        assert.ok(line, `${name} has a sample on ${service}`);
        const labelNames = [...(line!.match(/(\w+)="/g) ?? [])].map((x) => x.slice(0, -2)).filter(
          (l) => l !== "le",
        );
        assert.deepEqual(labelNames, want.labels, `${name} labels`);
        if (want.buckets) {
          const les = text.split("\n").filter((l) => l.startsWith(`${name}_bucket{`)).map((l) =>
            l.match(/le="([^"]+)"/)![1]
          );
          assert.deepEqual(les, [...want.buckets.map(String), "+Inf"], `${name} buckets`);
        }
      }
      // The runtime's default process metrics are there too.
      assert.match(text, /^process_resident_memory_bytes \d+/m);
      assert.match(text, new RegExp(`^system_memory_usage_mb\\{service="${service}"\\} \\d`, "m"));
    } finally {
      m.stop();
    }
  });

  Deno.test(`promtool check metrics finds no errors in ${service}'s /metrics output, only the lint findings the README explains`, async () => {
    const m = createServiceMetrics(service);
    try {
      touchAll(m.families as Record<string, unknown>);
      // What /metrics serves every client but Prometheus (lib/exposition.ts).
      const text = await prometheusText(m.registry);
      const { code, output } = await promtool(["check", "metrics"], text);
      // Exit 1 is a parse error; 3 means lint findings only.
      assert.ok(code === 0 || code === 3, `promtool exit ${code}:\n${output}`);
      const findings = output.split("\n").filter((l) => l.trim() !== "");
      const unexplained = findings.filter((l) => !EXPLAINED_LINT.some((re) => re.test(l)));
      assert.deepEqual(unexplained, [], "unexplained promtool findings");
    } finally {
      m.stop();
    }
  });
}

/**
 * promtool lint findings left on purpose (README, "promtool lint"): the seed's names
 * carry abbreviated units and a gauge named `_count`, and prom-client's default metrics name three gauges `_total`.
 */
const EXPLAINED_LINT = [
  /^(market_data_\w+_latency_us|signal_bridge_inference_latency_us|risk_manager_pretrade_check_latency_us|execution_engine_\w+_latency_(us|ms)|system_memory_usage_mb) metric names should not contain abbreviated units$/,
  /^trading_open_positions_count non-histogram and non-summary metrics should not have "_count" suffix$/,
  /^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/,
];

Deno.test("closedSet() maps values outside the set to the fallback", () => {
  const METHODS = ["GET", "POST"] as const;
  assert.equal(closedSet(METHODS, "GET"), "GET");
  assert.equal(closedSet(METHODS, "PATCH"), "other");
  assert.equal(closedSet(METHODS, undefined, "unknown"), "unknown");
});

Deno.test("symbolLabel() keeps configured symbols and folds the rest into other", () => {
  const symbols = new Set(["AAPL"]);
  assert.equal(symbolLabel(symbols, "AAPL"), "AAPL");
  assert.equal(symbolLabel(symbols, 'EVIL"}'), "other");
});

Deno.test("system gauges report this process's memory in MB", async () => {
  const m = createServiceMetrics("market-data", { defaultMetrics: false });
  try {
    const g = await m.families.system_memory_usage_mb.get();
    const mb = g.values[0].value;
    assert.ok(mb > 1 && mb < 24 * 1024, `memory ${mb} MB`);
  } finally {
    m.stop();
  }
});

Deno.test("with instrumentation off a service's own families are no-ops but system gauges stay", async () => {
  const m = createServiceMetrics("market-data", { instrumented: false, defaultMetrics: false });
  try {
    m.families.market_data_messages_processed_total.inc({
      message_type: "trade",
      symbol: "AAPL",
      exchange: "sim",
    });
    const text = await m.registry.metrics();
    assert.ok(!text.includes("market_data_messages_processed_total"));
    assert.match(text, /system_memory_usage_mb/);
  } finally {
    m.stop();
  }
});

Deno.test("exemplars are on exactly the tick-to-trade, order submission, risk-check and decision record histograms, both units", () => {
  const withExemplars = CATALOGUE.filter((s) => s.exemplars).map((s) => s.name).sort();
  assert.deepEqual(withExemplars, [
    "execution_engine_order_submission_latency_seconds",
    "execution_engine_order_submission_latency_us",
    "execution_engine_tick_to_trade_latency_seconds",
    "execution_engine_tick_to_trade_latency_us",
    "risk_manager_decision_record_latency_seconds",
    "risk_manager_pretrade_check_latency_us",
  ]);
  for (const s of CATALOGUE.filter((s) => s.exemplars)) assert.equal(s.type, "histogram");
});

Deno.test("every counter of the catalogue ends in _total, which the OpenMetrics to Prometheus text conversion relies on", () => {
  const bad = CATALOGUE.filter((s) => s.type === "counter" && !s.name.endsWith("_total"));
  assert.deepEqual(bad.map((s) => s.name), []);
});
