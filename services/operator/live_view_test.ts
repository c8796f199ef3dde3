import assert from "node:assert/strict";
import { renderView } from "./live_view.ts";
import { Exposition } from "./prom_text.ts";
import type { ServiceView, Snapshot } from "./snapshot.ts";
import type { SupervisedService } from "./supervisor.ts";

function service(name: ServiceView["service"], metrics: string, ready = true): ServiceView {
  return {
    service: name,
    url: "http://127.0.0.1:1",
    reachable: true,
    ready,
    checks: ready ? { x: true } : { orders_channel: false, state_store: true },
    metrics: new Exposition(metrics),
  };
}

function snapshot(at: number, ticks: number, ttt: [number, number, number]): Snapshot {
  return {
    at,
    services: [
      service("market-data", `market_data_messages_processed_total{symbol="AAPL"} ${ticks}\n`),
      service("signal-bridge", "signal_bridge_signals_generated_total 40\n"),
      service(
        "risk-manager",
        `risk_manager_checks_performed_total{check_type="all_checks",result="pass"} 12
risk_manager_risk_failures_total{failure_type="no_position_to_close",symbol="AAPL"} 7
risk_manager_risk_failures_total{failure_type="price_collar_breached",symbol="AAPL"} 2
risk_manager_risk_failures_total{failure_type="order_rate_exceeded",symbol="AAPL"} 0
`,
        false,
      ),
      service(
        "execution-engine",
        `execution_engine_orders_submitted_total{status="success"} 12
execution_engine_fills_total 11
execution_engine_tick_to_trade_latency_us_bucket{le="1000"} ${ttt[0]}
execution_engine_tick_to_trade_latency_us_bucket{le="5000"} ${ttt[1]}
execution_engine_tick_to_trade_latency_us_bucket{le="+Inf"} ${ttt[2]}
`,
      ),
    ],
    risk: {
      state: "ACTIVE",
      breakerTripped: false,
      reason: "start",
      dailyPnl: -12.5,
      openOrders: 1,
      positions: [
        {
          symbol: "AAPL",
          qty: 25,
          avgPrice: 200.5,
          marketValue: 5000,
          unrealized: -12.5,
          realized: 0,
        },
        { symbol: "MSFT", qty: 0, avgPrice: 0, marketValue: 0, unrealized: 0, realized: 0 },
      ],
    },
    openOrders: 1,
  };
}

const supervised: SupervisedService[] = [
  { service: "market-data", state: "running", restarts: 2, crashes: 0 },
  { service: "signal-bridge", state: "running", restarts: 0, crashes: 0 },
  { service: "risk-manager", state: "running", restarts: 0, crashes: 0 },
  { service: "execution-engine", state: "restarting", restarts: 1, crashes: 1 },
];

Deno.test("renderView() shows services, flow, denials by reason, state, tick-to-trade and positions", () => {
  const older = snapshot(0, 0, [0, 0, 0]);
  const prev = snapshot(9_000, 900, [9, 10, 10]);
  const now = snapshot(10_000, 1_400, [10, 19, 20]);
  const text = renderView(now, prev, older, { logPath: "data/logs/trading.log", supervised });
  assert.match(text, /logs: data\/logs\/trading\.log/);
  assert.match(text, /^market-data\s+yes\s+yes\s+2\s*$/m);
  assert.match(text, /^risk-manager\s+yes\s+no\s+0\s+orders_channel$/m);
  assert.match(text, /^execution-engine\s+restarting\s+yes\s+1/m);
  assert.match(text, /ticks\/s 500 /);
  assert.match(text, /approvals 12\s+denials 9\s+orders 12\s+fills 11\s+open orders 1/);
  assert.match(text, /denials by reason: no_position_to_close 7, price_collar_breached 2$/m);
  assert.match(text, /trading state: ACTIVE\s+breaker: off\s+daily P&L: -12\.50/);
  // 20 orders in the last 10 s: half at <= 1 ms, the rest up to 5 ms; p99 in the last bucket.
  assert.match(text, /tick-to-trade \(last 10 s\): p50 1\.00 ms\s+p99 5\.00 ms/);
  assert.match(text, /^AAPL\s+25\s+200\.50\s+5,000\.00\s+-12\.50\s+0\.00$/m);
  assert.doesNotMatch(text, /^MSFT/m, "flat symbols with no history are left out");
});

Deno.test("renderView() says what it does not know rather than showing zeros", () => {
  const now: Snapshot = {
    at: 1,
    services: [{
      service: "market-data",
      url: "x",
      reachable: false,
      ready: false,
      checks: {},
      error: "connection refused",
    }],
  };
  const text = renderView(now, undefined, undefined, {
    logPath: "l",
    supervised: [{ service: "market-data", state: "starting", restarts: 0, crashes: 0 }],
  });
  assert.match(text, /^market-data\s+starting\s+no\s+0\s+connection refused$/m);
  assert.match(text, /ticks\/s -/);
  assert.match(text, /trading state: unknown/);
  assert.match(text, /tick-to-trade \(last 10 s\): p50 -\s+p99 -/);
});
