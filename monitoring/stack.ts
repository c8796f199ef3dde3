/**
 * `deno task stack`: the compose stack without Docker. Runs the four services
 * (`services/start.ts`), and Prometheus and Alertmanager from the local install when
 * present (Debian's `prometheus` and `prometheus-alertmanager`), on ports that do not
 * clash with the services: Prometheus UI on 127.0.0.1:9999 (as in the seed),
 * Alertmanager on 127.0.0.1:9094 (`--prometheus-port`, `--alertmanager-port` to move
 * them; `--config` as for the services, whose ports Prometheus then scrapes). Grafana is
 * not run (compose has it). Ctrl-C stops all.
 *
 * Prometheus stores exemplars (the trace ids on the latency histograms). Tracing is on when a
 * collector is configured (`OTEL_EXPORTER_OTLP_ENDPOINT`, e.g. a local Tempo, Jaeger or
 * OpenTelemetry Collector on :4318): `services/start.ts` then runs each service with
 * `OTEL_DENO=true` (lib/tracing_config.ts).
 *
 * Where alerts go: `--webhook URL` (or `$ALERT_WEBHOOK_URL`) receives every alert, and
 * `--deadmans-switch URL` (or `$DEADMANS_SWITCH_URL`) the always-firing Watchdog. For
 * either one not given, the stack runs monitoring/alert_receiver.ts on
 * 127.0.0.1:5001 (`--receiver-port`), which prints every alert it receives, firing and
 * resolved, on this console, and says when the Watchdog stops arriving.
 *
 * The helpers below are shared with the end-to-end test, which runs the same stack on
 * free ports.
 * @module
 */
import {
  type CommandLine,
  type CommandSpec,
  CONFIG_DOCS,
  CONFIG_ENV,
  parseCommandLine,
} from "../lib/cli.ts";
import { loadConfig } from "../lib/config.ts";
import { serviceTracingEnv, tracingSettings } from "../lib/tracing_config.ts";
import { setupLogging } from "../lib/log.ts";
import { SERVICES } from "../lib/metrics.ts";
import { AlertReceiver } from "./alert_receiver.ts";

const HERE = new URL(".", import.meta.url);
/** monitoring/prometheus.yml */
export const PROMETHEUS_YML = new URL("prometheus.yml", HERE).pathname;
/** monitoring/alertmanager.yml */
export const ALERTMANAGER_YML = new URL("alertmanager.yml", HERE).pathname;
/** monitoring/alerts/trading_system.yml */
export const RULES_YML = new URL("alerts/trading_system.yml", HERE).pathname;

/** The placeholder URLs of monitoring/alertmanager.yml that {@link alertmanagerConfig} replaces. */
export const RECEIVER_PLACEHOLDERS = {
  alerts: "http://alert-receiver:5001/alerts",
  watchdog: "http://alert-receiver:5001/watchdog",
} as const;

/** The first of `names` found on PATH, or undefined. */
export function findBinary(...names: string[]): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    for (const n of names) {
      try {
        const p = `${dir}/${n}`;
        if (Deno.statSync(p).isFile) return p;
      } catch { /* not here */ }
    }
  }
  return undefined;
}

function swapOnce(text: string, from: string | RegExp, to: string, what: string): string {
  const n = typeof from === "string"
    ? text.split(from).length - 1
    : [...text.matchAll(new RegExp(from, "g"))].length;
  if (n === 0) throw new Error(`Cannot adapt ${what}: "${from}" not found`);
  return typeof from === "string"
    ? text.replaceAll(from, to)
    : text.replace(new RegExp(from, "g"), to);
}

/** Where the stack's parts listen, for {@link prometheusConfig}. */
export interface StackPorts {
  /** Metrics ports of the four services, in SERVICES order. */
  services: number[];
  alertmanager: number;
  /** Prometheus's own port (it scrapes itself). */
  prometheus: number;
}

/**
 * monitoring/prometheus.yml with the targets moved to `ports` (the services, Alertmanager
 * and Prometheus itself), the rule file made absolute (a copy at `rulesPath`), and
 * optionally faster intervals for tests.
 */
export function prometheusConfig(
  ports: StackPorts,
  rulesPath: string,
  intervalS?: number,
): string {
  let c = Deno.readTextFileSync(PROMETHEUS_YML);
  const what = "monitoring/prometheus.yml";
  c = swapOnce(c, "- alerts/trading_system.yml", `- ${JSON.stringify(rulesPath)}`, what);
  // Alertmanager is both where alerts go and a scrape target.
  c = swapOnce(c, '"localhost:9094"', `"127.0.0.1:${ports.alertmanager}"`, what);
  c = swapOnce(c, '"localhost:9999"', `"127.0.0.1:${ports.prometheus}"`, what);
  SERVICES.forEach((_, i) => {
    c = swapOnce(c, `"localhost:${9090 + i}"`, `"127.0.0.1:${ports.services[i]}"`, what);
  });
  if (intervalS !== undefined) {
    c = swapOnce(c, /scrape_interval: \d+s/, `scrape_interval: ${intervalS}s`, what);
    c = swapOnce(c, /evaluation_interval: \d+s/, `evaluation_interval: ${intervalS}s`, what);
  }
  return c;
}

/** The alert rules, with every group's interval set to `intervalS` (for tests). */
export function rulesWithInterval(intervalS: number): string {
  return Deno.readTextFileSync(RULES_YML).replace(
    /^(\s+)interval: \d+s/gm,
    `$1interval: ${intervalS}s`,
  );
}

/** Where {@link alertmanagerConfig} sends alerts. */
export interface ReceiverUrls {
  /** Every alert but the Watchdog. */
  alerts: string;
  /** The Watchdog (a dead-man's switch). */
  watchdog: string;
}

/**
 * monitoring/alertmanager.yml with its webhooks pointed at `urls` and, for tests,
 * notification timers shortened to `fastS` seconds (group wait 0, group and repeat
 * intervals `fastS`).
 */
export function alertmanagerConfig(urls: ReceiverUrls, fastS?: number): string {
  let c = Deno.readTextFileSync(ALERTMANAGER_YML);
  const what = "monitoring/alertmanager.yml";
  c = swapOnce(
    c,
    `url: ${RECEIVER_PLACEHOLDERS.alerts}`,
    `url: ${JSON.stringify(urls.alerts)}`,
    what,
  );
  c = swapOnce(
    c,
    `url: ${RECEIVER_PLACEHOLDERS.watchdog}`,
    `url: ${JSON.stringify(urls.watchdog)}`,
    what,
  );
  if (fastS !== undefined) {
    c = swapOnce(c, /group_wait: \d+[sm]/, `group_wait: 0s`, what);
    c = swapOnce(c, /group_interval: \d+[sm]/, `group_interval: ${fastS}s`, what);
    c = swapOnce(c, /repeat_interval: \d+[smh]/, `repeat_interval: ${fastS}s`, what);
  }
  return c;
}

/**
 * Checks a receiver URL given on the command line or in the environment.
 *
 * @throws {Error} If it is not an http or https URL.
 */
export function checkWebhookUrl(what: string, url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`${what} must be an http(s) URL, got ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new Error(`${what} must be an http(s) URL, got ${JSON.stringify(url)}`);
  }
  return url;
}

/** Starts a daemon with its output piped (drain it with {@link drainTo}). */
function startDaemon(bin: string, args: string[]): Deno.ChildProcess {
  return new Deno.Command(bin, { args, stdin: "null", stdout: "piped", stderr: "piped" }).spawn();
}

/**
 * The flags Prometheus runs with beyond its files and address: the lifecycle API, and exemplar
 * storage (the trace ids the services attach to their latency histograms, kept and served at
 * `/api/v1/query_exemplars`). compose.yaml passes the same feature flag.
 */
export const PROMETHEUS_FLAGS = ["--web.enable-lifecycle", "--enable-feature=exemplar-storage"];

/**
 * Starts Prometheus on 127.0.0.1:`port`, with {@link PROMETHEUS_FLAGS}. `extraArgs` are added
 * (tests shorten `--rules.alert.resend-delay`).
 */
export function startPrometheus(
  bin: string,
  configPath: string,
  dataDir: string,
  port: number,
  extraArgs: string[] = [],
): Deno.ChildProcess {
  return startDaemon(bin, [
    `--config.file=${configPath}`,
    `--storage.tsdb.path=${dataDir}`,
    `--web.listen-address=127.0.0.1:${port}`,
    ...PROMETHEUS_FLAGS,
    ...extraArgs,
  ]);
}

/** Starts Alertmanager on 127.0.0.1:`port`, clustering off. */
export function startAlertmanager(
  bin: string,
  configPath: string,
  dataDir: string,
  port: number,
): Deno.ChildProcess {
  return startDaemon(bin, [
    `--config.file=${configPath}`,
    `--storage.path=${dataDir}`,
    `--web.listen-address=127.0.0.1:${port}`,
    "--cluster.listen-address=",
  ]);
}

/** Drains a child's output into a file so its pipes never fill. */
export function drainTo(child: Deno.ChildProcess, path: string): Promise<void> {
  const file = Deno.openSync(path, { create: true, write: true, append: true });
  const pump = async (s: ReadableStream<Uint8Array> | null) => {
    if (!s) return;
    for await (const chunk of s) file.writeSync(chunk);
  };
  return Promise.all([pump(child.stdout), pump(child.stderr)]).then(() => file.close());
}

/** The command line of `deno task stack`. */
const STACK_COMMAND: CommandSpec = {
  name: "stack",
  summary: "The compose stack without Docker: the four services (deno task start), " +
    "Prometheus and Alertmanager from the local install, and an alert receiver that " +
    "prints every alert on this console unless a webhook is given. Ctrl-C stops all.",
  flags: [
    { name: "config", value: "PATH", help: "the config of every service (scraped ports)" },
    { name: "prometheus-port", value: "N", help: "Prometheus UI and API port (9999)" },
    { name: "alertmanager-port", value: "N", help: "Alertmanager port (9094)" },
    { name: "receiver-port", value: "N", help: "the console alert receiver's port (5001)" },
    { name: "webhook", value: "URL", help: "where every alert goes ($ALERT_WEBHOOK_URL)" },
    {
      name: "deadmans-switch",
      value: "URL",
      help: "where the always-firing Watchdog goes ($DEADMANS_SWITCH_URL)",
    },
    { name: "no-view", help: "passed to deno task start: no live view" },
    { name: "log-file", value: "PATH", help: "passed to deno task start: the services' log" },
  ],
  env: [
    ...CONFIG_ENV.slice(0, 2),
    { name: "ALERT_WEBHOOK_URL", help: "as --webhook" },
    { name: "DEADMANS_SWITCH_URL", help: "as --deadmans-switch" },
    {
      name: "OTEL_EXPORTER_OTLP_ENDPOINT",
      help: "an OTLP/HTTP collector: the services trace to it (README, Tracing)",
    },
  ],
  notes: [
    CONFIG_DOCS,
    "Needs Debian's prometheus and prometheus-alertmanager (bash .ci/ensure-tools).",
    "Exit codes: 0 stopped by Ctrl-C/SIGTERM, 2 bad flag, config or OTEL_* value, " +
    "3 the receiver port taken; otherwise deno task start's own.",
  ],
};

/** The port of flag `name` (or `fallback`); exits 2 on a value that is not a port. */
function portFlag(values: CommandLine["values"], name: string, fallback: number): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v <= 0 || v > 65535) {
    console.error(`stack: --${name} must be a port number, got ${JSON.stringify(raw)}`);
    Deno.exit(2);
  }
  return v;
}

/** The URL of flag `name`, else `$env`; exits 2 on a URL that is not http(s). */
function urlFlag(values: CommandLine["values"], name: string, env: string): string | undefined {
  const raw = values[name];
  const url = typeof raw === "string" ? raw : Deno.env.get(env) || undefined;
  if (url === undefined) return undefined;
  try {
    return checkWebhookUrl(typeof raw === "string" ? `--${name}` : `$${env}`, url);
  } catch (e) {
    console.error(`stack: ${(e as Error).message}`);
    Deno.exit(2);
  }
}

async function main(): Promise<void> {
  const { values } = parseCommandLine(Deno.args, STACK_COMMAND);
  const promPort = portFlag(values, "prometheus-port", 9999);
  const amPort = portFlag(values, "alertmanager-port", 9094);
  const receiverPort = portFlag(values, "receiver-port", 5001);
  const webhook = urlFlag(values, "webhook", "ALERT_WEBHOOK_URL");
  const deadmansSwitch = urlFlag(values, "deadmans-switch", "DEADMANS_SWITCH_URL");
  // What deno task start reads, passed on as given.
  const args: string[] = [];
  for (const name of ["config", "log-file"]) {
    const v = values[name];
    if (typeof v === "string") args.push(`--${name}`, v);
  }
  if (values["no-view"]) args.push("--no-view");
  let config;
  try {
    config = loadConfig({ args, env: Deno.env.toObject() });
  } catch (e) {
    console.error(`stack: ${(e as Error).message}`);
    Deno.exit(2);
  }
  setupLogging("stack");
  // The services' tracing, as services/start.ts will set it: checked here, so a wrong OTEL_*
  // value stops the stack before anything starts.
  const env = Deno.env.toObject();
  let tracing;
  try {
    tracing = tracingSettings({ ...env, ...serviceTracingEnv("stack", env) });
  } catch (e) {
    console.error(`stack: ${(e as Error).message}`);
    Deno.exit(2);
  }
  const servicePorts = [
    config.marketData,
    config.signalBridge,
    config.riskManager,
    config.executionEngine,
  ]
    .map((s) => s.http.port);
  const dataDir = config.dataDir;
  await Deno.mkdir(`${dataDir}/monitoring`, { recursive: true });
  const children: [string, Deno.ChildProcess][] = [];
  const say = (msg: string, fields: Record<string, unknown> = {}) =>
    console.log(JSON.stringify({
      ts: new Date().toISOString(),
      level: "info",
      service: "stack",
      logger: "trading.stack",
      msg,
      ...fields,
    }));

  say(
    tracing.enabled
      ? "Tracing on: the services export spans over OTLP"
      : "Tracing off (set OTEL_EXPORTER_OTLP_ENDPOINT to a collector to turn it on)",
    tracing.enabled ? { endpoint: tracing.endpoint, ratio: tracing.ratio } : {},
  );
  const amBin = findBinary("prometheus-alertmanager", "alertmanager");
  // Without a receiver of the user's own, alerts are printed here.
  let receiver: AlertReceiver | undefined;
  if (amBin && (!webhook || !deadmansSwitch)) {
    try {
      receiver = AlertReceiver.start({ port: receiverPort });
    } catch (e) {
      console.error(
        `stack: cannot start the alert receiver on 127.0.0.1:${receiverPort}: ${
          (e as Error).message
        } (--receiver-port moves it; --webhook and --deadmans-switch replace it)`,
      );
      Deno.exit(3);
    }
    say("Alerts are printed on this console", {
      receiver: `http://127.0.0.1:${receiver.port}`,
      alerts: webhook ?? "console",
      watchdog: deadmansSwitch ?? "console",
    });
  }
  const local = (path: string) => `http://127.0.0.1:${receiverPort}/${path}`;
  const urls = {
    alerts: webhook ?? local("alerts"),
    watchdog: deadmansSwitch ?? local("watchdog"),
  };

  const daemons = [
    {
      name: "Alertmanager",
      pkg: "prometheus-alertmanager",
      bin: amBin,
      port: amPort,
      config: () => alertmanagerConfig(urls),
      start: startAlertmanager,
    },
    {
      name: "Prometheus",
      pkg: "prometheus",
      bin: findBinary("prometheus"),
      port: promPort,
      config: () =>
        prometheusConfig(
          { services: servicePorts, alertmanager: amPort, prometheus: promPort },
          RULES_YML,
        ),
      start: startPrometheus,
    },
  ];
  for (const d of daemons) {
    if (!d.bin) {
      say(`${d.name} not installed (apt-get install ${d.pkg}); running without it`);
      continue;
    }
    const base = `${dataDir}/monitoring/${d.name.toLowerCase()}`;
    Deno.writeTextFileSync(`${base}.yml`, d.config());
    const child = d.start(d.bin, `${base}.yml`, `${dataDir}/${d.name.toLowerCase()}`, d.port);
    void drainTo(child, `${base}.log`);
    children.push([d.name, child]);
    say(`${d.name} started`, { url: `http://127.0.0.1:${d.port}`, log: `${base}.log` });
  }
  const services = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../services/start.ts", import.meta.url).pathname, ...args],
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  children.push(["services", services]);

  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    for (const [, c] of children) {
      try {
        c.kill("SIGTERM");
      } catch { /* gone */ }
    }
    await Promise.all(children.map(([, c]) => c.status));
    await receiver?.close();
    Deno.exit(code);
  };
  for (const sig of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(sig, () => void stop(0));
  const s = await services.status;
  await stop(s.code);
}

if (import.meta.main) await main();
