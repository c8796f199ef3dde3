import assert from "node:assert/strict";
import { channelStaleAfterMs } from "./channel_staleness.ts";
import { CHANNELS } from "./channels.ts";
import { loadConfig } from "./config.ts";
import { DEFAULT_SILENCE_MS } from "./messaging/redial.ts";

const config = loadConfig({
  args: [],
  env: {
    TRADING__SIGNAL_BRIDGE__MAX_DATA_AGE_MS: "1500",
    TRADING__RISK_MANAGER__MARK_MAX_AGE_MS: "4000",
    TRADING__MARKET_DATA__STALE_AFTER_MS: "7000",
    TRADING__SIGNAL_BRIDGE__SIGNAL_TTL_MS: "3000",
  },
});

Deno.test("channelStaleAfterMs() takes each reader's limit of market data and signals from the config", () => {
  assert.equal(channelStaleAfterMs(config, "signal-bridge", "market_data"), 1500);
  assert.equal(channelStaleAfterMs(config, "risk-manager", "market_data"), 4000);
  assert.equal(channelStaleAfterMs(config, "execution-engine", "market_data"), 7000);
  assert.equal(channelStaleAfterMs(config, "risk-manager", "signals"), 3000);
});

Deno.test("channelStaleAfterMs() gives both ends of a reliable channel its silence limit", () => {
  for (const channel of ["orders", "execution_reports"] as const) {
    assert.equal(channelStaleAfterMs(config, CHANNELS[channel].from, channel), DEFAULT_SILENCE_MS);
    for (const reader of CHANNELS[channel].to) {
      assert.equal(channelStaleAfterMs(config, reader, channel), DEFAULT_SILENCE_MS);
    }
  }
});

Deno.test("channelStaleAfterMs() has no limit for a publisher or a service off the channel", () => {
  assert.equal(channelStaleAfterMs(config, "market-data", "market_data"), undefined);
  assert.equal(channelStaleAfterMs(config, "risk-manager", "risk_events"), undefined);
  assert.equal(channelStaleAfterMs(config, "operator", "signals"), undefined);
  assert.equal(channelStaleAfterMs(config, "market-data", "orders"), undefined);
});
