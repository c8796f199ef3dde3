import assert from "node:assert/strict";
import { ConfigError } from "../../lib/config.ts";
import { Subscriber } from "../../lib/messaging/mod.ts";
import { createServiceMetrics } from "../../lib/metrics.ts";
import { peerMessaging } from "../../lib/testing/context.ts";
import { freePort, Proc, waitFor } from "../../lib/testing/tools.ts";
import { type MessageType, SCHEMAS } from "../../lib/types.ts";
import type { MarketDataStats } from "./admin_api.ts";
import { FakeAlpacaServer, STOCKS_PATH } from "./testing/fake_alpaca_server.ts";
import { CONFIG_URL, serviceConfig, startWithFakePublisher } from "./testing/service_harness.ts";

const MAIN = new URL("./main.ts", import.meta.url).pathname;

Deno.test("market-data on the sim feed publishes valid trades, quotes, books and is ready", async () => {
  await using s = await startWithFakePublisher(serviceConfig((marketData) => {
    (marketData.sim as { ticksPerSecond: number }).ticksPerSecond = 2000;
  }));
  await waitFor("every kind published", () => {
    const kinds = new Set(s.published.map((p) => p.type));
    return kinds.has("trade") && kinds.has("quote") && kinds.has("book");
  });
  await waitFor("ready", () => Object.values(s.svc.ready()).every(Boolean));
  for (const p of s.published.slice(0, 500)) SCHEMAS[p.type as MessageType].parse(p.body);
  const text = await s.metrics.registry.metrics();
  assert.match(
    text,
    /market_data_messages_processed_total\{message_type="trade",symbol="AAPL",exchange="sim"\} [1-9]/,
  );
  assert.match(
    text,
    /market_data_websocket_latency_us_count\{exchange="sim",message_type="orderbook",symbol="BTC\/USD"\} [1-9]/,
  );
  assert.match(
    text,
    /market_data_orderbook_update_latency_us_bucket\{le="1",symbol="AAPL",update_type="delta"\}|market_data_orderbook_update_latency_us_bucket\{symbol="AAPL",update_type="delta",le="1"\}/,
  );
  assert.match(text, /market_data_feed_connected\{exchange="sim"\} 1/);
  await s.svc.close();
  assert.ok(s.publisherClosed());
});

Deno.test("market-data serves its counters and feed state at GET /admin/stats", async () => {
  await using s = await startWithFakePublisher(serviceConfig((marketData) => {
    (marketData.sim as { ticksPerSecond: number }).ticksPerSecond = 500;
  }));
  await waitFor("a frame", () => s.svc.core.stats.frames > 0);
  const response = await s.svc.admin.request("/admin/stats");
  assert.equal(response.status, 200);
  const stats: MarketDataStats = await response.json();
  assert.equal(stats.exchange, "sim");
  assert.equal(stats.connected, true);
  assert.ok(stats.lastFrameAgeMs !== null && stats.lastFrameAgeMs >= 0);
  assert.ok(stats.core.frames > 0);
  assert.ok(stats.core.published > 0);
});

Deno.test("market-data closes 1s bars on its timer", async () => {
  await using s = await startWithFakePublisher(serviceConfig((marketData) => {
    (marketData.sim as { ticksPerSecond: number }).ticksPerSecond = 500;
    marketData.bars = ["1s"];
  }));
  await waitFor("a bar", () => s.published.find((p) => p.type === "bar"), { timeoutMs: 5000 });
  const bar = SCHEMAS.bar.parse(s.published.find((p) => p.type === "bar")!.body);
  assert.equal(bar.end - bar.start, 1000);
});

Deno.test("market-data records the sim feed and replays the recording", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/rec.ndjson`;
    {
      await using s = await startWithFakePublisher(serviceConfig((marketData) => {
        marketData.recordPath = path;
        (marketData.sim as { ticksPerSecond: number }).ticksPerSecond = 1000;
      }));
      await waitFor("200 messages", () => s.published.length >= 200);
    }
    const recorded = (await Deno.readTextFile(path)).trim().split("\n").length;
    assert.ok(recorded > 0);
    await using r = await startWithFakePublisher(serviceConfig((marketData) => {
      marketData.feed = "replay";
      marketData.replay = { path, speed: 0, loop: false };
    }));
    await waitFor("replay finished", () => (r.svc.feed as { passes?: number }).passes === 1);
    assert.equal(r.svc.core.stats.frames, recorded);
    assert.equal(r.svc.core.stats.parseErrors, 0);
    assert.ok(r.published.some((p) => p.type === "bar"), "bars flushed at the end of the replay");
    const text = await r.metrics.registry.metrics();
    assert.match(
      text,
      /market_data_messages_processed_total\{message_type="trade",symbol="AAPL",exchange="replay"\} [1-9]/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("market-data refuses the alpaca feed without keys with a ConfigError", async () => {
  await assert.rejects(
    () => startWithFakePublisher(serviceConfig((marketData) => (marketData.feed = "alpaca"))),
    ConfigError,
  );
});

Deno.test("market-data refuses a replay file that does not exist with a ConfigError", async () => {
  await assert.rejects(
    () =>
      startWithFakePublisher(
        serviceConfig((
          marketData,
        ) => (marketData.replay = { path: "/nonexistent.ndjson", speed: 0, loop: false },
          marketData.feed = "replay")
        ),
      ),
    ConfigError,
  );
});

Deno.test("market-data on the alpaca feed connects to the configured URL and counts failures", async () => {
  const server = new FakeAlpacaServer("k", "s");
  try {
    await using a = await startWithFakePublisher(
      serviceConfig((marketData) => {
        marketData.feed = "alpaca";
        marketData.alpaca = {
          stocksUrl: server.stocksUrl,
          cryptoUrl: server.cryptoUrl,
          reconnectMinMs: 10,
          reconnectMaxMs: 50,
          tradingUrl: server.tradingUrl,
          statuses: true,
        };
      }),
      { alpacaKeyId: "k", alpacaSecretKey: "s" },
    );
    await waitFor("connected", () => a.svc.feed.connected());
    assert.deepEqual(server.rest, ["GET /v2/clock", "GET /v2/calendar"]);
    const status = a.published.findLast((p) => p.type === "trading_status");
    assert.equal((status?.body as { state: string }).state, "open", "Alpaca's clock says open");
    assert.equal(a.svc.ready().feed_fresh, false, "no data yet");
    server.send(
      JSON.stringify([{ T: "t", S: "AAPL", p: 128.14, s: 1, t: "2024-03-01T15:00:00Z" }]),
      STOCKS_PATH,
    );
    await waitFor("trade published", () => a.published.find((p) => p.type === "trade"));
    assert.deepEqual(a.svc.ready(), {
      feed_connected: true,
      feed_fresh: true,
      feed_not_stopped: true,
    });
    server.dropAll();
    await waitFor(
      "failure counted",
      async () =>
        /market_data_websocket_connection_failures_total\{exchange="alpaca",error_type="server_close"\} [1-9]/
          .test(await a.metrics.registry.metrics()),
    );
    server.send("garbage");
    await waitFor("reconnected", () => a.svc.feed.connected());
    server.send("garbage");
    await waitFor(
      "parse error counted",
      async () =>
        /market_data_parse_errors_total\{exchange="alpaca",reason="invalid_json"\} [1-9]/
          .test(await a.metrics.registry.metrics()),
    );
  } finally {
    await server.close();
  }
});

Deno.test("deno task market-data publishes over ZeroMQ and serves moving metrics", async () => {
  const httpPort = freePort();
  const zmqPort = freePort();
  const proc = new Proc(MAIN, ["--config", CONFIG_URL.pathname], {
    TRADING__MARKET_DATA__HTTP__PORT: String(httpPort),
    TRADING__MARKET_DATA__PUBLISH: `bind:tcp://127.0.0.1:${zmqPort}`,
    TRADING__MARKET_DATA__SIM__TICKS_PER_SECOND: "500",
    TRADING__SIGNAL_BRIDGE__HTTP__PORT: "0",
    TRADING__RISK_MANAGER__HTTP__PORT: "0",
    TRADING__EXECUTION_ENGINE__HTTP__PORT: "0",
  });
  const registry = createServiceMetrics("signal-bridge", { defaultMetrics: false });
  let sub: Subscriber | undefined;
  try {
    await waitFor("ready", async () => {
      const r = await fetch(`http://127.0.0.1:${httpPort}/ready`).catch(() => undefined);
      await r?.body?.cancel();
      return r?.status === 200;
    }, { timeoutMs: 20_000, everyMs: 100 });
    // The test subscribes as signal-bridge, with its key from the same key directory.
    await using peer = await peerMessaging(
      "signal-bridge",
      serviceConfig(() => {}),
      registry.registry,
    );
    sub = await Subscriber.open([`tcp://127.0.0.1:${zmqPort}`], peer.receiver("market_data"));
    const types = new Set<string>();
    sub.onMessage((env) => void types.add(env.type));
    await waitFor(
      "trades, quotes and books over ZeroMQ",
      () => types.has("trade") && types.has("quote") && types.has("book"),
      { timeoutMs: 15_000 },
    );
    const count = async () => {
      const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
      const m =
        /market_data_messages_processed_total\{message_type="trade",symbol="AAPL",exchange="sim"\} (\d+)/
          .exec(text);
      return m ? Number(m[1]) : 0;
    };
    const first = await count();
    await waitFor("the counter moves", async () => (await count()) > first);
  } finally {
    await sub?.close();
    registry.stop();
    const status = await proc.stop();
    assert.equal(status.code, 0, proc.stderr.slice(-2000));
  }
});
