import assert from "node:assert/strict";
import { UtcHours } from "../../lib/market_session.ts";
import type { StatusMsg } from "./alpaca_protocol.ts";
import { MarketStatus, statusEffect } from "./market_status.ts";

const status = (statusCode: string, reasonCode = ""): StatusMsg => ({
  kind: "status",
  symbol: "AAPL",
  statusCode,
  statusMessage: "",
  reasonCode,
  reasonMessage: "",
  exchangeTs: 1,
});

Deno.test("statusEffect() reads CTA and UTP halt and resumption codes", () => {
  for (const code of ["2", "H", "P", "Q"]) assert.equal(statusEffect(code), "halt", code);
  for (const code of ["3", "T"]) assert.equal(statusEffect(code), "resume", code);
  for (const code of ["5", "6", "7", "8", "9", "A", "C", "D", "E", "F"]) {
    assert.equal(statusEffect(code), "none", code);
  }
});

Deno.test("MarketStatus tells a halt, a volatility pause and quotation-only apart", () => {
  const s = new MarketStatus(["AAPL"], "alpaca");
  assert.equal(s.onStatus(status("2", "D")), true);
  assert.equal(s.of("AAPL", 0).reason, "trading_halt");
  assert.equal(s.onStatus(status("2", "M")), true, "a CTA LULD pause");
  assert.equal(s.of("AAPL", 0).reason, "volatility_pause");
  s.onStatus(status("Q", "LUDP"));
  assert.deepEqual([s.of("AAPL", 0).state, s.of("AAPL", 0).reason], ["halted", "quotation_only"]);
  assert.equal(s.onStatus(status("E")), false, "short sale restriction changes nothing");
  assert.equal(s.onStatus(status("T", "LUDP")), true);
  assert.equal(s.of("AAPL", 0).state, "open");
  assert.equal(s.onStatus({ ...status("H"), symbol: "MSFT" }), false, "not a configured symbol");
});

Deno.test("MarketStatus reports a change once and every status on demand", () => {
  const s = new MarketStatus(["AAPL", "BTC/USD"], "sim");
  s.setSchedule(new UtcHours({ open: "14:30", close: "21:00" }));
  const open = Date.parse("2025-01-03T15:00:00Z");
  assert.deepEqual(s.changed(open).map((t) => [t.symbol, t.state, t.reason]), [
    ["AAPL", "open", "regular_session"],
    ["BTC/USD", "open", "always_open"],
  ]);
  assert.deepEqual(s.changed(open + 1000), []);
  const closed = Date.parse("2025-01-03T21:00:01Z");
  assert.deepEqual(s.changed(closed).map((t) => [t.symbol, t.state, t.reason, t.nextOpen]), [
    ["AAPL", "closed", "outside_session", Date.parse("2025-01-06T14:30:00Z")],
  ]);
  assert.equal(s.all(closed).length, 2);
});
