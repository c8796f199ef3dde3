/**
 * `deno task start`: runs the four services as child processes, in pipeline order
 * from the end (execution-engine first, so orders have somewhere to go), passing
 * through their JSON log lines and any `--config` argument. SIGINT/SIGTERM stop
 * them all gracefully; if one exits, the others are stopped and start exits with
 * its code, so a broken pipeline is never left half-running.
 * @module
 */
import { loadConfig } from "../lib/config.ts";
import { KeyStore } from "../lib/keys.ts";
import { IDENTITIES } from "../lib/messaging_context.ts";
import { type ServiceName, SERVICES } from "../lib/metrics.ts";

const order: ServiceName[] = [...SERVICES].reverse();
const here = new URL(".", import.meta.url);
const children = new Map<ServiceName, Deno.ChildProcess>();
let stopping = false;

function spawn(name: ServiceName): Deno.ChildProcess {
  const main = new URL(`./${name}/main.ts`, here).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", main, ...Deno.args],
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  return child;
}

async function stopAll(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    for (const child of children.values()) {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
    }
    const killer = setTimeout(() => {
      for (const child of children.values()) {
        try {
          child.kill("SIGKILL");
        } catch { /* already gone */ }
      }
    }, 15_000);
    const statuses = await Promise.all([...children.values()].map((c) => c.status));
    clearTimeout(killer);
    // A clean stop is one where every service closed cleanly.
    if (code === 0 && statuses.some((s) => s.code !== 0)) code = 1;
  }
  Deno.exit(code);
}

for (const sig of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(sig, () => void stopAll(0));
}

// The CURVE keys of a fresh install, made once here rather than raced by four services.
// A config or key problem is left to the services: each names it and exits 2.
try {
  const config = loadConfig({ args: Deno.args, env: Deno.env.toObject() });
  if (config.security.mode === "curve") {
    KeyStore.open(config.security.keysDir).ensureAll(IDENTITIES);
  }
} catch { /* reported by the services */ }

for (const name of order) {
  const child = spawn(name);
  children.set(name, child);
  child.status.then((s) => {
    if (stopping) return;
    console.error(
      JSON.stringify({
        ts: new Date().toISOString(),
        level: "error",
        service: "start",
        logger: "trading.start",
        msg: "A service exited; stopping the others",
        child: name,
        code: s.code,
        signal: s.signal,
      }),
    );
    void stopAll(s.code === 0 ? 1 : s.code);
  });
  // Give each service a moment to bind before the next connects (ZeroMQ reconnects anyway).
  await new Promise((r) => setTimeout(r, 300));
}
