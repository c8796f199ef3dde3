import assert from "node:assert/strict";
import { dashboardQueries } from "./dashboard_queries.ts";

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
      { type: "stat", title: "A", targets: [{ refId: "A", expr: "up" }] },
      {
        type: "row",
        title: "Collapsed row",
        collapsed: true,
        panels: [{
          type: "timeseries",
          title: "B",
          targets: [{ refId: "A", expr: "x" }, { refId: "B", expr: "y", hide: true }],
        }],
      },
    ],
    annotations: { list: [{ name: "builtin" }, { name: "Alerts", expr: "ALERTS" }] },
  }, (path) => {
    const panels = [
      { panel: "A", expr: "up" },
      { panel: "B", expr: "x" },
      { panel: "B", expr: "y" },
    ];
    assert.deepEqual(dashboardQueries(path), panels);
    assert.deepEqual(dashboardQueries(path, { annotations: true }), [
      ...panels,
      { panel: "annotation: Alerts", expr: "ALERTS" },
    ]);
  });
});

Deno.test("dashboardQueries() refuses a panel target without an expr", () => {
  withDashboard({ panels: [{ title: "Broken", targets: [{ refId: "A" }] }] }, (path) => {
    assert.throws(() => dashboardQueries(path), /target A of panel "Broken" has no expr/);
  });
});

Deno.test("dashboardQueries() reads the provisioned dashboard by default", () => {
  const queries = dashboardQueries();
  assert.ok(queries.length > 40, `only ${queries.length} queries`);
  for (const q of queries) {
    assert.ok(!q.expr.includes("$"), `${q.panel}: Grafana variables cannot run in Prometheus`);
  }
});
