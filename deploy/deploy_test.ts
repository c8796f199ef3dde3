/**
 * deploy/ rendered as `kubectl apply -k deploy/build` would see it (kubectl's built-in
 * kustomize), every manifest checked against the Kubernetes and Prometheus Operator
 * schemas, and what the schemas cannot know checked against the repository: the
 * config's endpoints and ports, the channel catalogue's edges, the key files lib/keys.ts
 * reads, and the alert rules with their promtool unit tests. No cluster runs here.
 */
import assert from "node:assert/strict";
import { parse as parseYaml } from "yaml";
import { parseConfig } from "../lib/config.ts";
import { KeyStore } from "../lib/keys.ts";
import { IDENTITIES } from "../lib/messaging_context.ts";
import { type ServiceName, SERVICES } from "../lib/metrics.ts";
import { promtool, removeDir } from "../lib/testing/tools.ts";
import {
  ADMIN_SECRET,
  ALPACA_SECRET,
  clusterConfig,
  CONFIG_DIR,
  CURVE_PUBLIC_SECRET,
  curveSecretName,
  DATA_DIR,
  KEYS_DIR,
  prometheusRule,
  secretManifests,
  SOURCES,
  writeBuild,
} from "./cluster.ts";
import { bindings, type RawConfig, SECTION } from "./hosts.ts";
import { configMapHash, renderKustomization } from "./kustomize.ts";
import {
  hasKubectl,
  kustomize,
  type Manifest,
  parseManifests,
  validateManifest,
} from "./validate.ts";

// Rendered by kubectl's kustomize where it is installed (the machine image ships it;
// Debian's is too old), else by deploy/kustomize.ts, which is checked against it below.
const kubectl = await hasKubectl();
const render = (dir: string) => kubectl ? kustomize(dir) : renderKustomization(dir);
const buildDir = `${Deno.makeTempDirSync({ prefix: "deploy-build-" })}/build`;
writeBuild(buildDir);
const docs = await render(buildDir);
const ownDocs = await renderKustomization(buildDir);
await removeDir(buildDir.replace(/\/build$/, ""));

const source = JSON.parse(Deno.readTextFileSync(SOURCES.config)) as RawConfig;
const find = (kind: string, name: string): Manifest => {
  const doc = docs.find((d) => d.kind === kind && d.metadata.name === name);
  assert.ok(doc, `${kind} ${name} is rendered`);
  return doc;
};
const workload = (s: ServiceName) =>
  docs.find((d) => ["Deployment", "StatefulSet"].includes(d.kind) && d.metadata.name === s)!;
const podSpec = (s: ServiceName) => workload(s).spec.template.spec;
const container = (s: ServiceName) => podSpec(s).containers.find((c: Manifest) => c.name === s);
const configMap = docs.find((d) => d.kind === "ConfigMap")!;
const deployed = JSON.parse(configMap.data["system.json"]) as RawConfig;

Deno.test("every rendered manifest passes the Kubernetes and Prometheus Operator schemas", () => {
  const kinds = docs.map((d) => `${d.kind}/${d.metadata.name}`).sort();
  assert.deepEqual(kinds, [
    `ConfigMap/${configMap.metadata.name}`,
    "Deployment/market-data",
    "Deployment/signal-bridge",
    "Namespace/trading",
    "NetworkPolicy/default-deny",
    "NetworkPolicy/dns",
    "NetworkPolicy/execution-engine",
    "NetworkPolicy/market-data",
    "NetworkPolicy/risk-manager",
    "NetworkPolicy/signal-bridge",
    "PrometheusRule/trading-system",
    "Service/execution-engine",
    "Service/market-data",
    "Service/risk-manager",
    "Service/signal-bridge",
    "ServiceMonitor/trading-system",
    "StatefulSet/execution-engine",
    "StatefulSet/risk-manager",
  ]);
  assert.deepEqual(docs.flatMap(validateManifest), []);
  for (const d of docs.filter((d) => d.kind !== "Namespace")) {
    assert.equal(d.metadata.namespace, "trading", `${d.kind} ${d.metadata.name} namespace`);
  }
});

Deno.test("the schema check refuses what breaks a schema, and a kind it has no schema for", () => {
  const sts = structuredClone(workload("risk-manager"));
  sts.spec.template.spec.containers[0].ports[0].containerPort = "9092";
  assert.match(validateManifest(sts).join(), /containerPort must be integer/);
  const noSelector = structuredClone(workload("market-data"));
  delete noSelector.spec.selector;
  assert.match(validateManifest(noSelector).join(), /selector/);
  const policy = structuredClone(find("NetworkPolicy", "risk-manager"));
  policy.spec.policyTypes = ["Sideways"];
  assert.notDeepEqual(validateManifest(policy), []);
  const rule = structuredClone(find("PrometheusRule", "trading-system"));
  rule.spec.groups[0].rules[0].expr = { not: "a string" };
  assert.notDeepEqual(validateManifest(rule), []);
  assert.match(
    validateManifest({ apiVersion: "v1", kind: "Pod", metadata: { name: "x" } }).join(),
    /no schema/,
  );
});

Deno.test("risk-manager and execution-engine are StatefulSets of one replica with SQLite on a persistent volume", () => {
  for (const s of ["risk-manager", "execution-engine"] as const) {
    const sts = find("StatefulSet", s);
    assert.equal(sts.spec.replicas, 1);
    assert.equal(sts.spec.serviceName, s, "governed by its headless Service");
    assert.equal(find("Service", s).spec.clusterIP, "None");
    const claim = sts.spec.volumeClaimTemplates.find((v: Manifest) => v.metadata.name === "data");
    assert.deepEqual(claim.spec.accessModes, ["ReadWriteOnce"]);
    const mount = container(s).volumeMounts.find((m: Manifest) => m.name === "data");
    assert.equal(mount.mountPath, DATA_DIR);
    // The service's own deadline for a graceful stop is 10 s (lib/service.ts).
    assert.ok(podSpec(s).terminationGracePeriodSeconds > 10);
  }
  assert.ok(deployed.riskManager.statePath.startsWith(`${DATA_DIR}/`));
  assert.ok(deployed.executionEngine.journalPath.startsWith(`${DATA_DIR}/`));
});

Deno.test("market-data and signal-bridge are Deployments of one replica, replaced rather than rolled", () => {
  for (const s of ["market-data", "signal-bridge"] as const) {
    const d = find("Deployment", s);
    assert.equal(d.spec.replicas, 1);
    assert.equal(d.spec.strategy.type, "Recreate");
    assert.ok(podSpec(s).terminationGracePeriodSeconds > 10);
  }
});

Deno.test("every pod probes /health for liveness and /ready for readiness on the port its config serves", () => {
  for (const s of SERVICES) {
    const c = container(s);
    const http = deployed[SECTION[s]].http;
    assert.equal(http.host, "0.0.0.0", `${s} serves HTTP on every address of its pod`);
    const metrics = c.ports.find((p: Manifest) => p.name === "metrics");
    assert.equal(metrics.containerPort, http.port, `${s} metrics port`);
    assert.deepEqual(c.livenessProbe.httpGet, { path: "/health", port: "metrics" });
    assert.deepEqual(c.readinessProbe.httpGet, { path: "/ready", port: "metrics" });
    assert.deepEqual(c.startupProbe.httpGet, { path: "/health", port: "metrics" });
    // The labels the NetworkPolicies and Services select on.
    assert.equal(workload(s).spec.template.metadata.labels["app.kubernetes.io/name"], s);
  }
});

Deno.test("the ConfigMap is config/system.json with the cluster's endpoints, and every pod reads it", () => {
  parseConfig(structuredClone(deployed), "the ConfigMap");
  assert.deepEqual(deployed, clusterConfig(source));
  assert.equal(deployed.security.keysDir, KEYS_DIR);
  assert.equal(deployed.executionEngine.orders, "connect:tcp://risk-manager:5557");
  for (const s of SERVICES) {
    const c = container(s);
    const env = Object.fromEntries(c.env.map((e: Manifest) => [e.name, e.value ?? e.valueFrom]));
    assert.equal(env.TRADING_CONFIG, `${CONFIG_DIR}/system.json`);
    const mount = c.volumeMounts.find((m: Manifest) => m.mountPath === CONFIG_DIR);
    const volume = podSpec(s).volumes.find((v: Manifest) => v.name === mount.name);
    assert.equal(volume.configMap.name, configMap.metadata.name, "the generated (hashed) name");
    assert.deepEqual(c.command, ["deno", "run", "-A", `services/${s}/main.ts`]);
  }
});

Deno.test("every endpoint the config binds is a port of its pod and its Service, and every dial names that Service", () => {
  for (const b of bindings(deployed)) {
    const service = find("Service", b.service);
    assert.ok(
      service.spec.ports.some((p: Manifest) => p.port === b.port),
      `Service ${b.service} exposes ${b.port} (${b.field})`,
    );
    assert.ok(
      container(b.service).ports.some((p: Manifest) => p.containerPort === b.port),
      `${b.service} declares containerPort ${b.port}`,
    );
  }
  const dialled = JSON.stringify(deployed).match(/connect:tcp:\/\/[^"]+/g) ?? [];
  const edges = bindings(deployed).reduce((n, b) => n + b.connectors.length, 0);
  assert.equal(dialled.length, edges, "one dialled endpoint per edge");
  for (const e of dialled) {
    const host = /tcp:\/\/([^:]+):/.exec(e)![1];
    assert.ok(
      docs.some((d) => d.kind === "Service" && d.metadata.name === host),
      `${e} names a Service`,
    );
  }
});

Deno.test("each pod mounts its own CURVE secret and the public keys, and no other service's secret", () => {
  for (const s of SERVICES) {
    const volumes = podSpec(s).volumes;
    const secrets = volumes.flatMap((v: Manifest) => [
      ...(v.secret ? [v.secret.secretName] : []),
      ...(v.projected?.sources ?? []).flatMap((p: Manifest) => p.secret ? [p.secret.name] : []),
    ]).sort();
    assert.deepEqual(secrets, [curveSecretName(s), CURVE_PUBLIC_SECRET].sort(), s);
    // Group-readable for the init container (fsGroup), which copies them owner-only.
    const projected = volumes.find((v: Manifest) => v.projected).projected;
    assert.equal(projected.defaultMode, 0o440, "YAML 1.1 reads 0440 as octal");
    const keys = container(s).volumeMounts.find((m: Manifest) => m.mountPath === KEYS_DIR);
    assert.ok(keys?.readOnly, `${s} reads its keys from ${KEYS_DIR}, read-only`);
    const env = container(s).env.filter((e: Manifest) => e.valueFrom?.secretKeyRef);
    const wanted = s === "risk-manager"
      ? [ADMIN_SECRET]
      : s === "market-data" || s === "execution-engine"
      ? [ALPACA_SECRET, ALPACA_SECRET]
      : [];
    assert.deepEqual(env.map((e: Manifest) => e.valueFrom.secretKeyRef.name), wanted, s);
    // No service account token either: nothing here talks to the Kubernetes API.
    assert.equal(podSpec(s).automountServiceAccountToken, false);
    assert.equal(podSpec(s).securityContext.runAsNonRoot, true);
  }
});

Deno.test("secretManifests() gives each pod the key files lib/keys.ts reads, and passes the schema", async () => {
  const dir = await Deno.makeTempDir({ prefix: "deploy-keys-" });
  try {
    const store = KeyStore.open(`${dir}/made`);
    store.create(IDENTITIES, { overwrite: false });
    const secrets = secretManifests(store, {
      RISK_ADMIN_TOKEN: "t0ken",
      APCA_API_KEY_ID: "id",
      APCA_API_SECRET_KEY: "s",
    });
    assert.deepEqual(secrets.flatMap(validateManifest), []);
    const byName = new Map(secrets.map((d) => [(d.metadata as Manifest).name, d as Manifest]));
    assert.deepEqual(byName.get(ADMIN_SECRET)!.stringData, { RISK_ADMIN_TOKEN: "t0ken" });
    for (const s of SERVICES) {
      // What the pod's init container copies into /keys: its Secret and the public one.
      const pod = `${dir}/${s}`;
      Deno.mkdirSync(pod);
      for (const name of [curveSecretName(s), CURVE_PUBLIC_SECRET]) {
        for (
          const [file, text] of Object.entries(
            byName.get(name)!.stringData as Record<string, string>,
          )
        ) {
          Deno.writeTextFileSync(`${pod}/${file}`, text);
        }
      }
      const keys = KeyStore.open(pod);
      assert.deepEqual(keys.ensureAll(IDENTITIES), [], "no key is made in a pod");
      assert.deepEqual(keys.keyPair(s), store.keyPair(s));
      for (const other of SERVICES.filter((o) => o !== s)) {
        assert.equal(keys.publicKey(other), store.publicKey(other));
        assert.throws(
          () => keys.keyPair(other),
          /does not exist/,
          `${s} holds no secret of ${other}`,
        );
      }
    }
    // Without the optional secrets in the environment, only the keys.
    assert.equal(secretManifests(store, {}).length, SERVICES.length + 1);
  } finally {
    await removeDir(dir);
  }
});

/** `peer->service:port` for every connection the NetworkPolicies let through. */
function allowedByPolicies(): { ingress: Set<string>; egress: Set<string> } {
  const ingress = new Set<string>();
  const egress = new Set<string>();
  const peerName = (p: Manifest): string => {
    const pod = p.podSelector?.matchLabels ?? {};
    if (p.namespaceSelector) {
      const ns = p.namespaceSelector.matchLabels["kubernetes.io/metadata.name"];
      return `${ns}/${pod["app.kubernetes.io/name"] ?? pod["k8s-app"]}`;
    }
    if (p.ipBlock) return `ip:${p.ipBlock.cidr}`;
    if (pod["trading-system/operator"] === "true") return "operator";
    return pod["app.kubernetes.io/name"];
  };
  for (const policy of docs.filter((d) => d.kind === "NetworkPolicy")) {
    const self = policy.spec.podSelector.matchLabels?.["app.kubernetes.io/name"] ?? "*";
    for (const rule of policy.spec.ingress ?? []) {
      for (const from of rule.from) {
        for (const port of rule.ports) {
          ingress.add(`${peerName(from)}->${self}:${port.port}/${port.protocol}`);
        }
      }
    }
    for (const rule of policy.spec.egress ?? []) {
      for (const to of rule.to) {
        for (const port of rule.ports) {
          egress.add(`${self}->${peerName(to)}:${port.port}/${port.protocol}`);
        }
      }
    }
  }
  return { ingress, egress };
}

Deno.test("the NetworkPolicies allow exactly the pipeline's edges, Prometheus's scrapes, DNS and the Alpaca APIs", () => {
  const deny = find("NetworkPolicy", "default-deny");
  assert.deepEqual(deny.spec.podSelector, {});
  assert.deepEqual(deny.spec.policyTypes, ["Ingress", "Egress"]);
  assert.equal(deny.spec.ingress, undefined);
  assert.equal(deny.spec.egress, undefined);
  const edges = bindings(deployed);
  const expectedIngress = new Set<string>();
  const expectedEgress = new Set<string>([
    "*->kube-system/kube-dns:53/UDP",
    "*->kube-system/kube-dns:53/TCP",
    // The Alpaca feed and venue, outside the cluster.
    "market-data->ip:0.0.0.0/0:443/TCP",
    "execution-engine->ip:0.0.0.0/0:443/TCP",
  ]);
  for (const b of edges) {
    for (const c of b.connectors) {
      expectedIngress.add(`${c}->${b.service}:${b.port}/TCP`);
      expectedEgress.add(`${c}->${b.service}:${b.port}/TCP`);
    }
    // risk_events is read by operators' tools only (lib/channels.ts: no service reads it).
    if (b.channel === "risk_events") expectedIngress.add(`operator->${b.service}:${b.port}/TCP`);
  }
  for (const s of SERVICES) {
    expectedIngress.add(`monitoring/prometheus->${s}:${deployed[SECTION[s]].http.port}/TCP`);
  }
  const { ingress, egress } = allowedByPolicies();
  assert.deepEqual([...ingress].sort(), [...expectedIngress].sort());
  assert.deepEqual([...egress].sort(), [...expectedEgress].sort());
});

Deno.test("the ServiceMonitor scrapes the metrics port of the four Services under the job names the alerts use", () => {
  const monitor = find("ServiceMonitor", "trading-system");
  const selector = monitor.spec.selector.matchLabels as Record<string, string>;
  const selected = docs.filter((d) =>
    d.kind === "Service" && Object.entries(selector).every(([k, v]) => d.metadata.labels?.[k] === v)
  ).map((d) => d.metadata.name).sort();
  assert.deepEqual(selected, [...SERVICES].sort());
  const [endpoint] = monitor.spec.endpoints;
  assert.equal(endpoint.path, "/metrics");
  for (const s of SERVICES) {
    assert.ok(find("Service", s).spec.ports.some((p: Manifest) => p.name === endpoint.port));
  }
  // The operator names the job after the Service; the ServiceDown alert lists the jobs.
  assert.equal(monitor.spec.jobLabel, undefined);
  const rules = parseYaml(Deno.readTextFileSync(SOURCES.rules));
  const down = rules.groups.flatMap((g: Manifest) => g.rules).find((r: Manifest) =>
    r.alert === "ServiceDown"
  );
  for (const s of SERVICES) assert.match(down.expr, new RegExp(`\\b${s}\\b`));
});

Deno.test("the PrometheusRule holds the groups of monitoring/alerts/trading_system.yml, and their promtool tests pass on it", async () => {
  const rendered = find("PrometheusRule", "trading-system");
  const file = parseYaml(Deno.readTextFileSync(SOURCES.rules));
  assert.deepEqual(rendered.spec.groups, file.groups);
  // The rules as the cluster gets them, under the unit tests compose's rules pass.
  const dir = await Deno.makeTempDir({ prefix: "deploy-rules-" });
  try {
    Deno.writeTextFileSync(
      `${dir}/trading_system.yml`,
      JSON.stringify({ groups: rendered.spec.groups }),
    );
    Deno.copyFileSync(
      SOURCES.rules.replace(/\.yml$/, "_test.yml"),
      `${dir}/trading_system_test.yml`,
    );
    const check = await promtool(["check", "rules", `${dir}/trading_system.yml`]);
    assert.equal(check.code, 0, check.output);
    const tests = await promtool(["test", "rules", `${dir}/trading_system_test.yml`]);
    assert.equal(tests.code, 0, tests.output);
  } finally {
    await removeDir(dir);
  }
});

Deno.test("the PrometheusRule follows the rule file it is generated from", () => {
  const text = Deno.readTextFileSync(SOURCES.rules).replace("for: 1m", "for: 7m");
  const rule = prometheusRule(text) as Manifest;
  assert.equal(rule.spec.groups[0].rules[0].for, "7m");
  assert.throws(() => prometheusRule("rules: []", "x.yml"), /x\.yml has no "groups"/);
});

Deno.test("`deno task deploy` writes a build that kustomize renders, and `deploy secrets` prints valid Secrets", async () => {
  const dir = await Deno.makeTempDir({ prefix: "deploy-cli-" });
  try {
    const run = async (args: string[], env: Record<string, string> = {}) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", new URL("./render.ts", import.meta.url).pathname, ...args],
        env,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const dec = new TextDecoder();
      return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
    };
    const build = await run(["--out", `${dir}/build`]);
    assert.equal(build.code, 0, build.stderr);
    assert.equal((await render(`${dir}/build`)).length, docs.length);
    KeyStore.open(`${dir}/keys`).create(IDENTITIES, { overwrite: false });
    const secrets = await run(["secrets", "--keys", `${dir}/keys`], { RISK_ADMIN_TOKEN: "x" });
    assert.equal(secrets.code, 0, secrets.stderr);
    const printed = parseManifests(secrets.stdout);
    assert.equal(printed.length, SERVICES.length + 2);
    assert.deepEqual(printed.flatMap(validateManifest), []);
    const missing = await run(["secrets", "--keys", `${dir}/nowhere`]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /does not exist/);
    const bad = JSON.parse(Deno.readTextFileSync(SOURCES.config));
    bad.executionEngine.orders = "connect:tcp://127.0.0.1:6001";
    Deno.writeTextFileSync(`${dir}/bad.json`, JSON.stringify(bad));
    const refused = await run(["--out", `${dir}/bad`, "--config", `${dir}/bad.json`]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /executionEngine\.orders/);
  } finally {
    await removeDir(dir);
  }
});

Deno.test({
  name:
    "deploy/kustomize.ts renders deploy/build as kubectl kustomize does, but for the hash suffix",
  ignore: !kubectl,
  fn: () => {
    // The suffix is a content hash in both, computed alike but not proven equal: compare
    // with each renderer's ConfigMap name put back to the generator's.
    const unhash = (ds: Manifest[]) => {
      const name = ds.find((d) => d.kind === "ConfigMap")!.metadata.name;
      const text = JSON.stringify(ds).replaceAll(`"${name}"`, '"trading-config"');
      const key = (d: Manifest) => `${d.kind}/${d.metadata.name}`;
      return (JSON.parse(text) as Manifest[]).sort((a, b) => key(a) < key(b) ? -1 : 1);
    };
    assert.deepEqual(unhash(ownDocs), unhash(docs));
  },
});

Deno.test("configMapHash() changes with the content and is a valid name suffix", async () => {
  const a = await configMapHash("x", { a: "b\n" });
  assert.match(a, /^[a-z0-9]{10}$/);
  assert.equal(await configMapHash("x", { a: "b\n" }), a);
  assert.notEqual(await configMapHash("x", { a: "c\n" }), a);
  assert.match(
    ownDocs.find((d) => d.kind === "ConfigMap")!.metadata.name,
    /^trading-config-[a-z0-9]{10}$/,
  );
});

Deno.test("deploy/kustomize.ts refuses a kustomization field it does not render", async () => {
  const dir = await Deno.makeTempDir({ prefix: "deploy-kustomize-" });
  try {
    Deno.writeTextFileSync(`${dir}/kustomization.yaml`, "resources: []\npatches: []\n");
    await assert.rejects(() => renderKustomization(dir), /"patches" is not supported/);
  } finally {
    await removeDir(dir);
  }
});
