/**
 * Test helpers: external tools (promtool), free ports, polling with a deadline and
 * running a service as a subprocess.
 * @module
 */

/** Runs `promtool` with `args`, feeding `stdin`. Throws a clear error when promtool is missing. */
export async function promtool(
  args: string[],
  stdin?: string,
): Promise<{ code: number; output: string }> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("promtool", {
      args,
      stdin: stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(
        "promtool is not installed: run `apt-get install -y prometheus` (.ci/run does this)",
      );
    }
    throw e;
  }
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, output: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

const handedOut = new Set<number>();

/**
 * A TCP port that was free a moment ago on 127.0.0.1, never the same one twice in a
 * process. Drawn at random below the kernel's ephemeral range (32768-60999 on Linux), so
 * neither the kernel (which hands its port-0 picks and outgoing connections' ports out of
 * that range, and may repeat one just released) nor a concurrent test run picking the
 * same way is likely to take it before the caller binds it.
 */
export function freePort(): number {
  for (let attempt = 0; attempt < 1_000; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (handedOut.has(port)) continue;
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
    } catch {
      continue;
    }
    handedOut.add(port);
    return port;
  }
  throw new Error("Cannot find a free TCP port in 20000-31999 after 1000 tries");
}

/** Polls `check` every `everyMs` until it returns a truthy value or `timeoutMs` passes (then throws). */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  { timeoutMs = 10_000, everyMs = 50 } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last}` : ""}`);
}

let keysDir: string | undefined;

/**
 * A CURVE key directory for the whole test process (filled on first use), so no test
 * writes keys into the repository's `data/`.
 */
export function testKeysDir(): string {
  keysDir ??= `${Deno.makeTempDirSync({ prefix: "trading-test-keys-" })}/keys`;
  return keysDir;
}

/**
 * A service (or any Deno script) running as a subprocess, with its output collected. Its
 * CURVE keys are the test process's ({@link testKeysDir}) unless `env` names others.
 * `prefix` runs it under another command that then execs Deno, such as
 * `["ip", "netns", "exec", "<namespace>"]` (lib/testing/netns.ts). `denoFlags` go to `deno run`
 * before the script, such as `--inspect=127.0.0.1:<port>` (bench/pipeline.ts's soak).
 */
export class Proc {
  readonly child: Deno.ChildProcess;
  stdout = "";
  stderr = "";
  readonly done: Promise<Deno.CommandStatus>;
  constructor(
    script: string,
    args: string[] = [],
    env: Record<string, string> = {},
    prefix: readonly string[] = [],
    denoFlags: readonly string[] = [],
  ) {
    const argv = [...prefix, Deno.execPath(), "run", "-A", ...denoFlags, script, ...args];
    this.child = new Deno.Command(argv[0], {
      args: argv.slice(1),
      env: { LOG_FORMAT: "json", TRADING__SECURITY__KEYS_DIR: testKeysDir(), ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const dec = new TextDecoder();
    const pump = async (s: ReadableStream<Uint8Array>, k: "stdout" | "stderr") => {
      for await (const chunk of s) this[k] += dec.decode(chunk, { stream: true });
    };
    const a = pump(this.child.stdout, "stdout");
    const b = pump(this.child.stderr, "stderr");
    this.done = Promise.all([this.child.status, a, b]).then(([s]) => s);
  }
  /** Sends SIGTERM, then SIGKILL after `graceMs`; resolves with the status. */
  async stop(graceMs = 5000): Promise<Deno.CommandStatus> {
    try {
      this.child.kill("SIGTERM");
    } catch { /* gone */ }
    const t = setTimeout(() => {
      try {
        this.child.kill("SIGKILL");
      } catch { /* gone */ }
    }, graceMs);
    const s = await this.done;
    clearTimeout(t);
    return s;
  }
}

/**
 * Removes a test's temporary directory. SQLite's checkpoint worker (lib/wal_checkpoint.ts)
 * may still be closing its connection to a file there, re-creating `-wal`/`-shm` files
 * for a moment: retry for up to 2 s.
 */
export async function removeDir(path: string): Promise<void> {
  for (let attempt = 0;; attempt++) {
    try {
      await Deno.remove(path, { recursive: true });
      return;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return;
      if (attempt >= 40) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
