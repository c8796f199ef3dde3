/**
 * compose's tracing and log pipeline, checked by configuration only: no Docker engine, Tempo,
 * Loki, Alloy or Grafana can run on these machines. Compose's resolved config (Debian's
 * docker-compose), Tempo's and Loki's files, Alloy's config (read by monitoring/alloy_syntax.ts)
 * and Grafana's datasources are parsed and cross-checked: every host and port one names exists
 * in the other, the services' tracing settings pass their own start-up check, the exemplar label
 * Prometheus links on is the one the services write, and the services' real log lines satisfy
 * Alloy's parsing stages and the Loki datasource's trace link.
 */
import assert from "node:assert/strict";
import { resetSync } from "@logtape/logtape";
import { parse } from "yaml";
import { getLogger, setupLogging } from "../lib/log.ts";
import { SERVICES } from "../lib/metrics.ts";
import { withContextManager } from "../lib/testing/context_manager.ts";
import { RecordingTracer } from "../lib/testing/recording_tracer.ts";
import { exemplarOf, ServiceTracer } from "../lib/tracing.ts";
import { TRACING_DEFAULTS, tracingSettings } from "../lib/tracing_config.ts";
import { allBlocks, type AlloyBlock, parseAlloy, referencesIn } from "./alloy_syntax.ts";

const path = (rel: string): string => decodeURIComponent(new URL(rel, import.meta.url).pathname);
const REPO = path("../");
const read = (rel: string) => Deno.readTextFileSync(REPO + rel);
const DATASOURCES = "monitoring/grafana/provisioning/datasources/";

// deno-lint-ignore no-explicit-any
type Yaml = any;

/** compose.yaml as Compose resolves it (anchors, merges, defaults), from Debian's docker-compose. */
async function resolvedCompose(): Promise<Yaml> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("docker-compose", {
      args: ["-f", `${REPO}compose.yaml`, "config"],
      cwd: REPO,
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(60_000),
    }).output();
  } catch (e) {
    throw new Error(`Cannot run docker-compose (apt-get install -y docker-compose): ${e}`);
  }
  const err = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, err);
  return parse(new TextDecoder().decode(out.stdout));
}

/** The environment of a compose service as a plain object (v1 may write it as a list). */
function envOf(service: Yaml): Record<string, string> {
  const env = service.environment ?? {};
  if (!Array.isArray(env)) {
    return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]));
  }
  return Object.fromEntries(
    env.map((kv: string) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
  );
}

/** Asserts that `url` names compose service `host` on `port`. */
function assertNames(url: string, host: string, port: number, what: string): void {
  const u = new URL(url);
  assert.equal(u.hostname, host, `${what}: ${url} should name the compose service ${host}`);
  assert.equal(Number(u.port), port, `${what}: ${url} should use ${host}'s port ${port}`);
}

/** The port of a `host:port` listen address. */
const portOf = (address: string) => Number(address.slice(address.lastIndexOf(":") + 1));

const datasources = () =>
  ["prometheus.yml", "tempo.yml", "loki.yml"].flatMap((f) =>
    parse(read(DATASOURCES + f)).datasources as Yaml[]
  );
const byUid = (uid: string) => datasources().find((d) => d.uid === uid);

/** Real log lines as a service writes them: one inside a span, one outside any. */
async function realLogLines(service: string): Promise<Record<string, unknown>[]> {
  const lines: string[] = [];
  setupLogging(service, { format: "json", write: (l) => lines.push(l) });
  try {
    await withContextManager(() => {
      const tracer = new ServiceTracer(service, new RecordingTracer());
      const scope = tracer.receive(`${service} receive`, {
        trace: "4bf92f3577b34da6a3ce929d0e0e4736",
        span: "00f067aa0ba902b7",
        flags: 1,
      });
      scope.run(() => getLogger(["trading", "test"]).warn("Order denied", { code: "X" }));
      getLogger(["trading", "test"]).info("Service started");
    });
  } finally {
    resetSync();
  }
  return lines.map((l) => JSON.parse(l));
}

Deno.test("compose runs Tempo, Loki, Alloy and Grafana, and Prometheus with exemplar storage", async () => {
  const compose = await resolvedCompose();
  for (const s of ["tempo", "loki", "alloy", "grafana", "prometheus"]) {
    assert.ok(compose.services[s], `compose.yaml has no service ${s}`);
  }
  assert.ok(
    compose.services.prometheus.command.includes("--enable-feature=exemplar-storage"),
    "Prometheus must store exemplars",
  );
  const grafanaDeps = Object.keys(compose.services.grafana.depends_on ?? {});
  for (const s of ["prometheus", "tempo", "loki"]) assert.ok(grafanaDeps.includes(s), s);
});

Deno.test("compose turns tracing on for each service, under its own name, with settings its start-up check accepts", async () => {
  const compose = await resolvedCompose();
  const tempo = parse(read("monitoring/tempo.yml"));
  const otlpPort = portOf(tempo.distributor.receivers.otlp.protocols.http.endpoint);
  for (const name of SERVICES) {
    const env = envOf(compose.services[name]);
    assert.equal(env.OTEL_SERVICE_NAME, name, `${name}'s OTEL_SERVICE_NAME`);
    const settings = tracingSettings(env);
    assert.equal(settings.enabled, true, `${name}: tracing on`);
    assert.equal(settings.sampler, "parentbased_traceidratio");
    assertNames(env.OTEL_EXPORTER_OTLP_ENDPOINT, "tempo", otlpPort, `${name}'s collector`);
    // The same defaults `deno task start` gives, the export batch among them (the pipeline
    // bench's tracing cost rests on it).
    for (const [k, v] of Object.entries(TRACING_DEFAULTS)) {
      assert.equal(env[k], v, `${name}'s ${k}`);
    }
  }
  assert.ok(
    (compose.services.tempo.ports ?? []).some((p: Yaml) =>
      String(p.target ?? p).endsWith(String(otlpPort))
    ),
    "Tempo's OTLP port is published for services run outside compose",
  );
});

Deno.test("compose mounts the files Tempo, Loki and Alloy are configured with, and their data where the files say", async () => {
  const compose = await resolvedCompose();
  const mounts = (s: string) =>
    (compose.services[s].volumes as Yaml[]).map((v) =>
      typeof v === "string"
        ? { source: v.split(":")[0], target: v.split(":")[1] }
        : { source: String(v.source), target: String(v.target) }
    );
  const command = (s: string) => [compose.services[s].command].flat().join(" ");
  const mountedFile = (s: string, repoFile: string) => {
    const m = mounts(s).find((v) =>
      v.source === `${REPO}${repoFile}` || v.source.endsWith(`/${repoFile}`)
    );
    assert.ok(m, `${s} mounts ${repoFile}`);
    return m.target;
  };
  assert.match(
    command("tempo"),
    new RegExp(`-config\\.file=${mountedFile("tempo", "monitoring/tempo.yml")}`),
  );
  assert.match(
    command("loki"),
    new RegExp(`-config\\.file=${mountedFile("loki", "monitoring/loki.yml")}`),
  );
  assert.match(command("alloy"), new RegExp(mountedFile("alloy", "monitoring/alloy/config.alloy")));
  const dataOf = (s: string, volume: string) => {
    const m = mounts(s).find((v) => v.source === volume);
    assert.ok(m, `${s} mounts the ${volume} volume`);
    return m.target;
  };
  const tempo = parse(read("monitoring/tempo.yml"));
  for (const p of [tempo.storage.trace.wal.path, tempo.storage.trace.local.path]) {
    assert.ok(p.startsWith(dataOf("tempo", "tempo-data") + "/"), `Tempo keeps ${p} on its volume`);
  }
  const loki = parse(read("monitoring/loki.yml"));
  assert.ok(loki.common.path_prefix.startsWith(dataOf("loki", "loki-data")));
  assert.match(command("alloy"), new RegExp(`--storage\\.path=${dataOf("alloy", "alloy-data")}`));
});

Deno.test("every Grafana datasource names a compose service on the port its config listens on, and every link a datasource that exists", async () => {
  const compose = await resolvedCompose();
  const all = datasources();
  assert.deepEqual(all.map((d) => d.uid).sort(), ["loki", "prometheus", "tempo"]);
  const tempo = parse(read("monitoring/tempo.yml"));
  const loki = parse(read("monitoring/loki.yml"));
  assertNames(byUid("tempo").url, "tempo", tempo.server.http_listen_port, "Tempo datasource");
  assertNames(byUid("loki").url, "loki", loki.server.http_listen_port, "Loki datasource");
  // Prometheus listens on its default 9090 inside its container (compose publishes 9999).
  assertNames(byUid("prometheus").url, "prometheus", 9090, "Prometheus datasource");
  assert.ok(
    compose.services.prometheus.ports.some((p: Yaml) => String(p.target ?? p).includes("9090")),
  );
  const links = JSON.stringify(all).matchAll(/"datasourceUid":"([^"]+)"/g);
  for (const [, uid] of links) {
    assert.ok(byUid(uid), `a link names datasource ${uid}, which is not provisioned`);
  }
});

Deno.test("a Prometheus exemplar links to Tempo by the label the services write", () => {
  const destinations = byUid("prometheus").jsonData.exemplarTraceIdDestinations as Yaml[];
  const label = Object.keys(
    exemplarOf({
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      spanId: "00f067aa0ba902b7",
      traceFlags: 1,
    })!,
  )[0];
  assert.deepEqual(destinations.map((d) => [d.name, d.datasourceUid]), [[label, "tempo"]]);
  assert.equal(label, "trace_id");
});

Deno.test("a log line links to its trace: the Loki datasource's derived field finds the trace_id of a real log line, and nothing in a line outside a span", async () => {
  const [inSpan, outside] = await realLogLines("risk-manager");
  const field = (byUid("loki").jsonData.derivedFields as Yaml[])[0];
  assert.equal(field.datasourceUid, "tempo");
  assert.equal(field.matcherType, "regex");
  // Grafana expands $VAR in provisioning files; $$ is a literal $. A single one would be lost.
  assert.doesNotMatch(field.url.replaceAll("$$", ""), /\$/, "every $ written as $$");
  assert.equal(field.url.replaceAll("$$", "$"), "${__value.raw}", "the link is the matched id");
  // The regex is RE2 in Grafana; this one uses nothing JavaScript reads differently.
  assert.doesNotMatch(field.matcherRegex, /\(\?[<!=]|\\[pPk]/);
  const re = new RegExp(field.matcherRegex);
  assert.equal(re.exec(JSON.stringify(inSpan))?.[1], "4bf92f3577b34da6a3ce929d0e0e4736");
  assert.equal(re.exec(JSON.stringify(outside)), null);
});

Deno.test("a trace links to its log lines: Tempo's service.name is the Loki label Alloy sets from the line's service field", async () => {
  const t2l = byUid("tempo").jsonData.tracesToLogsV2;
  assert.equal(t2l.datasourceUid, "loki");
  assert.equal(t2l.filterByTraceID, true);
  assert.deepEqual(t2l.tags, [{ key: "service.name", value: "service" }]);
  const alloy = allBlocks(parseAlloy(read("monitoring/alloy/config.alloy")));
  const labels = alloy.find((b) => b.name === "stage.labels")!.attributes.values as Record<
    string,
    string
  >;
  assert.ok("service" in labels, "Alloy labels lines by service");
  const extracted = alloy.find((b) => b.name === "stage.json")!.attributes.expressions as Record<
    string,
    string
  >;
  const source = labels.service === "" ? "service" : labels.service;
  assert.ok(source in extracted, "the service label comes from an extracted field");
  // The service field of a line is the service's name, which is its OTEL_SERVICE_NAME in compose.
  for (const name of SERVICES) {
    const [line] = await realLogLines(name);
    assert.equal(line[extracted[source]], name);
  }
});

Deno.test("Alloy's config reads, every reference names a component it declares, and its stages fit the services' real log lines", async () => {
  const top = parseAlloy(read("monitoring/alloy/config.alloy"));
  const declared = new Set(top.map((b) => `${b.name}.${b.label}`));
  const refs = allBlocks(top).flatMap((b) => Object.values(b.attributes).flatMap(referencesIn));
  assert.ok(refs.length >= 4, refs.join(", "));
  for (const ref of refs) {
    const component = ref.slice(0, ref.lastIndexOf("."));
    assert.ok(declared.has(component), `${ref}: no component ${component}`);
  }
  const blocks = allBlocks(top);
  const one = (name: string): AlloyBlock => {
    const found = blocks.filter((b) => b.name === name);
    assert.equal(found.length, 1, `one ${name} block`);
    return found[0];
  };
  // The lines: JSON objects with the fields stage.json extracts; ts as RFC 3339.
  const [inSpan, outside] = await realLogLines("execution-engine");
  const expressions = one("stage.json").attributes.expressions as Record<string, string>;
  for (const [name, key] of Object.entries(expressions)) {
    const k = key === "" ? name : key;
    assert.ok(k in inSpan && k in outside, `stage.json extracts ${k}, which every line has`);
  }
  const ts = one("stage.timestamp").attributes;
  assert.ok(ts.source as string in expressions, "the timestamp comes from an extracted field");
  assert.equal(ts.format, "RFC3339Nano");
  assert.match(
    String(inSpan[expressions[ts.source as string]]),
    /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/,
  );
  const labels = one("stage.labels").attributes.values as Record<string, string>;
  for (const [label, from] of Object.entries(labels)) {
    assert.ok(
      (from === "" ? label : from) in expressions,
      `label ${label} comes from an extracted field`,
    );
  }
  assert.ok(!("trace_id" in labels), "trace_id is unbounded: never a Loki label");
  // The keep rule selects exactly the four services' containers (relabel regexes are anchored).
  const keep = one("discovery.relabel").blocks.find((b) => b.attributes.action === "keep")!;
  const re = new RegExp(`^(?:${keep.attributes.regex})$`);
  const compose = await resolvedCompose();
  for (const s of Object.keys(compose.services)) {
    assert.equal(re.test(s), (SERVICES as readonly string[]).includes(s), `keep ${s}?`);
  }
});

Deno.test("Alloy reads Docker through the socket compose mounts and pushes to Loki's port", async () => {
  const compose = await resolvedCompose();
  const blocks = allBlocks(parseAlloy(read("monitoring/alloy/config.alloy")));
  const socket = "/var/run/docker.sock";
  for (
    const b of blocks.filter((b) =>
      b.name === "discovery.docker" || b.name === "loki.source.docker"
    )
  ) {
    assert.equal(b.attributes.host, `unix://${socket}`, b.name);
  }
  const volumes = (compose.services.alloy.volumes as Yaml[]).map((v) =>
    typeof v === "string" ? v : `${v.source}:${v.target}:${v.read_only ? "ro" : "rw"}`
  );
  assert.ok(volumes.some((v) => v === `${socket}:${socket}:ro`), volumes.join(", "));
  const endpoint = blocks.find((b) => b.name === "loki.write")!.blocks.find((b) =>
    b.name === "endpoint"
  )!;
  const loki = parse(read("monitoring/loki.yml"));
  assertNames(
    endpoint.attributes.url as string,
    "loki",
    loki.server.http_listen_port,
    "Alloy's Loki",
  );
  assert.equal(new URL(endpoint.attributes.url as string).pathname, "/loki/api/v1/push");
});

Deno.test("the Alloy reader refuses what it cannot read rather than passing it unread", () => {
  assert.throws(() => parseAlloy('a "x" { b = env("X") }'), /line 1/);
  assert.throws(() => parseAlloy('a "x" { b = "unterminated }'), /unterminated/);
  assert.throws(() => parseAlloy("b = 1"), /outside any block/);
  assert.throws(() => parseAlloy('a "x" {\n b = 1\n b = 2\n}'), /set twice/);
  assert.deepEqual(
    parseAlloy('a.b "x" { /* c */ l = [1, "s", true, null, {k = v.w}] }')[0].attributes,
    {
      l: [1, "s", true, null, { k: { ref: "v.w" } }],
    },
  );
});
