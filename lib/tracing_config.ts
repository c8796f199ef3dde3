/**
 * The `OTEL_*` settings of tracing: which ones a service honours, the check that stops a
 * service at start-up when one is wrong (exit 2, naming the variable), and the environment
 * `deno task start` gives each service.
 *
 * Deno's built-in OpenTelemetry reads these variables itself, once, when the process starts, so
 * nothing here can change them for the running process: this module only checks them, and
 * {@link serviceTracingEnv} sets them for a child before it starts.
 *
 * Tracing is on when `OTEL_DENO=true` (and neither `OTEL_SDK_DISABLED=true` nor
 * `OTEL_DENO_TRACING=false`). `deno task start` (and so `deno task stack`) turns it on for the
 * services when a collector is configured (`OTEL_EXPORTER_OTLP_ENDPOINT` or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) and `OTEL_DENO` is unset, with the defaults of
 * {@link TRACING_DEFAULTS}.
 *
 * @example
 * ```ts
 * const settings = tracingSettings(Deno.env.toObject()); // throws ConfigError when invalid
 * if (settings.enabled) log.info("Tracing on", { ...settings });
 * ```
 * @module
 */
import type { EnvSpec } from "./cli.ts";
import { ConfigError } from "./config.ts";

/** The samplers that keep an order's trace: parent-based, so a forced-sampled context wins. */
export const PARENT_BASED_SAMPLERS = [
  "parentbased_traceidratio",
  "parentbased_always_on",
  "parentbased_always_off",
] as const;

/** The OTLP protocols Deno's exporter speaks. */
export const OTLP_PROTOCOLS = ["http/protobuf", "http/json", "grpc", "console"] as const;

/**
 * The spans one OTLP export carries at most by default ({@link TRACING_DEFAULTS}), against the
 * spec's 512: with 512, risk-manager and execution-engine at the stress rate (1k ticks/s, ~60
 * orders/s, ~600 spans/s each) exported about once a second each, and every export cost the
 * pipeline latency beyond its size; with 4096 each exports once per `OTEL_BSP_SCHEDULE_DELAY`
 * (5 s) and tick-to-trade p50 paid about half as much for tracing (README, "Tracing's cost").
 */
export const DEFAULT_EXPORT_BATCH = 4096;

/** The span queue's default length: four exports' worth, so a slow collector drops nothing soon. */
export const DEFAULT_SPAN_QUEUE = 4 * DEFAULT_EXPORT_BATCH;

/** The span queue's length when `OTEL_BSP_MAX_QUEUE_SIZE` is unset (the spec's, and Deno's). */
const SPEC_SPAN_QUEUE = 2048;

/** Digits only: what a count or a duration in ms may be written as. */
const DIGITS = /^[0-9]+$/;

/**
 * What `deno task start` sets for a service when it turns tracing on and the variable is unset:
 * traces only (Deno's own metrics and console capture off: the services have Prometheus and JSON
 * logs), a head ratio of 1%, an export timeout short enough that a dead collector cannot hold
 * up a shut-down for long, and exports of up to {@link DEFAULT_EXPORT_BATCH} spans.
 */
export const TRACING_DEFAULTS: Readonly<Record<string, string>> = {
  OTEL_DENO_METRICS: "false",
  OTEL_DENO_CONSOLE: "ignore",
  OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
  OTEL_TRACES_SAMPLER_ARG: "0.01",
  OTEL_EXPORTER_OTLP_TIMEOUT: "2000",
  OTEL_RESOURCE_ATTRIBUTES: "service.namespace=trading",
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE: String(DEFAULT_EXPORT_BATCH),
  OTEL_BSP_MAX_QUEUE_SIZE: String(DEFAULT_SPAN_QUEUE),
};

/** The `OTEL_*` variables a service honours, for `--help` and the README. */
export const TRACING_ENV: readonly EnvSpec[] = [
  { name: "OTEL_DENO", help: "true turns tracing on (Deno's built-in OpenTelemetry); default off" },
  {
    name: "OTEL_EXPORTER_OTLP_ENDPOINT",
    help: "the collector (OTLP/HTTP), default http://localhost:4318; `deno task start` turns " +
      "tracing on when it is set",
  },
  {
    name: "OTEL_TRACES_SAMPLER",
    help: `with tracing on, one of ${PARENT_BASED_SAMPLERS.join(", ")}`,
  },
  { name: "OTEL_TRACES_SAMPLER_ARG", help: "the head ratio 0-1 of parentbased_traceidratio" },
  {
    name: "OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_*, OTEL_BSP_*",
    help: "as the OpenTelemetry spec says (Deno reads them)",
  },
];

/** What {@link tracingSettings} found. */
export interface TracingSettings {
  /** Whether Deno records and exports spans. */
  readonly enabled: boolean;
  /** The sampler, with tracing on. */
  readonly sampler?: (typeof PARENT_BASED_SAMPLERS)[number];
  /** The head ratio (0-1) of `parentbased_traceidratio`; 1 for always_on, 0 for always_off. */
  readonly ratio?: number;
  /** Where spans go: the traces endpoint, as the exporter will build it. */
  readonly endpoint?: string;
  /** `OTEL_SERVICE_NAME`, if set. */
  readonly serviceName?: string;
}

type Env = Readonly<Record<string, string | undefined>>;

function fail(name: string, must: string, got: string | undefined): never {
  throw new ConfigError(
    `Cannot start tracing: "${name}" must be ${must}, got ${
      got === undefined ? "nothing" : JSON.stringify(got)
    }`,
  );
}

function bool(env: Env, name: string): boolean | undefined {
  const v = env[name];
  if (v === undefined) return undefined;
  if (v === "true") return true;
  if (v === "false") return false;
  // Deno only warns and leaves tracing off: a typo would silently lose every trace.
  return fail(name, '"true" or "false"', v);
}

function positiveInteger(env: Env, name: string): void {
  const v = env[name];
  if (v === undefined) return;
  if (!DIGITS.test(v) || Number(v) <= 0) fail(name, "a positive integer", v);
}

function url(env: Env, name: string): string | undefined {
  const v = env[name];
  if (v === undefined) return undefined;
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return fail(name, "an http:// or https:// URL", v);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    fail(name, "an http:// or https:// URL", v);
  }
  return v;
}

/**
 * Reads and checks the tracing settings of `env`. With tracing off only `OTEL_DENO` itself is
 * checked; with it on, the sampler must be parent-based (else an order's forced context would
 * not be kept, or the default `always_on` would trace every tick) and every `OTEL_*` value the
 * exporter reads must be well formed.
 *
 * @throws {ConfigError} Naming the variable and what it must be.
 */
export function tracingSettings(env: Env): TracingSettings {
  const deno = bool(env, "OTEL_DENO") ?? false;
  const disabled = env.OTEL_SDK_DISABLED === "true" || env.OTEL_DENO_TRACING === "false";
  if (!deno || disabled) return { enabled: false };
  const sampler = env.OTEL_TRACES_SAMPLER;
  if (!(PARENT_BASED_SAMPLERS as readonly string[]).includes(sampler ?? "")) {
    fail(
      "OTEL_TRACES_SAMPLER",
      `one of ${PARENT_BASED_SAMPLERS.join(", ")} (parent-based, so an order's trace is kept)`,
      sampler,
    );
  }
  let ratio = sampler === "parentbased_always_on" ? 1 : 0;
  if (sampler === "parentbased_traceidratio") {
    const arg = env.OTEL_TRACES_SAMPLER_ARG;
    const n = arg === undefined || arg.trim() === "" ? NaN : Number(arg);
    if (!(n >= 0 && n <= 1)) {
      fail("OTEL_TRACES_SAMPLER_ARG", "the head ratio, a number from 0 to 1 (e.g. 0.01)", arg);
    }
    ratio = n;
  }
  const protocol = env.OTEL_EXPORTER_OTLP_PROTOCOL;
  if (protocol !== undefined && !(OTLP_PROTOCOLS as readonly string[]).includes(protocol)) {
    fail("OTEL_EXPORTER_OTLP_PROTOCOL", `one of ${OTLP_PROTOCOLS.join(", ")}`, protocol);
  }
  const consoleMode = env.OTEL_DENO_CONSOLE;
  if (consoleMode !== undefined && !["capture", "ignore", "replace"].includes(consoleMode)) {
    fail("OTEL_DENO_CONSOLE", "capture, ignore or replace", consoleMode);
  }
  bool(env, "OTEL_DENO_METRICS");
  for (const n of ["OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"]) {
    positiveInteger(env, n);
  }
  for (
    const n of [
      "OTEL_BSP_SCHEDULE_DELAY",
      "OTEL_BSP_MAX_QUEUE_SIZE",
      "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    ]
  ) positiveInteger(env, n);
  const batch = env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE;
  const queue = Number(env.OTEL_BSP_MAX_QUEUE_SIZE ?? SPEC_SPAN_QUEUE);
  if (batch !== undefined && Number(batch) > queue) {
    fail(
      "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
      `at most OTEL_BSP_MAX_QUEUE_SIZE (${queue}): an export cannot hold more than the queue`,
      batch,
    );
  }
  const traces = url(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  const base = url(env, "OTEL_EXPORTER_OTLP_ENDPOINT");
  const endpoint = traces ??
    `${(base ?? "http://localhost:4318").replace(/\/+$/, "")}/v1/traces`;
  return {
    enabled: true,
    sampler: sampler as TracingSettings["sampler"],
    ratio,
    endpoint,
    serviceName: env.OTEL_SERVICE_NAME,
  };
}

/**
 * The environment `deno task start` adds for `service`'s process: `OTEL_SERVICE_NAME` always
 * (one name per service, whatever the parent's), and, when a collector is configured and
 * `OTEL_DENO` is unset, `OTEL_DENO=true` with each {@link TRACING_DEFAULTS} the parent does not
 * set. With `OTEL_DENO=true` set by hand, the defaults fill what it leaves unset; with
 * `OTEL_DENO=false`, tracing stays off.
 */
export function serviceTracingEnv(service: string, env: Env): Record<string, string> {
  const out: Record<string, string> = { OTEL_SERVICE_NAME: service };
  const collector = env.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined ||
    env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT !== undefined;
  const on = env.OTEL_DENO === "true" || (env.OTEL_DENO === undefined && collector);
  if (!on) return out;
  out.OTEL_DENO = "true";
  for (const [k, v] of Object.entries(TRACING_DEFAULTS)) {
    if (env[k] === undefined) out[k] = v;
  }
  // The ratio default belongs to the default sampler only.
  if (env.OTEL_TRACES_SAMPLER !== undefined) delete out.OTEL_TRACES_SAMPLER_ARG;
  // The operator's queue or batch size alone: the other default is fitted to it (a batch no
  // longer than the queue; a queue that holds the batch), never one the start-up check refuses.
  const queue = env.OTEL_BSP_MAX_QUEUE_SIZE;
  const batch = env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE;
  if (queue !== undefined && batch === undefined && DIGITS.test(queue)) {
    out.OTEL_BSP_MAX_EXPORT_BATCH_SIZE = String(
      Math.max(1, Math.min(DEFAULT_EXPORT_BATCH, Number(queue))),
    );
  }
  if (batch !== undefined && queue === undefined && DIGITS.test(batch)) {
    out.OTEL_BSP_MAX_QUEUE_SIZE = String(Math.max(DEFAULT_SPAN_QUEUE, Number(batch)));
  }
  return out;
}
