/**
 * What deploy/ generates from the repository's own files, so that nothing in the
 * cluster is a second copy kept by hand:
 *
 * - the config of the pods: config/system.json with every service on a host of its own
 *   (deploy/hosts.ts): bound endpoints and HTTP servers on `0.0.0.0`, connecting
 *   endpoints at the Kubernetes Service of the service that binds their port, keys in
 *   `/keys`, state in `/data`;
 * - the Prometheus Operator's PrometheusRule, whose groups are those of the rule file
 *   compose and `deno task stack` load (monitoring/alerts/trading_system.yml);
 * - the kustomization of deploy/build/ that adds both to deploy/base/;
 * - the Secrets (CURVE keys, Alpaca keys, admin token), from a key directory and the
 *   environment, printed and never written to disk.
 *
 * @example
 * ```ts
 * writeBuild("deploy/build");      // then: kubectl apply -k deploy/build
 * const secrets = secretManifests(KeyStore.open("data/keys"), Deno.env.toObject());
 * ```
 * @module
 */
import { dirname, join, relative, resolve } from "node:path";
import { parse as parseYaml, stringify } from "yaml";
import { parseConfig } from "../lib/config.ts";
import type { KeyStore } from "../lib/keys.ts";
import { IDENTITIES } from "../lib/messaging_context.ts";
import { type ServiceName, SERVICES } from "../lib/metrics.ts";
import { acrossHosts, type Place, type RawConfig } from "./hosts.ts";

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), "..");

/** The repository files deploy/ is generated from. */
export const SOURCES = {
  config: join(ROOT, "config/system.json"),
  rules: join(ROOT, "monitoring/alerts/trading_system.yml"),
  base: join(ROOT, "deploy/base"),
} as const;

/** The namespace of every object (deploy/base/kustomization.yaml). */
export const NAMESPACE = "trading";
/** The ConfigMap holding `system.json`. */
export const CONFIG_MAP = "trading-config";
/** Where the pods mount it; `TRADING_CONFIG` points there. */
export const CONFIG_DIR = "/etc/trading";
/** The pods' key directory (an in-memory volume filled from the Secrets). */
export const KEYS_DIR = "/keys";
/** The pods' data directory (a persistent volume for the two stateful services). */
export const DATA_DIR = "/data";

/** The Secret holding one service's (or identity's) secret key file. */
export function curveSecretName(identity: string): string {
  return `trading-curve-${identity}`;
}
/** The Secret holding every public key file. */
export const CURVE_PUBLIC_SECRET = "trading-curve-public";
/** The Secret holding `APCA_API_KEY_ID` and `APCA_API_SECRET_KEY`. */
export const ALPACA_SECRET = "trading-alpaca";
/** The Secret holding `RISK_ADMIN_TOKEN`. */
export const ADMIN_SECRET = "trading-admin";

/**
 * `config` for the cluster: each service behind its Kubernetes Service (named after the
 * service) and bound on `0.0.0.0` in its pod, keys in {@linkcode KEYS_DIR}, every
 * `data/` path in {@linkcode DATA_DIR}. The result is validated as the services would.
 *
 * @throws {PlacementError} If an endpoint cannot be placed (deploy/hosts.ts).
 * @throws {ConfigError} If the result is not a valid config.
 */
export function clusterConfig(config: RawConfig): RawConfig {
  const places = Object.fromEntries(
    SERVICES.map((s) => [s, { bind: "0.0.0.0", host: s }]),
  ) as Record<ServiceName, Place>;
  const out = acrossHosts(config, places);
  out.security = { ...(out.security ?? { mode: "curve" }), keysDir: KEYS_DIR };
  const walk = (node: RawConfig) => {
    for (const [k, v] of Object.entries(node)) {
      if (typeof v === "string" && (k.endsWith("Path") || k.endsWith("Dir"))) {
        if (v === "data") node[k] = DATA_DIR;
        else if (v.startsWith("data/")) node[k] = `${DATA_DIR}/${v.slice("data/".length)}`;
      } else if (v && typeof v === "object" && !Array.isArray(v)) walk(v);
    }
  };
  walk(out);
  parseConfig(structuredClone(out), "the cluster config");
  return out;
}

/** A Prometheus rule file (`groups:`), as promtool reads it. */
export interface RuleFile {
  groups: { name: string; rules: Record<string, unknown>[]; [k: string]: unknown }[];
}

/**
 * The PrometheusRule for the Prometheus Operator whose groups are exactly those of the
 * rule file `text`.
 *
 * @throws {Error} If the text is not a rule file with groups.
 */
export function prometheusRule(text: string, source = "the rule file"): Record<string, unknown> {
  const file = parseYaml(text) as RuleFile | null;
  if (!file || !Array.isArray(file.groups) || file.groups.length === 0) {
    throw new Error(`Cannot build the PrometheusRule: ${source} has no "groups"`);
  }
  return {
    apiVersion: "monitoring.coreos.com/v1",
    kind: "PrometheusRule",
    metadata: {
      name: "trading-system",
      annotations: { "trading-system/generated-from": "monitoring/alerts/trading_system.yml" },
    },
    spec: { groups: file.groups },
  };
}

/** The kustomization of a build directory at `outDir` on top of deploy/base. */
export function buildKustomization(outDir: string): string {
  const base = relative(resolve(outDir), SOURCES.base);
  return [
    "# Generated by `deno task deploy` (deploy/render.ts); do not edit, run it again.",
    stringify({
      apiVersion: "kustomize.config.k8s.io/v1beta1",
      kind: "Kustomization",
      namespace: NAMESPACE,
      resources: [base, "prometheus-rule.yaml"],
      configMapGenerator: [{ name: CONFIG_MAP, files: ["system.json"] }],
    }),
  ].join("\n");
}

/** Options of {@linkcode writeBuild}. */
export interface BuildOptions {
  /** The config to deploy (default config/system.json). */
  config?: string;
  /** The rule file (default monitoring/alerts/trading_system.yml). */
  rules?: string;
}

/**
 * Writes the build directory: `kustomization.yaml`, `system.json` (the cluster config)
 * and `prometheus-rule.yaml`. Returns the paths written.
 *
 * @throws {Error} As {@linkcode clusterConfig} and {@linkcode prometheusRule}, or when a
 *   file cannot be read or written.
 */
export function writeBuild(outDir: string, options: BuildOptions = {}): string[] {
  const configPath = options.config ?? SOURCES.config;
  const rulesPath = options.rules ?? SOURCES.rules;
  const config = clusterConfig(JSON.parse(Deno.readTextFileSync(configPath)));
  const rule = prometheusRule(Deno.readTextFileSync(rulesPath), rulesPath);
  Deno.mkdirSync(outDir, { recursive: true });
  const files: [string, string][] = [
    ["kustomization.yaml", buildKustomization(outDir)],
    ["system.json", JSON.stringify(config, null, 2) + "\n"],
    [
      "prometheus-rule.yaml",
      "# Generated from monitoring/alerts/trading_system.yml by `deno task deploy`.\n" +
      stringify(rule, { lineWidth: 0 }),
    ],
  ];
  return files.map(([name, text]) => {
    const path = join(outDir, name);
    Deno.writeTextFileSync(path, text);
    return path;
  });
}

function secret(name: string, data: Record<string, string>): Record<string, unknown> {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name,
      namespace: NAMESPACE,
      labels: { "app.kubernetes.io/part-of": "trading-system" },
    },
    type: "Opaque",
    stringData: data,
  };
}

/**
 * The Secrets of the cluster: one per service with its secret key file (each pod mounts
 * only its own), one with every public key file, and, when the environment has them,
 * the Alpaca keys and the admin token.
 *
 * @throws {KeyError} If a key file is missing or malformed.
 */
export function secretManifests(
  keys: KeyStore,
  env: Readonly<Record<string, string>>,
): Record<string, unknown>[] {
  const read = (path: string) => Deno.readTextFileSync(path);
  const out: Record<string, unknown>[] = [];
  for (const service of SERVICES) {
    keys.keyPair(service); // checks the file before it leaves the host
    out.push(secret(curveSecretName(service), {
      [`${service}.key_secret`]: read(keys.secretPath(service)),
    }));
  }
  const publics: Record<string, string> = {};
  for (const identity of IDENTITIES) {
    keys.publicKey(identity);
    publics[`${identity}.key`] = read(keys.publicPath(identity));
  }
  out.push(secret(CURVE_PUBLIC_SECRET, publics));
  if (env.APCA_API_KEY_ID && env.APCA_API_SECRET_KEY) {
    out.push(secret(ALPACA_SECRET, {
      APCA_API_KEY_ID: env.APCA_API_KEY_ID,
      APCA_API_SECRET_KEY: env.APCA_API_SECRET_KEY,
    }));
  }
  if (env.RISK_ADMIN_TOKEN) {
    out.push(secret(ADMIN_SECRET, { RISK_ADMIN_TOKEN: env.RISK_ADMIN_TOKEN }));
  }
  return out;
}
