import assert from "node:assert/strict";
import { resetSync } from "@logtape/logtape";
import { setupLogging } from "../../lib/log.ts";
import { createRiskManagerAdminApi, isBearerToken, tokenMatches } from "./admin_api.ts";
import { coreWith, fill, T0 } from "./testing/fixtures.ts";

const TOKEN = "s3cret-token";
function setup(token: string | null = TOKEN) {
  const core = coreWith();
  const app = createRiskManagerAdminApi({
    core,
    token: token ?? undefined,
    settings: { limits: core.limits },
    now: () => T0,
  });
  return { core, app };
}
const auth = (t: string) => ({ Authorization: `Bearer ${t}` });

Deno.test("admin API reads state, positions and limits without a token", async () => {
  const { core, app } = setup(null);
  core.onExecutionReport(fill("x", "buy", 2, 100), T0);
  const state = await (await app.request("/admin/state")).json();
  assert.equal(state.state, "ACTIVE");
  assert.equal(state.breakerTripped, false);
  const pos = await (await app.request("/admin/positions")).json();
  const aapl = pos.positions.find((p: { symbol: string }) => p.symbol === "AAPL");
  assert.equal(aapl.qty, 2);
  assert.equal(aapl.side, "long");
  const limits = await (await app.request("/admin/limits")).json();
  assert.equal(limits.limits.maxOrderQty, 1000);
  assert.ok(limits.symbols.includes("AAPL"));
});

Deno.test("admin API refuses writes with 403 when no token is configured", async () => {
  const { core, app } = setup(null);
  const r = await app.request("/admin/breaker/trip", { method: "POST", headers: auth("x") });
  assert.equal(r.status, 403);
  assert.equal((await r.json()).error, "admin_writes_disabled");
  assert.equal(core.status.breakerTripped, false);
});

Deno.test("admin API refuses writes with 401 for a missing or wrong token", async () => {
  const { core, app } = setup();
  for (const headers of [{}, auth("wrong"), auth(TOKEN + "x"), { Authorization: TOKEN }]) {
    const r = await app.request("/admin/breaker/trip", { method: "POST", headers });
    assert.equal(r.status, 401);
    assert.ok(r.headers.get("www-authenticate")?.startsWith("Bearer"));
  }
  const r = await app.request("/admin/state", {
    method: "PUT",
    headers: auth("nope"),
    body: JSON.stringify({ state: "HALTED", reason: "x" }),
  });
  assert.equal(r.status, 401);
  assert.equal(core.status.state, "ACTIVE");
});

Deno.test("admin API trips and resets the breaker with the right token", async () => {
  const { core, app } = setup();
  let r = await app.request("/admin/breaker/trip", {
    method: "POST",
    headers: auth(TOKEN),
    body: JSON.stringify({ reason: "drill", actor: "alice" }),
  });
  assert.equal(r.status, 200);
  let j = await r.json();
  assert.equal(j.changed, true);
  assert.equal(j.state, "HALTED");
  assert.equal(j.breakerTripped, true);
  assert.equal(j.actor, "admin:alice");
  assert.equal(core.status.breakerTripped, true);
  r = await app.request("/admin/breaker/trip", { method: "POST", headers: auth(TOKEN) });
  assert.equal((await r.json()).changed, false);
  r = await app.request("/admin/breaker/reset", { method: "POST", headers: auth(TOKEN) });
  j = await r.json();
  assert.equal(j.state, "ACTIVE");
  assert.equal(j.breakerTripped, false);
});

Deno.test("admin API sets the trading state and refuses it while the breaker is tripped", async () => {
  const { core, app } = setup();
  const put = (body: unknown) =>
    app.request("/admin/state", {
      method: "PUT",
      headers: { ...auth(TOKEN), "Content-Type": "application/json" },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
  let r = await put({ state: "REDUCING", reason: "wind down" });
  assert.equal(r.status, 200);
  assert.equal(core.status.state, "REDUCING");
  assert.equal((await put({ state: "PAUSED", reason: "x" })).status, 400);
  assert.equal((await put({ state: "ACTIVE" })).status, 400);
  assert.equal((await put("{not json")).status, 400);
  assert.equal((await put({ state: "ACTIVE", reason: "x", extra: 1 })).status, 400);
  core.trip("test", "ops", T0);
  r = await put({ state: "ACTIVE", reason: "try" });
  assert.equal(r.status, 409);
  assert.equal((await r.json()).code, "BREAKER_TRIPPED");
});

Deno.test("tokenMatches() compares tokens of any length", () => {
  assert.ok(tokenMatches("abc", "abc"));
  assert.ok(!tokenMatches("abc", "abcd"));
  assert.ok(!tokenMatches("", "abc"));
});

Deno.test("admin API writes an audit event for every change and every refused write", async () => {
  const lines: Record<string, unknown>[] = [];
  setupLogging("risk-manager", {
    level: "info",
    format: "json",
    write: (l) => lines.push(JSON.parse(l)),
  });
  try {
    const { app } = setup();
    await app.request("/admin/breaker/trip", { method: "POST", headers: auth(TOKEN) });
    await app.request("/admin/breaker/reset", { method: "POST", headers: auth("bad") });
    await app.request("/admin/state", {
      method: "PUT",
      headers: auth(TOKEN),
      body: JSON.stringify({ state: "ACTIVE", reason: "x", actor: "bob" }),
    });
    const audit = lines.filter((l) => l.logger === "trading.audit");
    assert.deepEqual(
      audit.map((l) => [l.action ?? null, l.result ?? null, l.code ?? null]),
      [["breaker_trip", null, null], [null, "wrong_token", null], [
        "set_state",
        null,
        "BREAKER_TRIPPED",
      ]],
    );
    assert.equal(audit[0].actor, "admin:api");
    assert.equal(audit[0].to, "HALTED");
    assert.equal(audit[2].actor, "admin:bob");
    assert.ok(!JSON.stringify(lines).includes(TOKEN), "the token is never logged");
  } finally {
    resetSync();
  }
});

Deno.test("admin API reads a write's body as JSON whatever its declared type", async () => {
  for (const type of [undefined, "text/plain", "application/x-www-form-urlencoded"]) {
    const { core, app } = setup();
    const headers: Record<string, string> = auth(TOKEN);
    if (type) headers["Content-Type"] = type;
    const r = await app.request("/admin/breaker/trip", {
      method: "POST",
      headers,
      body: JSON.stringify({ reason: "drill", actor: "carol" }),
    });
    assert.equal(r.status, 200, type);
    assert.equal(core.status.actor, "admin:carol", type);
  }
});

Deno.test("admin API answers a body that is not JSON, or a bad field, with 400 bad_request", async () => {
  const { app } = setup();
  for (const type of ["application/json", "text/plain"]) {
    const r = await app.request("/admin/breaker/trip", {
      method: "POST",
      headers: { ...auth(TOKEN), "Content-Type": type },
      body: "{not json",
    });
    assert.equal(r.status, 400, type);
    assert.deepEqual(await r.json(), {
      error: "bad_request",
      message: "the body is not valid JSON",
    });
  }
  const r = await app.request("/admin/state", {
    method: "PUT",
    headers: auth(TOKEN),
    body: JSON.stringify({ state: "ACTIVE", reason: "x", actor: "not an actor" }),
  });
  assert.equal(r.status, 400);
  assert.match((await r.json()).message, /^"actor": /);
});

Deno.test("admin API answers every refused token with the same 401 and challenge", async () => {
  const { app } = setup();
  for (const headers of [{}, auth("wrong"), { Authorization: `Basic ${TOKEN}` }]) {
    const r = await app.request("/admin/breaker/reset", { method: "POST", headers });
    assert.equal(r.status, 401);
    assert.equal(r.headers.get("www-authenticate"), 'Bearer realm="risk-manager"');
    assert.deepEqual(await r.json(), {
      error: "unauthorized",
      message: "a valid bearer token is required",
    });
  }
});

Deno.test("isBearerToken() accepts RFC 6750 token characters only", () => {
  assert.ok(isBearerToken("s3cret-token"));
  assert.ok(isBearerToken("aGVsbG8/d29ybGQ+.~_=="));
  assert.ok(!isBearerToken("pass word"));
  assert.ok(!isBearerToken("bang!"));
  assert.ok(!isBearerToken(""));
});

Deno.test("admin API shows open orders and one order, and closes one only with a token", async () => {
  const { core, app } = setup();
  const decision = core.onSignal(
    { ...(await import("./testing/fixtures.ts")).signal(), expiresAt: T0 + 5000 },
    T0,
  );
  assert.ok(decision.approved);
  const id = decision.order.clientOrderId;
  const open = await (await app.request("/admin/orders")).json();
  assert.deepEqual(open.open.map((o: { clientOrderId: string }) => o.clientOrderId), [id]);
  assert.equal((await (await app.request(`/admin/orders/${id}`)).json()).open, true);
  assert.equal((await app.request("/admin/orders/rm-nope")).status, 404);
  const body = JSON.stringify({ reason: "never reached the engine", actor: "ops" });
  const refused = await app.request(`/admin/orders/${id}/close`, {
    method: "POST",
    headers: auth("wrong"),
    body,
  });
  assert.equal(refused.status, 401);
  assert.equal(core.openOrders().length, 1);
  const bad = await app.request(`/admin/orders/${id}/close`, {
    method: "POST",
    headers: auth(TOKEN),
    body: "{}",
  });
  assert.equal(bad.status, 400, "a reason is required");
  const closed = await app.request(`/admin/orders/${id}/close`, {
    method: "POST",
    headers: auth(TOKEN),
    body,
  });
  assert.equal(closed.status, 200);
  const answer = await closed.json();
  assert.equal(answer.order.open, false);
  assert.equal(answer.order.closeReason, "admin");
  assert.equal(core.openOrders().length, 0);
  const again = await app.request(`/admin/orders/${id}/close`, {
    method: "POST",
    headers: auth(TOKEN),
    body,
  });
  assert.equal(again.status, 409);
  const missing = await app.request("/admin/orders/rm-nope/close", {
    method: "POST",
    headers: auth(TOKEN),
    body,
  });
  assert.equal(missing.status, 404);
});

Deno.test("admin API shows the last reconciliation of positions: when, what differed, the policy and what it did", async () => {
  const { core, app } = setup(null);
  assert.equal((await (await app.request("/admin/positions")).json()).reconciliation, null);
  core.onExecutionReport(fill("x", "buy", 2, 100), T0);
  const answer = {
    requestId: "pos-1",
    venue: "alpaca",
    readAt: T0,
    positions: [{ symbol: "AAPL", qty: 5, avgEntryPrice: 101, updatedAt: T0 }],
    truncated: false,
    at: T0,
  };
  core.onVenuePositions(answer, T0);
  core.onVenuePositions({ ...answer, requestId: "pos-2", readAt: T0 + 5000 }, T0 + 5000);
  const { reconciliation } = await (await app.request("/admin/positions")).json();
  assert.equal(reconciliation.requestId, "pos-2");
  assert.equal(reconciliation.at, T0 + 5000);
  assert.equal(reconciliation.policy, "halt");
  assert.deepEqual(
    reconciliation.differences.map((d: { symbol: string; diff: number }) => [d.symbol, d.diff]),
    [["AAPL", 3]],
  );
  assert.deepEqual(reconciliation.applied, [{ symbol: "AAPL", action: "halted", from: 2, to: 2 }]);
  assert.equal(reconciliation.mismatched.length, 1);
});

Deno.test("admin API shows each symbol's market as the checks see it", async () => {
  const { core, app } = setup(null);
  core.onTradingStatus({
    symbol: "AAPL",
    state: "halted",
    reason: "volatility_pause",
    nextOpen: null,
    nextClose: null,
    exchange: "alpaca",
    at: T0,
  }, T0);
  const { markets } = await (await app.request("/admin/markets")).json();
  assert.deepEqual(markets, [{
    symbol: "AAPL",
    market: { state: "halted", reason: "volatility_pause", source: "status", ageMs: 0 },
    band: null,
  }]);
});
