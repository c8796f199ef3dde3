import assert from "node:assert/strict";
import { freePort, waitFor } from "../../lib/testing/tools.ts";
import {
  AlpacaFeed,
  type AlpacaFeedOptions,
  backoffMs,
  errorTypeOfCode,
  errorTypeOfConnectError,
} from "./alpaca_feed.ts";
import type { ConnectionErrorType, FeedEvent } from "./feed.ts";
import { coreHarness } from "./testing/core_harness.ts";
import { CRYPTO_PATH, FakeAlpacaServer, STOCKS_PATH } from "./testing/fake_alpaca_server.ts";

const TS = "2024-03-01T15:00:00.123456789Z";

/** Feed options with fast reconnects that count failures into `failures`. */
function feedOptions(
  urls: { stocksUrl: string; cryptoUrl: string },
  failures: ConnectionErrorType[],
  overrides: Partial<AlpacaFeedOptions> = {},
): AlpacaFeedOptions {
  return {
    symbols: ["AAPL"],
    stocksUrl: urls.stocksUrl,
    cryptoUrl: urls.cryptoUrl,
    keyId: "key",
    secretKey: "secret",
    reconnectMinMs: 20,
    reconnectMaxMs: 200,
    staleAfterMs: 60_000,
    onFailure: (errorType) => failures.push(errorType),
    ...overrides,
  };
}

async function harness(
  overrides: Partial<AlpacaFeedOptions> = {},
  symbols = ["AAPL", "BTC/USD"],
) {
  const server = new FakeAlpacaServer();
  const failures: ConnectionErrorType[] = [];
  const events: FeedEvent[] = [];
  const feed = new AlpacaFeed(
    feedOptions(server, failures, { symbols, random: () => 0.5, ...overrides }),
  );
  await feed.start((event) => events.push(event));
  return {
    server,
    feed,
    failures,
    events,
    async [Symbol.asyncDispose]() {
      await feed.close();
      await server.close();
    },
  };
}

Deno.test("AlpacaFeed authenticates, subscribes per endpoint and streams every message kind", async () => {
  await using h = await harness();
  await waitFor("both streams subscribed", () => h.feed.connected());
  const byPath = Object.fromEntries(h.server.streaming().map((c) => [c.path, c.subscribed]));
  assert.deepEqual(byPath[STOCKS_PATH], { trades: ["AAPL"], quotes: ["AAPL"], bars: ["AAPL"] });
  assert.deepEqual(byPath[CRYPTO_PATH], {
    trades: ["BTC/USD"],
    quotes: ["BTC/USD"],
    bars: ["BTC/USD"],
    orderbooks: ["BTC/USD"],
  });
  assert.deepEqual(JSON.parse(h.server.received[0]), {
    action: "auth",
    key: "key",
    secret: "secret",
  });

  h.server.send(
    JSON.stringify([
      { T: "t", S: "AAPL", i: 1, x: "V", p: 128.14, s: 5, t: TS, c: ["@"], z: "C" },
      { T: "q", S: "AAPL", bx: "V", bp: 128.13, bs: 1, ax: "V", ap: 128.15, as: 2, t: TS },
      { T: "b", S: "AAPL", o: 1, h: 2, l: 1, c: 2, v: 10, t: TS, n: 3, vw: 1.5 },
    ]),
    STOCKS_PATH,
  );
  h.server.send(
    JSON.stringify([
      { T: "o", S: "BTC/USD", t: TS, b: [{ p: 97250, s: 1 }], a: [{ p: 97250.5, s: 2 }], r: true },
      { T: "o", S: "BTC/USD", t: TS, b: [{ p: 97249.5, s: 3 }], a: [] },
    ]),
    CRYPTO_PATH,
  );
  await waitFor("data frames", () => h.events.length >= 2);

  using core = coreHarness({ bars: ["1s"] });
  for (const event of h.events) core.core.handle(event);
  assert.deepEqual(core.out.map((o) => o.type).sort(), ["book", "book", "quote", "trade"]);
  assert.equal(core.core.stats.messages, 5);
  assert.equal(core.core.book("BTC/USD")!.top().bestBid, 97250);
  assert.deepEqual(h.failures, []);
});

Deno.test("AlpacaFeed counts a failed authentication and does not retry in a hot loop", async () => {
  await using h = await harness({ keyId: "wrong", reconnectMaxMs: 60_000 }, ["AAPL"]);
  await waitFor("auth failure counted", () => h.failures.includes("auth_failed"));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(h.server.connections.length, 1, "no reconnect before the maximum backoff");
  assert.equal(h.feed.connected(), false);
  assert.equal(h.feed.connections[0].state, "backoff");
});

Deno.test("AlpacaFeed reconnects and re-subscribes after the server closes", async () => {
  await using h = await harness({}, ["AAPL"]);
  await waitFor("subscribed", () => h.feed.connected());
  h.server.dropAll();
  await waitFor("server_close counted", () => h.failures.includes("server_close"));
  await waitFor("subscribed again", () => h.feed.connected() && h.server.streaming().length === 1);
  assert.equal(h.server.connections.filter((c) => c.subscribed).length, 2);
  h.server.send(JSON.stringify([{ T: "t", S: "AAPL", p: 1, s: 1, t: TS }]));
  await waitFor("data after reconnect", () => h.events.length === 1);
  assert.equal(h.feed.connections[0].attempt, 0, "data resets the backoff");
});

Deno.test("AlpacaFeed passes malformed frames on for counting and keeps streaming", async () => {
  await using h = await harness({}, ["AAPL"]);
  await waitFor("subscribed", () => h.feed.connected());
  for (
    const bad of ["not json", "{}", "[1,2]", '[{"T":"t","S":"AAPL","p":"x"}]', "[" + "[".repeat(50)]
  ) {
    h.server.send(bad);
  }
  for (const c of h.server.streaming()) {
    c.socket.send(
      new TextEncoder().encode(JSON.stringify([{ T: "t", S: "AAPL", p: 2, s: 1, t: TS }])),
    );
  }
  h.server.send(JSON.stringify([{ T: "t", S: "AAPL", p: 1, s: 1, t: TS }]));
  await waitFor("all frames", () => h.events.length === 7);
  assert.equal(h.events[5].parsed!.messages.length, 1, "a binary frame is decoded as UTF-8");
  assert.ok(h.events.slice(0, 5).every((e) => e.parsed!.errors.length > 0));
  assert.equal(h.feed.connected(), true);
  assert.deepEqual(h.failures, []);
});

Deno.test("AlpacaFeed keeps up with a burst of frames and handles a slow-client error", async () => {
  await using h = await harness({}, ["AAPL"]);
  await waitFor("subscribed", () => h.feed.connected());
  const frame = JSON.stringify(
    Array.from({ length: 10 }, (_, i) => ({ T: "t", S: "AAPL", p: 100 + i, s: 1, t: TS })),
  );
  for (let i = 0; i < 2000; i++) h.server.send(frame);
  await waitFor("2000 frames", () => h.events.length === 2000, { timeoutMs: 20_000 });
  h.server.send(JSON.stringify([{ T: "error", code: 407, msg: "slow client" }]));
  await waitFor("slow_client counted", () => h.failures.includes("slow_client"));
  await waitFor("subscribed again", () => h.feed.connected());
});

Deno.test("AlpacaFeed detects a silent feed and reconnects", async () => {
  await using h = await harness({ staleAfterMs: 150 }, ["AAPL"]);
  await waitFor("silent_feed counted", () => h.failures.includes("silent_feed"));
  await waitFor("reconnected", () => h.server.connections.length >= 2);
});

Deno.test("AlpacaFeed times out a server that never says connected", async () => {
  const server = new FakeAlpacaServer();
  server.greet = false;
  const failures: ConnectionErrorType[] = [];
  const feed = new AlpacaFeed(
    feedOptions(server, failures, { staleAfterMs: 100, handshakeTimeoutMs: 100 }),
  );
  try {
    await feed.start(() => {});
    await waitFor("timeout counted", () => failures.includes("timeout"));
  } finally {
    await feed.close();
    await server.close();
  }
});

Deno.test("AlpacaFeed counts a refused connection and backs off", async () => {
  const port = freePort();
  const failures: ConnectionErrorType[] = [];
  const base = `ws://127.0.0.1:${port}`;
  const feed = new AlpacaFeed(
    feedOptions(
      { stocksUrl: base + STOCKS_PATH, cryptoUrl: base + CRYPTO_PATH },
      failures,
      { reconnectMinMs: 10, reconnectMaxMs: 40, staleAfterMs: 1000 },
    ),
  );
  try {
    await feed.start(() => {});
    await waitFor("three failures", () => failures.length >= 3);
    assert.ok(failures.every((f) => f === "connect_refused"), failures.join());
    assert.ok(feed.connections[0].attempt >= 3);
  } finally {
    await feed.close();
  }
});

Deno.test("backoffMs() doubles from the minimum, caps at the maximum and applies jitter", () => {
  assert.equal(backoffMs(0, 500, 30_000, 0), 250);
  assert.equal(backoffMs(0, 500, 30_000, 0.999999) < 500, true);
  assert.equal(backoffMs(3, 500, 30_000, 0), 2000);
  assert.equal(backoffMs(20, 500, 30_000, 0), 15_000);
  assert.equal(backoffMs(1000, 500, 30_000, 0), 15_000);
});

Deno.test("errorTypeOfCode() and errorTypeOfConnectError() map onto the closed set", () => {
  assert.equal(errorTypeOfCode(402), "auth_failed");
  assert.equal(errorTypeOfCode(406), "connection_limit");
  assert.equal(errorTypeOfCode(407), "slow_client");
  assert.equal(errorTypeOfCode(409), "subscription_error");
  assert.equal(errorTypeOfCode(500), "server_error");
  assert.equal(errorTypeOfCode(999), "protocol_error");
  assert.equal(errorTypeOfConnectError("failed to lookup address information"), "dns");
  assert.equal(errorTypeOfConnectError("invalid peer certificate"), "tls");
  assert.equal(errorTypeOfConnectError("Connection refused (os error 111)"), "connect_refused");
});

Deno.test("AlpacaFeed reports each connection's state and a silent one's failure under its own socket", async () => {
  const sockets: string[] = [];
  await using h = await harness({
    staleAfterMs: 300,
    onFailure: (_type, socket) => void sockets.push(socket),
  });
  await waitFor("both streams subscribed", () => h.feed.connected());
  assert.deepEqual(h.feed.sockets().map((s) => s.socket), ["stocks", "crypto"]);
  assert.ok(h.feed.sockets().every((s) => s.connected && s.lastDataAt === 0));
  // Crypto keeps trading; stocks fall silent (a closed market).
  const start = Date.now();
  const timer = setInterval(() => {
    h.server.send(
      JSON.stringify([{ T: "t", S: "BTC/USD", i: 1, x: "C", p: 97250, s: 1, t: TS, tks: "B" }]),
      CRYPTO_PATH,
    );
  }, 50);
  try {
    await waitFor("stocks silent_feed", () => sockets.includes("stocks"), { timeoutMs: 5000 });
    const crypto = h.feed.sockets().find((s) => s.socket === "crypto")!;
    assert.ok(crypto.lastDataAt >= start, "crypto data arrived");
    assert.ok(!sockets.includes("crypto"), "the crypto connection did not fail");
  } finally {
    clearInterval(timer);
  }
});
