/**
 * One typed, validated config for all four services.
 *
 * Sources, later wins: the JSON file (`--config PATH`, else `TRADING_CONFIG`, else
 * `config/system.json`), then environment overrides `TRADING__<PATH>` where PATH is
 * the key path joined by `__`, matched without regard to case or underscores
 * (`TRADING__RISK_MANAGER__LIMITS__MAX_ORDER_QTY=50` sets `riskManager.limits.maxOrderQty`);
 * values are parsed as JSON when they parse, else taken as strings.
 *
 * Secrets never come from the file: {@link secretsFromEnv} reads them from the environment.
 *
 * @example
 * ```ts
 * const config = loadConfig({ args: Deno.args, env: Deno.env.toObject() });
 * config.riskManager.limits.maxOrderQty; // number
 * ```
 * @module
 */
import { z } from "zod";

const port = z.number().int().min(0).max(65535);
const host = z.string().min(1);
const endpoint = z.string().regex(
  /^(bind:|connect:)?(tcp|ipc|inproc):\/\/.+$/,
  'must be a ZeroMQ endpoint like "tcp://127.0.0.1:5555", optionally prefixed "bind:" or "connect:"',
);
const positive = z.number().positive();
const nonNegative = z.number().nonnegative();
const http = z.strictObject({ host, port });
const symbol = z.string().regex(
  /^[A-Z0-9.]{1,12}(\/[A-Z0-9]{1,8})?$/,
  "must be a symbol like AAPL or BTC/USD",
);

const hhmm = z.string().regex(/^\d{2}:\d{2}$/, 'must be "HH:MM"');

/** Default session settings (no hours: always open; no extended-hours orders). */
export const DEFAULT_SESSION = Object.freeze({
  hoursUtc: null,
  extendedHours: false,
  clockPollMs: 60_000,
  publishMs: 5_000,
});

/** Default periods and windows of signal-bridge's streaming features (MACD 12/26/9, RSI 14). */
export const DEFAULT_FEATURES = Object.freeze({
  emaFast: 12,
  emaSlow: 26,
  macdSignal: 9,
  rsiPeriod: 14,
  returnsWindow: 10,
  volatilityWindow: 50,
  tradeFlowWindow: 50,
  imbalanceLevels: 5,
});

/** The config schema (zod). Unknown keys are errors, so a typo cannot pass silently. */
export const ConfigSchema = z.strictObject({
  symbols: z.array(symbol).min(1),
  dataDir: z.string().min(1),
  /**
   * How the ZeroMQ channels are secured. `curve` (default): every channel is
   * authenticated and encrypted with CURVE, and only the services configured for a
   * channel may connect (lib/messaging/curve.ts). `insecure`: plain TCP, anyone who can
   * reach an endpoint can read and write; logged as an error at start-up and shown by
   * `messaging_channel_secure 0`.
   */
  security: z.strictObject({
    mode: z.enum(["curve", "insecure"]),
    /** The services' CURVE certificates (lib/keys.ts); created on first run when empty. */
    keysDir: z.string().min(1),
  }).default({ mode: "curve", keysDir: "data/keys" }),
  /**
   * Market sessions (lib/market_session.ts). With the Alpaca feed and venue the session
   * comes from Alpaca's `/v2/clock` and `/v2/calendar`; with the sim and replay feeds and
   * the paper venue from `hoursUtc`. Crypto trades around the clock either way.
   */
  session: z.strictObject({
    /** Regular session of stock symbols for the sim, "HH:MM" UTC, Monday to Friday; null = always open. */
    hoursUtc: z.strictObject({ open: hhmm, close: hhmm }).nullable(),
    /**
     * Extended hours (Alpaca's pre-market and after-hours): false (default) = no order for a
     * stock outside the regular session; true = limit orders with time in force `day` are
     * sent with `extended_hours: true` then (Alpaca's rule: limit and day only). Market
     * orders never leave outside the regular session.
     */
    extendedHours: z.boolean(),
    /** How often Alpaca's clock and calendar are read (ms). */
    clockPollMs: positive,
    /** How often market-data publishes every symbol's trading status again (ms). */
    publishMs: positive,
  }).default(DEFAULT_SESSION),
  marketData: z.strictObject({
    http,
    publish: endpoint,
    feed: z.enum(["sim", "replay", "alpaca"]),
    staleAfterMs: positive,
    bars: z.array(z.enum(["1s", "5s", "1m", "5m"])),
    recordPath: z.string().min(1).nullable(),
    sim: z.strictObject({
      seed: z.number().int(),
      ticksPerSecond: positive,
      bookDepth: z.number().int().min(1).max(50),
      startPrices: z.record(z.string(), positive),
      tickSize: z.record(z.string(), positive),
    }),
    replay: z.strictObject({
      path: z.string().min(1),
      speed: nonNegative,
      loop: z.boolean(),
    }),
    alpaca: z.strictObject({
      stocksUrl: z.url(),
      cryptoUrl: z.url(),
      reconnectMinMs: positive,
      reconnectMaxMs: positive,
      /** The trading API, where the clock and calendar are read. */
      tradingUrl: z.url().default("https://paper-api.alpaca.markets"),
      /**
       * Subscribe trading statuses (halts) and LULD bands on the stock stream. A plan
       * without them answers 409 insufficient subscription, which stops the feed: set false.
       */
      statuses: z.boolean().default(true),
    }),
  }),
  signalBridge: z.strictObject({
    http,
    publish: endpoint,
    marketData: z.array(endpoint).min(1),
    model: z.strictObject({
      kind: z.enum(["rules", "logistic"]),
      path: z.string().min(1),
    }),
    maxDataAgeMs: positive,
    signalTtlMs: positive,
    minIntervalMs: nonNegative,
    /** Non-flat signals with a lower confidence are suppressed ("below_threshold"). */
    minConfidence: z.number().min(0).max(1).default(0.55),
    /** Streaming feature parameters; periods and windows count price updates (trades for the flow). */
    features: z.strictObject({
      emaFast: z.number().int().min(1),
      emaSlow: z.number().int().min(2),
      macdSignal: z.number().int().min(1),
      rsiPeriod: z.number().int().min(1),
      returnsWindow: z.number().int().min(1),
      volatilityWindow: z.number().int().min(2),
      tradeFlowWindow: z.number().int().min(1),
      imbalanceLevels: z.number().int().min(1),
    }).default(DEFAULT_FEATURES),
    /** The rule model: RSI mean reversion at the extremes, trend following in between. */
    rules: z.strictObject({
      overbought: z.number().gt(50).lt(100),
      oversold: z.number().gt(0).lt(50),
      trendEntry: positive,
    }).default({ overbought: 70, oversold: 30, trendEntry: 1 }),
  }),
  riskManager: z.strictObject({
    http,
    signals: z.array(endpoint).min(1),
    marketData: z.array(endpoint).min(1),
    orders: endpoint,
    executionReports: endpoint,
    /** Where trading_state (and risk_denial) events are published. */
    publish: endpoint,
    statePath: z.string().min(1),
    strategy: z.string().min(1),
    /** A mark (mid) older than this is stale: the price collar denies against it. */
    markMaxAgeMs: positive,
    /**
     * How long an approved order may wait before execution-engine sends it, ms: it
     * carries `expiresAt = approval + orderTtlMs`, and is refused (`order_expired`) after.
     */
    orderTtlMs: positive.default(30_000),
    /** No order is approved while this many are unacknowledged on the orders channel (`OUTBOX_FULL`). */
    maxOutboxPending: z.number().int().positive().default(1000),
    /**
     * How long a closed order stays in memory after it closed and after its signal
     * expired, ms (duplicate signals are detected in memory).
     */
    orderMemoryMs: positive.default(60_000),
    /** How long a closed order's row stays in the state file, ms (redelivered reports are recognised). */
    orderRetentionMs: positive.default(7 * 86_400_000),
    /**
     * How often open orders and positions are reconciled with execution-engine, ms (and at
     * start-up).
     */
    reconcileMs: positive.default(5000),
    /**
     * What a position that differs from the venue's in two reconciliations (the venue's
     * positions read again in between, nothing in flight) does: `halt` (default) sets the
     * trading state HALTED until an operator sets it back; `adopt` takes the venue's
     * quantity (services/risk-manager/README.md).
     */
    positionMismatch: z.enum(["halt", "adopt"]).default("halt"),
    /**
     * `power` (default): the state file and the orders outbox commit with SQLite
     * synchronous FULL and survive a power loss; `process`: NORMAL, they survive a crash
     * of the process, and a power loss may roll back the last commits.
     */
    durability: z.enum(["process", "power"]).default("power"),
    sizing: z.strictObject({
      notionalPerOrder: positive,
      minQty: positive,
    }),
    limits: z.strictObject({
      maxOrderQty: positive,
      maxOrderNotional: positive,
      maxPositionQty: positive,
      maxGrossExposure: positive,
      maxNetExposure: positive,
      maxOpenOrders: z.number().int().positive(),
      priceCollarBps: positive,
      maxOrdersPerSecond: positive,
      dailyLossLimit: positive,
      /**
       * The share of the order-rate bucket kept for orders that only reduce a position
       * (0 to < 1; whole tokens: `floor(share * max(1, maxOrdersPerSecond))`): orders that
       * add risk leave that many tokens in the bucket, so an exit still finds one.
       */
      exitRateReserve: z.number().min(0).lt(1).default(0.2),
    }),
  }),
  executionEngine: z.strictObject({
    http,
    orders: endpoint,
    executionReports: endpoint,
    marketData: z.array(endpoint).min(1),
    venue: z.enum(["sim", "alpaca"]),
    journalPath: z.string().min(1),
    sim: z.strictObject({
      seed: z.number().int(),
      latencyMs: nonNegative,
      slippageBps: nonNegative,
      partialFillProbability: z.number().min(0).max(1),
      rejectProbability: z.number().min(0).max(1),
      buyingPower: positive,
      /** Regular session of non-crypto symbols, "HH:MM" UTC; null = always open. */
      hoursUtc: z.strictObject({
        open: z.string().regex(/^\d{2}:\d{2}$/, 'must be "HH:MM"'),
        close: z.string().regex(/^\d{2}:\d{2}$/, 'must be "HH:MM"'),
      }).nullable(),
    }),
    alpaca: z.strictObject({
      baseUrl: z.url(),
      streamUrl: z.url(),
      requestsPerMinute: z.number().int().positive(),
      timeoutMs: positive,
      maxRetries: z.number().int().min(0).max(10),
      retryBaseMs: positive,
      /**
       * Longest a request waits out 429s (until `X-RateLimit-Reset`) before giving up; a
       * new order that only ever got 429 is then rejected `rate_limited` (it never reached
       * Alpaca), not left unknown.
       */
      rateLimitMaxWaitMs: positive.default(65_000),
      /** A trade_updates stream silent this long is probed (a `listen`, which Alpaca acknowledges). */
      streamIdleMs: positive.default(15_000),
      /** No frame this long after a probe: the stream is half-open, reconnect and resync. */
      streamProbeTimeoutMs: positive.default(5_000),
      /** How often the account and positions are read again (ms). */
      accountPollMs: positive.default(60_000),
    }),
    reconcileMs: positive,
    /** `power` (default) or `process`: how hard the journal's commits are made durable (as `riskManager.durability`). */
    durability: z.enum(["process", "power"]).default("power"),
    /**
     * Paper venue: an order waits (within its expiry) until its symbol has a price younger
     * than this, ms, so orders queued while the engine was down are not rejected
     * `no_market_data` for arriving before the first price.
     */
    maxPriceAgeMs: positive.default(5000),
  }),
});

/** The validated config. Frozen: it never changes after start-up. */
export type Config = z.infer<typeof ConfigSchema>;

/** Secrets, from the environment only. */
export interface Secrets {
  readonly alpacaKeyId?: string;
  readonly alpacaSecretKey?: string;
  readonly riskAdminToken?: string;
}

/** Thrown when the config cannot be loaded; `message` names the field and the bad value. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** The default config file path, relative to the working directory. */
export const DEFAULT_CONFIG_PATH = "config/system.json";

/** Where {@link loadConfig} reads from. */
export interface ConfigSources {
  /** Command-line arguments; `--config PATH` or `--config=PATH` selects the file. */
  args?: readonly string[];
  /** Environment variables (`TRADING_CONFIG`, `TRADING__…` overrides). */
  env?: Readonly<Record<string, string>>;
  /** Reads a file; defaults to `Deno.readTextFileSync`. */
  readFile?: (path: string) => string;
}

/** The config file path chosen by `--config`, `TRADING_CONFIG` or the default. */
export function configPath(sources: ConfigSources = {}): string {
  const args = sources.args ?? [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--config") {
      const next = args[i + 1];
      if (next === undefined) throw new ConfigError("Cannot load config: --config needs a path");
      return next;
    }
    if (a.startsWith("--config=")) return a.slice("--config=".length);
  }
  return sources.env?.TRADING_CONFIG ?? DEFAULT_CONFIG_PATH;
}

/**
 * Loads, overrides and validates the config.
 *
 * Throws {@link ConfigError} with a message such as
 * `Cannot load config: "riskManager.limits.maxOrderQty" must be > 0, got -5`.
 */
export function loadConfig(sources: ConfigSources = {}): Config {
  const path = configPath(sources);
  const read = sources.readFile ?? ((p: string) => Deno.readTextFileSync(p));
  let text: string;
  try {
    text = read(path);
  } catch (e) {
    throw new ConfigError(`Cannot load config: cannot read "${path}": ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(
      `Cannot load config: "${path}" is not valid JSON: ${(e as Error).message}`,
    );
  }
  applyEnvOverrides(raw, sources.env ?? {});
  return parseConfig(raw, path);
}

/** Validates a raw object as config; throws {@link ConfigError} naming the first bad field. */
export function parseConfig(raw: unknown, source = "config"): Config {
  const result = ConfigSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = issue.path.map(String).join(".");
    let message: string;
    if (issue.code === "unrecognized_keys") {
      const keys = issue.keys.map((k) => (field ? `${field}.${k}` : k));
      message = `unknown field${keys.length > 1 ? "s" : ""} ${
        keys.map((k) => `"${k}"`).join(", ")
      }`;
    } else {
      const got = valueAt(raw, issue.path);
      message = `"${field}" ${describe(issue, got)}, got ${show(got)}`;
    }
    throw new ConfigError(`Cannot load config (${source}): ${message}`);
  }
  crossChecks(result.data, source);
  return deepFreeze(result.data);
}

function crossChecks(c: Config, source: string): void {
  const fail = (field: string, msg: string, got: unknown) => {
    throw new ConfigError(`Cannot load config (${source}): "${field}" ${msg}, got ${show(got)}`);
  };
  const md = c.marketData.alpaca;
  if (md.reconnectMaxMs < md.reconnectMinMs) {
    fail("marketData.alpaca.reconnectMaxMs", "must be at least reconnectMinMs", md.reconnectMaxMs);
  }
  if (c.marketData.feed === "sim") {
    for (const s of c.symbols) {
      if (c.marketData.sim.startPrices[s] === undefined) {
        fail(`marketData.sim.startPrices.${s}`, "must be set for every symbol", undefined);
      }
    }
  }
  const hours = c.session.hoursUtc;
  if (hours !== null && hours.open >= hours.close) {
    fail("session.hoursUtc.close", `must be after open ${hours.open}`, hours.close);
  }
  const simHours = c.executionEngine.sim.hoursUtc;
  if (
    simHours !== null && hours !== null &&
    (simHours.open !== hours.open || simHours.close !== hours.close)
  ) {
    fail("executionEngine.sim.hoursUtc", "must equal session.hoursUtc or be null", simHours);
  }
  const sbf = c.signalBridge.features;
  if (sbf.emaFast >= sbf.emaSlow) {
    fail("signalBridge.features.emaFast", "must be less than emaSlow", sbf.emaFast);
  }
  const ports = new Map<number, string>();
  for (const name of ["marketData", "signalBridge", "riskManager", "executionEngine"] as const) {
    const p = c[name].http.port;
    if (p !== 0 && ports.has(p)) {
      fail(`${name}.http.port`, `must differ from ${ports.get(p)}.http.port`, p);
    }
    ports.set(p, name);
  }
}

function describe(issue: z.core.$ZodIssue, got: unknown): string {
  switch (issue.code) {
    case "invalid_type":
      return got === undefined
        ? `is required (${issue.expected})`
        : `must be ${article(issue.expected)}`;
    case "too_small":
      return `must be ${issue.inclusive ? ">=" : ">"} ${issue.minimum}${
        issue.origin === "array" ? " items" : issue.origin === "string" ? " characters" : ""
      }`;
    case "too_big":
      return `must be ${issue.inclusive ? "<=" : "<"} ${issue.maximum}`;
    case "invalid_value":
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    default:
      return issue.message.charAt(0).toLowerCase() + issue.message.slice(1);
  }
}

function article(t: string): string {
  return /^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`;
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = raw;
  for (const k of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

function show(v: unknown): string {
  if (v === undefined) return "nothing";
  const s = JSON.stringify(v);
  return s.length > 60 ? s.slice(0, 57) + "..." : s;
}

const norm = (s: string) => s.replaceAll("_", "").replaceAll("-", "").toLowerCase();

/**
 * Applies `TRADING__A__B=value` overrides onto `raw` in place. An override whose
 * path does not exist in the file is an error, so a misspelt variable cannot be ignored.
 */
export function applyEnvOverrides(raw: unknown, env: Readonly<Record<string, string>>): void {
  for (const [name, value] of Object.entries(env).sort(([a], [b]) => a.localeCompare(b))) {
    if (!name.startsWith("TRADING__")) continue;
    const parts = name.slice("TRADING__".length).split("__").filter((p) => p.length > 0);
    let node = raw as Record<string, unknown>;
    const resolved: string[] = [];
    for (let i = 0; i < parts.length; i++) {
      if (node === null || typeof node !== "object" || Array.isArray(node)) {
        throw new ConfigError(
          `Cannot load config: ${name} names "${resolved.join(".")}", which has no fields`,
        );
      }
      const key = Object.keys(node).find((k) => norm(k) === norm(parts[i]));
      if (key === undefined) {
        throw new ConfigError(
          `Cannot load config: ${name} names unknown field "${[...resolved, parts[i]].join(".")}"`,
        );
      }
      resolved.push(key);
      if (i === parts.length - 1) node[key] = parseEnvValue(value);
      else node = node[key] as Record<string, unknown>;
    }
  }
}

function parseEnvValue(v: string): unknown {
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

/** Reads the secrets from the environment. Empty values count as absent. */
export function secretsFromEnv(env: Readonly<Record<string, string>>): Secrets {
  const get = (k: string) => (env[k] && env[k].length > 0 ? env[k] : undefined);
  return Object.freeze({
    alpacaKeyId: get("APCA_API_KEY_ID") ?? get("ALPACA_API_KEY_ID"),
    alpacaSecretKey: get("APCA_API_SECRET_KEY") ?? get("ALPACA_API_SECRET_KEY"),
    riskAdminToken: get("RISK_ADMIN_TOKEN"),
  });
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === "object") {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
