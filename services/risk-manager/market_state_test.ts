import assert from "node:assert/strict";
import { ALWAYS_OPEN, UtcHours } from "../../lib/market_session.ts";
import type { LuldBand, TradingStatus } from "../../lib/types.ts";
import { MarketStates } from "./market_state.ts";

/** Tuesday 2026-11-24, 12:00 UTC. */
const NOON = Date.UTC(2026, 10, 24, 12);

function status(over: Partial<TradingStatus> = {}): TradingStatus {
  return {
    symbol: "AAPL",
    state: "open",
    reason: "regular_session",
    nextOpen: null,
    nextClose: null,
    exchange: "alpaca",
    at: NOON,
    ...over,
  };
}

function band(limitDown: number, limitUp: number): LuldBand {
  return {
    symbol: "AAPL",
    limitUp,
    limitDown,
    indicator: "B",
    exchange: "alpaca",
    exchangeTs: NOON,
    receivedTs: NOON,
  };
}

Deno.test("MarketStates.of() is unknown for a stock before its first status when no schedule is configured", () => {
  const states = new MarketStates({ statusMaxAgeMs: 15_000 });
  assert.deepEqual(states.of("AAPL", NOON), {
    state: "unknown",
    reason: "no_status",
    source: "none",
  });
});

Deno.test("MarketStates.of() takes a status until it is older than statusMaxAgeMs, counted from its arrival", () => {
  const states = new MarketStates({ statusMaxAgeMs: 15_000 });
  // Its `at` is an hour old (another host's clock, a replay): what counts is when it arrived.
  states.onStatus(
    status({ state: "closed", reason: "outside_session", at: NOON - 3_600_000 }),
    NOON,
  );
  assert.equal(states.of("AAPL", NOON + 15_000).state, "closed");
  assert.deepEqual(states.of("AAPL", NOON + 15_001), {
    state: "unknown",
    reason: "stale_status",
    source: "none",
    ageMs: 15_001,
  });
  states.onStatus(status(), NOON + 20_000);
  assert.equal(states.of("AAPL", NOON + 20_000).state, "open");
});

Deno.test("MarketStates.of() reads market-data's closed with session_unknown as unknown", () => {
  const states = new MarketStates({ statusMaxAgeMs: 15_000 });
  states.onStatus(status({ state: "closed", reason: "session_unknown" }), NOON);
  assert.equal(states.of("AAPL", NOON).state, "unknown");
  assert.equal(states.of("AAPL", NOON).reason, "session_unknown");
});

Deno.test("MarketStates.of() keeps a halt in force until a status says otherwise, however old", () => {
  const states = new MarketStates({ schedule: ALWAYS_OPEN, statusMaxAgeMs: 15_000 });
  states.onStatus(status({ state: "halted", reason: "trading_halt", haltCode: "H" }), NOON);
  assert.equal(states.of("AAPL", NOON + 86_400_000).state, "halted");
  assert.equal(states.of("AAPL", NOON + 86_400_000).reason, "trading_halt");
  states.onStatus(status(), NOON + 86_400_000);
  assert.equal(states.of("AAPL", NOON + 86_400_000).state, "open");
});

Deno.test("MarketStates.of() falls back on the configured hours while no fresh status is known", () => {
  const hours = new UtcHours({ open: "14:30", close: "21:00" });
  const states = new MarketStates({ schedule: hours, statusMaxAgeMs: 15_000 });
  assert.deepEqual(states.of("AAPL", NOON), {
    state: "closed",
    reason: "schedule",
    source: "schedule",
  });
  assert.equal(states.of("AAPL", Date.UTC(2026, 10, 24, 15)).state, "open");
  // A fresh status wins over the schedule; a stale one gives way to it again.
  states.onStatus(status(), NOON);
  assert.equal(states.of("AAPL", NOON).state, "open");
  assert.equal(states.of("AAPL", NOON + 15_001).state, "closed");
});

Deno.test("MarketStates.of() opens crypto around the clock without a status, unless one halts it", () => {
  const states = new MarketStates({ statusMaxAgeMs: 15_000 });
  assert.deepEqual(states.of("BTC/USD", NOON), {
    state: "open",
    reason: "always_open",
    source: "crypto",
  });
  states.onStatus(status({ symbol: "BTC/USD", state: "closed", reason: "outside_session" }), NOON);
  assert.equal(states.of("BTC/USD", NOON).state, "open");
  states.onStatus(status({ symbol: "BTC/USD", state: "halted", reason: "trading_halt" }), NOON);
  assert.equal(states.of("BTC/USD", NOON).state, "halted");
});

Deno.test("MarketStates.onStatus() reports a change only when the state or the reason changes", () => {
  const states = new MarketStates({ schedule: ALWAYS_OPEN, statusMaxAgeMs: 15_000 });
  const first = states.onStatus(status(), NOON);
  assert.equal(first?.before.source, "schedule");
  assert.equal(first?.after.reason, "regular_session");
  assert.equal(states.onStatus(status(), NOON + 5000), null, "a republish changes nothing");
  const halt = states.onStatus(status({ state: "halted", reason: "volatility_pause" }), NOON);
  assert.deepEqual([halt?.before.state, halt?.after.state], ["open", "halted"]);
});

Deno.test("MarketStates keeps the latest LULD band until a status ends the session", () => {
  const states = new MarketStates({ statusMaxAgeMs: 15_000 });
  assert.equal(states.band("AAPL"), undefined);
  states.onBand(band(90, 110), NOON);
  states.onBand(band(95, 105), NOON + 1);
  assert.deepEqual(states.band("AAPL"), { limitDown: 95, limitUp: 105, receivedAt: NOON + 1 });
  states.onStatus(status({ state: "halted", reason: "volatility_pause" }), NOON + 2);
  assert.ok(states.band("AAPL"), "a pause keeps the band");
  states.onStatus(status({ state: "closed", reason: "outside_session" }), NOON + 3);
  assert.equal(states.band("AAPL"), undefined);
  states.onBand(band(95, 105), NOON + 4);
  states.onStatus(status({ state: "extended", reason: "extended_session" }), NOON + 5);
  assert.equal(states.band("AAPL"), undefined);
});

Deno.test("MarketStates.view() lists every symbol with a status or a band", () => {
  const states = new MarketStates({ statusMaxAgeMs: 15_000 });
  states.onBand(band(95, 105), NOON);
  states.onStatus(status({ symbol: "MSFT" }), NOON);
  const view = states.view(NOON);
  assert.deepEqual(view.map((v) => [v.symbol, v.market.state, v.band?.limitUp ?? null]), [
    ["AAPL", "unknown", 105],
    ["MSFT", "open", null],
  ]);
});
