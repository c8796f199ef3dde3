import assert from "node:assert/strict";
import { dashboardQueries, DEFAULT_RATE_INTERVAL } from "./dashboard_queries.ts";
import { CATALOGUE } from "../lib/metrics.ts";

function withDashboard(json: unknown, fn: (path: string) => void): void {
  const path = Deno.makeTempFileSync({ suffix: ".json" });
  try {
    Deno.writeTextFileSync(path, JSON.stringify(json));
    fn(path);
  } finally {
    Deno.removeSync(path);
  }
}

Deno.test("dashboardQueries() returns every target, in rows and collapsed rows, and annotations on request", () => {
  withDashboard({
    panels: [
      { type: "row", title: "Open row", panels: [] },
      { type: "stat", title: "A", targets: [{ refId: "A", expr: "up", instant: true }] },
      {
        type: "row",
        title: "Collapsed row",
        collapsed: true,
        panels: [{
          type: "timeseries",
          title: "B",
          targets: [{ refId: "A", expr: "x", range: true }, { refId: "B", expr: "y", hide: true }],
        }],
      },
    ],
    annotations: { list: [{ name: "builtin" }, { name: "Alerts", expr: "ALERTS" }] },
  }, (path) => {
    const panels = [
      { panel: "A", expr: "up", panelType: "stat", instant: true },
      { panel: "B", expr: "x", panelType: "timeseries", instant: false },
      { panel: "B", expr: "y", panelType: "timeseries", instant: false },
    ];
    assert.deepEqual(dashboardQueries(path), panels);
    assert.deepEqual(dashboardQueries(path, { annotations: true }), [
      ...panels,
      { panel: "annotation: Alerts", expr: "ALERTS", panelType: "annotation", instant: false },
    ]);
  });
});

Deno.test("dashboardQueries() replaces $__rate_interval and the dashboard's variables, unless asked for raw", () => {
  withDashboard({
    templating: { list: [{ name: "service", allValue: ".*" }, { name: "symbol" }] },
    panels: [{
      type: "timeseries",
      title: "R",
      targets: [{
        refId: "A",
        expr: 'rate(x{service=~"$service", symbol=~"${symbol}"}[$__rate_interval])',
      }],
    }],
  }, (path) => {
    assert.equal(
      dashboardQueries(path)[0].expr,
      `rate(x{service=~".*", symbol=~".*"}[${DEFAULT_RATE_INTERVAL}])`,
    );
    assert.equal(
      dashboardQueries(path, { rateInterval: "4s" })[0].expr,
      'rate(x{service=~".*", symbol=~".*"}[4s])',
    );
    assert.match(dashboardQueries(path, { raw: true })[0].expr, /\$__rate_interval/);
  });
});

Deno.test("dashboardQueries() refuses a panel target without an expr, or a variable the dashboard lacks", () => {
  withDashboard({ panels: [{ title: "Broken", targets: [{ refId: "A" }] }] }, (path) => {
    assert.throws(() => dashboardQueries(path), /target A of panel "Broken" has no expr/);
  });
  withDashboard({ panels: [{ title: "V", targets: [{ refId: "A", expr: 'x{a=~"$nope"}' }] }] }, (
    path,
  ) => {
    assert.throws(() => dashboardQueries(path), /panel "V" uses the undeclared variable \$nope/);
  });
});

Deno.test("the provisioned dashboard: current state by instant queries, rates over $__rate_interval, variables for service and symbol", () => {
  const queries = dashboardQueries();
  assert.ok(queries.length > 60, `only ${queries.length} queries`);
  for (const q of queries) {
    assert.ok(!q.expr.includes("$"), `${q.panel}: a Grafana variable left in ${q.expr}`);
  }
  const raw = dashboardQueries(undefined, { raw: true });
  const ranges = (expr: string) => [...expr.matchAll(/\[([^\]]+)\]/g)].map((m) => m[1]);
  for (const q of raw) {
    if (q.panelType === "stat") {
      // A stat shows the present: a range query's last value outlives a dead service.
      assert.ok(q.instant, `stat "${q.panel}" must use an instant query`);
    } else if (q.panelType === "timeseries") {
      assert.ok(!q.instant, `time series "${q.panel}" must use a range query`);
      for (const r of ranges(q.expr)) {
        assert.equal(r, "$__rate_interval", `time series "${q.panel}" uses a fixed window [${r}]`);
      }
    }
  }
  const text = raw.map((q) => q.expr).join("\n");
  assert.match(text, /service=~"\$service"/);
  assert.match(text, /symbol=~"\$symbol"/);
  const dashboard = JSON.parse(
    Deno.readTextFileSync(new URL("./grafana/dashboards/trading-system.json", import.meta.url)),
  );
  const names = dashboard.templating.list.map((v: { name: string }) => v.name);
  assert.deepEqual(names, ["service", "symbol"]);
  // system_memory_usage_mb is in mebibytes: Grafana's "mbytes" (not "decmbytes", 10^6)
  const units = new Map<string, string>();
  for (const p of dashboard.panels) {
    for (const t of p.targets ?? []) {
      if (t.expr.includes("system_memory_usage_mb")) {
        units.set(p.title, p.fieldConfig.defaults.unit);
      }
    }
  }
  assert.ok(units.size > 0);
  for (const [title, unit] of units) assert.equal(unit, "mbytes", title);
});

Deno.test("every panel over a histogram with exemplars asks Grafana for them, once per panel: a slow point links to its order's trace", () => {
  const withExemplars = CATALOGUE.filter((s) => s.exemplars).map((s) => s.name);
  const dashboard = JSON.parse(
    Deno.readTextFileSync(new URL("./grafana/dashboards/trading-system.json", import.meta.url)),
  );
  type Target = { expr?: string; exemplar?: boolean };
  type Panel = { title: string; targets?: Target[]; panels?: Panel[] };
  const all = (ps: Panel[]): Panel[] => ps.flatMap((p) => [p, ...all(p.panels ?? [])]);
  const over = all(dashboard.panels).filter((p) =>
    (p.targets ?? []).some((t) => withExemplars.some((m) => t.expr?.includes(`${m}_bucket`)))
  );
  assert.ok(over.length >= 4, `panels over exemplar histograms: ${over.map((p) => p.title)}`);
  for (const p of over) {
    const asking = p.targets!.filter((t) => t.exemplar === true);
    assert.equal(asking.length, 1, `"${p.title}" asks for exemplars on ${asking.length} targets`);
    assert.ok(
      withExemplars.some((m) => asking[0].expr?.includes(`${m}_bucket`)),
      `"${p.title}": the exemplar target reads a histogram that has them`,
    );
  }
});
