import assert from "node:assert/strict";
import { createServiceMetrics } from "../../lib/metrics.ts";
import { metric } from "../../lib/testing/messaging.ts";
import { nowMs } from "../../lib/clock.ts";
import { PARSE_REASONS } from "./alpaca_protocol.ts";
import { CONNECTION_ERROR_TYPES } from "./feed.ts";
import { MarketDataMetrics } from "./metrics.ts";

function setup() {
  const registry = createServiceMetrics("market-data", { defaultMetrics: false });
  const metrics = new MarketDataMetrics(registry.families, {
    exchange: "alpaca",
    symbols: ["AAPL"],
    sockets: ["stocks", "crypto"],
    staleAfterMs: 5000,
  });
  return { metrics, registry: registry.registry, [Symbol.dispose]: () => registry.stop() };
}

Deno.test("MarketDataMetrics counts a frame's messages by message type and symbol and observes each one's latency when the frame is handled", async () => {
  using s = setup();
  const receivedTs = 1_700_000_000_000; // epoch ms; the offsets below are exact in binary
  s.metrics.messageProcessed("trade", "AAPL");
  s.metrics.messageProcessed("trade", "AAPL");
  s.metrics.messageProcessed("quote", "AAPL");
  const processed = { exchange: "alpaca", symbol: "AAPL" };
  const trades = { ...processed, message_type: "trade" };
  assert.equal(
    await metric(s.registry, "market_data_messages_processed_total", trades),
    0,
    "a frame's tally is recorded when the frame is handled",
  );
  s.metrics.frameHandled(receivedTs, receivedTs + 2); // 2 ms after the frame arrived
  s.metrics.messageProcessed("trade", "AAPL"); // the next frame
  s.metrics.frameHandled(receivedTs + 5, receivedTs + 5 + 1 / 1024);
  s.metrics.frameHandled(receivedTs + 9, receivedTs + 9.5); // a frame without data messages
  assert.equal(await metric(s.registry, "market_data_messages_processed_total", trades), 3);
  assert.equal(
    await metric(s.registry, "market_data_messages_processed_total", {
      ...processed,
      message_type: "quote",
    }),
    1,
  );
  const text = await s.registry.metrics();
  assert.match(
    text,
    /market_data_websocket_latency_us_count\{exchange="alpaca",message_type="trade",symbol="AAPL"\} 3/,
  );
  assert.match(
    text,
    /market_data_websocket_latency_us_bucket\{le="1",exchange="alpaca",message_type="trade",symbol="AAPL"\} 1/,
    "the second frame's trade took 0.98 µs",
  );
  assert.match(
    text,
    /market_data_websocket_latency_us_bucket\{le="1000",exchange="alpaca",message_type="trade",symbol="AAPL"\} 1/,
    "the first frame's two trades, 2 ms, are above 1000 µs",
  );
  assert.match(
    text,
    /market_data_websocket_latency_us_sum\{exchange="alpaca",message_type="trade",symbol="AAPL"\} 4000\.9765625\n/,
  );
});

Deno.test("MarketDataMetrics counts the messages of a frame whose latency is not a number, and observes nothing for them", async () => {
  using s = setup();
  s.metrics.messageProcessed("trade", "AAPL");
  s.metrics.frameHandled(Number.NaN, nowMs());
  const labels = { exchange: "alpaca", message_type: "trade", symbol: "AAPL" };
  assert.equal(await metric(s.registry, "market_data_messages_processed_total", labels), 1);
  assert.doesNotMatch(
    await s.registry.metrics(),
    /market_data_websocket_latency_us_count\{exchange="alpaca",message_type="trade"/,
  );
});

Deno.test("MarketDataMetrics writes what frames recorded into its families at every read, once", async () => {
  using s = setup();
  const labels = { exchange: "alpaca", message_type: "quote", symbol: "AAPL" };
  for (let frame = 0; frame < 3; frame++) {
    s.metrics.messageProcessed("quote", "AAPL");
    s.metrics.frameHandled(1_000, 1_000.5);
    assert.equal(
      await metric(s.registry, "market_data_messages_processed_total", labels),
      frame + 1,
    );
  }
  const text = await s.registry.metrics();
  assert.match(
    text,
    /market_data_websocket_latency_us_bucket\{le="500",exchange="alpaca",message_type="quote",symbol="AAPL"\} 3\n/,
  );
  assert.match(
    text,
    /market_data_websocket_latency_us_count\{exchange="alpaca",message_type="quote",symbol="AAPL"\} 3\n/,
  );
});

Deno.test("MarketDataMetrics of no-op families (instrumentation off) says so, so the core skips its timing", () => {
  const off = createServiceMetrics("market-data", { defaultMetrics: false, instrumented: false });
  try {
    const metrics = new MarketDataMetrics(off.families, { exchange: "sim", symbols: ["AAPL"] });
    assert.equal(metrics.instrumented, false);
    metrics.messageProcessed("trade", "AAPL");
    metrics.frameHandled(nowMs(), nowMs());
  } finally {
    off.stop();
  }
  using s = setup();
  assert.equal(s.metrics.instrumented, true);
});

Deno.test("MarketDataMetrics labels an unconfigured symbol as other", async () => {
  using s = setup();
  s.metrics.messageProcessed("trade", "ZZZZ");
  s.metrics.frameHandled(nowMs(), nowMs());
  s.metrics.bookUpdated("ETH/USD", "snapshot", 3);
  s.metrics.bookCrossed("ETH/USD", "locked");
  assert.equal(
    await metric(s.registry, "market_data_messages_processed_total", { symbol: "other" }),
    1,
  );
  assert.equal(
    await metric(s.registry, "market_data_book_crossed_total", { symbol: "other", kind: "locked" }),
    1,
  );
  assert.match(
    await s.registry.metrics(),
    /market_data_orderbook_update_latency_us_count\{symbol="other",update_type="snapshot"\} 1/,
  );
});

Deno.test("MarketDataMetrics counts parse errors and connection failures by their closed labels", async () => {
  using s = setup();
  s.metrics.parseError("invalid_json");
  s.metrics.parseError("invalid_json");
  s.metrics.connectionFailure("silent_feed", "stocks");
  assert.equal(
    await metric(s.registry, "market_data_parse_errors_total", {
      exchange: "alpaca",
      reason: "invalid_json",
    }),
    2,
  );
  assert.equal(
    await metric(s.registry, "market_data_websocket_connection_failures_total", {
      exchange: "alpaca",
      error_type: "silent_feed",
    }),
    1,
  );
  const perSocket = "market_data_feed_connection_failures_total";
  const labels = { exchange: "alpaca", error_type: "silent_feed" };
  assert.equal(await metric(s.registry, perSocket, { ...labels, socket: "stocks" }), 1);
  assert.equal(await metric(s.registry, perSocket, { ...labels, socket: "crypto" }), 0);
});

Deno.test("MarketDataMetrics.feedStatus() sets the connected and last message age gauges", async () => {
  using s = setup();
  s.metrics.feedStatus(true, 1.5);
  assert.equal(await metric(s.registry, "market_data_feed_connected", { exchange: "alpaca" }), 1);
  assert.equal(
    await metric(s.registry, "market_data_feed_last_message_age_seconds", { exchange: "alpaca" }),
    1.5,
  );
  s.metrics.feedStatus(false, 3);
  assert.equal(await metric(s.registry, "market_data_feed_connected", { exchange: "alpaca" }), 0);
});

Deno.test("MarketDataMetrics creates every counter series at 0 and each connection's staleness limit", async () => {
  using s = setup();
  const text = await s.registry.metrics();
  const has = (name: string, labels: Record<string, string>) =>
    assert.ok(
      text.split("\n").some((l) =>
        l.startsWith(name + "{") && l.endsWith(" 0") &&
        Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`))
      ),
      `${name} ${JSON.stringify(labels)} at 0`,
    );
  for (const symbol of ["AAPL", "other"]) {
    for (const message_type of ["trade", "quote", "orderbook", "bar"]) {
      has("market_data_messages_processed_total", { message_type, symbol, exchange: "alpaca" });
    }
    for (const kind of ["crossed", "locked"]) {
      has("market_data_book_crossed_total", { symbol, kind });
    }
  }
  for (const reason of PARSE_REASONS) {
    has("market_data_parse_errors_total", { exchange: "alpaca", reason });
  }
  for (const error_type of CONNECTION_ERROR_TYPES) {
    has("market_data_websocket_connection_failures_total", { exchange: "alpaca", error_type });
    for (const socket of ["stocks", "crypto"]) {
      has("market_data_feed_connection_failures_total", { exchange: "alpaca", socket, error_type });
    }
  }
  assert.equal(
    await metric(s.registry, "market_data_feed_stale_after_seconds", { socket: "crypto" }),
    5,
  );
});

Deno.test("MarketDataMetrics.socketStatus() sets each connection's connected and age gauges", async () => {
  using s = setup();
  s.metrics.socketStatus("stocks", false, 42);
  s.metrics.socketStatus("crypto", true, 0.25);
  const at = (name: string, socket: string) =>
    metric(s.registry, name, { exchange: "alpaca", socket });
  assert.equal(await at("market_data_feed_socket_connected", "stocks"), 0);
  assert.equal(await at("market_data_feed_socket_connected", "crypto"), 1);
  assert.equal(await at("market_data_feed_socket_last_message_age_seconds", "stocks"), 42);
  assert.equal(await at("market_data_feed_socket_last_message_age_seconds", "crypto"), 0.25);
});
