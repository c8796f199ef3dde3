import assert from "node:assert/strict";
import { isStateError, TradingStateMachine } from "./trading_state.ts";

Deno.test("TradingStateMachine starts ACTIVE with the breaker reset", () => {
  const m = new TradingStateMachine();
  assert.equal(m.status.state, "ACTIVE");
  assert.equal(m.status.breakerTripped, false);
});

Deno.test("TradingStateMachine.trip() halts and reset() returns to ACTIVE", () => {
  const m = new TradingStateMachine();
  const t = m.trip("daily loss", "system", 1);
  assert.ok(t);
  assert.equal(t.event.state, "HALTED");
  assert.equal(t.event.previous, "ACTIVE");
  assert.ok(t.breakerTripped && t.breakerChanged);
  assert.equal(m.trip("again", "system", 2), null);
  const r = m.reset("checked", "ops", 3);
  assert.ok(r);
  assert.equal(r.event.state, "ACTIVE");
  assert.equal(r.event.previous, "HALTED");
  assert.equal(m.status.breakerTripped, false);
  assert.equal(m.reset("again", "ops", 4), null);
});

Deno.test("TradingStateMachine.trip() from a manual HALTED still reports the breaker change", () => {
  const m = new TradingStateMachine();
  m.set("HALTED", "maintenance", "ops", 1);
  const t = m.trip("loss", "system", 2);
  assert.ok(t);
  assert.equal(t.event.previous, "HALTED");
  assert.ok(t.breakerChanged);
});

Deno.test("TradingStateMachine.set() moves between states and refuses while tripped", () => {
  const m = new TradingStateMachine();
  const c = m.set("REDUCING", "wind down", "ops", 1);
  assert.ok(c && !isStateError(c));
  assert.equal(c.event.state, "REDUCING");
  assert.equal(m.set("REDUCING", "again", "ops", 2), null);
  m.trip("loss", "system", 3);
  const e = m.set("ACTIVE", "try", "ops", 4);
  assert.ok(isStateError(e));
  assert.equal(e.code, "BREAKER_TRIPPED");
  assert.equal(m.status.state, "HALTED");
});
