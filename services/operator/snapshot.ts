/**
 * What the operator tools read of a running system: each service's health, readiness
 * (with the checks that fail), metrics, and risk-manager's and execution-engine's admin
 * views. Reads only; every request is bounded by a timeout, and a service that does not
 * answer is reported as unreachable, never waited for.
 * @module
 */
import type { Config } from "../../lib/config.ts";
import { type ServiceName, SERVICES } from "../../lib/metrics.ts";
import { Exposition } from "./prom_text.ts";

/** What one service answered. */
export interface ServiceView {
  readonly service: ServiceName;
  readonly url: string;
  /** `/health` answered 200. */
  readonly reachable: boolean;
  /** `/ready` answered 200. */
  readonly ready: boolean;
  /** `/ready`'s checks (the failing ones are false). */
  readonly checks: Readonly<Record<string, boolean>>;
  readonly metrics?: Exposition;
  /** Why it could not be read, when unreachable. */
  readonly error?: string;
}

/** risk-manager's `GET /admin/state` and `/admin/positions`. */
export interface RiskView {
  readonly state: string;
  readonly breakerTripped: boolean;
  readonly reason: string;
  readonly dailyPnl: number;
  readonly openOrders: number;
  readonly positions: readonly {
    symbol: string;
    qty: number;
    avgPrice: number;
    marketValue: number;
    unrealized: number;
    realized: number;
  }[];
}

/** A whole system at one moment. */
export interface Snapshot {
  readonly at: number;
  readonly services: readonly ServiceView[];
  readonly risk?: RiskView;
  /** execution-engine's open orders (`GET /admin/orders`). */
  readonly openOrders?: number;
}

const SECTION = {
  "market-data": "marketData",
  "signal-bridge": "signalBridge",
  "risk-manager": "riskManager",
  "execution-engine": "executionEngine",
} as const;

/** The base URL of a service's HTTP server (0.0.0.0 is read on 127.0.0.1). */
export function serviceUrl(config: Config, service: ServiceName): string {
  const http = config[SECTION[service]].http;
  const host = http.host === "0.0.0.0" ? "127.0.0.1" : http.host;
  return `http://${host.includes(":") ? `[${host}]` : host}:${http.port}`;
}

async function get(url: string, timeoutMs: number): Promise<Response> {
  return await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
}

async function json<T>(url: string, timeoutMs: number): Promise<T | undefined> {
  try {
    const r = await get(url, timeoutMs);
    return r.ok ? await r.json() as T : (await r.body?.cancel(), undefined);
  } catch {
    return undefined;
  }
}

/** A short reason a request failed: refused, timed out, or the error's first line. */
export function whyUnreachable(error: unknown, timeoutMs: number): string {
  const text = [error, (error as { cause?: unknown })?.cause]
    .map((e) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e ?? ""))).join(" ");
  if (/refused/i.test(text)) return "connection refused";
  if (/timeout|timed out/i.test(text)) return `no answer in ${timeoutMs} ms`;
  return text.split("\n")[0].slice(0, 120);
}

/** Reads one service. */
export async function readService(
  config: Config,
  service: ServiceName,
  timeoutMs = 1500,
): Promise<ServiceView> {
  const url = serviceUrl(config, service);
  try {
    const health = await get(`${url}/health`, timeoutMs);
    await health.body?.cancel();
    const readyRes = await get(`${url}/ready`, timeoutMs);
    const ready = await readyRes.json() as { checks?: Record<string, boolean> };
    const text = await (await get(`${url}/metrics`, timeoutMs)).text();
    return {
      service,
      url,
      reachable: health.ok,
      ready: readyRes.status === 200,
      checks: ready.checks ?? {},
      metrics: new Exposition(text),
    };
  } catch (e) {
    return {
      service,
      url,
      reachable: false,
      ready: false,
      checks: {},
      error: whyUnreachable(e, timeoutMs),
    };
  }
}

/** Reads every service and the admin views. */
export async function takeSnapshot(config: Config, timeoutMs = 1500): Promise<Snapshot> {
  const services = await Promise.all(SERVICES.map((s) => readService(config, s, timeoutMs)));
  const rm = serviceUrl(config, "risk-manager");
  const [state, positions, orders] = await Promise.all([
    json<{ state: string; breakerTripped: boolean; reason: string; dailyPnl: number }>(
      `${rm}/admin/state`,
      timeoutMs,
    ),
    json<{ positions: RiskView["positions"]; openOrders: number }>(
      `${rm}/admin/positions`,
      timeoutMs,
    ),
    json<{ open: unknown[] }>(`${serviceUrl(config, "execution-engine")}/admin/orders`, timeoutMs),
  ]);
  const risk: RiskView | undefined = state && positions
    ? {
      state: state.state,
      breakerTripped: state.breakerTripped,
      reason: state.reason,
      dailyPnl: state.dailyPnl,
      openOrders: positions.openOrders,
      positions: positions.positions,
    }
    : undefined;
  return { at: Date.now(), services, risk, openOrders: orders?.open.length };
}
