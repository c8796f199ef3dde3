/**
 * The four services on four hosts (network namespaces on one switch, lib/testing/netns.ts),
 * each with its own config file, its own secret key and every public key, as a user
 * would set them up on four machines (README, "Across hosts"): CURVE on every channel,
 * endpoints from deploy/hosts.ts. Every link loses 5% of its packets for the whole run,
 * and risk-manager and execution-engine are cut apart for 20 s while orders flow. Then:
 * nothing lost, doubled or invented, positions reconcile with the journal's fills, the
 * freshness and reliable-channel metrics showed the cut while it lasted, and an intruder
 * on a fifth host (a foreign pyzmq peer, with no key and with a key of its own) could
 * neither read nor write any channel.
 */
import assert from "node:assert/strict";
import { acrossHosts, type Place, SECTION } from "../deploy/hosts.ts";
import { KeyStore } from "../lib/keys.ts";
import { IDENTITIES } from "../lib/messaging_context.ts";
import { type ServiceName, SERVICES } from "../lib/metrics.ts";
import { readBooks } from "../lib/testing/books.ts";
import { Network, unsupported } from "../lib/testing/netns.ts";
import { openRiskLimits, sampleValue } from "../lib/testing/stack.ts";
import { type Proc, removeDir, waitFor } from "../lib/testing/tools.ts";

const why = await unsupported();
const FOREIGN = new URL("../lib/testing/zmq_foreign.py", import.meta.url).pathname;
const PARTITION_MS = 20_000;
const INTRUDER = "intruder";

/** One host's files: its config, its keys, its data. */
interface HostFiles {
  dir: string;
  config: string;
  keys: string;
}

/**
 * Keys as the README tells a user to spread them: `deno task keys` once, then each
 * service's secret to its own host and every public file to every host.
 */
function spreadKeys(root: string): Record<ServiceName, string> {
  const made = KeyStore.open(`${root}/keys-made`);
  made.create(IDENTITIES, { overwrite: false });
  const out = {} as Record<ServiceName, string>;
  for (const service of SERVICES) {
    const dir = `${root}/${service}/keys`;
    made.exportHost(service, IDENTITIES, dir);
    out[service] = dir;
  }
  return out;
}

/** The config of every host: the same endpoints, each host's own paths. */
function hostConfigs(net: Network, root: string, keys: Record<ServiceName, string>) {
  const base = JSON.parse(Deno.readTextFileSync("config/system.json"));
  const places = Object.fromEntries(
    SERVICES.map((s) => [s, { bind: net.address(s), host: net.address(s) }]),
  ) as Record<ServiceName, Place>;
  const spread = acrossHosts(base, places);
  // Orders every 200 ms or so, with limits wide enough that the backlog of the cut
  // is not refused by the open-order limit.
  spread.signalBridge.minIntervalMs = 0;
  spread.riskManager.sizing.notionalPerOrder = 100;
  openRiskLimits(spread, 5);
  const files = {} as Record<ServiceName, HostFiles>;
  for (const service of SERVICES) {
    const dir = `${root}/${service}`;
    const c = structuredClone(spread);
    c.dataDir = `${dir}/data`;
    c.security.keysDir = keys[service];
    c.riskManager.statePath = `${dir}/data/risk.sqlite`;
    c.executionEngine.journalPath = `${dir}/data/execution.sqlite`;
    c.marketData.replay.path = `${dir}/data/recording.ndjson`;
    Deno.mkdirSync(`${dir}/data`, { recursive: true });
    const path = `${dir}/config.json`;
    Deno.writeTextFileSync(path, JSON.stringify(c, null, 2));
    files[service] = { dir, config: path, keys: keys[service] };
  }
  return { files, spread };
}

/** The pyzmq intruder, run inside its namespace; returns its one JSON line. */
async function intrude(net: Network, ...args: string[]): Promise<Record<string, number>> {
  const r = await net.exec(INTRUDER, ["/usr/bin/python3", FOREIGN, ...args]);
  assert.equal(r.code, 0, `zmq_foreign.py ${args.join(" ")}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** The highest value a metric reached in a phase of the run. */
class Peaks {
  readonly #max = new Map<string, number>();
  record(phase: string, name: string, value: number | undefined): void {
    if (value === undefined) return;
    const key = `${phase}:${name}`;
    this.#max.set(key, Math.max(this.#max.get(key) ?? -Infinity, value));
  }
  get(phase: string, name: string): number {
    return this.#max.get(`${phase}:${name}`) ?? NaN;
  }
}

Deno.test({
  name:
    "services on four hosts with CURVE survive 5% loss and a 20 s cut between risk-manager and execution-engine, and an intruder on a fifth host gets nothing",
  // CI sets TRADING_REQUIRE_NETNS=1 (.ci/run): there a machine that cannot run it fails,
  // naming why, instead of skipping it.
  ignore: why !== undefined && Deno.env.get("TRADING_REQUIRE_NETNS") !== "1",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    if (why !== undefined) throw new Error(`Cannot run the cross-host test: ${why}`);
    const root = await Deno.makeTempDir({ prefix: "cross-host-" });
    let net: Network;
    try {
      // Removes what a crashed run left (namespaces, veths, its processes) first.
      net = await Network.create({
        prefix: "trx18",
        subnet: "10.213.0",
        hosts: [...SERVICES, INTRUDER],
      });
    } catch (e) {
      await removeDir(root);
      throw e;
    }
    const procs = new Map<ServiceName, Proc>();
    const url = (s: ServiceName, path: string) =>
      `http://${net.address(s)}:${spread[SECTION[s]].http.port}${path}`;
    const keys = spreadKeys(root);
    const { files, spread } = hostConfigs(net, root, keys);
    const metrics = async (s: ServiceName) => {
      const r = await fetch(url(s, "/metrics"), { signal: AbortSignal.timeout(3_000) });
      return await r.text();
    };
    const metric = async (s: ServiceName, name: string, labels: Record<string, string> = {}) =>
      sampleValue(await metrics(s), name, labels) ?? 0;
    let phase = "before";
    let sampling = true;
    const peaks = new Peaks();
    const sampler = async () => {
      for (let i = 0; sampling && i < 1_000; i++) {
        try {
          const [rm, ee] = await Promise.all([
            metrics("risk-manager"),
            metrics("execution-engine"),
          ]);
          const p = phase;
          peaks.record(
            p,
            "ee_orders_age",
            sampleValue(ee, "messaging_last_message_age_seconds", { channel: "orders" }),
          );
          peaks.record(
            p,
            "rm_reports_age",
            sampleValue(rm, "messaging_last_message_age_seconds", { channel: "execution_reports" }),
          );
          peaks.record(
            p,
            "ee_market_data_age",
            sampleValue(ee, "messaging_last_message_age_seconds", { channel: "market_data" }),
          );
          peaks.record(
            p,
            "rm_orders_out",
            sampleValue(rm, "system_zmq_queue_depth", { queue: "orders_out" }),
          );
        } catch { /* a scrape lost to the loss; the next one counts */ }
        await new Promise((r) => setTimeout(r, 500));
      }
    };
    let sampled: Promise<void> | undefined;
    try {
      await net.loss(0.05);
      // From the end of the pipeline, as `deno task start` does.
      for (const s of [...SERVICES].reverse()) {
        procs.set(
          s,
          net.spawn(s, `services/${s}/main.ts`, ["--config", files[s].config], {
            LOG_LEVEL: "warning",
            // Proc's default is the test process's keys; this host has its own.
            TRADING__SECURITY__KEYS_DIR: files[s].keys,
          }),
        );
      }
      for (const [s, p] of procs) {
        await waitFor(`${s} ready on its host`, async () => {
          const exited = await Promise.race([p.done.then(() => true), Promise.resolve(false)]);
          if (exited) throw new Error(`${s} exited: ${p.stderr.slice(-2000)}`);
          const r = await fetch(url(s, "/ready"), { signal: AbortSignal.timeout(3_000) });
          await r.body?.cancel();
          return r.status === 200;
        }, { timeoutMs: 60_000, everyMs: 250 });
      }
      await waitFor(
        "orders flowing across hosts",
        async () =>
          await metric("execution-engine", "execution_engine_orders_submitted_total") >= 3,
        { timeoutMs: 60_000, everyMs: 500 },
      );
      for (const s of SERVICES) {
        const secure = (await metrics(s)).split("\n")
          .filter((l) => l.startsWith("messaging_channel_secure{"));
        assert.ok(secure.length >= 1, `${s} reports its channels`);
        assert.deepEqual(
          secure.filter((l) => !l.endsWith(" 1")),
          [],
          `${s}: every channel runs CURVE`,
        );
      }
      sampled = sampler();
      await new Promise((r) => setTimeout(r, 2_000));

      // The cut, with the intruder at work meanwhile.
      const reconnectsBefore = await metric("execution-engine", "messaging_reconnects_total", {
        channel: "orders",
      });
      const resendsBefore = await metric("risk-manager", "messaging_resends_total", {
        channel: "orders",
      });
      const channelDownBefore = await metric("risk-manager", "risk_manager_risk_failures_total", {
        failure_type: "orders_channel_down",
      });
      await net.partition("risk-manager", "execution-engine");
      phase = "partition";
      const cutAt = Date.now();
      const stranger = KeyStore.open(`${root}/${INTRUDER}/keys`);
      stranger.create(["stranger"], { overwrite: false });
      const made = KeyStore.open(`${root}/keys-made`);
      const asStranger = (
        server: ServiceName,
      ) => [stranger.secretPath("stranger"), made.publicPath(server)];
      const address = (s: ServiceName, key: string) =>
        String(spread[SECTION[s]][key]).replace(/^(bind|connect):/, "");
      // Every attack at once (each for 4 s: a refused handshake under 5% loss can take
      // a retransmission or two), with a key nobody configured and with none.
      const attacks: Promise<[string, string, Record<string, number>]>[] = [];
      for (const cert of [asStranger, () => []] as const) {
        for (
          const [channel, server, key] of [
            ["market_data", "market-data", "publish"],
            ["signals", "signal-bridge", "publish"],
            ["risk_events", "risk-manager", "publish"],
          ] as const
        ) {
          attacks.push(
            intrude(net, "sub", address(server, key), "4", ...cert(server)).then((r) => [
              "read",
              channel,
              r,
            ]),
          );
        }
        attacks.push(
          intrude(net, "steal", address("risk-manager", "orders"), "4", ...cert("risk-manager"))
            .then((r) => ["steal", "orders", r]),
        );
        attacks.push(
          intrude(
            net,
            "forge-fills",
            address("risk-manager", "executionReports"),
            "4",
            ...cert("risk-manager"),
          ).then((r) => ["forge", "execution_reports", r]),
        );
      }
      const read: Record<string, number> = {};
      let stolen = 0;
      let answers = 0;
      for (const [kind, channel, r] of await Promise.all(attacks)) {
        if (kind === "read") read[channel] = (read[channel] ?? 0) + r.received;
        if (kind === "steal") stolen += r.stolen;
        if (kind === "forge") {
          assert.ok(r.sent > 3, "the forger did send");
          answers += r.answers;
        }
      }
      const cutDropped = await Promise.all(
        (["risk-manager", "execution-engine"] as const).map((s) => net.dropped(s)),
      );
      const left = PARTITION_MS - (Date.now() - cutAt);
      assert.ok(left > 0, `the intruder took longer than the cut (${-left} ms over)`);
      await new Promise((r) => setTimeout(r, left));
      const passedAtHeal = await metric("risk-manager", "risk_manager_checks_performed_total", {
        check_type: "all_checks",
        result: "pass",
      });
      await net.heal();
      const healedAt = Date.now();
      phase = "after";

      // Healed: the backlog drains and the channels are fresh again.
      await waitFor("the orders backlog to drain", async () => {
        const rm = await metrics("risk-manager");
        const ee = await metrics("execution-engine");
        return sampleValue(rm, "system_zmq_queue_depth", { queue: "orders_out" }) === 0 &&
          (sampleValue(ee, "messaging_last_message_age_seconds", { channel: "orders" }) ?? 99) < 3;
      }, { timeoutMs: 45_000, everyMs: 500 });
      const recoveryMs = Date.now() - healedAt;
      // Approvals resume once the engine answers again.
      await waitFor(
        "eight approvals after the cut",
        async () =>
          await metric("risk-manager", "risk_manager_checks_performed_total", {
                check_type: "all_checks",
                result: "pass",
              }) - passedAtHeal >= 8,
        { timeoutMs: 30_000, everyMs: 500 },
      );

      // The intruder got nothing, and was counted.
      assert.deepEqual(
        read,
        { market_data: 0, signals: 0, risk_events: 0 },
        "the intruder read nothing",
      );
      assert.equal(stolen, 0, "the intruder took no order");
      assert.equal(answers, 0, "risk-manager never answered the forger");
      for (
        const [s, channel] of [
          ["market-data", "market_data"],
          ["signal-bridge", "signals"],
          ["risk-manager", "risk_events"],
          ["risk-manager", "orders"],
          ["risk-manager", "execution_reports"],
        ] as const
      ) {
        assert.ok(
          await metric(s, "messaging_peers_refused_total", { channel, reason: "unknown_key" }) >= 1,
          `${s} counted the intruder's key on ${channel}: ${
            (await metrics(s)).split("\n").filter((l) => l.startsWith("messaging_peers")).join("\n")
          }`,
        );
      }

      // The cut showed while it lasted.
      const reconnects =
        await metric("execution-engine", "messaging_reconnects_total", { channel: "orders" }) -
        reconnectsBefore;
      const resends =
        await metric("risk-manager", "messaging_resends_total", { channel: "orders" }) -
        resendsBefore;
      const channelDown = await metric("risk-manager", "risk_manager_risk_failures_total", {
        failure_type: "orders_channel_down",
      }) - channelDownBefore;
      console.log(JSON.stringify({
        recoveryMs,
        peaks: Object.fromEntries(
          ["before", "partition", "after"].flatMap((p) =>
            ["ee_orders_age", "rm_reports_age", "ee_market_data_age", "rm_orders_out"].map((
              n,
            ) => [`${p}:${n}`, peaks.get(p, n)])
          ),
        ),
        reconnects,
        resends,
        channelDown,
        lossDrops: Object.fromEntries(
          await Promise.all(SERVICES.map(async (s) => [s, (await net.dropped(s)).loss])),
        ),
        cutDrops: cutDropped.map((d) => d.partition),
      }));
      assert.ok(
        peaks.get("partition", "ee_orders_age") >= 10,
        "execution-engine saw the orders channel go quiet",
      );
      assert.ok(
        peaks.get("partition", "rm_reports_age") >= 10,
        "risk-manager saw the reports channel go quiet",
      );
      assert.ok(
        peaks.get("before", "ee_orders_age") < 5,
        "the orders channel was fresh before the cut",
      );
      assert.ok(
        peaks.get("partition", "ee_market_data_age") < 5,
        "market data still reached execution-engine: the cut was between two hosts only",
      );
      // Issue 14: risk-manager approves nothing while no engine answers, so orders do not
      // pile up behind the cut; signals in the cut are denied ORDERS_CHANNEL_DOWN instead.
      assert.ok(
        channelDown >= 5,
        `${channelDown} signals denied ORDERS_CHANNEL_DOWN while the engine was out of reach`,
      );
      assert.ok(reconnects >= 1, "execution-engine dialled again when risk-manager fell silent");
      for (const s of SERVICES) {
        assert.ok((await net.dropped(s)).loss > 0, `${s}'s link lost packets`);
      }
      for (const d of cutDropped) assert.ok(d.partition > 0, "the cut dropped packets");

      // The books: stop the sources, let every order finish, compare the stores.
      sampling = false;
      for (const s of ["market-data", "signal-bridge"] as const) {
        assert.equal((await net.stop(procs.get(s)!)).code, 0, procs.get(s)!.stderr.slice(-2000));
      }
      await waitFor("no open order left", async () => {
        const ee = await (await fetch(url("execution-engine", "/admin/orders"))).json();
        const rm = await (await fetch(url("risk-manager", "/admin/positions"))).json();
        return ee.open.length === 0 && rm.openOrders === 0;
      }, { timeoutMs: 60_000, everyMs: 500 });
      for (const s of ["risk-manager", "execution-engine"] as const) {
        assert.equal((await net.stop(procs.get(s)!)).code, 0, procs.get(s)!.stderr.slice(-2000));
      }
      const books = readBooks(
        `${files["risk-manager"].dir}/data/risk.sqlite`,
        `${files["execution-engine"].dir}/data/execution.sqlite`,
      );
      assert.ok(books.approved.size >= 10, `${books.approved.size} orders approved`);
      assert.deepEqual(books.lost, [], "every approved order reached the engine");
      assert.deepEqual(books.foreign, [], "every journaled order was approved by risk-manager");
      assert.deepEqual(books.fillMismatches, [], "no fill was lost or counted twice");
      assert.deepEqual(books.positionMismatches, [], "positions equal the net of the fills");
      assert.equal(books.open, 0);
      assert.equal(books.withExpiry, books.journaled.size, "every order carries its expiry");
      assert.deepEqual(books.lateSubmissions, [], "no order was executed after its expiry");
      const approvedAt = [...books.approvedAt.values()];
      const duringCut = approvedAt.filter((t) => t >= cutAt && t < healedAt).length;
      const afterCut = approvedAt.filter((t) => t >= healedAt).length;
      assert.ok(afterCut >= 8, `${afterCut} orders approved after the cut healed`);
      console.log(JSON.stringify({ approved: books.approved.size, duringCut, afterCut }));
    } finally {
      sampling = false;
      await sampled;
      await net.destroy();
      await removeDir(root);
    }
  },
});
