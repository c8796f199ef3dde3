/**
 * Smoke test of the micro benchmarks: runs `deno bench` over every `bench/*_bench.ts` in smoke
 * mode (`BENCH_SMOKE=1`, bench/smoke.ts: a minimal number of iterations per case, 200 per
 * top-level loop), so a bench that no longer loads (a renamed export, a type error) or that
 * throws fails `deno test` instead of the next `deno task bench`. It checks that `deno bench`
 * exits 0 and that its output names every bench file and a few known cases of each (a file
 * silently skipped, or a case gone, fails too).
 * @module
 */
import assert from "node:assert/strict";
import { SMOKE_LOOP } from "./smoke.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const BENCH_DIR = `${ROOT}/bench`;
/** Kills `deno bench` past this; a smoke run takes ~10-15 s on the 2-core machine. */
const TIMEOUT_MS = 120_000;

/** Per bench file: cases that must appear as rows of its table, and lines its loops print. */
const EXPECTED: Record<string, { cases: string[]; printed?: string[] }> = {
  "execution-engine_bench.ts": {
    cases: [
      "submit an order on the paper venue (journal in a WAL file)",
      "submit an order on the paper venue (journal in memory)",
      "refuse a duplicate order (journal look-up only)",
    ],
    printed: [
      `execution-engine paper venue, ${SMOKE_LOOP} orders: order submission (venue call) p50=`,
      `durability power, ${SMOKE_LOOP} orders: p50=`,
      `8 orders per run, durability power, ${SMOKE_LOOP} orders: per order p50=`,
    ],
  },
  "market-data_bench.ts": {
    cases: [
      "core.handle: sim frame of 50 messages (decoded)",
      "OrderBook.apply delta + top() + levels(10)",
      "parseFrame: 50 crypto trades with ids above 2^53",
    ],
  },
  "messaging_bench.ts": {
    cases: [
      "envelope: encodeFrame() of a 200-byte JSON body",
      "envelope: decode() of a 200-byte JSON body",
    ],
  },
  "risk-manager_bench.ts": {
    cases: [
      "pre-trade checks: approve a signal (no metrics)",
      "pre-trade checks: deny at the circuit breaker",
      "execution report: apply a fill (SQLite in memory)",
      "metrics: refresh every business gauge",
    ],
    printed: [
      `risk-manager pre-trade checks, ${SMOKE_LOOP} approved signals with metrics: all_checks p50=`,
      `risk-manager approval made durable, two files, durability process (${SMOKE_LOOP} approvals)`,
      `risk-manager approval made durable, batch of 8, durability power (${SMOKE_LOOP} approvals)`,
    ],
  },
  "signal-bridge_bench.ts": {
    cases: [
      "inference: rules model predict()",
      "inference: logistic_v1 model predict()",
      "core: one quote through features, gates and the rules model",
    ],
  },
  "wire_bench.ts": {
    cases: [
      "book: decode and check, binary",
      "signal: decode and check, JSON",
      "50 books: decode only the headers (a subscriber that wants none)",
    ],
  },
};

/** The bench files `deno bench` would pick up in bench/, sorted. */
function benchFiles(): string[] {
  return [...Deno.readDirSync(BENCH_DIR)]
    .filter((entry) => entry.isFile && entry.name.endsWith("_bench.ts"))
    .map((entry) => entry.name)
    .sort();
}

/** The output between `file:///…/bench/<name>`'s header and the next file's header. */
function section(output: string, name: string): string | undefined {
  const header = `${new URL(`./${name}`, import.meta.url).href}\n`;
  return output.split(/^(?=file:\/\/)/m).find((part) => part.startsWith(header));
}

const tail = (text: string, lines = 40) => text.trimEnd().split("\n").slice(-lines).join("\n");

/**
 * The failures `deno bench` reports on stdout, each with the lines after it up to a blank line
 * (the error and where it was thrown): a case that threw (`<case>  error: <Error>` in its
 * file's table, given with that file) or an error thrown outside any case (`error: ...`, from a
 * module's top-level code or a dangling promise; its trace names the module).
 */
function failures(stdout: string): string[] {
  const failed: string[] = [];
  let file = "(before the first file)";
  const lines = stdout.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].startsWith("file://")) file = lines[i].replace(/^.*\/bench\//, "bench/");
    const uncaught = lines[i].startsWith("error: ");
    if (!uncaught && (lines[i].startsWith("|") || !/\serror: /.test(lines[i]))) continue;
    const end = lines.findIndex((line, j) => j > i && line.trim() === "");
    const text = lines.slice(i, end < 0 ? undefined : end).join("\n  ");
    failed.push(uncaught ? `outside any case: ${text}` : `${file}: ${text}`);
  }
  return failed;
}

Deno.test("micro benchmarks: every bench/*_bench.ts runs in smoke mode and its cases pass", async () => {
  const files = benchFiles();
  const unknown = Object.keys(EXPECTED).filter((name) => !files.includes(name));
  assert.deepEqual(unknown, [], `bench files this test expects are gone: ${unknown.join(", ")}`);

  const startedAt = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["bench", "-A", "--config", `${ROOT}/deno.json`, ...files.map((f) => `bench/${f}`)],
    cwd: ROOT,
    env: { BENCH_SMOKE: "1", NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, TIMEOUT_MS);
  const result = await child.output().finally(() => clearTimeout(timer));
  const seconds = ((performance.now() - startedAt) / 1000).toFixed(1);
  const stdout = new TextDecoder().decode(result.stdout);
  const stderr = new TextDecoder().decode(result.stderr);
  // What to show when something failed: the failures deno bench reported first, stderr
  // without its `Check <file>` lines (a type error, a module not found), then stdout's end.
  const failed = failures(stdout);
  const shown = [
    ...(failed.length ? ["--- failures ---", ...failed] : []),
    "--- stderr ---",
    tail(stderr.split("\n").filter((line) => !line.startsWith("Check ")).join("\n")),
    "--- stdout (last lines) ---",
    tail(stdout),
  ].join("\n");

  assert.ok(
    !timedOut,
    `deno bench did not finish in ${TIMEOUT_MS / 1000} s and was killed\n${shown}`,
  );
  assert.equal(result.code, 0, `deno bench exited ${result.code} after ${seconds} s\n${shown}`);

  const problems: string[] = [];
  for (const name of files) {
    const own = section(stdout, name);
    if (own === undefined) {
      problems.push(`bench/${name}: no section in the output (not run?)`);
      continue;
    }
    for (const c of EXPECTED[name]?.cases ?? []) {
      // A row of the file's table: `| <name> <padding> | <time/iter> ...`, the name whole.
      const row = new RegExp(`^\\| ${c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} +\\| `, "m");
      if (!row.test(own)) {
        problems.push(`bench/${name}: no row for the case "${c}"`);
      }
    }
    for (const line of EXPECTED[name]?.printed ?? []) {
      if (!stdout.includes(line)) problems.push(`bench/${name}: did not print "${line}"`);
    }
  }
  assert.deepEqual(problems, [], `${problems.join("\n")}\n${shown}`);
});
