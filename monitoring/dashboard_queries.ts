/**
 * Reads the PromQL queries of a Grafana dashboard, so tests can run each one against a
 * real Prometheus. Grafana's variables are replaced first (`$__rate_interval` by a window
 * the caller chooses, the dashboard's `$service` and `$symbol` by "All", `.*`), unless
 * the raw expressions are asked for.
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
  /** The PromQL expression, with the variables replaced (exactly as in the dashboard with `raw`). */
  readonly expr: string;
  /** The panel's type (`stat`, `timeseries`, ...); `annotation` for an annotation. */
  readonly panelType: string;
  /** True when the target asks for an instant query (the current value only). */
  readonly instant: boolean;
}

/** The window `$__rate_interval` stands for unless {@link DashboardQueryOptions} says. */
export const DEFAULT_RATE_INTERVAL = "1m";

/** The dashboard that compose provisions into Grafana. */
export const DASHBOARD_PATH: URL = new URL(
  "./grafana/dashboards/trading-system.json",
  import.meta.url,
);

interface Target {
  refId?: string;
  expr?: string;
  hide?: boolean;
  instant?: boolean;
  range?: boolean;
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
  templating?: { list?: { name?: string; allValue?: string }[] };
}

/** Options of {@link dashboardQueries}. */
export interface DashboardQueryOptions {
  /**
   * Also return the annotation queries (default false). They return data only while
   * what they mark happens (firing alerts), so they are valid but often empty.
   */
  readonly annotations?: boolean;
  /**
   * The window `$__rate_interval` becomes (default {@link DEFAULT_RATE_INTERVAL}; Grafana
   * uses four scrape intervals, at least).
   */
  readonly rateInterval?: string;
  /** Return the expressions as written, variables and all (default false). */
  readonly raw?: boolean;
}

/**
 * Every PromQL expression of the panels of the dashboard at `path` (default
 * {@link DASHBOARD_PATH}): the targets of every panel, including panels nested in
 * collapsed rows, then, if asked, the annotation queries. Hidden targets are included:
 * they must still be valid.
 *
 * Dashboard variables become their "All" value (`allValue`, else `.*`), and
 * `$__rate_interval` the window of `options.rateInterval`, unless `options.raw`.
 *
 * Throws if the file cannot be read or parsed, if a panel target has no `expr` (every
 * panel of this dashboard queries Prometheus), or if an expression names a variable the
 * dashboard does not declare.
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
  const variables = new Map<string, string>([
    ["__rate_interval", options.rateInterval ?? DEFAULT_RATE_INTERVAL],
  ]);
  for (const v of dashboard.templating?.list ?? []) {
    if (v.name) variables.set(v.name, v.allValue ?? ".*");
  }
  const substitute = (expr: string, where: string): string =>
    options.raw ? expr : expr.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, braced, bare) => {
      const name = braced ?? bare;
      const value = variables.get(name);
      if (value === undefined) {
        throw new Error(
          `Cannot read dashboard queries from ${path}: ${where} uses the undeclared variable $${name}`,
        );
      }
      return value;
    });
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
        queries.push({
          panel: p.title ?? "",
          expr: substitute(t.expr, `panel "${p.title ?? "?"}"`),
          panelType: p.type ?? "",
          instant: t.instant === true && t.range !== true,
        });
      }
      visit(p.panels);
    }
  };
  visit(dashboard.panels);
  if (!options.annotations) return queries;
  for (const a of dashboard.annotations?.list ?? []) {
    if (typeof a.expr === "string" && a.expr.trim() !== "") {
      queries.push({
        panel: `annotation: ${a.name ?? ""}`,
        expr: substitute(a.expr, `annotation "${a.name ?? "?"}"`),
        panelType: "annotation",
        instant: false,
      });
    }
  }
  return queries;
}
