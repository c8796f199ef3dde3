/**
 * Realistic sim traffic for tests and benches: four symbols (three stocks and
 * BTC/USD on a 0.5 tick) at 10k messages/s, cut into the frames the sim feed sends
 * (50 messages, as at a 5 ms timer). Deterministic: seed 42, one fixed wall time.
 * @module
 */
import { SimMarket, type SimMarketOptions } from "../sim_market.ts";

/** The symbols of the traffic. */
export const SIM_TRAFFIC_SYMBOLS: readonly string[] = ["AAPL", "MSFT", "SPY", "BTC/USD"];

/** The market the traffic comes from. */
export const SIM_TRAFFIC_MARKET: SimMarketOptions = {
  seed: 42,
  symbols: SIM_TRAFFIC_SYMBOLS,
  ticksPerSecond: 10_000,
  bookDepth: 10,
  startPrices: { AAPL: 228.14, MSFT: 415.3, SPY: 592.6, "BTC/USD": 97250 },
  tickSize: { "BTC/USD": 0.5 },
};

/** The wall time the messages are stamped with (epoch ms). */
export const SIM_TRAFFIC_WALL_MS = Date.parse("2024-03-01T15:00:00Z");

/**
 * The decoded frames of the first `durationMs` of traffic (10 messages per ms), each
 * of `frameSize` messages; a last partial frame is dropped.
 */
export function simTrafficFrames(durationMs = 10_000, frameSize = 50): unknown[][] {
  const messages = new SimMarket(SIM_TRAFFIC_MARKET).due(durationMs, SIM_TRAFFIC_WALL_MS);
  const frames: unknown[][] = [];
  for (let i = 0; i + frameSize <= messages.length; i += frameSize) {
    frames.push(messages.slice(i, i + frameSize));
  }
  return frames;
}
