/**
 * Every entry point answers `--help` with what it does, its flags, its environment and
 * where the config keys are documented, and exits 0 without binding anything; an unknown
 * flag exits 2 naming it.
 */
import assert from "node:assert/strict";
import { Proc } from "../../lib/testing/tools.ts";

const ENTRY_POINTS: Record<string, string> = {
  "market-data": "services/market-data/main.ts",
  "signal-bridge": "services/signal-bridge/main.ts",
  "risk-manager": "services/risk-manager/main.ts",
  "execution-engine": "services/execution-engine/main.ts",
  start: "services/start.ts",
  status: "services/status.ts",
  keys: "services/keys.ts",
  compile: "services/compile.ts",
  bench: "bench/pipeline.ts",
  stack: "monitoring/stack.ts",
  deploy: "deploy/render.ts",
};

Deno.test("every entry point prints its help and exits 0 without binding, even with its port taken", async () => {
  // Hold market-data's default port: a service that started instead of printing help would exit 3.
  let holder: Deno.Listener | undefined;
  try {
    holder = Deno.listen({ hostname: "127.0.0.1", port: 9090 });
  } catch { /* someone else holds it: just as good */ }
  try {
    for (const [name, script] of Object.entries(ENTRY_POINTS)) {
      for (const flag of ["--help", "-h"]) {
        const p = new Proc(script, [flag]);
        const status = await p.done;
        assert.equal(status.code, 0, `${name} ${flag}: ${p.stderr}`);
        assert.match(p.stdout, new RegExp(`^deno task ${name}: `), name);
        assert.match(p.stdout, /-h, --help/);
        assert.match(p.stdout, /Usage: deno task /);
      }
    }
  } finally {
    holder?.close();
  }
});

Deno.test("every entry point refuses an unknown flag with exit code 2, naming it", async () => {
  for (const [name, script] of Object.entries(ENTRY_POINTS)) {
    const p = new Proc(script, ["--no-such-flag"]);
    const status = await p.done;
    assert.equal(status.code, 2, name);
    assert.match(p.stderr, /unknown flag "--no-such-flag"/, name);
  }
});

Deno.test("a service's help names its flags, its secrets and where the config keys are", async () => {
  const p = new Proc(ENTRY_POINTS["risk-manager"], ["--help"]);
  await p.done;
  assert.match(p.stdout, /--config PATH/);
  assert.match(p.stdout, /RISK_ADMIN_TOKEN/);
  assert.match(p.stdout, /TRADING__<PATH>/);
  assert.match(p.stdout, /README\.md \(Config\)/);
  assert.match(p.stdout, /Exit codes: 0 stopped cleanly, 1 crashed, 2 invalid config/);
});

Deno.test("deno task compile fails with a message naming why when its runtime cannot be had", async () => {
  // No denort cached in a fresh DENO_DIR and no DENORT_BIN: it must be downloaded.
  const denoDir = await Deno.makeTempDir({ prefix: "compile-test-deno-dir-" });
  const out = await Deno.makeTempDir({ prefix: "compile-test-out-" });
  try {
    const p = new Proc(ENTRY_POINTS.compile, ["--out", out], { DENO_DIR: denoDir });
    const status = await p.done;
    if (status.code === 0) {
      // A machine that reaches dl.deno.land builds real binaries: they must run.
      const help = await new Deno.Command(`${out}/market-data`, { args: ["--help"] }).output();
      assert.equal(help.code, 0);
      assert.match(new TextDecoder().decode(help.stdout), /deno task market-data/);
    } else {
      assert.equal(status.code, 1);
      assert.match(
        p.stderr,
        /compile: cannot build market-data: deno compile could not download its runtime/,
      );
      assert.match(p.stderr, /dl\.deno\.land/);
      assert.match(p.stderr, /DENORT_BIN/);
    }
  } finally {
    await Deno.remove(denoDir, { recursive: true });
    await Deno.remove(out, { recursive: true });
  }
});
