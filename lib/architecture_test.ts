/**
 * The layering rules of ARCHITECTURE.md, checked on every import of the tree:
 * - no service imports another service; lib/ imports no service, bench, monitoring or deploy;
 *   deploy/ (manifests and their tools) imports no service;
 * - production code never imports a test double (a `testing/` folder or a `_test.ts`);
 * - a service's core (`core.ts`) does no I/O: no sockets, HTTP, SQLite or service harness;
 * - no import cycles.
 */
import assert from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = resolve(new URL("..", import.meta.url).pathname);
const TOP = ["lib", "services", "bench", "monitoring", "deploy"];

function* files(dir: string): Generator<string> {
  for (const e of Deno.readDirSync(dir)) {
    const path = join(dir, e.name);
    if (e.isDirectory) yield* files(path);
    else if (e.name.endsWith(".ts")) yield path;
  }
}

/** Every `.ts` file (repo-relative) and the specifiers it imports. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  // Statements start a line; examples in doc comments start with " * " and are skipped.
  const pattern = /^(?:import|export)\s[^"';]*?from\s*"([^"]+)"|await import\(\s*"([^"]+)"\s*\)/gm;
  for (const top of TOP) {
    for (const path of files(join(ROOT, top))) {
      const text = Deno.readTextFileSync(path);
      const specs = [...text.matchAll(pattern)].map((m) => m[1] ?? m[2]);
      graph.set(relative(ROOT, path), specs);
    }
  }
  return graph;
}

/** The repo-relative file a relative specifier points at, or the bare specifier itself. */
function target(from: string, spec: string): string {
  return spec.startsWith(".") ? relative(ROOT, resolve(ROOT, dirname(from), spec)) : spec;
}

const graph = importGraph();
const edges = [...graph].flatMap(([from, specs]) =>
  specs.map((spec) => ({ from, to: target(from, spec) }))
);
const serviceOf = (path: string) => /^services\/([^/]+)\//.exec(path)?.[1];
const isTestCode = (path: string) => /_test\.ts$/.test(path) || /(^|\/)testing\//.test(path);

Deno.test("the import graph is read from the whole tree", () => {
  assert.ok(graph.size > 150, `${graph.size} files`);
  assert.ok(edges.length > 500, `${edges.length} imports`);
});

Deno.test("no service imports another service, lib/ imports no service, bench, monitoring or deploy, and deploy/ no service", () => {
  const wrong = edges.filter(({ from, to }) => {
    const a = serviceOf(from);
    const b = serviceOf(to);
    if (a !== undefined && b !== undefined && a !== b) return true;
    if (from.startsWith("deploy/") && !isTestCode(from) && to.startsWith("services/")) return true;
    return from.startsWith("lib/") && /^(services|bench|monitoring|deploy)\//.test(to);
  });
  assert.deepEqual(wrong, []);
});

Deno.test("production code never imports a test double or a test", () => {
  const wrong = edges.filter(({ from, to }) =>
    !isTestCode(from) && !from.startsWith("bench/") && isTestCode(to)
  );
  assert.deepEqual(wrong, []);
});

Deno.test("a service's core does no I/O of its own", () => {
  const io =
    /^(zeromq|hono|prom-client|node:sqlite|node:fs|node:net)$|^lib\/(messaging\/|http\.ts|service\.ts|messaging_context\.ts)/;
  const wrong = edges.filter(({ from, to }) =>
    /^services\/[^/]+\/core\.ts$/.test(from) && io.test(to)
  );
  assert.deepEqual(wrong, []);
});

Deno.test("there are no import cycles", () => {
  const local = new Map<string, string[]>();
  for (const { from, to } of edges) {
    if (!graph.has(to)) continue;
    local.set(from, [...(local.get(from) ?? []), to]);
  }
  const state = new Map<string, "active" | "done">();
  const cycles: string[][] = [];
  const visit = (node: string, path: string[]) => {
    if (state.get(node) === "done") return;
    if (state.get(node) === "active") {
      cycles.push([...path.slice(path.indexOf(node)), node]);
      return;
    }
    state.set(node, "active");
    for (const next of local.get(node) ?? []) visit(next, [...path, node]);
    state.set(node, "done");
  };
  for (const node of graph.keys()) visit(node, []);
  assert.deepEqual(cycles, []);
});
