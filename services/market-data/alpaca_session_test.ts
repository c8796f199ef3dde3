import assert from "node:assert/strict";
import { getLogger } from "../../lib/log.ts";
import type { AlpacaSchedule } from "../../lib/market_session.ts";
import { CALENDAR_2022_05_16 } from "../../lib/testing/alpaca_session_fixtures.ts";
import { AlpacaSessionSource } from "./alpaca_session.ts";
import { FakeAlpacaServer } from "./testing/fake_alpaca_server.ts";

Deno.test("AlpacaSessionSource reads the clock and the calendar with the keys and hands on a schedule", async () => {
  const server = new FakeAlpacaServer("k", "s");
  server.calendar = CALENDAR_2022_05_16;
  server.marketOpen = false;
  const schedules: AlpacaSchedule[] = [];
  const source = new AlpacaSessionSource({
    tradingUrl: server.tradingUrl,
    keyId: "k",
    secretKey: "s",
    pollMs: 60_000,
    onSchedule: (schedule) => schedules.push(schedule),
    log: getLogger(["test"]),
  });
  try {
    await source.start();
    assert.deepEqual(server.rest, ["GET /v2/clock", "GET /v2/calendar"]);
    assert.equal(source.reads, 1);
    assert.equal(schedules.length, 1);
    assert.equal(schedules[0].at(Date.now()).state, "closed", "the fake's clock says closed");
    assert.equal(
      schedules[0].at(Date.parse("2022-05-16T15:00:00Z")).state,
      "extended",
      "the calendar read covers 2022-05-16",
    );
  } finally {
    source.close();
    await server.close();
  }
});

Deno.test("AlpacaSessionSource keeps no schedule when Alpaca refuses the keys", async () => {
  const server = new FakeAlpacaServer("k", "s");
  const schedules: AlpacaSchedule[] = [];
  const source = new AlpacaSessionSource({
    tradingUrl: server.tradingUrl,
    keyId: "wrong",
    secretKey: "s",
    pollMs: 60_000,
    onSchedule: (schedule) => schedules.push(schedule),
    log: getLogger(["test"]),
  });
  try {
    assert.equal(await source.read(), false);
    assert.deepEqual(schedules, []);
  } finally {
    source.close();
    await server.close();
  }
});
