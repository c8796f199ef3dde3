/**
 * Finds the metric names a PromQL expression selects, so tests can check that the
 * dashboard and the alerts only query metrics the services export.
 *
 * @module
 */

const KEYWORDS = new Set([
  "and",
  "or",
  "unless",
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "bool",
  "offset",
  "inf",
  "nan",
]);

/**
 * The metric names selected by `expr`, for example
 * `histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m]))) > 5` gives `{"x_bucket"}`.
 *
 * A lexical scan, not a parser: it drops string literals, label matchers, range and
 * subquery brackets and grouping clauses, then keeps every identifier that is not a
 * keyword and is not followed by `(` (a function or aggregation). Selectors written as
 * `{__name__="x"}` are not seen. Good enough for the expressions of this repository,
 * which Prometheus itself parses in the tests.
 *
 * @example
 * ```ts
 * metricNamesIn('sum by (service) (rate(http_requests_total{route="/metrics"}[1m]))');
 * // Set { "http_requests_total" }
 * ```
 */
export function metricNamesIn(expr: string): Set<string> {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, " ")
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");
  const names = new Set<string>();
  for (const m of stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const before = stripped[m.index - 1] ?? " ";
    if (/[0-9.]/.test(before)) continue; // the unit of a duration or the exponent of a number
    if (KEYWORDS.has(m[0].toLowerCase())) continue;
    const after = stripped.slice(m.index + m[0].length).trimStart();
    if (after.startsWith("(")) continue;
    names.add(m[0]);
  }
  return names;
}
