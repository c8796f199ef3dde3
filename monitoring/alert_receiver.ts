/**
 * A small receiver of Alertmanager's webhooks that prints every alert it receives,
 * firing and resolved, as log lines, and acts as a dead-man's switch for the Watchdog:
 * so a new user sees alerts without setting anything up. `deno task stack` runs one
 * when no `--webhook` (or no `--deadmans-switch`) is given, and compose runs it as the
 * `alert-receiver` service.
 *
 * | route            | what                                                                 |
 * | ---------------- | -------------------------------------------------------------------- |
 * | `POST /alerts`   | Alertmanager's webhook body (version 4): one line per alert         |
 * | `POST /watchdog` | the Watchdog's notifications: the switch is reset by each            |
 * | `GET /health`    | 200                                                                  |
 *
 * The Watchdog always fires, so Alertmanager sends it every repeat interval (1 minute).
 * When none has arrived for `watchdogTimeoutMs` (default 3 minutes), or one arrives
 * resolved (Prometheus stopped sending it), the receiver logs an error: the alerting
 * pipeline itself is broken. A body that is not a webhook notification is answered 400
 * (413 over 1 MiB) and logged at a bounded rate.
 *
 * Run alone: `deno run -A monitoring/alert_receiver.ts [--host H] [--port P]`.
 *
 * @example
 * ```ts
 * const receiver = AlertReceiver.start({ port: 0, onEvent: (e) => console.log(e) });
 * // point Alertmanager at http://127.0.0.1:${receiver.port}/alerts and /watchdog
 * await receiver.close();
 * ```
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import { BurstLog } from "../lib/burst_log.ts";
import { getLogger, setupLogging } from "../lib/log.ts";

/** Largest notification body accepted, in bytes. */
export const MAX_BODY_BYTES = 1024 * 1024;

const Alert = z.object({
  status: z.enum(["firing", "resolved"]),
  labels: z.record(z.string(), z.string()),
  annotations: z.record(z.string(), z.string()).default({}),
  startsAt: z.string().optional(),
  endsAt: z.string().optional(),
});
const Notification = z.object({
  receiver: z.string().optional(),
  status: z.enum(["firing", "resolved"]),
  alerts: z.array(Alert).max(10_000),
});

/** One alert of a notification, as received. */
export type ReceivedAlert = z.infer<typeof Alert>;

/** What the receiver saw. */
export type ReceiverEvent =
  | { kind: "alert"; route: "alerts" | "watchdog"; alert: ReceivedAlert }
  | { kind: "watchdog_silent"; silentMs: number }
  | { kind: "watchdog_back"; silentMs: number }
  | { kind: "rejected"; route: string; reason: string };

/** Options of {@link AlertReceiver.start}. */
export interface AlertReceiverOptions {
  /** Default 127.0.0.1. */
  hostname?: string;
  /** 0 picks a free port. */
  port: number;
  /** No Watchdog for this long (ms) trips the dead-man's switch; default 3 minutes. */
  watchdogTimeoutMs?: number;
  /** Called with every event, after it is logged. */
  onEvent?: (event: ReceiverEvent) => void;
  /** Where the lines go; default the `trading.alerts` logger. */
  logger?: Logger;
}

/** The receiver; {@link AlertReceiver.close} stops it. */
export class AlertReceiver {
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #log: Logger;
  readonly #rejectedLog: BurstLog;
  readonly #timer: ReturnType<typeof setInterval>;
  readonly #timeoutMs: number;
  readonly #onEvent: (event: ReceiverEvent) => void;
  #lastWatchdogAt = performance.now();
  #watchdogs = 0;
  #silent = false;

  private constructor(options: AlertReceiverOptions) {
    this.#log = options.logger ?? getLogger(["trading", "alerts"]);
    this.#onEvent = options.onEvent ?? (() => {});
    this.#timeoutMs = options.watchdogTimeoutMs ?? 3 * 60_000;
    this.#rejectedLog = new BurstLog(
      this.#log,
      "warn",
      "Cannot read a notification on /{route}: {reason}",
      "Cannot read {suppressed} more notifications",
    );
    const app = new Hono();
    const limit = bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) => {
        this.#reject(c.req.path.slice(1), "body over 1 MiB");
        return c.text("body too large", 413);
      },
    });
    app.get("/health", (c) => c.text("ok"));
    for (const route of ["alerts", "watchdog"] as const) {
      app.post(`/${route}`, limit, async (c) => {
        let body: unknown;
        try {
          body = await c.req.json();
        } catch {
          this.#reject(route, "not JSON");
          return c.text("not JSON", 400);
        }
        const parsed = Notification.safeParse(body);
        if (!parsed.success) {
          this.#reject(route, "not an Alertmanager webhook notification");
          return c.text("not an Alertmanager webhook notification", 400);
        }
        for (const alert of parsed.data.alerts) this.#alert(route, alert);
        return c.text("ok");
      });
    }
    this.#server = Deno.serve(
      { hostname: options.hostname ?? "127.0.0.1", port: options.port, onListen: () => {} },
      app.fetch,
    );
    this.#timer = setInterval(
      () => this.#check(),
      Math.max(20, Math.min(1000, this.#timeoutMs / 4)),
    );
  }

  /**
   * Listens on `options.hostname:options.port`.
   *
   * @throws {Deno.errors.AddrInUse} If the port is taken.
   */
  static start(options: AlertReceiverOptions): AlertReceiver {
    return new AlertReceiver(options);
  }

  /** The port it listens on. */
  get port(): number {
    return this.#server.addr.port;
  }

  /** Stops listening and the switch's timer. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#rejectedLog.close();
    await this.#server.shutdown();
  }

  #alert(route: "alerts" | "watchdog", alert: ReceivedAlert): void {
    const l = alert.labels;
    const fields = {
      alertname: l.alertname,
      status: alert.status,
      severity: l.severity,
      service: l.service,
      summary: alert.annotations.summary,
      description: alert.annotations.description,
      runbook_url: alert.annotations.runbook_url,
      labels: l,
      startsAt: alert.startsAt,
      endsAt: alert.status === "resolved" ? alert.endsAt : undefined,
    };
    if (route === "watchdog") {
      const silentMs = performance.now() - this.#lastWatchdogAt;
      if (alert.status === "resolved") {
        this.#log.error(
          "Watchdog resolved: Prometheus stopped sending it, so no alert can fire",
          fields,
        );
      } else {
        this.#lastWatchdogAt = performance.now();
        this.#watchdogs++;
        if (this.#silent) {
          this.#silent = false;
          this.#log.info("Watchdog back after {silentS} s: alerting works again", {
            ...fields,
            silentS: Math.round(silentMs / 1000),
          });
          this.#emit({ kind: "watchdog_back", silentMs });
        } else if (this.#watchdogs === 1) {
          this.#log.info("Watchdog received: alerting works end to end", fields);
        } else {
          this.#log.debug("Watchdog received", fields);
        }
      }
    } else if (alert.status === "firing") {
      const level = l.severity === "critical" ? "error" : "warn";
      this.#log[level]("FIRING {alertname}: {summary}", fields);
    } else {
      this.#log.info("RESOLVED {alertname}: {summary}", fields);
    }
    this.#emit({ kind: "alert", route, alert });
  }

  #check(): void {
    const silentMs = performance.now() - this.#lastWatchdogAt;
    if (this.#silent || silentMs < this.#timeoutMs) return;
    this.#silent = true;
    this.#log.error(
      "Dead-man's switch: no Watchdog for {silentS} s: Prometheus, Alertmanager or the path " +
        "between them is broken, and no alert reaches anyone",
      { silentS: Math.round(silentMs / 1000) },
    );
    this.#emit({ kind: "watchdog_silent", silentMs });
  }

  #reject(route: string, reason: string): void {
    this.#rejectedLog.report({ route, reason });
    this.#emit({ kind: "rejected", route, reason });
  }

  #emit(event: ReceiverEvent): void {
    try {
      this.#onEvent(event);
    } catch {
      // a listener's failure is not the receiver's
    }
  }
}

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i < 0 ? undefined : args[i + 1];
}

function main(): void {
  setupLogging("alert-receiver");
  const host = flag(Deno.args, "host") ?? "127.0.0.1";
  const port = Number(flag(Deno.args, "port") ?? "5001");
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`alert-receiver: --port must be a port number, got ${flag(Deno.args, "port")}`);
    Deno.exit(2);
  }
  const receiver = AlertReceiver.start({ hostname: host, port });
  getLogger(["trading", "alerts"]).info("Alert receiver listening on {url}", {
    url: `http://${host}:${receiver.port}`,
  });
  const stop = () => void receiver.close().then(() => Deno.exit(0));
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}

if (import.meta.main) main();
