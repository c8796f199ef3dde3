import assert from "node:assert/strict";
import { ConfigError } from "./config.ts";
import {
  DEFAULT_EXPORT_BATCH,
  DEFAULT_SPAN_QUEUE,
  serviceTracingEnv,
  TRACING_DEFAULTS,
  tracingSettings,
} from "./tracing_config.ts";
import { freePort, Proc } from "./testing/tools.ts";

const ON = {
  OTEL_DENO: "true",
  OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
  OTEL_TRACES_SAMPLER_ARG: "0.01",
};

/** Asserts that `env` stops start-up with a ConfigError naming `variable`. */
function refuses(env: Record<string, string>, variable: string): void {
  assert.throws(
    () => tracingSettings(env),
    (e: unknown) => e instanceof ConfigError && e.message.includes(`"${variable}"`),
    `${JSON.stringify(env)} should be refused for ${variable}`,
  );
}

Deno.test("tracing is off without OTEL_DENO, and off when the SDK or Deno's tracing is disabled", () => {
  assert.deepEqual(tracingSettings({}), { enabled: false });
  assert.deepEqual(tracingSettings({ OTEL_DENO: "false", OTEL_TRACES_SAMPLER: "x" }), {
    enabled: false,
  });
  assert.equal(tracingSettings({ ...ON, OTEL_SDK_DISABLED: "true" }).enabled, false);
  assert.equal(tracingSettings({ ...ON, OTEL_DENO_TRACING: "false" }).enabled, false);
});

Deno.test("with tracing on, the settings name the sampler, the head ratio and where spans go", () => {
  assert.deepEqual(tracingSettings({ ...ON, OTEL_SERVICE_NAME: "risk-manager" }), {
    enabled: true,
    sampler: "parentbased_traceidratio",
    ratio: 0.01,
    endpoint: "http://localhost:4318/v1/traces",
    serviceName: "risk-manager",
  });
  const at = { ...ON, OTEL_EXPORTER_OTLP_ENDPOINT: "http://tempo:4318/" };
  assert.equal(tracingSettings(at).endpoint, "http://tempo:4318/v1/traces");
  const traces = { ...at, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "https://c.example/otlp/traces" };
  assert.equal(tracingSettings(traces).endpoint, "https://c.example/otlp/traces");
  const always = { OTEL_DENO: "true", OTEL_TRACES_SAMPLER: "parentbased_always_on" };
  assert.equal(tracingSettings(always).ratio, 1);
});

Deno.test("an OTEL_DENO other than true or false stops start-up instead of silently tracing nothing", () => {
  refuses({ OTEL_DENO: "1" }, "OTEL_DENO");
  refuses({ OTEL_DENO: "TRUE" }, "OTEL_DENO");
  refuses({ OTEL_DENO: "" }, "OTEL_DENO");
});

Deno.test("with tracing on, a sampler that is not parent-based (or none: Deno's always_on) is refused", () => {
  refuses({ OTEL_DENO: "true" }, "OTEL_TRACES_SAMPLER");
  for (const s of ["always_on", "always_off", "traceidratio", "parentbased_bogus"]) {
    refuses({ ...ON, OTEL_TRACES_SAMPLER: s }, "OTEL_TRACES_SAMPLER");
  }
});

Deno.test("the head ratio must be a number from 0 to 1", () => {
  for (const arg of ["", " ", "-0.1", "1.5", "abc", "NaN", "1%"]) {
    refuses({ ...ON, OTEL_TRACES_SAMPLER_ARG: arg }, "OTEL_TRACES_SAMPLER_ARG");
  }
  const { OTEL_TRACES_SAMPLER_ARG: _, ...noArg } = ON;
  refuses(noArg, "OTEL_TRACES_SAMPLER_ARG");
  assert.equal(tracingSettings({ ...ON, OTEL_TRACES_SAMPLER_ARG: "0" }).ratio, 0);
  assert.equal(tracingSettings({ ...ON, OTEL_TRACES_SAMPLER_ARG: "1" }).ratio, 1);
});

Deno.test("malformed exporter settings are refused, each naming its variable", () => {
  refuses({ ...ON, OTEL_EXPORTER_OTLP_ENDPOINT: "tempo:4318" }, "OTEL_EXPORTER_OTLP_ENDPOINT");
  refuses({ ...ON, OTEL_EXPORTER_OTLP_ENDPOINT: "ftp://x" }, "OTEL_EXPORTER_OTLP_ENDPOINT");
  refuses(
    { ...ON, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "::" },
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
  );
  refuses({ ...ON, OTEL_EXPORTER_OTLP_PROTOCOL: "http" }, "OTEL_EXPORTER_OTLP_PROTOCOL");
  refuses({ ...ON, OTEL_EXPORTER_OTLP_TIMEOUT: "2s" }, "OTEL_EXPORTER_OTLP_TIMEOUT");
  refuses({ ...ON, OTEL_EXPORTER_OTLP_TIMEOUT: "0" }, "OTEL_EXPORTER_OTLP_TIMEOUT");
  refuses({ ...ON, OTEL_BSP_SCHEDULE_DELAY: "-5" }, "OTEL_BSP_SCHEDULE_DELAY");
  refuses({ ...ON, OTEL_BSP_MAX_QUEUE_SIZE: "lots" }, "OTEL_BSP_MAX_QUEUE_SIZE");
  refuses({ ...ON, OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "0" }, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE");
  refuses({ ...ON, OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "4k" }, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE");
  // A batch longer than the queue it is taken from, set or the spec's 2048.
  refuses(
    { ...ON, OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "5000", OTEL_BSP_MAX_QUEUE_SIZE: "4999" },
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
  );
  refuses({ ...ON, OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "2049" }, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE");
  assert.equal(tracingSettings({ ...ON, OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "2048" }).enabled, true);
  refuses({ ...ON, OTEL_DENO_CONSOLE: "drop" }, "OTEL_DENO_CONSOLE");
  refuses({ ...ON, OTEL_DENO_METRICS: "no" }, "OTEL_DENO_METRICS");
});

Deno.test("deno task start names each service and leaves tracing off when no collector is configured", () => {
  assert.deepEqual(serviceTracingEnv("risk-manager", {}), { OTEL_SERVICE_NAME: "risk-manager" });
  assert.deepEqual(
    serviceTracingEnv("risk-manager", { OTEL_SERVICE_NAME: "everything" }),
    { OTEL_SERVICE_NAME: "risk-manager" },
    "one name per service, whatever the parent's",
  );
  const off = serviceTracingEnv("market-data", {
    OTEL_DENO: "false",
    OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318",
  });
  assert.deepEqual(off, { OTEL_SERVICE_NAME: "market-data" }, "OTEL_DENO=false wins");
});

Deno.test("deno task start turns tracing on with the defaults when a collector is configured", () => {
  const env = serviceTracingEnv("signal-bridge", {
    OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318",
  });
  assert.deepEqual(env, {
    OTEL_SERVICE_NAME: "signal-bridge",
    OTEL_DENO: "true",
    ...TRACING_DEFAULTS,
  });
  // The defaults pass the start-up check.
  assert.equal(
    tracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", ...env }).enabled,
    true,
  );
  const traces = serviceTracingEnv("x", {
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://c/v1/traces",
  });
  assert.equal(traces.OTEL_DENO, "true");
});

Deno.test("deno task start keeps every OTEL_ setting the operator gave and fills only the rest", () => {
  const env = serviceTracingEnv("execution-engine", {
    OTEL_DENO: "true",
    OTEL_TRACES_SAMPLER: "parentbased_always_on",
    OTEL_RESOURCE_ATTRIBUTES: "deployment.environment=paper",
    OTEL_EXPORTER_OTLP_TIMEOUT: "500",
  });
  assert.equal(env.OTEL_TRACES_SAMPLER, undefined, "the operator's sampler is inherited, not set");
  assert.equal(env.OTEL_TRACES_SAMPLER_ARG, undefined, "no ratio for another sampler");
  assert.equal(env.OTEL_RESOURCE_ATTRIBUTES, undefined);
  assert.equal(env.OTEL_EXPORTER_OTLP_TIMEOUT, undefined);
  assert.equal(env.OTEL_DENO_CONSOLE, "ignore");
  assert.equal(env.OTEL_DENO, "true");
});

Deno.test("a service started with tracing on and no sampler exits with code 2, naming the variable", async () => {
  const p = new Proc("services/signal-bridge/main.ts", [], {
    TRADING__SIGNAL_BRIDGE__HTTP__PORT: String(freePort()),
    TRADING__SIGNAL_BRIDGE__PUBLISH: `bind:tcp://127.0.0.1:${freePort()}`,
    OTEL_DENO: "true",
    // Nowhere to send spans: a refused connection, never a stranger's collector.
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${freePort()}`,
  });
  const timer = setTimeout(() => p.stop(1000), 30_000);
  const status = await p.done;
  clearTimeout(timer);
  assert.equal(status.code, 2, p.stderr);
  assert.match(p.stderr, /"OTEL_TRACES_SAMPLER"/);
});

Deno.test("deno task start exports up to 4096 spans at a time, fitting the batch and the queue to the operator's", () => {
  const on = { OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318" };
  const env = serviceTracingEnv("risk-manager", on);
  assert.equal(env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE, String(DEFAULT_EXPORT_BATCH));
  assert.equal(DEFAULT_EXPORT_BATCH, 4096);
  assert.equal(env.OTEL_BSP_MAX_QUEUE_SIZE, String(DEFAULT_SPAN_QUEUE));
  const cases: [Record<string, string>, string | undefined, string | undefined][] = [
    // [the operator's, the batch added, the queue added]
    [{ OTEL_BSP_MAX_QUEUE_SIZE: "1000" }, "1000", undefined],
    [{ OTEL_BSP_MAX_QUEUE_SIZE: "100000" }, "4096", undefined],
    [{ OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "100" }, undefined, String(DEFAULT_SPAN_QUEUE)],
    [{ OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "50000" }, undefined, "50000"],
    [{ OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "10", OTEL_BSP_MAX_QUEUE_SIZE: "20" }, undefined, undefined],
  ];
  for (const [given, batch, queue] of cases) {
    const out = serviceTracingEnv("risk-manager", { ...on, ...given });
    const label = JSON.stringify(given);
    assert.equal(out.OTEL_BSP_MAX_EXPORT_BATCH_SIZE, batch, `${label}: batch`);
    assert.equal(out.OTEL_BSP_MAX_QUEUE_SIZE, queue, `${label}: queue`);
    // What the service then sees passes its start-up check.
    assert.equal(tracingSettings({ ...on, ...given, ...out }).enabled, true, label);
  }
  // The operator's invalid size is left for the start-up check to name.
  const bad = serviceTracingEnv("risk-manager", { ...on, OTEL_BSP_MAX_QUEUE_SIZE: "lots" });
  assert.throws(
    () => tracingSettings({ ...on, OTEL_BSP_MAX_QUEUE_SIZE: "lots", ...bad }),
    /OTEL_BSP_MAX_QUEUE_SIZE/,
  );
});
