/**
 * JSON-lines logging on LogTape with a custom formatter.
 *
 * One object per line: `ts` (ISO 8601), `level`, `service`, `logger` (the category
 * joined by dots), `msg`, then `trace_id` and `span_id` when the line is written inside an
 * active OpenTelemetry span (lib/tracing.ts: while a message is handled), the structured fields
 * of the call, and for an `error` field its `name`, `message` and `stack`. Values under keys that look like secrets
 * (key, secret, token, password, authorization) are replaced by `"[REDACTED]"`.
 *
 * Lines are written synchronously to stdout, so nothing is lost when the process
 * exits right after logging. `LOG_LEVEL` (trace, debug, info, warning, error, fatal)
 * sets the level; `LOG_FORMAT=pretty` (or a terminal on stdout without
 * `LOG_FORMAT=json`) prints one readable line per record instead.
 *
 * @example
 * ```ts
 * await setupLogging("risk-manager");
 * getLogger(["trading", "risk"]).warn("Order denied", { code: "MAX_ORDER_QTY", symbol: "AAPL" });
 * ```
 * @module
 */
import {
  configureSync,
  getLogger,
  type LogLevel,
  type LogRecord,
  parseLogLevel,
  resetSync,
  type Sink,
} from "@logtape/logtape";
import { activeTraceIds } from "./tracing.ts";

export { getLogger };

const SECRET_KEY = /key|secret|token|password|passwd|authorization|cookie|credential/i;
/** Keys that match the secret pattern but are not secrets. */
const NOT_SECRET = new Set(["keyId", "key_count", "keys", "monkey"]);
const LEVELS: readonly LogLevel[] = ["trace", "debug", "info", "warning", "error", "fatal"];

/** Replaces values under secret-looking keys, recursively, with `"[REDACTED]"`. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 8 || value === null || typeof value !== "object") return value;
  if (value instanceof Error) return serializeError(value);
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_KEY.test(k) && !NOT_SECRET.has(k) ? "[REDACTED]" : redact(v, depth + 1);
  }
  return out;
}

function serializeError(e: Error): Record<string, unknown> {
  const out: Record<string, unknown> = { name: e.name, message: e.message, stack: e.stack };
  if ("code" in e) out.code = (e as { code: unknown }).code;
  if (e.cause instanceof Error) out.cause = serializeError(e.cause);
  return out;
}

function renderMessage(record: LogRecord): string {
  let s = "";
  for (let i = 0; i < record.message.length; i++) {
    const part = record.message[i];
    s += i % 2 === 0
      ? String(part)
      : typeof part === "string"
      ? part
      : JSON.stringify(redact(part));
  }
  return s;
}

/**
 * Formats a record as one JSON object (no newline). Exported for tests and for
 * other sinks.
 */
export function formatJson(service: string, record: LogRecord): string {
  const fields = redact(record.properties) as Record<string, unknown>;
  const line: Record<string, unknown> = {
    ts: new Date(record.timestamp).toISOString(),
    level: record.level,
    service,
    logger: record.category.join("."),
    msg: renderMessage(record),
  };
  // The sink runs synchronously inside the logging call, so the active span is the caller's.
  const ids = activeTraceIds();
  if (ids !== undefined) {
    line.trace_id = ids.trace_id;
    line.span_id = ids.span_id;
  }
  for (const [k, v] of Object.entries(fields)) {
    if (!(k in line)) line[k] = v;
    else line[`field_${k}`] = v;
  }
  try {
    return JSON.stringify(line, (_k, v) => (typeof v === "bigint" ? v.toString() : v));
  } catch {
    return JSON.stringify({ ...line, ...{ fields: "[unserializable]" } });
  }
}

/** Formats a record for a human at a terminal. */
export function formatPretty(service: string, record: LogRecord): string {
  const fields = redact(record.properties) as Record<string, unknown>;
  const extra = Object.keys(fields).length ? " " + JSON.stringify(fields) : "";
  const t = new Date(record.timestamp).toISOString().slice(11, 23);
  return `${t} ${record.level.toUpperCase().padEnd(7)} ${service} ${record.category.join(".")}: ${
    renderMessage(record)
  }${extra}`;
}

const encoder = new TextEncoder();

/** A sink that writes each line synchronously (nothing is buffered, nothing lost). */
export function lineSink(format: (r: LogRecord) => string, write?: (line: string) => void): Sink {
  const out = write ?? ((line: string) => writeAll(encoder.encode(line + "\n")));
  return (record) => out(format(record));
}

function writeAll(bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += Deno.stdout.writeSync(bytes.subarray(off));
}

/** Options of {@link setupLogging}. */
export interface LoggingOptions {
  /** `LOG_LEVEL`; default `info`. Throws on an unknown level. */
  level?: string;
  /** `json` (default) or `pretty`. */
  format?: "json" | "pretty";
  /** Where lines go; default stdout. */
  write?: (line: string) => void;
}

/**
 * Configures LogTape for a service. Reads `LOG_LEVEL` and `LOG_FORMAT` from the
 * environment unless given. Throws if the level is not one of LogTape's levels.
 */
export function setupLogging(service: string, options: LoggingOptions = {}): void {
  const levelText = (options.level ?? Deno.env.get("LOG_LEVEL") ?? "info").toLowerCase();
  const level = levelText === "warn" ? "warning" : levelText;
  if (!LEVELS.includes(level as LogLevel)) {
    throw new Error(
      `Cannot set up logging: "LOG_LEVEL" must be one of ${LEVELS.join(", ")}, got "${levelText}"`,
    );
  }
  const envFormat = Deno.env.get("LOG_FORMAT");
  const format = options.format ??
    (envFormat === "pretty" || (envFormat !== "json" && Deno.stdout.isTerminal())
      ? "pretty"
      : "json");
  const fmt = format === "pretty" ? formatPretty : formatJson;
  resetSync();
  configureSync({
    reset: true,
    sinks: { out: lineSink((r) => fmt(service, r), options.write) },
    loggers: [
      { category: [], lowestLevel: parseLogLevel(level), sinks: ["out"] },
      {
        category: ["logtape", "meta"],
        lowestLevel: "warning",
        sinks: ["out"],
        parentSinks: "override",
      },
    ],
  });
}
