/**
 * `deno task compile [--out DIR] [--target TRIPLE]`: builds one self-contained binary
 * per service with `deno compile` into `dist/` (`dist/market-data`, ...).
 *
 * What each binary needs, and is given: every permission (`-A`: network, files,
 * environment, FFI for the poll(2) loop of lib/zmq_poll.ts and zeromq.js's native addon),
 * the npm packages from `node_modules` (zeromq's prebuilt `.node` addon among them; it is
 * unpacked to a temporary directory and loaded at start), and the SQLite checkpoint worker
 * (lib/wal_checkpoint_worker.ts), which is loaded by URL and so must be included by name.
 * The config is not embedded: a binary reads `config/system.json` from its working
 * directory, or `--config PATH`, like `deno task <service>`.
 *
 * `deno compile` downloads its runtime (`denort`) from dl.deno.land on first use, unless
 * `DENORT_BIN` names a local copy. Where that download cannot happen this command fails
 * with exit code 1 and says so, naming the URL.
 * @module
 */
import { parseCommandLine } from "../lib/cli.ts";
import { SERVICES } from "../lib/metrics.ts";

const ROOT = new URL("../", import.meta.url).pathname;

/** The `deno compile` arguments for one service. */
export function compileArgs(service: string, out: string, target?: string): string[] {
  return [
    "compile",
    "-A",
    "--frozen",
    "--include",
    "lib/wal_checkpoint_worker.ts",
    ...(target ? ["--target", target] : []),
    "--output",
    `${out}/${service}`,
    `services/${service}/main.ts`,
  ];
}

/** Why a `deno compile` run failed, when it is that the runtime could not be downloaded. */
export function downloadFailure(stderr: string): string | undefined {
  const url = /https:\/\/dl\.deno\.land\/\S+?\.zip/.exec(stderr)?.[0];
  if (!/error sending request|dns error|failed to lookup|Connect|timed out/i.test(stderr)) {
    return undefined;
  }
  return `deno compile could not download its runtime${url ? ` (${url})` : ""}: ` +
    "this machine cannot reach dl.deno.land. Run it where it can, or point DENORT_BIN at a " +
    "denort binary of the same Deno version.";
}

if (import.meta.main) {
  const args = parseCommandLine(Deno.args, {
    name: "compile",
    summary: "Builds one self-contained binary per service with deno compile (dist/<service>).",
    flags: [
      { name: "out", value: "DIR", help: "where the binaries go (default dist)" },
      { name: "target", value: "TRIPLE", help: "cross-compile, e.g. aarch64-unknown-linux-gnu" },
    ],
    env: [{ name: "DENORT_BIN", help: "a local denort runtime, instead of downloading one" }],
    notes: ["Exit codes: 0 every binary built, 1 a build failed (the reason is printed)."],
  });
  const out = typeof args.values.out === "string" ? args.values.out : "dist";
  const target = typeof args.values.target === "string" ? args.values.target : undefined;
  Deno.mkdirSync(`${ROOT}/${out}`, { recursive: true });
  for (const service of SERVICES) {
    const result = await new Deno.Command(Deno.execPath(), {
      args: compileArgs(service, out, target),
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(result.stderr);
    if (result.code !== 0) {
      const why = downloadFailure(stderr);
      console.error(
        `compile: cannot build ${service}: ${why ?? stderr.trim().split("\n").slice(-3).join(" ")}`,
      );
      Deno.exit(1);
    }
    console.log(`compile: built ${out}/${service}`);
  }
}
