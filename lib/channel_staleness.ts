/**
 * How old what a channel brings may get before the service at that end of it treats it as
 * stale: one number per (service, channel) end that watches its age, taken from the
 * config, so the freshness alert of every hop (`messaging_last_message_age_seconds >
 * messaging_stale_after_seconds`) fires where the service itself stops trusting the data,
 * not at a fixed 30 s.
 *
 * | service          | channel             | limit                                          |
 * | ---------------- | ------------------- | ---------------------------------------------- |
 * | signal-bridge    | `market_data`       | `signalBridge.maxDataAgeMs` (no signal from older data) |
 * | risk-manager     | `market_data`       | `riskManager.markMaxAgeMs` (older marks deny orders)    |
 * | execution-engine | `market_data`       | `marketData.staleAfterMs` (the feed's own limit)        |
 * | risk-manager     | `signals`           | `signalBridge.signalTtlMs` (a signal that old expired)   |
 * | execution-engine | `orders`            | the reliable channel's silence limit (5 s)               |
 * | risk-manager     | `execution_reports` | the reliable channel's silence limit (5 s)               |
 * | risk-manager     | `orders` (acks)     | the reliable channel's silence limit (5 s)               |
 * | execution-engine | `execution_reports` (acks) | the reliable channel's silence limit (5 s)        |
 *
 * Every channel carries a heartbeat a second, so an age past these limits means the hop
 * itself is silent, not merely that the market is quiet.
 *
 * @example
 * ```ts
 * channelStaleAfterMs(config, "signal-bridge", "market_data"); // 2000 with the default config
 * ```
 * @module
 */
import { type ChannelName, CHANNELS } from "./channels.ts";
import type { Config } from "./config.ts";
import { DEFAULT_SILENCE_MS } from "./messaging/redial.ts";
import type { ServiceName } from "./metrics.ts";

/**
 * The staleness limit in ms of `service`'s end of `channel`, or undefined when that end
 * does not watch the channel's age (a publisher hears nothing back).
 */
export function channelStaleAfterMs(
  config: Config,
  service: ServiceName | string,
  channel: ChannelName,
): number | undefined {
  const c = CHANNELS[channel];
  const reads = (c.to as readonly string[]).includes(service);
  if (c.policy === "must_not_lose") {
    // Both ends of the reliable channel hear the other (data or heartbeats one way, acks
    // the other) and dial again after this silence.
    return reads || c.from === service ? DEFAULT_SILENCE_MS : undefined;
  }
  if (!reads) return undefined;
  switch (channel) {
    case "market_data":
      switch (service) {
        case "signal-bridge":
          return config.signalBridge.maxDataAgeMs;
        case "risk-manager":
          return config.riskManager.markMaxAgeMs;
        default:
          return config.marketData.staleAfterMs;
      }
    case "signals":
      return config.signalBridge.signalTtlMs;
    default:
      return undefined;
  }
}
