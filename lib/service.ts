/**
 * The start-up and shut-down sequence every service shares: config (exit 2 when
 * invalid), JSON logging, the service's metrics registry, its HTTP server (exit 3
 * when the port is taken), its channels' keys and ZAP handler (exit 2 when a key is
 * missing or malformed), the service's own core, and a graceful close on SIGINT/SIGTERM.
 *
 * @example
 * ```ts
 * await runService("signal-bridge", (ctx) => startSignalBridge(ctx));
 * ```
 * @module
 */
import type { Hono } from "hono";
import {
  type CommandSpec,
  CONFIG_DOCS,
  CONFIG_ENV,
  type EnvSpec,
  parseCommandLine,
} from "./cli.ts";
import { type Config, ConfigError, loadConfig, type Secrets, secretsFromEnv } from "./config.ts";
import { createServiceApp, serve, ServeError } from "./http.ts";
import { getLogger, setupLogging } from "./log.ts";
import { KeyError } from "./keys.ts";
import { MessagingContext } from "./messaging_context.ts";
import { createServiceMetrics, type ServiceMetrics, type ServiceName } from "./metrics.ts";
import { flushAllTracers } from "./tracing.ts";
import { TRACING_ENV, type TracingSettings, tracingSettings } from "./tracing_config.ts";

/** What a service's core receives. */
export interface ServiceContext<S extends ServiceName> {
  readonly service: S;
  readonly config: Config;
  readonly secrets: Secrets;
  readonly metrics: ServiceMetrics<S>;
  /** Socket options of every channel, with CURVE unless `security.mode` is `insecure`. */
  readonly messaging: MessagingContext;
  /** Aborted when the service is asked to stop. */
  readonly signal: AbortSignal;
}

/** What a service's core hands back. */
export interface RunningCore {
  /** Readiness checks for `/ready`. */
  ready?: () => Record<string, boolean>;
  /** An admin API served under `/admin/*` (its routes include the `/admin` prefix). */
  admin?: Hono;
  /** Closes sockets and stores; called once on shut-down. */
  close?: () => Promise<void>;
}

/** Exit codes of a service process. */
export const EXIT = { ok: 0, config: 2, port: 3, crash: 1 } as const;

/** The `http` section of the config for a service. */
export function httpConfigOf(config: Config, service: ServiceName): { host: string; port: number } {
  switch (service) {
    case "market-data":
      return config.marketData.http;
    case "signal-bridge":
      return config.signalBridge.http;
    case "risk-manager":
      return config.riskManager.http;
    case "execution-engine":
      return config.executionEngine.http;
  }
}

/** What `--help` says of a service beyond the flags every service takes. */
export interface ServiceHelp {
  /** What the service does, in a sentence or two. */
  readonly summary: string;
  /** Environment the service reads beyond the config's (secrets). */
  readonly env?: readonly EnvSpec[];
}

/** The command line every service takes: `--config PATH`, `-h`/`--help`. */
export function serviceCommand(service: ServiceName, help: ServiceHelp): CommandSpec {
  return {
    name: service,
    summary: help.summary,
    flags: [{
      name: "config",
      value: "PATH",
      help: "the config file (default config/system.json)",
    }],
    env: [
      ...CONFIG_ENV,
      ...TRACING_ENV,
      ...(help.env ?? []),
      {
        name: "TRADING_SUPERVISOR_RESTARTS",
        help: "set by `deno task start`: restarts so far (service_restarts_total)",
      },
    ],
    notes: [
      CONFIG_DOCS,
      `Exit codes: ${EXIT.ok} stopped cleanly, ${EXIT.crash} crashed, ${EXIT.config} invalid ` +
      `config or key, ${EXIT.port} metrics port in use.`,
    ],
  };
}

/**
 * Runs a service until SIGINT/SIGTERM. Never returns normally: exits the process
 * with an {@link EXIT} code. `--help` prints the service's help and exits 0 before
 * anything is read or bound; an unknown flag exits 2.
 */
export async function runService<S extends ServiceName>(
  service: S,
  start: (ctx: ServiceContext<S>) => Promise<RunningCore> | RunningCore,
  help: ServiceHelp = { summary: `the ${service} service` },
): Promise<never> {
  parseCommandLine(Deno.args, serviceCommand(service, help));
  let config: Config;
  let tracing: TracingSettings;
  try {
    config = loadConfig({ args: Deno.args, env: Deno.env.toObject() });
    // Deno read the OTEL_* variables when the process started: a wrong one stops it here.
    tracing = tracingSettings(Deno.env.toObject());
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`${service}: ${e.message}`);
      Deno.exit(EXIT.config);
    }
    throw e;
  }
  try {
    setupLogging(service);
  } catch (e) {
    console.error(`${service}: ${(e as Error).message}`);
    Deno.exit(EXIT.config);
  }
  const log = getLogger(["trading", "service"]);
  const metrics = createServiceMetrics(service);
  // A counter across the supervisor's restarts: each new process starts at the count so far.
  const restarts = Number(Deno.env.get("TRADING_SUPERVISOR_RESTARTS") ?? 0);
  (metrics.families as ServiceMetrics<ServiceName>["families"]).service_restarts_total.inc(
    { service },
    Number.isSafeInteger(restarts) && restarts > 0 ? restarts : 0,
  );
  const abort = new AbortController();
  let core: RunningCore = {};
  let stopping = false;
  let coreReady = false;
  const app = createServiceApp({
    service,
    registry: metrics.registry,
    requests: metrics.families.http_requests_total,
    ready: () => (coreReady ? core.ready?.() ?? {} : { started: false }),
    // The core starts after the server is up, so its admin app is reached by delegation.
    routes: (a) =>
      a.all(
        "/admin/*",
        (c) => core.admin ? core.admin.fetch(c.req.raw) : c.json({ error: "not_found" }, 404),
      ),
  });
  let server: ReturnType<typeof serve> | undefined;
  let messaging: MessagingContext | undefined;
  const stop = async (why: string, code: number) => {
    if (stopping) return;
    stopping = true;
    log.info("Service stopping", { reason: why });
    abort.abort();
    const deadline = setTimeout(() => {
      log.error("Shut-down took longer than 10 s; exiting anyway");
      Deno.exit(code || EXIT.crash);
    }, 10_000);
    try {
      await core.close?.();
      await messaging?.close();
    } catch (e) {
      log.error("Error while closing", { error: e });
    }
    metrics.stop();
    // Span work waits up to SPAN_FLUSH_MS to be written in a burst: write it now, so Deno's
    // export flushes it at exit.
    flushAllTracers();
    await server?.shutdown().catch(() => {});
    clearTimeout(deadline);
    log.info("Service stopped", { reason: why });
    Deno.exit(code);
  };
  // Listening from before the port opens: a SIGTERM that arrives while the service is
  // still starting (its /health already answering) stops it cleanly once the step under
  // way has finished (a socket half opened must be closed, not left to the exit).
  let starting = true;
  let signalledWhileStarting: string | undefined;
  const stopIfSignalled = async () => {
    if (signalledWhileStarting !== undefined) await stop(signalledWhileStarting, EXIT.ok);
  };
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(sig, () => {
      if (starting) signalledWhileStarting ??= sig;
      else void stop(sig, EXIT.ok);
    });
  }
  const httpConf = httpConfigOf(config, service);
  try {
    server = serve(app, { ...httpConf, service });
  } catch (e) {
    if (e instanceof ServeError) {
      log.fatal(e.message, { host: httpConf.host, port: httpConf.port });
      console.error(`${service}: ${e.message}`);
      Deno.exit(EXIT.port);
    }
    throw e;
  }
  log.info("Service starting", { http: `${server.host}:${server.port}`, pid: Deno.pid });
  if (tracing.enabled) {
    log.info("Tracing on", {
      endpoint: tracing.endpoint,
      sampler: tracing.sampler,
      ratio: tracing.ratio,
    });
  }

  try {
    messaging = await startMessaging(service, config, metrics);
  } catch (e) {
    if (e instanceof KeyError) {
      log.fatal(e.message);
      console.error(`${service}: ${e.message}`);
      Deno.exit(EXIT.config);
    }
    throw e;
  }

  await stopIfSignalled();

  globalThis.addEventListener("unhandledrejection", (ev) => {
    ev.preventDefault();
    log.error("Unhandled rejection", { error: ev.reason });
  });

  try {
    // A core may refuse its own config (e.g. a bad model file) with a ConfigError.
    core = await start({
      service,
      config,
      secrets: secretsFromEnv(Deno.env.toObject()),
      metrics,
      messaging,
      signal: abort.signal,
    });
    coreReady = true;
    starting = false;
    log.info("Service started");
    await stopIfSignalled();
  } catch (e) {
    if (e instanceof ConfigError) {
      log.fatal(e.message);
      console.error(`${service}: ${e.message}`);
      await stop("config", EXIT.config);
    }
    log.fatal("Service failed to start", { error: e });
    await stop("start failed", EXIT.crash);
  }
  // Keep running until a signal arrives.
  return await new Promise<never>(() => {});
}

/**
 * The service's channels: CURVE keys (created in a fresh key directory) and the ZAP
 * handler, or plain TCP with a loud warning when `security.mode` is `insecure`.
 *
 * @throws {KeyError} If a key the service needs is missing or malformed.
 */
export async function startMessaging<S extends ServiceName>(
  service: S,
  config: Config,
  metrics: ServiceMetrics<S>,
): Promise<MessagingContext> {
  const log = getLogger(["trading", "service"]);
  const messaging = await MessagingContext.start({
    service,
    config,
    registry: metrics.registry,
    queueDepth: (metrics.families as ServiceMetrics<ServiceName>["families"])
      .system_zmq_queue_depth,
  });
  if (!messaging.secure) {
    log.error(
      'Messaging is INSECURE ("security.mode" is "insecure"): no channel is authenticated or ' +
        "encrypted, so anyone who reaches an endpoint can read market data and signals, " +
        "take or inject orders and forge fills",
      { mode: config.security.mode },
    );
  } else {
    log.info("Messaging secured with CURVE", { keysDir: config.security.keysDir });
  }
  for (const path of messaging.exposedKeys) {
    log.warning("A secret key file can be read by other users: chmod 600 it", { path });
  }
  return messaging;
}
