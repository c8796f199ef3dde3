/**
 * `deno task start [--config PATH] [--no-view] [--log-file PATH]`: runs the four
 * services as child processes and supervises them (services/operator/supervisor.ts): a
 * service that dies is restarted with an exponential backoff and the restart is logged
 * and counted; everything stops on Ctrl-C/SIGTERM, or when a service fails at start-up
 * for a reason a restart cannot fix (invalid config or key, exit 2; metrics port taken,
 * exit 3), with that reason printed last and as the exit code.
 *
 * Tracing is off unless a collector is configured (`OTEL_EXPORTER_OTLP_ENDPOINT`): then each
 * service runs with `OTEL_DENO=true` and the defaults of lib/tracing_config.ts; `OTEL_DENO=false`
 * keeps it off. Each service is named for OpenTelemetry (`OTEL_SERVICE_NAME`) in any case.
 *
 * On a terminal it shows a live view (services/operator/live_view.ts) refreshed every
 * second, and the services' log lines go to a file (default `<dataDir>/logs/trading.log`)
 * whose path the view shows. Piped, or with `--no-view`, the services' JSON log lines
 * pass through on stdout and the launcher's own on stderr, as JSON lines too.
 * @module
 */
import { CONFIG_DOCS, CONFIG_ENV, parseCommandLine } from "../lib/cli.ts";
import { type Config, loadConfig } from "../lib/config.ts";
import { KeyStore } from "../lib/keys.ts";
import { IDENTITIES } from "../lib/messaging_context.ts";
import { type ServiceName, SERVICES } from "../lib/metrics.ts";
import { serviceTracingEnv } from "../lib/tracing_config.ts";
import { renderView } from "./operator/live_view.ts";
import { type Snapshot, takeSnapshot } from "./operator/snapshot.ts";
import {
  type Child,
  type ChildExit,
  FATAL_EXIT_CODES,
  Supervisor,
  type SupervisorEvent,
} from "./operator/supervisor.ts";

const HERE = new URL(".", import.meta.url);

/** Keeps the last lines a child wrote on stderr, for the reason of a fatal exit. */
class Tail {
  readonly #lines: string[] = [];
  #partial = "";
  push(text: string): void {
    const parts = (this.#partial + text).split("\n");
    this.#partial = parts.pop() ?? "";
    for (const l of parts) if (l.trim()) this.#lines.push(l);
    if (this.#lines.length > 20) this.#lines.splice(0, this.#lines.length - 20);
  }
  last(): string | undefined {
    return [...this.#lines, this.#partial].filter((l) => l.trim()).at(-1);
  }
}

function jsonLine(level: string, msg: string, fields: Record<string, unknown> = {}): string {
  return JSON.stringify({
    ts: new Date().toISOString(),
    level,
    service: "start",
    logger: "trading.start",
    msg,
    ...fields,
  });
}

async function main(): Promise<void> {
  const args = parseCommandLine(Deno.args, {
    name: "start",
    summary: "Runs and supervises the four services: a service that dies is restarted " +
      "with a backoff; Ctrl-C stops them all. On a terminal it shows a live view and " +
      "writes the services' logs to a file.",
    flags: [
      { name: "config", value: "PATH", help: "the config file of every service" },
      { name: "no-view", help: "no live view: log lines on stdout even on a terminal" },
      {
        name: "log-file",
        value: "PATH",
        help: "where logs go with the view (<dataDir>/logs/trading.log)",
      },
    ],
    env: CONFIG_ENV,
    notes: [
      CONFIG_DOCS,
      "Exit codes: 0 stopped cleanly, 1 a service did not stop cleanly, 2 or 3 a service " +
      "could not start (invalid config or key; metrics port in use).",
    ],
  });
  let config: Config | undefined;
  try {
    config = loadConfig({ args: Deno.args, env: Deno.env.toObject() });
    // The CURVE keys of a fresh install, made once here rather than raced by four services.
    if (config.security.mode === "curve") {
      KeyStore.open(config.security.keysDir).ensureAll(IDENTITIES);
    }
  } catch { /* the services name the problem and exit 2, which stops the launcher */ }

  const serviceArgs = typeof args.values.config === "string"
    ? ["--config", args.values.config]
    : [];
  const viewing = Deno.stdout.isTerminal() && !args.values["no-view"] && config !== undefined;
  const logPath = typeof args.values["log-file"] === "string"
    ? args.values["log-file"]
    : `${config?.dataDir ?? "data"}/logs/trading.log`;
  let logFile: Deno.FsFile | undefined;
  if (viewing) {
    Deno.mkdirSync(logPath.includes("/") ? logPath.slice(0, logPath.lastIndexOf("/")) : ".", {
      recursive: true,
    });
    logFile = Deno.openSync(logPath, { create: true, append: true });
  }
  const encoder = new TextEncoder();
  const writeAll = (target: { writeSync(b: Uint8Array): number }, bytes: Uint8Array) => {
    for (let off = 0; off < bytes.length;) off += target.writeSync(bytes.subarray(off));
  };
  const launcherLog = (line: string) =>
    writeAll(logFile ?? Deno.stderr, encoder.encode(line + "\n"));

  const tails = new Map<ServiceName, Tail>();
  const spawn = (service: ServiceName, restarts: number): Child => {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL(`./${service}/main.ts`, HERE).pathname, ...serviceArgs],
      env: {
        // OTEL_SERVICE_NAME, and tracing on when a collector is configured (lib/tracing_config.ts).
        ...serviceTracingEnv(service, Deno.env.toObject()),
        TRADING_SUPERVISOR_RESTARTS: String(restarts),
        ...(viewing ? { LOG_FORMAT: "json" } : {}),
      },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const tail = new Tail();
    tails.set(service, tail);
    const pump = async (
      stream: ReadableStream<Uint8Array>,
      out: { writeSync(b: Uint8Array): number },
      keep: boolean,
    ) => {
      const decoder = new TextDecoder();
      for await (const chunk of stream) {
        writeAll(out, chunk);
        if (keep) tail.push(decoder.decode(chunk, { stream: true }));
      }
    };
    const pumps = Promise.all([
      pump(child.stdout, logFile ?? Deno.stdout, false),
      pump(child.stderr, logFile ?? Deno.stderr, true),
    ]);
    return {
      pid: child.pid,
      status: Promise.all([child.status, pumps]).then(([s]): ChildExit => ({
        code: s.code,
        signal: s.signal,
      })),
      kill: (signal) => child.kill(signal),
    };
  };

  const onEvent = (e: SupervisorEvent) => {
    switch (e.kind) {
      case "started":
        launcherLog(
          jsonLine("info", "Service started", {
            child: e.service,
            pid: e.pid,
            restarts: e.restarts,
          }),
        );
        break;
      case "exited":
        launcherLog(jsonLine(e.code === 0 ? "info" : "error", "Service exited", {
          child: e.service,
          code: e.code,
          signal: e.signal,
          ranMs: Math.round(e.ranMs),
        }));
        break;
      case "restarting":
        launcherLog(jsonLine("warning", "Restarting a service after it exited", {
          child: e.service,
          inMs: e.inMs,
          restarts: e.restarts,
        }));
        break;
      case "fatal":
        launcherLog(jsonLine("fatal", "A service cannot run; stopping the others", {
          child: e.service,
          code: e.code,
          reason: e.reason,
        }));
        break;
      case "stopping":
        launcherLog(jsonLine("info", "Stopping every service", { why: e.why }));
        break;
    }
  };

  const supervisor = new Supervisor({
    services: [...SERVICES].reverse(),
    spawn,
    reasonOf: (service, exit) =>
      `${FATAL_EXIT_CODES[exit.code]} (exit ${exit.code}): ${tails.get(service)?.last() ?? ""}`,
    onEvent,
  });
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(sig, () => supervisor.stop(sig));
  }

  let viewTimer: ReturnType<typeof setInterval> | undefined;
  if (viewing && config) {
    const history: Snapshot[] = [];
    let drawing = false;
    const draw = async () => {
      if (drawing) return;
      drawing = true;
      try {
        const now = await takeSnapshot(config!, 800);
        const older = history.find((s) => now.at - s.at <= 10_500) ?? history[0];
        const text = renderView(now, history.at(-1), older, {
          logPath,
          supervised: supervisor.status(),
        });
        history.push(now);
        while (history.length > 12) history.shift();
        writeAll(Deno.stdout, encoder.encode("\x1b[H\x1b[2J" + text + "\n"));
      } finally {
        drawing = false;
      }
    };
    viewTimer = setInterval(() => void draw(), 1000);
  }

  const result = await supervisor.run();
  if (viewTimer !== undefined) clearInterval(viewTimer);
  if (viewing) writeAll(Deno.stdout, encoder.encode("\x1b[H\x1b[2J"));
  logFile?.close();
  if (result.fatal) {
    // Printed last, so it is what the operator reads.
    console.error(`start: ${result.fatal.service} cannot run: ${result.fatal.reason}`);
  } else if (viewing) {
    console.error(`start: stopped (code ${result.code}); logs are in ${logPath}`);
  }
  Deno.exit(result.code);
}

if (import.meta.main) await main();
