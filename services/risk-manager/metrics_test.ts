import assert from "node:assert/strict";
import { createServiceMetrics } from "../../lib/metrics.ts";
import { DENIAL_CODES, type DenialCode, deny, failureType } from "./denial.ts";
import { RiskManagerMetrics } from "./metrics.ts";
import { coreWith, fill, setMark, T0 } from "./testing/fixtures.ts";

async function value(
  m: ReturnType<typeof createServiceMetrics<"risk-manager">>,
  name: string,
  labels: Record<string, string> = {},
): Promise<number | undefined> {
  const metric = await m.registry.getSingleMetric(name)?.get();
  const v = metric?.values.find((x) =>
    Object.entries(labels).every(([k, want]) => String(x.labels[k]) === want) &&
    !("le" in x.labels)
  );
  return v?.value;
}

Deno.test("RiskManagerMetrics business gauges match the fills and marks", async () => {
  const m = createServiceMetrics("risk-manager", { defaultMetrics: false, instrumented: true });
  try {
    const rm = new RiskManagerMetrics(m.families, ["AAPL", "MSFT", "BTC/USD"], "default", 5000);
    const e = coreWith({ recorder: rm });
    e.onExecutionReport(fill("x1", "buy", 10, 100), T0);
    e.onExecutionReport(fill("x2", "sell", 4, 110), T0); // realise 40, long 6
    e.onExecutionReport(fill("x3", "sell", 2, 400, { symbol: "MSFT" }), T0); // short 2
    e.onExecutionReport(fill("x4", "buy", 1, 10, { symbol: "ZZZ" }), T0); // unconfigured
    setMark(e, "AAPL", 105, T0);
    setMark(e, "MSFT", 390, T0);
    rm.portfolio(e);
    assert.equal(
      await value(m, "trading_position_value_usd", { symbol: "AAPL", side: "long" }),
      630,
    );
    assert.equal(
      await value(m, "trading_position_value_usd", { symbol: "AAPL", side: "short" }),
      0,
    );
    assert.equal(
      await value(m, "trading_position_value_usd", { symbol: "MSFT", side: "short" }),
      780,
    );
    assert.equal(
      await value(m, "trading_position_value_usd", { symbol: "other", side: "long" }),
      10,
    );
    assert.equal(await value(m, "trading_unrealized_pnl_usd", { symbol: "AAPL" }), 30);
    assert.equal(await value(m, "trading_unrealized_pnl_usd", { symbol: "MSFT" }), 20);
    assert.equal(
      await value(m, "trading_realized_pnl_usd", { symbol: "AAPL", strategy: "default" }),
      40,
    );
    assert.equal(await value(m, "trading_open_positions_count"), 3);
    assert.equal(await value(m, "trading_portfolio_value_usd"), 630 - 780 + 10);
    assert.equal(await value(m, "risk_manager_daily_pnl_usd"), 40 + 30 + 20);
    assert.equal(await value(m, "risk_manager_daily_loss_limit_usd"), 5000);
  } finally {
    m.stop();
  }
});

Deno.test("RiskManagerMetrics counts checks, denials and the state with closed label sets", async () => {
  const m = createServiceMetrics("risk-manager", { defaultMetrics: false, instrumented: true });
  try {
    const rm = new RiskManagerMetrics(m.families, ["AAPL"], "default", 5000);
    rm.check("position_limit", false, 3);
    rm.denied(deny("POSITION_LIMIT_EXCEEDED"), "AAPL");
    rm.denied(deny("CIRCUIT_BREAKER_TRIGGERED"), "NOT-CONFIGURED");
    rm.state({ state: "HALTED", breakerTripped: true, reason: "", actor: "", since: 0 });
    assert.equal(
      await value(m, "risk_manager_checks_performed_total", {
        check_type: "position_limit",
        result: "fail",
      }),
      1,
    );
    assert.equal(
      await value(m, "risk_manager_checks_performed_total", {
        check_type: "all_checks",
        result: "pass",
      }),
      0,
    );
    assert.equal(
      await value(m, "risk_manager_risk_failures_total", {
        failure_type: "position_limit_exceeded",
        symbol: "AAPL",
      }),
      1,
    );
    assert.equal(
      await value(m, "risk_manager_risk_failures_total", {
        failure_type: "circuit_breaker_triggered",
        symbol: "other",
      }),
      1,
    );
    assert.equal(await value(m, "risk_manager_trading_state"), 2);
    assert.equal(await value(m, "risk_manager_circuit_breaker_tripped"), 1);
    const text = await m.registry.metrics();
    assert.match(
      text,
      /risk_manager_pretrade_check_latency_us_bucket\{le="5",check_type="position_limit"\} 1/,
    );
  } finally {
    m.stop();
  }
});

Deno.test("check() puts a sampled trace on the latency bucket as its exemplar, and none for an unsampled one", async () => {
  const families = createServiceMetrics("risk-manager", { defaultMetrics: false });
  families.stop();
  const m = new RiskManagerMetrics(families.families, ["AAPL"], "default", 5000);
  const trace = "4bf92f3577b34da6a3ce929d0e0e4736";
  m.check("all_checks", true, 30, { traceId: trace, spanId: "00f067aa0ba902b7", traceFlags: 1 });
  m.check("position_limit", true, 3, { traceId: trace, spanId: "00f067aa0ba902b7", traceFlags: 0 });
  const text = await families.registry.metrics();
  const bucket = (check: string, le: string) =>
    text.split("\n").find((l) =>
      l.startsWith(
        `risk_manager_pretrade_check_latency_us_bucket{le="${le}",check_type="${check}"}`,
      )
    );
  assert.match(
    bucket("all_checks", "50")!,
    new RegExp(`# \\{trace_id="${trace}",span_id="00f067aa0ba902b7"\\}`),
  );
  assert.doesNotMatch(bucket("position_limit", "5")!, /#/);
  assert.match(
    text,
    /^risk_manager_checks_performed_total\{check_type="all_checks",result="pass"\} 1$/m,
  );
  assert.match(
    text,
    /^risk_manager_pretrade_check_latency_us_count\{check_type="position_limit"\} 1$/m,
  );
});

Deno.test("RiskManagerMetrics creates every denial's failure series at 0 per configured symbol and other", async () => {
  const m = createServiceMetrics("risk-manager", { defaultMetrics: false, instrumented: true });
  try {
    new RiskManagerMetrics(m.families, ["AAPL", "BTC/USD"], "default", 5000);
    for (const code of Object.keys(DENIAL_CODES) as DenialCode[]) {
      for (const symbol of ["AAPL", "BTC/USD", "other"]) {
        assert.equal(
          await value(m, "risk_manager_risk_failures_total", {
            failure_type: failureType(code),
            symbol,
          }),
          0,
          `${code} ${symbol}`,
        );
      }
    }
  } finally {
    m.stop();
  }
});
