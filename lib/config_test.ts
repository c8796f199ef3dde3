import assert from "node:assert/strict";
import {
  applyEnvOverrides,
  type ConfigError,
  configPath,
  loadConfig,
  parseConfig,
  secretsFromEnv,
} from "./config.ts";
import { Proc } from "./testing/tools.ts";

const base = () => JSON.parse(Deno.readTextFileSync("config/system.json"));

// deno-lint-ignore no-explicit-any
function errorOf(mutate: (c: Record<string, any>) => void): string {
  const c = base();
  mutate(c);
  try {
    parseConfig(c, "test.json");
  } catch (e) {
    assert.equal((e as Error).name, "ConfigError");
    return (e as ConfigError).message;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("the shipped config/system.json is valid and frozen", () => {
  const c = loadConfig({ args: [], env: {} });
  assert.equal(c.marketData.http.port, 9090);
  assert.equal(c.executionEngine.http.port, 9093);
  assert.ok(Object.isFrozen(c.riskManager.limits));
});

Deno.test("a missing field is named in the error", () => {
  const msg = errorOf((c) => delete c.riskManager.limits.maxOrderQty);
  assert.match(msg, /"riskManager\.limits\.maxOrderQty" is required/);
});

Deno.test("a field of the wrong type is named with the bad value", () => {
  const msg = errorOf((c) => (c.marketData.http.port = "ninety"));
  assert.match(msg, /"marketData\.http\.port" must be a number, got "ninety"/);
});

Deno.test("an out-of-range value is named with the bad value", () => {
  const msg = errorOf((c) => (c.riskManager.limits.maxOrderQty = -5));
  assert.match(msg, /"riskManager\.limits\.maxOrderQty" must be > 0, got -5/);
  const port = errorOf((c) => (c.signalBridge.http.port = 70000));
  assert.match(port, /"signalBridge\.http\.port" must be <= 65535, got 70000/);
});

Deno.test("an unknown field is an error, so a typo cannot pass silently", () => {
  const msg = errorOf((c) => (c.riskManager.limits.maxOrderQtty = 5));
  assert.match(msg, /unknown field "riskManager\.limits\.maxOrderQtty"/);
});

Deno.test("an enum value outside its set lists the allowed values", () => {
  const msg = errorOf((c) => (c.marketData.feed = "bloomberg"));
  assert.match(msg, /"marketData\.feed" must be one of "sim", "replay", "alpaca", got "bloomberg"/);
});

Deno.test("a bad ZeroMQ endpoint is named", () => {
  const msg = errorOf((c) => (c.riskManager.orders = "http://x"));
  assert.match(msg, /"riskManager\.orders" must be a ZeroMQ endpoint/);
});

Deno.test("two services on one metrics port are refused", () => {
  const msg = errorOf((c) => (c.signalBridge.http.port = 9090));
  assert.match(msg, /"signalBridge\.http\.port" must differ from marketData\.http\.port, got 9090/);
});

Deno.test("a sim symbol without a start price is refused", () => {
  const msg = errorOf((c) => c.symbols.push("TSLA"));
  assert.match(msg, /"marketData\.sim\.startPrices\.TSLA" must be set/);
});

Deno.test("TRADING__ environment variables override file values, matched without case", () => {
  const c = loadConfig({
    args: [],
    env: {
      TRADING__RISK_MANAGER__LIMITS__MAX_ORDER_QTY: "50",
      TRADING__MARKET_DATA__FEED: "replay",
      TRADING__SYMBOLS: '["AAPL"]',
    },
  });
  assert.equal(c.riskManager.limits.maxOrderQty, 50);
  assert.equal(c.marketData.feed, "replay");
  assert.deepEqual(c.symbols, ["AAPL"]);
});

Deno.test("an override naming an unknown field is an error", () => {
  const raw = base();
  assert.throws(
    () => applyEnvOverrides(raw, { TRADING__RISK_MANAGER__LIMITZ: "1" }),
    /TRADING__RISK_MANAGER__LIMITZ names unknown field "riskManager\.LIMITZ"/,
  );
});

Deno.test("an override with a bad value fails validation naming the field", () => {
  assert.throws(
    () => loadConfig({ args: [], env: { TRADING__MARKET_DATA__HTTP__PORT: "-1" } }),
    /"marketData\.http\.port" must be >= 0, got -1/,
  );
});

Deno.test("--config and TRADING_CONFIG choose the file, --config first", () => {
  assert.equal(
    configPath({ args: ["--config", "a.json"], env: { TRADING_CONFIG: "b.json" } }),
    "a.json",
  );
  assert.equal(configPath({ args: ["--config=c.json"] }), "c.json");
  assert.equal(configPath({ env: { TRADING_CONFIG: "b.json" } }), "b.json");
  assert.equal(configPath({}), "config/system.json");
});

Deno.test("a missing or malformed file is a clear error", () => {
  assert.throws(
    () => loadConfig({ args: ["--config", "/nonexistent.json"] }),
    /cannot read "\/nonexistent\.json"/,
  );
  assert.throws(
    () => loadConfig({ args: [], readFile: () => "{ nope" }),
    /"config\/system\.json" is not valid JSON/,
  );
});

Deno.test("secrets come from the environment only", () => {
  const s = secretsFromEnv({
    APCA_API_KEY_ID: "k",
    APCA_API_SECRET_KEY: "s",
    RISK_ADMIN_TOKEN: "",
  });
  assert.equal(s.alpacaKeyId, "k");
  assert.equal(s.alpacaSecretKey, "s");
  assert.equal(s.riskAdminToken, undefined);
  const msg = errorOf((c) => (c.executionEngine.alpaca.apiKey = "k"));
  assert.match(msg, /unknown field "executionEngine\.alpaca\.apiKey"/);
});

Deno.test("a service given invalid config exits with code 2 and names the field", async () => {
  const p = new Proc("services/risk-manager/main.ts", [], {
    TRADING__RISK_MANAGER__LIMITS__MAX_ORDER_QTY: "-5",
  });
  const status = await p.done;
  assert.equal(status.code, 2);
  assert.match(p.stderr, /"riskManager\.limits\.maxOrderQty" must be > 0, got -5/);
});

Deno.test("the order lifecycle and durability settings default safely and name a bad value", () => {
  const c = base();
  for (const key of ["orderTtlMs", "maxOutboxPending", "durability", "reconcileMs"]) {
    delete c.riskManager[key];
  }
  delete c.riskManager.limits.exitRateReserve;
  delete c.executionEngine.durability;
  const parsed = parseConfig(c, "test.json");
  assert.equal(parsed.riskManager.durability, "power");
  assert.equal(parsed.executionEngine.durability, "power");
  assert.equal(parsed.riskManager.orderTtlMs, 30_000);
  assert.equal(parsed.riskManager.limits.exitRateReserve, 0.2);
  assert.match(
    errorOf((c) => (c.riskManager.durability = "disk")),
    /"riskManager\.durability" must be one of "process", "power", got "disk"/,
  );
  assert.match(
    errorOf((c) => (c.riskManager.limits.exitRateReserve = 1)),
    /"riskManager\.limits\.exitRateReserve" must be < 1, got 1/,
  );
  assert.match(
    errorOf((c) => (c.riskManager.orderTtlMs = 0)),
    /"riskManager\.orderTtlMs" must be > 0, got 0/,
  );
});

Deno.test("riskManager.positionMismatch defaults to halt, takes adopt, and names the field when invalid", () => {
  const c = base();
  delete c.riskManager.positionMismatch;
  assert.equal(parseConfig(c, "test.json").riskManager.positionMismatch, "halt");
  c.riskManager.positionMismatch = "adopt";
  assert.equal(parseConfig(c, "test.json").riskManager.positionMismatch, "adopt");
  assert.match(
    errorOf((c) => (c.riskManager.positionMismatch = "ignore")),
    /"riskManager\.positionMismatch" must be one of "halt", "adopt", got "ignore"/,
  );
});

Deno.test("the session section and the new Alpaca keys default when a file predates them", () => {
  const raw = base();
  delete raw.session;
  delete raw.marketData.alpaca.tradingUrl;
  delete raw.marketData.alpaca.statuses;
  delete raw.executionEngine.alpaca.rateLimitMaxWaitMs;
  const c = parseConfig(raw);
  assert.deepEqual(c.session, {
    hoursUtc: null,
    extendedHours: false,
    clockPollMs: 60_000,
    publishMs: 5_000,
  });
  assert.equal(c.marketData.alpaca.statuses, true);
  assert.equal(c.executionEngine.alpaca.rateLimitMaxWaitMs, 65_000);
});

Deno.test("session hours that close before they open, or disagree with the paper venue's, are refused", () => {
  assert.match(
    errorOf((c) => (c.session.hoursUtc = { open: "21:00", close: "14:30" })),
    /"session\.hoursUtc\.close" must be after open 21:00, got "14:30"/,
  );
  assert.match(
    errorOf((c) => {
      c.session.hoursUtc = { open: "14:30", close: "21:00" };
      c.executionEngine.sim.hoursUtc = { open: "13:30", close: "20:00" };
    }),
    /"executionEngine\.sim\.hoursUtc" must equal session\.hoursUtc or be null/,
  );
  assert.match(errorOf((c) => (c.session.hoursUtc = { open: "9:30", close: "16:00" })), /HH:MM/);
});
