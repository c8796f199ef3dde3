/**
 * The seed's testing checklist, automated against the real services and Debian's real
 * Prometheus and Alertmanager (no fakes): all targets up, every dashboard panel query
 * returns data, logs are JSON, latency metrics realistic, business metrics move, and a
 * circuit breaker tripped through the admin API fires CircuitBreakerTriggered, which
 * reaches a webhook through Alertmanager and resolves after a reset.
 *
 * Everything runs on free 127.0.0.1 ports with 1 s scrape and evaluation intervals.
 */
import assert from "node:assert/strict";
import { SERVICES } from "../lib/metrics.ts";
import { startStack } from "../lib/testing/stack.ts";
import { freePort, waitFor } from "../lib/testing/tools.ts";
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

interface Vector {
  status: string;
  error?: string;
  data: { result: { metric: Record<string, string>; value: [number, string] }[] };
}
interface Notification {
  status: "firing" | "resolved";
  alerts: { status: string; labels: Record<string, string> }[];
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
    "the seed's testing checklist passes against the real services, Prometheus and Alertmanager",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const prometheusBin = requireBinary("prometheus");
    const alertmanagerBin = requireBinary("prometheus-alertmanager", "alertmanager");

    // A webhook that records every Alertmanager notification.
    const notifications: Notification[] = [];
    const webhook = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      async (req) => {
        notifications.push(await req.json());
        return new Response("ok");
      },
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
    const children: Deno.ChildProcess[] = [];
    try {
      Deno.writeTextFileSync(`${dir}/rules.yml`, rulesWithInterval(1));
      Deno.writeTextFileSync(
        `${dir}/prometheus.yml`,
        prometheusConfig(
          {
            services: SERVICES.map((s) => Number(new URL(stack.url(s)).port)),
            alertmanager: amPort,
          },
          `${dir}/rules.yml`,
          1,
        ),
      );
      Deno.writeTextFileSync(
        `${dir}/alertmanager.yml`,
        alertmanagerConfig(`http://127.0.0.1:${webhook.addr.port}/alerts`, 1),
      );
      const am = startAlertmanager(alertmanagerBin, `${dir}/alertmanager.yml`, `${dir}/am`, amPort);
      children.push(am);
      void drainTo(am, `${dir}/alertmanager.log`);
      const p = startPrometheus(prometheusBin, `${dir}/prometheus.yml`, `${dir}/prom`, promPort);
      children.push(p);
      void drainTo(p, `${dir}/prometheus.log`);

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

      await t.step("Prometheus scrapes all four targets", async () => {
        await waitFor("all targets up", async () => {
          const r = await (await fetch(`${prom}/api/v1/targets`)).json();
          const targets = r.data.activeTargets as {
            labels: Record<string, string>;
            health: string;
          }[];
          return targets.length === 4 && targets.every((x) => x.health === "up") &&
            SERVICES.every((s) => targets.some((x) => x.labels.service === s));
        }, { timeoutMs: 30_000, everyMs: 250 });
      });

      await t.step(
        "business metrics move: orders fill and positions and P&L are exported",
        async () => {
          await waitFor(
            "fills",
            async () => ((await scalar("sum(execution_engine_orders_submitted_total)")) ?? 0) > 0,
            {
              timeoutMs: 90_000,
              everyMs: 500,
            },
          );
          await waitFor(
            "a position",
            async () => ((await scalar("trading_open_positions_count")) ?? 0) > 0,
            {
              timeoutMs: 60_000,
              everyMs: 500,
            },
          );
          const value = await scalar("sum(abs(trading_position_value_usd))");
          assert.ok(value !== undefined && value > 0, `position value ${value}`);
          assert.notEqual(await scalar("trading_portfolio_value_usd"), undefined);
          assert.notEqual(await scalar("sum(trading_unrealized_pnl_usd)"), undefined);
        },
      );

      await t.step("every dashboard panel query returns data", async () => {
        const queries = dashboardQueries();
        assert.ok(queries.length > 20);
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
          const trip = await fetch(`${admin}/admin/breaker/trip`, {
            method: "POST",
            headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
            body: JSON.stringify({ reason: "e2e test", actor: "e2e" }),
          });
          await trip.body?.cancel();
          assert.equal(trip.status, 200);
          const has = (status: "firing" | "resolved") =>
            notifications.some((n) =>
              n.alerts.some((a) =>
                a.labels.alertname === "CircuitBreakerTriggered" && a.status === status
              )
            );
          await waitFor("CircuitBreakerTriggered firing at the webhook", () => has("firing"), {
            timeoutMs: 60_000,
            everyMs: 250,
          });
          const firing = notifications.flatMap((n) => n.alerts).find((a) =>
            a.labels.alertname === "CircuitBreakerTriggered"
          )!;
          assert.equal(firing.labels.severity, "critical");
          const reset = await fetch(`${admin}/admin/breaker/reset`, {
            method: "POST",
            headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
            body: JSON.stringify({ reason: "e2e test done", actor: "e2e" }),
          });
          await reset.body?.cancel();
          assert.equal(reset.status, 200);
          await waitFor("CircuitBreakerTriggered resolved at the webhook", () => has("resolved"), {
            timeoutMs: 60_000,
            everyMs: 250,
          });
        },
      );
    } finally {
      for (const c of children) {
        try {
          c.kill("SIGTERM");
        } catch { /* gone */ }
      }
      await Promise.all(children.map((c) => c.status));
      const codes = await stack.stop();
      await webhook.shutdown();
      for (const [s, code] of codes) assert.equal(code, 0, `${s} exited ${code}`);
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
