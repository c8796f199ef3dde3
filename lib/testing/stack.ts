/**
 * Runs the whole pipeline for tests and benchmarks: a copy of `config/system.json`
 * with every HTTP and ZeroMQ port replaced by a free one and every data path moved
 * into a temp directory, and the four services started as subprocesses on it.
 *
 * @example
 * ```ts
 * await using stack = await startStack({ overrides: (c) => { c.marketData.sim.ticksPerSecond = 1000; } });
 * await stack.waitReady();
 * const text = await stack.metrics("risk-manager");
 * ```
 * @module
 */
import { type ServiceName, SERVICES } from "../metrics.ts";
import { freePort, Proc, waitFor } from "./tools.ts";

// deno-lint-ignore no-explicit-any
export type RawConfig = Record<string, any>;

const SECTION: Record<ServiceName, string> = {
  "market-data": "marketData",
  "signal-bridge": "signalBridge",
  "risk-manager": "riskManager",
  "execution-engine": "executionEngine",
};

/**
 * A config copy isolated on free ports and a temp dir. Returns the raw object; the
 * caller may change it before {@link writeConfig}.
 */
export function isolatedConfig(dir: string, source = "config/system.json"): RawConfig {
  const c = JSON.parse(Deno.readTextFileSync(source)) as RawConfig;
  const ports = new Map<string, number>();
  const remap = (port: string) => {
    if (!ports.has(port)) ports.set(port, freePort());
    return ports.get(port)!;
  };
  const walk = (node: RawConfig) => {
    for (const [k, v] of Object.entries(node)) {
      if (typeof v === "string") {
        const m = v.match(/^((?:bind:|connect:)?tcp:\/\/[^:]+:)(\d+)$/);
        if (m) node[k] = `${m[1]}${remap(m[2])}`;
        else if ((k.endsWith("Path") || k.endsWith("Dir")) && v.startsWith("data")) {
          node[k] = `${dir}/${v}`;
        }
      } else if (Array.isArray(v)) {
        node[k] = v.map((x) => {
          const m = typeof x === "string" && x.match(/^((?:bind:|connect:)?tcp:\/\/[^:]+:)(\d+)$/);
          return m ? `${m[1]}${remap(m[2])}` : x;
        });
      } else if (v && typeof v === "object") walk(v);
    }
  };
  walk(c);
  for (const s of SERVICES) c[SECTION[s]].http.port = freePort();
  return c;
}

/**
 * Opens risk-manager's limits wide for a test's or benchmark's order flow: no order is refused
 * for its size, exposure, open orders (up to `maxOpenOrders`), loss or price collar; only
 * `maxOrdersPerSecond` still bounds it.
 */
export function openRiskLimits(
  config: RawConfig,
  maxOrdersPerSecond: number,
  maxOpenOrders = 10_000,
): void {
  Object.assign(config.riskManager.limits, {
    maxOrderQty: 1e9,
    maxOrderNotional: 1e9,
    maxPositionQty: 1e9,
    maxGrossExposure: 1e12,
    maxNetExposure: 1e12,
    maxOpenOrders,
    maxOrdersPerSecond,
    dailyLossLimit: 1e12,
    priceCollarBps: 10_000,
  });
}

/** Writes a config to `dir/config.json` and returns the path. */
export function writeConfig(dir: string, config: RawConfig): string {
  const path = `${dir}/config.json`;
  Deno.writeTextFileSync(path, JSON.stringify(config, null, 2));
  return path;
}

/** Options of {@link startStack}. */
export interface StackOptions {
  /** Changes the isolated config before the services start. */
  overrides?: (c: RawConfig) => void;
  /** Which services to start (default all four, in reverse pipeline order). */
  services?: ServiceName[];
  /** Extra environment for every service. */
  env?: Record<string, string>;
  /** Extra environment for one service (over `env`), e.g. its `OTEL_SERVICE_NAME`. */
  serviceEnv?: (service: ServiceName) => Record<string, string>;
  /** Reuse this directory (for restart tests) instead of a new temp dir. */
  dir?: string;
  /** Flags of `deno run` for one service, such as `--inspect=127.0.0.1:<port>`. */
  denoFlags?: (service: ServiceName) => string[];
}

/** A running pipeline. */
export class Stack {
  readonly procs = new Map<ServiceName, Proc>();
  constructor(
    readonly dir: string,
    readonly config: RawConfig,
    readonly configPath: string,
    readonly env: Record<string, string>,
    readonly serviceEnv?: (service: ServiceName) => Record<string, string>,
    readonly denoFlags?: (service: ServiceName) => string[],
  ) {}

  /** `http://127.0.0.1:<port>` of a service. */
  url(service: ServiceName): string {
    return `http://${this.config[SECTION[service]].http.host}:${
      this.config[SECTION[service]].http.port
    }`;
  }

  /** Starts (or restarts) one service. */
  start(service: ServiceName): Proc {
    const p = new Proc(
      `services/${service}/main.ts`,
      ["--config", this.configPath],
      { ...this.env, ...this.serviceEnv?.(service) },
      [],
      this.denoFlags?.(service) ?? [],
    );
    this.procs.set(service, p);
    return p;
  }

  /** The text of a service's `/metrics`. */
  async metrics(service: ServiceName): Promise<string> {
    const r = await fetch(`${this.url(service)}/metrics`);
    return await r.text();
  }

  /** Waits until every started service answers `/ready` with 200. */
  async waitReady(timeoutMs = 30_000): Promise<void> {
    for (const [s, p] of this.procs) {
      await waitFor(`${s} ready`, async () => {
        const st = await Promise.race([p.done.then(() => "exited"), Promise.resolve("running")]);
        if (st === "exited") throw new Error(`${s} exited: ${p.stderr.slice(-2000)}`);
        const r = await fetch(`${this.url(s)}/ready`);
        await r.body?.cancel();
        return r.status === 200;
      }, { timeoutMs, everyMs: 200 });
    }
  }

  /** Stops every service (SIGTERM, then SIGKILL) and returns their exit codes. */
  async stop(): Promise<Map<ServiceName, number>> {
    const codes = new Map<ServiceName, number>();
    await Promise.all(
      [...this.procs].map(async ([s, p]) => codes.set(s, (await p.stop()).code)),
    );
    return codes;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** Starts the pipeline on an isolated config. */
export function startStack(options: StackOptions = {}): Stack {
  const dir = options.dir ?? Deno.makeTempDirSync({ prefix: "trading-stack-" });
  const config = isolatedConfig(dir);
  options.overrides?.(config);
  const path = writeConfig(dir, config);
  const stack = new Stack(
    dir,
    config,
    path,
    { LOG_LEVEL: "info", ...options.env },
    options.serviceEnv,
    options.denoFlags,
  );
  for (const s of options.services ?? [...SERVICES].reverse()) stack.start(s);
  return stack;
}

/** Reads one sample value from Prometheus text (sums all series when `labels` is omitted). */
export function sampleValue(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  let sum: number | undefined;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const m = line.match(/^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/);
    if (!m || m[1] !== name) continue;
    const ls = m[2] ?? "";
    if (!Object.entries(labels).every(([k, v]) => ls.includes(`${k}="${v}"`))) continue;
    sum = (sum ?? 0) + Number(m[3]);
  }
  return sum;
}
