/**
 * `deno task stack`: the compose stack without Docker. Runs the four services
 * (`services/start.ts`), and Prometheus and Alertmanager from the local install when
 * present (Debian's `prometheus` and `prometheus-alertmanager`), on ports that do not
 * clash with the services: Prometheus UI on 127.0.0.1:9999 (as in the seed),
 * Alertmanager on 127.0.0.1:9094. Grafana is not run (compose has it). Ctrl-C stops all.
 *
 * The helpers below are shared with the end-to-end test, which runs the same stack on
 * free ports.
 * @module
 */
import { SERVICES } from "../lib/metrics.ts";

const HERE = new URL(".", import.meta.url);
/** monitoring/prometheus.yml */
export const PROMETHEUS_YML = new URL("prometheus.yml", HERE).pathname;
/** monitoring/alertmanager.yml */
export const ALERTMANAGER_YML = new URL("alertmanager.yml", HERE).pathname;
/** monitoring/alerts/trading_system.yml */
export const RULES_YML = new URL("alerts/trading_system.yml", HERE).pathname;

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
}

/**
 * monitoring/prometheus.yml with the targets moved to `ports`, the rule file made
 * absolute (a copy at `rulesPath`), and optionally faster intervals for tests.
 */
export function prometheusConfig(
  ports: StackPorts,
  rulesPath: string,
  intervalS?: number,
): string {
  let c = Deno.readTextFileSync(PROMETHEUS_YML);
  const what = "monitoring/prometheus.yml";
  c = swapOnce(c, "- alerts/trading_system.yml", `- ${JSON.stringify(rulesPath)}`, what);
  c = swapOnce(c, '"localhost:9094"', `"127.0.0.1:${ports.alertmanager}"`, what);
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

/**
 * monitoring/alertmanager.yml with every webhook pointed at `webhookUrl` and,
 * for tests, notification timers shortened to `fastS` seconds.
 */
export function alertmanagerConfig(webhookUrl?: string, fastS?: number): string {
  let c = Deno.readTextFileSync(ALERTMANAGER_YML);
  const what = "monitoring/alertmanager.yml";
  if (webhookUrl) c = swapOnce(c, "http://127.0.0.1:5001/alerts", webhookUrl, what);
  if (fastS !== undefined) {
    c = swapOnce(c, /group_wait: \d+[sm]/, `group_wait: 0s`, what);
    c = swapOnce(c, /group_interval: \d+[sm]/, `group_interval: ${fastS}s`, what);
  }
  return c;
}

/** Starts a daemon with its output piped (drain it with {@link drainTo}). */
function startDaemon(bin: string, args: string[]): Deno.ChildProcess {
  return new Deno.Command(bin, { args, stdin: "null", stdout: "piped", stderr: "piped" }).spawn();
}

/** Starts Prometheus on 127.0.0.1:`port`. */
export function startPrometheus(
  bin: string,
  configPath: string,
  dataDir: string,
  port: number,
): Deno.ChildProcess {
  return startDaemon(bin, [
    `--config.file=${configPath}`,
    `--storage.tsdb.path=${dataDir}`,
    `--web.listen-address=127.0.0.1:${port}`,
    "--web.enable-lifecycle",
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

async function main(): Promise<void> {
  const dataDir = "data";
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

  const prometheus = findBinary("prometheus");
  const alertmanager = findBinary("prometheus-alertmanager", "alertmanager");
  if (alertmanager) {
    const cfg = `${dataDir}/monitoring/alertmanager.yml`;
    Deno.writeTextFileSync(cfg, alertmanagerConfig());
    const am = startAlertmanager(alertmanager, cfg, `${dataDir}/alertmanager`, 9094);
    void drainTo(am, `${dataDir}/monitoring/alertmanager.log`);
    children.push(["alertmanager", am]);
    say("Alertmanager started", {
      url: "http://127.0.0.1:9094",
      log: `${dataDir}/monitoring/alertmanager.log`,
    });
  } else {
    say("Alertmanager not installed (apt-get install prometheus-alertmanager); running without it");
  }
  if (prometheus) {
    const cfg = `${dataDir}/monitoring/prometheus.yml`;
    Deno.writeTextFileSync(
      cfg,
      prometheusConfig({ services: [9090, 9091, 9092, 9093], alertmanager: 9094 }, RULES_YML),
    );
    const p = startPrometheus(prometheus, cfg, `${dataDir}/prometheus`, 9999);
    void drainTo(p, `${dataDir}/monitoring/prometheus.log`);
    children.push(["prometheus", p]);
    say("Prometheus started", {
      url: "http://127.0.0.1:9999",
      log: `${dataDir}/monitoring/prometheus.log`,
    });
  } else {
    say("Prometheus not installed (apt-get install prometheus); running without it");
  }
  const services = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../services/start.ts", import.meta.url).pathname, ...Deno.args],
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
    Deno.exit(code);
  };
  for (const sig of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(sig, () => void stop(0));
  const s = await services.status;
  await stop(s.code);
}

if (import.meta.main) await main();
