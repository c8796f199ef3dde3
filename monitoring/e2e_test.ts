/**
 * The seed's testing checklist and the failures the alerts exist for, against the real
 * services and Debian's real Prometheus and Alertmanager (no fakes): all targets up,
 * every dashboard panel query returns data, logs are JSON, latency metrics realistic,
 * business metrics move; and each of these arrives at a webhook (monitoring/
 * alert_receiver.ts, as `deno task stack` runs it) firing, then resolved:
 *
 * - the first malformed frame of a freshly started service (MessagingDecodeErrors),
 *   sent with a genuine service key, since the bus runs CURVE;
 * - a service killed with SIGKILL and restarted again and again (ServiceCrashLooping);
 * - the circuit breaker tripped and reset (CircuitBreakerTriggered);
 * - a service stopped (ServiceDown) and the hop it feeds gone silent
 *   (MessagingChannelStale), both resolved when it is back;
 * - the Watchdog, at the dead-man's switch, resolved when Prometheus stops.
 *
 * Everything runs on free 127.0.0.1 ports with 1 s scrape and evaluation intervals and
 * Alertmanager's timers at 1 s; the rules are the shipped ones, windows and `for`
 * included, so the test waits for the 3 minute windows of the event and crash-loop
 * alerts to pass (the faults run meanwhile).
 */
import assert from "node:assert/strict";
import * as zmq from "zeromq";
import { applyCurve } from "../lib/messaging/curve.ts";
import { SERVICES } from "../lib/metrics.ts";
import { peerMessaging, testConfig } from "../lib/testing/context.ts";
import { startStack } from "../lib/testing/stack.ts";
import { freePort, testKeysDir, waitFor } from "../lib/testing/tools.ts";
import { AlertReceiver, type ReceiverEvent } from "./alert_receiver.ts";
import { dashboardQueries } from "./dashboard_queries.ts";
import {
  alertmanagerConfig,
  drainTo,
  findBinary,
  prometheusConfig,
  rulesWithInterval,
  startAlertmanager,
  startPrometheus,
} from "./stack.ts";

const TOKEN = "e2e-admin-token";
/** Scrape and evaluation interval of this test, seconds. */
const INTERVAL_S = 1;

interface Vector {
  status: string;
  error?: string;
  data: { result: { metric: Record<string, string>; value: [number, string] }[] };
}

function requireBinary(...names: string[]): string {
  const bin = findBinary(...names);
  if (!bin) {
    throw new Error(
      `${
        names[0]
      } is not installed: apt-get install -y prometheus prometheus-alertmanager (.ci/ensure-tools does it)`,
    );
  }
  return bin;
}

Deno.test({
  name:
    "the seed's checklist passes and every failure the alerts exist for reaches a webhook, firing then resolved, through the real Prometheus and Alertmanager",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const prometheusBin = requireBinary("prometheus");
    const alertmanagerBin = requireBinary("prometheus-alertmanager", "alertmanager");

    // The receiver `deno task stack` runs: every notification it gets is an event.
    const events: ReceiverEvent[] = [];
    const receiver = AlertReceiver.start({ port: 0, onEvent: (e) => events.push(e) });
    const at = (route: string) => `http://127.0.0.1:${receiver.port}/${route}`;
    /** The alerts received so far named `alertname` with `status` and these labels. */
    const arrived = (
      alertname: string,
      status: "firing" | "resolved",
      labels: Record<string, string> = {},
      route: "alerts" | "watchdog" = "alerts",
    ) =>
      events.filter((e) =>
        e.kind === "alert" && e.route === route && e.alert.status === status &&
        e.alert.labels.alertname === alertname &&
        Object.entries(labels).every(([k, v]) => e.alert.labels[k] === v)
      );
    const waitArrival = (
      what: string,
      alertname: string,
      status: "firing" | "resolved",
      labels: Record<string, string> = {},
      timeoutMs = 60_000,
    ) =>
      waitFor(
        `${alertname} ${status} ${what} at the webhook`,
        () => arrived(alertname, status, labels).length > 0,
        { timeoutMs, everyMs: 250 },
      );

    const stack = startStack({
      env: { RISK_ADMIN_TOKEN: TOKEN },
      // The paper venue's simulated 1 ms answer is a timer, which a loaded machine stretches
      // to several ms; without it, submission latency is our own code's, which is what the
      // "realistic values" step bounds.
      overrides: (c) => {
        c.executionEngine.sim.latencyMs = 0;
      },
    });
    const dir = stack.dir;
    const promPort = freePort();
    const amPort = freePort();
    const prom = `http://127.0.0.1:${promPort}`;
    let prometheus: Deno.ChildProcess | undefined;
    let alertmanager: Deno.ChildProcess | undefined;
    try {
      Deno.writeTextFileSync(`${dir}/rules.yml`, rulesWithInterval(INTERVAL_S));
      Deno.writeTextFileSync(
        `${dir}/prometheus.yml`,
        prometheusConfig(
          {
            services: SERVICES.map((s) => Number(new URL(stack.url(s)).port)),
            alertmanager: amPort,
            prometheus: promPort,
          },
          `${dir}/rules.yml`,
          INTERVAL_S,
        ),
      );
      Deno.writeTextFileSync(
        `${dir}/alertmanager.yml`,
        alertmanagerConfig({ alerts: at("alerts"), watchdog: at("watchdog") }, INTERVAL_S),
      );
      alertmanager = startAlertmanager(
        alertmanagerBin,
        `${dir}/alertmanager.yml`,
        `${dir}/am`,
        amPort,
      );
      void drainTo(alertmanager, `${dir}/alertmanager.log`);
      // Alerts are resent (and kept valid) for 4 resend delays: at 1 s, a Prometheus that
      // stops lets its alerts resolve at Alertmanager within seconds.
      prometheus = startPrometheus(
        prometheusBin,
        `${dir}/prometheus.yml`,
        `${dir}/prom`,
        promPort,
        [
          `--rules.alert.resend-delay=${INTERVAL_S}s`,
        ],
      );
      void drainTo(prometheus, `${dir}/prometheus.log`);

      const query = async (expr: string): Promise<Vector> => {
        const r = await fetch(`${prom}/api/v1/query?query=${encodeURIComponent(expr)}`);
        return await r.json();
      };
      const scalar = async (expr: string): Promise<number | undefined> => {
        const v = await query(expr);
        return v.data?.result.length ? Number(v.data.result[0].value[1]) : undefined;
      };

      await t.step("all services start and answer /ready", async () => {
        await stack.waitReady(60_000);
      });

      await t.step("Prometheus scrapes the four services, itself and Alertmanager", async () => {
        await waitFor("all targets up", async () => {
          const r = await (await fetch(`${prom}/api/v1/targets`)).json();
          const targets = r.data.activeTargets as {
            labels: Record<string, string>;
            health: string;
          }[];
          return targets.length === 6 && targets.every((x) => x.health === "up") &&
            SERVICES.every((s) => targets.some((x) => x.labels.service === s));
        }, { timeoutMs: 30_000, everyMs: 250 });
      });

      // Sent early, to a service whose series Prometheus has seen at 0: the first error
      // of its life. Its 3 minute window passes while the other faults run.
      let decodeSentAt = 0;
      const decodeLabels = { service: "risk-manager", channel: "execution_reports" };
      await t.step(
        "the first malformed frame sent to a freshly started service fires MessagingDecodeErrors",
        async () => {
          const series = 'messaging_decode_errors_total{service="risk-manager",' +
            'channel="execution_reports"}';
          await waitFor(
            "risk-manager's decode errors scraped at 0",
            async () => ((await query(`${series} == 0`)).data?.result.length ?? 0) > 0,
            { timeoutMs: 30_000, everyMs: 250 },
          );
          // execution-engine's genuine key: risk-manager's ZAP handler admits it on the
          // channel, so the frame reaches the decoder.
          const raw = structuredClone(stack.config);
          raw.security = { ...raw.security, keysDir: testKeysDir() };
          await using engine = await peerMessaging("execution-engine", testConfig(raw));
          const curve = engine.sender("execution_reports").curve!;
          const endpoint = String(stack.config.riskManager.executionReports).replace(
            /^bind:/,
            "",
          );
          const dealer = new zmq.Dealer({ sendTimeout: 0, receiveTimeout: 0, linger: 0 });
          applyCurve(dealer, "connect", curve, "the e2e test's dealer");
          dealer.connect(endpoint);
          try {
            await dealer.send("this is not a frame of the reliable channel");
            decodeSentAt = Date.now();
            await waitArrival("for the frame", "MessagingDecodeErrors", "firing", decodeLabels);
          } finally {
            dealer.close();
          }
        },
      );

      let crashLoopSecondToLast = 0;
      await t.step(
        "execution-engine killed with SIGKILL and restarted again and again fires ServiceCrashLooping",
        async () => {
          const started = async () =>
            await scalar('process_start_time_seconds{job="execution-engine"}');
          for (let i = 0; i < 3; i++) {
            // Each life lasts a moment (its start time has a resolution of 1 s).
            await new Promise((r) => setTimeout(r, 1500));
            const before = await started();
            const proc = stack.procs.get("execution-engine")!;
            proc.child.kill("SIGKILL");
            await proc.done;
            if (i === 1) crashLoopSecondToLast = Date.now();
            stack.start("execution-engine");
            // Each life must be scraped once, or Prometheus cannot see it start.
            await waitFor("the new process scraped", async () => {
              const now = await started();
              return now !== undefined && now !== before;
            }, { timeoutMs: 30_000, everyMs: 250 });
          }
          await waitArrival("for execution-engine", "ServiceCrashLooping", "firing", {
            service: "execution-engine",
          });
          const firing = arrived("ServiceCrashLooping", "firing")[0];
          assert.ok(firing.kind === "alert" && firing.alert.labels.severity === "critical");
          await stack.waitReady(60_000);
        },
      );

      await t.step(
        "business metrics move: orders fill and positions and P&L are exported",
        async () => {
          await waitFor(
            "fills",
            async () => ((await scalar("sum(execution_engine_fills_total)")) ?? 0) > 0,
            { timeoutMs: 90_000, everyMs: 500 },
          );
          await waitFor(
            "a position",
            async () => ((await scalar("trading_open_positions_count")) ?? 0) > 0,
            { timeoutMs: 60_000, everyMs: 500 },
          );
          const value = await scalar("sum(abs(trading_position_value_usd))");
          assert.ok(value !== undefined && value > 0, `position value ${value}`);
          assert.notEqual(await scalar("trading_portfolio_value_usd"), undefined);
          assert.notEqual(await scalar("sum(trading_unrealized_pnl_usd)"), undefined);
        },
      );

      await t.step("every dashboard panel query returns data", async () => {
        // $__rate_interval as a 1 minute window (Grafana's is at least four scrapes).
        const queries = dashboardQueries(undefined, { rateInterval: "1m" });
        assert.ok(queries.length > 60);
        let empty: string[] = [];
        await waitFor("every panel has data", async () => {
          empty = [];
          for (const q of queries) {
            const v = await query(q.expr);
            assert.equal(v.status, "success", `${q.panel}: ${v.error}`);
            if (!v.data.result.length) empty.push(`${q.panel}: ${q.expr}`);
          }
          return empty.length === 0;
        }, { timeoutMs: 90_000, everyMs: 2_000 }).catch((e) => {
          throw new Error(`${e.message}\nPanels without data:\n${empty.join("\n")}`);
        });
      });

      await t.step("latency metrics show realistic values", async () => {
        const p = (m: string) =>
          scalar(`histogram_quantile(0.5, sum by (le) (rate(${m}_bucket[1m])))`);
        const checks = await p("risk_manager_pretrade_check_latency_us");
        const inference = await p("signal_bridge_inference_latency_us");
        const md = await p("market_data_websocket_latency_us");
        const submit = await p("execution_engine_order_submission_latency_us");
        const tickToTrade = await p("execution_engine_tick_to_trade_latency_seconds");
        // Medians of in-process work stay in the microseconds, far below the top buckets.
        assert.ok(
          checks !== undefined && checks > 0 && checks < 100,
          `risk check p50 ${checks} us`,
        );
        assert.ok(
          inference !== undefined && inference > 0 && inference < 100,
          `inference p50 ${inference} us`,
        );
        assert.ok(md !== undefined && md > 0 && md < 1000, `market data p50 ${md} us`);
        assert.ok(
          submit !== undefined && submit > 0 && submit < 5000,
          `submission p50 ${submit} us`,
        );
        assert.ok(
          tickToTrade !== undefined && tickToTrade > 0 && tickToTrade < 0.5,
          `tick-to-trade p50 ${tickToTrade} s`,
        );
      });

      await t.step("logs are JSON, one object per line", () => {
        for (const [s, proc] of stack.procs) {
          const lines = proc.stdout.split("\n").filter((l) => l.trim() !== "");
          assert.ok(lines.length > 0, `${s} logged nothing`);
          for (const l of lines) {
            const o = JSON.parse(l);
            assert.equal(o.service, s);
            assert.ok(o.ts && o.level && o.logger && typeof o.msg === "string");
          }
        }
      });

      await t.step(
        "tripping the breaker fires CircuitBreakerTriggered to the webhook, and a reset resolves it",
        async () => {
          const admin = stack.url("risk-manager");
          const unauthorized = await fetch(`${admin}/admin/breaker/trip`, { method: "POST" });
          await unauthorized.body?.cancel();
          assert.equal(unauthorized.status, 401);
          const post = async (path: string, reason: string) => {
            const r = await fetch(`${admin}/admin/breaker/${path}`, {
              method: "POST",
              headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
              body: JSON.stringify({ reason, actor: "e2e" }),
            });
            await r.body?.cancel();
            assert.equal(r.status, 200);
          };
          await post("trip", "e2e test");
          await waitArrival("on a trip", "CircuitBreakerTriggered", "firing");
          const firing = arrived("CircuitBreakerTriggered", "firing")[0];
          assert.ok(firing.kind === "alert" && firing.alert.labels.severity === "critical");
          await post("reset", "e2e test done");
          await waitArrival("on a reset", "CircuitBreakerTriggered", "resolved");
        },
      );

      await t.step(
        "signal-bridge stopped: its hop into risk-manager goes stale, then ServiceDown; both resolve when it is back",
        async () => {
          const hop = { service: "risk-manager", channel: "signals" };
          const down = { service: "signal-bridge" };
          const stopped = await stack.procs.get("signal-bridge")!.stop();
          assert.equal(stopped.code, 0);
          // The signals' limit is signalTtlMs (5 s), then `for: 15s`.
          await waitArrival("for the silent signals", "MessagingChannelStale", "firing", hop);
          // `for: 1m`
          await waitArrival("for signal-bridge", "ServiceDown", "firing", down, 120_000);
          stack.start("signal-bridge");
          await waitArrival("for the signals", "MessagingChannelStale", "resolved", hop);
          await waitArrival("for signal-bridge", "ServiceDown", "resolved", down);
        },
      );

      await t.step(
        "MessagingDecodeErrors and ServiceCrashLooping resolve once their 3 minute windows pass",
        async () => {
          const left = (since: number) => Math.max(0, since + 180_000 - Date.now());
          await waitArrival(
            "3 minutes after the frame",
            "MessagingDecodeErrors",
            "resolved",
            decodeLabels,
            left(decodeSentAt) + 60_000,
          );
          await waitArrival(
            "3 minutes after the restarts",
            "ServiceCrashLooping",
            "resolved",
            { service: "execution-engine" },
            left(crashLoopSecondToLast) + 60_000,
          );
        },
      );

      await t.step(
        "the Watchdog reaches the dead-man's switch again and again, and resolves when Prometheus stops",
        async () => {
          const watchdogs = () => arrived("Watchdog", "firing", {}, "watchdog").length;
          assert.ok(watchdogs() >= 2, `${watchdogs()} Watchdog notifications`);
          assert.equal(
            events.filter((e) =>
              e.kind === "alert" && e.route === "alerts" && e.alert.labels.alertname === "Watchdog"
            ).length,
            0,
            "the Watchdog goes to the dead-man's switch only",
          );
          prometheus!.kill("SIGTERM");
          await prometheus!.status;
          prometheus = undefined;
          await waitFor(
            "the Watchdog resolved",
            () => arrived("Watchdog", "resolved", {}, "watchdog").length > 0,
            {
              timeoutMs: 60_000,
              everyMs: 250,
            },
          );
        },
      );
    } finally {
      for (const c of [prometheus, alertmanager]) {
        try {
          c?.kill("SIGTERM");
        } catch { /* gone */ }
        await c?.status;
      }
      const codes = await stack.stop();
      await receiver.close();
      for (const [s, code] of codes) assert.equal(code, 0, `${s} exited ${code}`);
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
