/**
 * The real Alpaca venue (REST client, rate limiter, `trade_updates` stream) pointed at a
 * fake Alpaca server (testing/fake_alpaca.ts), with timeouts short enough for tests.
 * @module
 */
import { AlpacaClient } from "../alpaca_client.ts";
import { AlpacaVenue } from "../alpaca_venue.ts";
import type { ApiMetrics, VenueAccountMetrics } from "../metrics.ts";
import { RateLimiter } from "../rate_limiter.ts";

/** Where the fake Alpaca listens (a {@link FakeAlpaca} has both). */
export interface FakeAlpacaAddress {
  readonly baseUrl: string;
  readonly streamUrl: string;
}

/** What a test may change about the venue. */
export interface FakeAlpacaVenueOptions {
  /** The key id sent (default `key`; the fake refuses any other). */
  keyId?: string;
  /** Per-request timeout, ms (default 2000). */
  timeoutMs?: number;
  /** First retry delay, ms (default 5). */
  retryBaseMs?: number;
  /** Stream reconnection backoff bounds, ms (defaults of the stream when absent). */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** Retries of a request (default 2). */
  maxRetries?: number;
  /** Longest wait of 429s (default 65 000 ms). */
  rateLimitMaxWaitMs?: number;
  /** Stream silence before a probe, and after it before half-open (defaults of the stream). */
  streamIdleMs?: number;
  streamProbeTimeoutMs?: number;
  /** Send limit day orders in extended hours. */
  extendedHours?: boolean;
  /** The venue's clock (epoch ms); default Date.now. */
  now?: () => number;
  /** Configured symbols (default AAPL, MSFT, SPY, BTC/USD). */
  symbols?: readonly string[];
  /** Where positions and the account state go. */
  accountMetrics?: VenueAccountMetrics;
}

/** An {@link AlpacaVenue} on the fake at `address`, recording into `metrics`. */
export function makeFakeAlpacaVenue(
  address: FakeAlpacaAddress,
  metrics: ApiMetrics,
  options: FakeAlpacaVenueOptions = {},
): AlpacaVenue {
  const keyId = options.keyId ?? "key";
  const client = new AlpacaClient({
    baseUrl: address.baseUrl,
    keyId,
    secretKey: "secret",
    timeoutMs: options.timeoutMs ?? 2000,
    maxRetries: options.maxRetries ?? 2,
    rateLimitMaxWaitMs: options.rateLimitMaxWaitMs,
    now: options.now,
    retryBaseMs: options.retryBaseMs ?? 5,
    limiter: new RateLimiter({ limit: 200 }),
    metrics,
  });
  return new AlpacaVenue({
    client,
    stream: {
      url: address.streamUrl,
      keyId,
      secretKey: "secret",
      metrics,
      reconnectMinMs: options.reconnectMinMs,
      reconnectMaxMs: options.reconnectMaxMs,
      idleMs: options.streamIdleMs,
      probeTimeoutMs: options.streamProbeTimeoutMs,
    },
    startTimeoutMs: 2000,
    symbols: options.symbols ?? ["AAPL", "MSFT", "SPY", "BTC/USD"],
    extendedHours: options.extendedHours,
    now: options.now,
    metrics: options.accountMetrics,
  });
}
