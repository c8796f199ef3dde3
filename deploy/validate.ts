/**
 * Checks manifests against the published schemas: Kubernetes' own OpenAPI schemas (the
 * `kubernetes-models` npm package) and the Prometheus Operator's CRDs
 * (`@kubernetes-models/prometheus-operator`), and renders a kustomization the way
 * `kubectl apply -k` does (`kubectl kustomize`, kustomize built in).
 *
 * What the schemas check: required fields, types, enums and formats of every field they
 * declare. What they do not: fields they do not declare (Kubernetes' schemas allow
 * unknown fields; the API server drops or refuses them), and anything only a cluster
 * knows (admission, quotas, whether an image exists).
 *
 * @example
 * ```ts
 * const docs = await kustomize("deploy/build");
 * for (const doc of docs) assert.deepEqual(validateManifest(doc), []);
 * ```
 * @module
 */
import { parseAllDocuments } from "yaml";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import { PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";

/** A manifest as parsed from YAML. */
// deno-lint-ignore no-explicit-any
export type Manifest = Record<string, any>;

interface Model {
  validate(): void;
}

/** The kinds deploy/ uses, by `apiVersion/kind`, with the model that validates each. */
export const MODELS: Readonly<Record<string, (data: Manifest) => Model>> = {
  "v1/Namespace": (d) => new Namespace(d),
  "v1/ConfigMap": (d) => new ConfigMap(d),
  "v1/Secret": (d) => new Secret(d),
  "v1/Service": (d) => new Service(d),
  "apps/v1/Deployment": (d) => new Deployment(d),
  "apps/v1/StatefulSet": (d) => new StatefulSet(d),
  "networking.k8s.io/v1/NetworkPolicy": (d) => new NetworkPolicy(d),
  // Their constructors' types require a spec; a manifest without one must reach validate().
  "monitoring.coreos.com/v1/ServiceMonitor": (d) =>
    new ServiceMonitor(d as ConstructorParameters<typeof ServiceMonitor>[0]),
  "monitoring.coreos.com/v1/PrometheusRule": (d) =>
    new PrometheusRule(d as ConstructorParameters<typeof PrometheusRule>[0]),
};

/**
 * The schema errors of one manifest (empty when valid). A kind with no schema here is
 * an error too, so nothing goes unchecked.
 */
export function validateManifest(doc: Manifest): string[] {
  const key = `${doc?.apiVersion}/${doc?.kind}`;
  const name = `${doc?.kind ?? "?"} ${doc?.metadata?.name ?? "?"}`;
  const make = MODELS[key];
  if (make === undefined) return [`${name}: no schema for ${key}`];
  try {
    make(doc).validate();
    return [];
  } catch (e) {
    return [`${name}: ${(e as Error).message}`];
  }
}

/**
 * Parses a multi-document YAML text the way Kubernetes does (YAML 1.1).
 *
 * @throws {Error} If a document does not parse.
 */
export function parseManifests(text: string, source = "the YAML"): Manifest[] {
  const docs: Manifest[] = [];
  // YAML 1.1, as kubectl and the API server read it: `defaultMode: 0440` is octal there.
  for (const doc of parseAllDocuments(text, { version: "1.1" })) {
    if (doc.errors.length > 0) {
      throw new Error(`Cannot parse ${source}: ${doc.errors[0].message}`);
    }
    const value = doc.toJSON();
    if (value !== null && value !== undefined) docs.push(value);
  }
  return docs;
}

/** True when kubectl (with its built-in kustomize) is on PATH. */
export async function hasKubectl(): Promise<boolean> {
  try {
    const out = await new Deno.Command("kubectl", {
      args: ["version", "--client"],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.code === 0;
  } catch {
    return false;
  }
}

/**
 * Renders a kustomization directory with `kubectl kustomize` and returns its manifests.
 *
 * @throws {Error} If kubectl is missing or kustomize refuses the directory.
 */
export async function kustomize(dir: string): Promise<Manifest[]> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("kubectl", {
      args: ["kustomize", dir],
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error("Cannot render the kustomization: kubectl is not installed");
    }
    throw e;
  }
  const dec = new TextDecoder();
  if (out.code !== 0) {
    throw new Error(`Cannot render the kustomization in ${dir}: ${dec.decode(out.stderr).trim()}`);
  }
  return parseManifests(dec.decode(out.stdout), `kubectl kustomize ${dir}`);
}
