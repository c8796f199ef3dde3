import assert from "node:assert/strict";
import { freePort, waitFor } from "../../lib/testing/tools.ts";
import {
  AlpacaFeed,
  type AlpacaFeedOptions,
  backoffMs,
  errorTypeOfCode,
  errorTypeOfConnectError,
  isHandshake4xx,
} from "./alpaca_feed.ts";
import type { ConnectionErrorType, FeedEvent } from "./feed.ts";
import { coreHarness } from "./testing/core_harness.ts";
import {
  CRYPTO_TRADE_ID,
  CRYPTO_TRADE_TEXT,
  DATA_FIXTURES,
  ERROR_FRAMES,
  STOCK_TRADE_BATCH,
} from "./testing/alpaca_fixtures.ts";
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

Deno.test("AlpacaFeed stops for good on a failed authentication (402) instead of reconnecting", async () => {
  const stopped: string[] = [];
  await using h = await harness({
    keyId: "wrong",
    reconnectMinMs: 10,
    reconnectMaxMs: 20,
    onStopped: (detail) => stopped.push(detail),
  }, ["AAPL"]);
  await waitFor("auth failure counted", () => h.failures.includes("auth_failed"));
  await waitFor("stopped", () => stopped.length === 1);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(h.server.connections.length, 1, "no reconnect at all");
  assert.equal(h.feed.connected(), false);
  assert.equal(h.feed.stopped(), true);
  assert.equal(h.feed.connections[0].state, "stopped");
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
  assert.equal(errorTypeOfCode(411), "auth_failed");
  assert.equal(
    isHandshake4xx("NetworkError: failed to connect to WebSocket: Invalid status code: 403"),
    true,
  );
  assert.equal(isHandshake4xx("Invalid status code: 429"), false);
  assert.equal(isHandshake4xx("Connection refused"), false);
  assert.equal(errorTypeOfCode(500), "server_error");
  assert.equal(errorTypeOfCode(999), "protocol_error");
  assert.equal(errorTypeOfConnectError("failed to lookup address information"), "dns");
  assert.equal(errorTypeOfConnectError("invalid peer certificate"), "tls");
  assert.equal(errorTypeOfConnectError("Connection refused (os error 111)"), "connect_refused");
});

Deno.test("AlpacaFeed stops for good on 409, 410 and 411 during the handshake and counts each code", async () => {
  for (
    const [code, where] of [[409, "auth"], [411, "auth"], [409, "subscribe"], [
      410,
      "subscribe",
    ]] as const
  ) {
    const codes: number[] = [];
    const stopped: string[] = [];
    await using h = await harness({
      reconnectMinMs: 10,
      reconnectMaxMs: 20,
      onServerError: (c) => codes.push(c),
      onStopped: (detail) => stopped.push(detail),
    }, ["AAPL"]);
    if (where === "auth") h.server.authError = code;
    else h.server.subscribeError = code;
    h.server.dropAll();
    await waitFor(`${code} at ${where} stops the feed`, () => h.feed.stopped());
    const connections = h.server.connections.length;
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(h.server.connections.length, connections, `${code}: no reconnect`);
    assert.deepEqual(codes, [code]);
    assert.equal(stopped.length, 1);
    assert.equal(h.feed.connected(), false);
  }
});

Deno.test("AlpacaFeed reconnects after 406, 500 and 404 and only logs 410 and 405 once streaming", async () => {
  const codes: number[] = [];
  await using h = await harness({ onServerError: (c) => codes.push(c) }, ["AAPL"]);
  await waitFor("subscribed", () => h.feed.connected());
  h.server.send(ERROR_FRAMES[410]);
  h.server.send(ERROR_FRAMES[405]);
  h.server.send(ERROR_FRAMES[403]);
  await waitFor("three codes", () => codes.length === 3);
  assert.equal(h.feed.connected(), true, "410, 405 and 403 while streaming keep the stream");
  for (const code of [406, 500]) {
    const before = h.server.connections.length;
    h.server.send(ERROR_FRAMES[code]);
    await waitFor(
      `${code} reconnects`,
      () => h.server.connections.length > before && h.feed.connected(),
    );
  }
  assert.equal(h.feed.stopped(), false);
  assert.deepEqual(codes, [410, 405, 403, 406, 500]);
  assert.deepEqual(h.failures, ["connection_limit", "server_error"]);
});

Deno.test("AlpacaFeed answers a server that never gets auth (404 auth timeout) by reconnecting", async () => {
  const server = new FakeAlpacaServer();
  server.authTimeoutMs = 50;
  server.greet = false;
  const failures: ConnectionErrorType[] = [];
  const codes: number[] = [];
  const feed = new AlpacaFeed(
    feedOptions(server, failures, {
      reconnectMinMs: 10,
      reconnectMaxMs: 20,
      onServerError: (c) => codes.push(c),
    }),
  );
  try {
    await feed.start(() => {});
    await waitFor("404 counted", () => codes.includes(404));
    await waitFor("a second connection", () => server.connections.length >= 2);
    assert.equal(feed.stopped(), false);
  } finally {
    await feed.close();
    await server.close();
  }
});

Deno.test("AlpacaFeed stops for good when the WebSocket upgrade is refused with 403", async () => {
  const server = new FakeAlpacaServer();
  server.upgradeStatus = 403;
  const failures: ConnectionErrorType[] = [];
  const feed = new AlpacaFeed(
    feedOptions(server, failures, { reconnectMinMs: 10, reconnectMaxMs: 20 }),
  );
  try {
    await feed.start(() => {});
    await waitFor("stopped", () => feed.stopped());
    assert.deepEqual(failures, ["auth_failed"]);
  } finally {
    await feed.close();
    await server.close();
  }
});

Deno.test("AlpacaFeed subscribes statuses and LULD bands on the stock stream when asked", async () => {
  await using h = await harness({ statuses: true });
  await waitFor("both streams subscribed", () => h.feed.connected());
  const byPath = Object.fromEntries(h.server.streaming().map((c) => [c.path, c.lists]));
  assert.deepEqual(byPath[STOCKS_PATH].statuses, ["AAPL"]);
  assert.deepEqual(byPath[STOCKS_PATH].lulds, ["AAPL"]);
  assert.equal(byPath[CRYPTO_PATH].statuses, undefined, "crypto has no statuses");
});

Deno.test("AlpacaFeed streams every documented message kind through to the core", async () => {
  await using h = await harness({}, ["AAPL"]);
  await waitFor("subscribed", () => h.feed.connected());
  h.server.sendMessages([...DATA_FIXTURES]);
  h.server.send(STOCK_TRADE_BATCH);
  h.server.send(`[${CRYPTO_TRADE_TEXT}]`);
  await waitFor("three frames", () => h.events.length === 3);
  assert.deepEqual(h.events.flatMap((e) => e.parsed!.errors), []);
  using core = coreHarness({ symbols: ["AAPL", "BTC/USD", "MKR/USD", "CRV/USD"] });
  for (const event of h.events) core.core.handle(event);
  assert.equal(core.core.stats.parseErrors, 0);
  assert.equal(core.core.stats.messages, DATA_FIXTURES.length + 4);
  const trade = core.out.find((o) => o.type === "trade" && o.body.symbol === "AVAX/USD");
  assert.equal((trade!.body as { tradeId: string }).tradeId, CRYPTO_TRADE_ID);
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
