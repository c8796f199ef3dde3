/**
 * A renderer for the few kustomize features deploy/ uses, for machines without kubectl
 * (Debian's kubectl is 1.20, whose kustomize v2 reads none of them): `resources` (files
 * and directories with a kustomization), `namespace`, `labels` (without selectors),
 * `images` (`newName`, `newTag`) and `configMapGenerator` (`files`, with the content
 * hash suffix and the references in pod templates renamed). Any other field of a
 * kustomization is refused, so using a new feature in deploy/ fails here loudly rather
 * than rendering something else. deploy_test.ts checks this renderer's output against
 * `kubectl kustomize` where kubectl is installed.
 *
 * @example
 * ```ts
 * const manifests = await renderKustomization("deploy/build");
 * ```
 * @module
 */
import { join, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import type { Manifest } from "./validate.ts";
import { parseManifests } from "./validate.ts";

const KNOWN = new Set([
  "apiVersion",
  "kind",
  "namespace",
  "labels",
  "resources",
  "images",
  "configMapGenerator",
]);

/** Thrown when a kustomization uses what this renderer does not do. */
export class KustomizeError extends Error {
  override name = "KustomizeError";
}

/**
 * The name suffix of a generated ConfigMap: 10 characters of the SHA-256 of its name and
 * data, so pods that mount it roll when the content changes. Built like kustomize's
 * (sigs.k8s.io/kustomize/api/hasher) but not guaranteed equal to it.
 */
export async function configMapHash(name: string, data: Record<string, string>): Promise<string> {
  const sorted = Object.fromEntries(Object.entries(data).sort(([a], [b]) => (a < b ? -1 : 1)));
  const json = JSON.stringify({ data: sorted, kind: "ConfigMap", name });
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(json)),
  );
  const hex = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
  const map: Record<string, string> = { "0": "g", "1": "h", "3": "k", a: "m", e: "t" };
  return [...hex.slice(0, 10)].map((c) => map[c] ?? c).join("");
}

/** Pod specs inside a workload manifest. */
function podSpecs(doc: Manifest): Manifest[] {
  const template = doc.spec?.template?.spec ?? doc.spec?.jobTemplate?.spec?.template?.spec;
  return template ? [template] : [];
}

async function render(dir: string, seen: Set<string>): Promise<Manifest[]> {
  const root = resolve(dir);
  if (seen.has(root)) throw new KustomizeError(`Cannot render ${root}: it includes itself`);
  seen.add(root);
  const file = join(root, "kustomization.yaml");
  let k: Manifest;
  try {
    k = parseYaml(Deno.readTextFileSync(file), { version: "1.1" }) ?? {};
  } catch (e) {
    throw new KustomizeError(`Cannot read ${file}: ${(e as Error).message}`);
  }
  for (const key of Object.keys(k)) {
    if (!KNOWN.has(key)) {
      throw new KustomizeError(`Cannot render ${file}: "${key}" is not supported here`);
    }
  }
  const docs: Manifest[] = [];
  for (const r of k.resources ?? []) {
    const path = resolve(root, r);
    if (Deno.statSync(path).isDirectory) docs.push(...await render(path, seen));
    else docs.push(...parseManifests(Deno.readTextFileSync(path), path));
  }
  // Generated ConfigMaps, and the renames their hashes cause.
  const renames = new Map<string, string>();
  for (const g of k.configMapGenerator ?? []) {
    for (const key of Object.keys(g)) {
      if (key !== "name" && key !== "files") {
        throw new KustomizeError(
          `Cannot render ${file}: configMapGenerator "${key}" is not supported here`,
        );
      }
    }
    const data: Record<string, string> = {};
    for (const f of g.files ?? []) {
      const [key, path] = f.includes("=") ? f.split("=", 2) : [f.split("/").pop(), f];
      data[key] = Deno.readTextFileSync(resolve(root, path));
    }
    const name = `${g.name}-${await configMapHash(g.name, data)}`;
    renames.set(g.name, name);
    docs.push({ apiVersion: "v1", kind: "ConfigMap", metadata: { name }, data });
  }
  for (const doc of docs) {
    for (const spec of podSpecs(doc)) {
      for (const v of spec.volumes ?? []) {
        if (v.configMap && renames.has(v.configMap.name)) {
          v.configMap.name = renames.get(v.configMap.name);
        }
        for (const s of v.projected?.sources ?? []) {
          if (s.configMap && renames.has(s.configMap.name)) {
            s.configMap.name = renames.get(s.configMap.name);
          }
        }
      }
      for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) {
        for (const e of c.env ?? []) {
          const ref = e.valueFrom?.configMapKeyRef;
          if (ref && renames.has(ref.name)) ref.name = renames.get(ref.name);
        }
        for (const e of c.envFrom ?? []) {
          if (e.configMapRef && renames.has(e.configMapRef.name)) {
            e.configMapRef.name = renames.get(e.configMapRef.name);
          }
        }
      }
    }
  }
  for (const l of k.labels ?? []) {
    if (l.includeSelectors || l.includeTemplates) {
      throw new KustomizeError(
        `Cannot render ${file}: labels on selectors or templates are not supported here`,
      );
    }
    for (const doc of docs) doc.metadata.labels = { ...(doc.metadata.labels ?? {}), ...l.pairs };
  }
  for (const image of k.images ?? []) {
    for (const doc of docs) {
      for (const spec of podSpecs(doc)) {
        for (const c of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) {
          const [name, tag] = splitImage(c.image);
          if (name !== image.name) continue;
          c.image = `${image.newName ?? name}${
            image.newTag ? `:${image.newTag}` : tag ? `:${tag}` : ""
          }`;
        }
      }
    }
  }
  if (k.namespace) {
    for (const doc of docs) if (doc.kind !== "Namespace") doc.metadata.namespace = k.namespace;
  }
  return docs;
}

function splitImage(image: string): [string, string | undefined] {
  const slash = image.lastIndexOf("/");
  const colon = image.lastIndexOf(":");
  return colon > slash ? [image.slice(0, colon), image.slice(colon + 1)] : [image, undefined];
}

/**
 * Renders the kustomization in `dir` (see the module doc for what it supports).
 *
 * @throws {KustomizeError} If the kustomization uses anything else or a file is missing.
 */
export function renderKustomization(dir: string): Promise<Manifest[]> {
  return render(dir, new Set());
}
