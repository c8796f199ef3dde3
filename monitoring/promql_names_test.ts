import assert from "node:assert/strict";
import { metricNamesIn } from "./promql_names.ts";

Deno.test("metricNamesIn() finds the histogram series inside a quantile", () => {
  assert.deepEqual(
    metricNamesIn(
      "histogram_quantile(0.99, sum by (le, service) (rate(risk_manager_pretrade_check_latency_us_bucket[5m]))) > 250",
    ),
    new Set(["risk_manager_pretrade_check_latency_us_bucket"]),
  );
});

Deno.test("metricNamesIn() ignores label matchers, strings, durations and keywords", () => {
  assert.deepEqual(
    metricNamesIn(
      'sum by (service) (increase(a_total{job=~"x|y", le="+Inf"}[5m] offset 1m)) or on() vector(0) ' +
        'and b_seconds > 1e3 unless ignoring(instance) c{x="rate(d[1m])"}',
    ),
    new Set(["a_total", "b_seconds", "c"]),
  );
});

Deno.test("metricNamesIn() finds both sides of a binary operation", () => {
  assert.deepEqual(
    metricNamesIn("risk_manager_daily_pnl_usd < -0.8 * risk_manager_daily_loss_limit_usd"),
    new Set(["risk_manager_daily_pnl_usd", "risk_manager_daily_loss_limit_usd"]),
  );
  assert.deepEqual(metricNamesIn('count(ALERTS{alertstate="firing"})'), new Set(["ALERTS"]));
});
