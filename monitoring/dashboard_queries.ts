/**
 * Reads the PromQL queries of a Grafana dashboard, so tests can run each one against a
 * real Prometheus.
 *
 * @example
 * ```ts
 * for (const { panel, expr } of dashboardQueries()) console.log(panel, expr);
 * ```
 * @module
 */

/** One PromQL query of a dashboard and where it comes from. */
export interface DashboardQuery {
  /** The panel's title, or `annotation: <name>` for an annotation query. */
  readonly panel: string;
  /** The PromQL expression, exactly as in the dashboard. */
  readonly expr: string;
}

/** The dashboard that compose provisions into Grafana. */
export const DASHBOARD_PATH: URL = new URL(
  "./grafana/dashboards/trading-system.json",
  import.meta.url,
);

interface Target {
  refId?: string;
  expr?: string;
  hide?: boolean;
}
interface Panel {
  type?: string;
  title?: string;
  targets?: Target[];
  panels?: Panel[];
}
interface Annotation {
  name?: string;
  expr?: string;
}
interface Dashboard {
  panels?: Panel[];
  annotations?: { list?: Annotation[] };
}

/** Options of {@link dashboardQueries}. */
export interface DashboardQueryOptions {
  /**
   * Also return the annotation queries (default false). They return data only while
   * what they mark happens (firing alerts), so they are valid but often empty.
   */
  readonly annotations?: boolean;
}

/**
 * Every PromQL expression of the panels of the dashboard at `path` (default
 * {@link DASHBOARD_PATH}): the targets of every panel, including panels nested in
 * collapsed rows, then, if asked, the annotation queries. Hidden targets are included:
 * they must still be valid.
 *
 * Throws if the file cannot be read or parsed, or if a panel target has no `expr`
 * (every panel of this dashboard queries Prometheus).
 */
export function dashboardQueries(
  path: string | URL = DASHBOARD_PATH,
  options: DashboardQueryOptions = {},
): DashboardQuery[] {
  let dashboard: Dashboard;
  try {
    dashboard = JSON.parse(Deno.readTextFileSync(path));
  } catch (e) {
    throw new Error(`Cannot read dashboard queries from ${path}: ${(e as Error).message}`);
  }
  const queries: DashboardQuery[] = [];
  const visit = (panels: Panel[] | undefined): void => {
    for (const p of panels ?? []) {
      for (const t of p.targets ?? []) {
        if (typeof t.expr !== "string" || t.expr.trim() === "") {
          throw new Error(
            `Cannot read dashboard queries from ${path}: target ${t.refId ?? "?"} of panel "${
              p.title ?? "?"
            }" has no expr`,
          );
        }
        queries.push({ panel: p.title ?? "", expr: t.expr });
      }
      visit(p.panels);
    }
  };
  visit(dashboard.panels);
  if (!options.annotations) return queries;
  for (const a of dashboard.annotations?.list ?? []) {
    if (typeof a.expr === "string" && a.expr.trim() !== "") {
      queries.push({ panel: `annotation: ${a.name ?? ""}`, expr: a.expr });
    }
  }
  return queries;
}
