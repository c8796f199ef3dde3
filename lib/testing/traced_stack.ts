/**
 * The four real services with tracing on, exporting to an OTLP receiver, trading the paper
 * exchange fast enough for orders within seconds; and what the tracing tests read back: the
 * execution journal's orders and the services' JSON log lines.
 *
 * @example
 * ```ts
 * await using receiver = startOtlpReceiver();
 * const stack = startTracedStack(receiver.url, "1");
 * await stack.waitReady(60_000);
 * const orders = journalOrders(stack.config.executionEngine.journalPath);
 * ```
 * @module
 */
import type { ServiceName } from "../metrics.ts";
import { openRiskLimits, type RawConfig, type Stack, startStack } from "./stack.ts";

/** An order as the execution journal holds it. */
export interface JournalRow {
  readonly clientOrderId: string;
  readonly trace: string;
  readonly state: string;
}

/**
 * Starts the four services with `OTEL_DENO=true`, each under its own `OTEL_SERVICE_NAME`,
 * exporting every 200 ms to `endpoint` with the parent-based ratio sampler at `ratio`, on a
 * config that approves most signals (the chaos test's limits, 100 ticks/s).
 */
export function startTracedStack(
  endpoint: string,
  ratio: string,
  overrides?: (c: RawConfig) => void,
): Stack {
  return startStack({
    env: {
      OTEL_DENO: "true",
      OTEL_DENO_METRICS: "false",
      OTEL_DENO_CONSOLE: "ignore",
      OTEL_RESOURCE_ATTRIBUTES: "service.namespace=trading",
      OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
      OTEL_TRACES_SAMPLER_ARG: ratio,
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_EXPORTER_OTLP_TIMEOUT: "2000",
      OTEL_BSP_SCHEDULE_DELAY: "200",
    },
    serviceEnv: (service: ServiceName) => ({ OTEL_SERVICE_NAME: service }),
    overrides: (c) => {
      c.marketData.sim.ticksPerSecond = 100;
      c.signalBridge.minIntervalMs = 0;
      c.riskManager.sizing.notionalPerOrder = 200;
      openRiskLimits(c, 5);
      overrides?.(c);
    },
  });
}

/** Every order in the execution journal at `path` (read-only; the engine may be writing). */
export async function journalOrders(path: string): Promise<JournalRow[]> {
  const { DatabaseSync } = await import("node:sqlite");
  let db;
  try {
    db = new DatabaseSync(path, { readOnly: true });
  } catch {
    return []; // not created yet
  }
  try {
    db.exec("PRAGMA busy_timeout=2000");
    return db.prepare("SELECT client_order_id, trace, state FROM orders").all().map((r) => ({
      clientOrderId: String(r.client_order_id),
      trace: String(r.trace),
      state: String(r.state),
    }));
  } catch {
    return []; // the table is not there yet
  } finally {
    db.close();
  }
}

/** The JSON log lines a service wrote (stdout and stderr), parsed; other lines skipped. */
export function logLines(stack: Stack, service: ServiceName): Record<string, unknown>[] {
  const p = stack.procs.get(service);
  if (p === undefined) return [];
  const lines: Record<string, unknown>[] = [];
  for (const line of `${p.stdout}\n${p.stderr}`.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      lines.push(JSON.parse(line));
    } catch { /* a line cut short at exit */ }
  }
  return lines;
}
