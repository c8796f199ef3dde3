import assert from "node:assert/strict";
import { createServiceMetrics } from "../../lib/metrics.ts";
import { metric } from "../../lib/testing/messaging.ts";
import { nowMs } from "../../lib/clock.ts";
import { MarketDataMetrics } from "./metrics.ts";

function setup() {
  const registry = createServiceMetrics("market-data", { defaultMetrics: false });
  const metrics = new MarketDataMetrics(registry.families, {
    exchange: "alpaca",
    symbols: ["AAPL"],
  });
  return { metrics, registry: registry.registry, [Symbol.dispose]: () => registry.stop() };
}

Deno.test("MarketDataMetrics.messageProcessed() counts by message type and symbol and observes the latency", async () => {
  using s = setup();
  s.metrics.messageProcessed("trade", "AAPL", nowMs() - 2);
  s.metrics.messageProcessed("trade", "AAPL", nowMs());
  s.metrics.messageProcessed("quote", "AAPL", nowMs());
  const processed = { exchange: "alpaca", symbol: "AAPL" };
  assert.equal(
    await metric(s.registry, "market_data_messages_processed_total", {
      ...processed,
      message_type: "trade",
    }),
    2,
  );
  const text = await s.registry.metrics();
  assert.match(
    text,
    /market_data_websocket_latency_us_count\{exchange="alpaca",message_type="trade",symbol="AAPL"\} 2/,
  );
  assert.match(
    text,
    /market_data_websocket_latency_us_bucket\{le="1000",exchange="alpaca",message_type="trade",symbol="AAPL"\} 1/,
    "the 2 ms old message is above 1000 µs",
  );
});

Deno.test("MarketDataMetrics labels an unconfigured symbol as other", async () => {
  using s = setup();
  s.metrics.messageProcessed("trade", "ZZZZ", nowMs());
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
  s.metrics.connectionFailure("silent_feed");
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
