import assert from "node:assert/strict";
import { Exposition } from "./prom_text.ts";
import type { ServiceView, Snapshot } from "./snapshot.ts";
import { formatStatus, statusReport } from "./status.ts";

function view(
  service: ServiceView["service"],
  over: Partial<ServiceView> = {},
): ServiceView {
  return {
    service,
    url: "http://127.0.0.1:1",
    reachable: true,
    ready: true,
    checks: { feed: true },
    ...over,
  };
}

const READY: Snapshot = {
  at: 0,
  services: [
    view("market-data"),
    view("signal-bridge", {
      metrics: new Exposition(
        `messaging_last_message_age_seconds{service="signal-bridge",channel="market_data"} 0.04321\n`,
      ),
    }),
    view("risk-manager"),
    view("execution-engine"),
  ],
  risk: {
    state: "ACTIVE",
    breakerTripped: false,
    reason: "",
    dailyPnl: 0,
    openOrders: 2,
    positions: [],
  },
  openOrders: 1,
};

Deno.test("statusReport() is ready only when every service is, with channel ages and open orders on both sides", () => {
  const report = statusReport(READY);
  assert.equal(report.allReady, true);
  assert.deepEqual(report.services[1].channelAgeS, { market_data: 0 });
  assert.deepEqual(report.openOrders, { riskManager: 2, executionEngine: 1 });
  assert.equal(report.tradingState, "ACTIVE");
  const text = formatStatus(report);
  assert.match(text, /all services ready$/);
  assert.match(text, /open orders: risk-manager 2, execution-engine 1/);
});

Deno.test("statusReport() names the failing checks of a service that is not ready and why one cannot be reached", () => {
  const report = statusReport({
    ...READY,
    services: [
      READY.services[0],
      READY.services[1],
      view("risk-manager", {
        ready: false,
        checks: { orders_channel: false, state_store: true, market_data: false },
      }),
      view("execution-engine", {
        reachable: false,
        ready: false,
        checks: {},
        error: "connection refused",
      }),
    ],
    risk: { ...READY.risk!, state: "HALTED", breakerTripped: true },
    openOrders: undefined,
  });
  assert.equal(report.allReady, false);
  assert.deepEqual(report.services[2].notReady, ["orders_channel", "market_data"]);
  assert.deepEqual(report.services[3].notReady, ["unreachable: connection refused"]);
  const text = formatStatus(report);
  assert.match(text, /trading state: HALTED \(breaker TRIPPED\)/);
  assert.match(text, /execution-engine \?/);
  assert.match(text, /NOT READY$/);
});
