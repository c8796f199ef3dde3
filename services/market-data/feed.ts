/**
 * The one interface every exchange feed (sim, replay, Alpaca) implements, the raw
 * event it hands to the core, and the closed sets used as metric label values.
 * @module
 */
import type { ParsedFrame } from "./alpaca_protocol.ts";

/** Feed names: the `exchange` label values. */
export const EXCHANGES = ["sim", "replay", "alpaca"] as const;
/** One of {@link EXCHANGES}. */
export type Exchange = typeof EXCHANGES[number];

/**
 * Connection failure kinds: the closed set of `error_type` label values of
 * `market_data_websocket_connection_failures_total`.
 */
export const CONNECTION_ERROR_TYPES = [
  "connect_refused",
  "dns",
  "tls",
  "timeout",
  "auth_failed",
  "server_close",
  "protocol_error",
  "slow_client",
  "connection_limit",
  "subscription_error",
  "server_error",
  "silent_feed",
] as const;
/** One of {@link CONNECTION_ERROR_TYPES}. */
export type ConnectionErrorType = typeof CONNECTION_ERROR_TYPES[number];

/**
 * One frame as received from the exchange: the time it arrived (epoch ms, the
 * tick timestamp used for tick-to-trade) and its content, either the raw text or
 * the already-decoded JSON array. `parsed` is set when the feed had to parse the
 * frame itself (the Alpaca adapter reads control messages), so the core does not
 * parse it twice.
 */
export interface FeedEvent {
  readonly receivedTs: number;
  readonly frame: string | readonly unknown[];
  readonly parsed?: ParsedFrame;
}

/** Called by a feed for every frame it receives. */
export type FeedHandler = (event: FeedEvent) => void;

/**
 * The connections of a feed: the `socket` label values. Alpaca's feed has one
 * connection per endpoint (`stocks`, `crypto`); a feed of one stream (sim, replay) has
 * `main`. Stock and crypto markets keep different hours, so each is watched on its own.
 */
export const FEED_SOCKETS = ["stocks", "crypto", "main"] as const;
/** One of {@link FEED_SOCKETS}. */
export type FeedSocket = typeof FEED_SOCKETS[number];

/** The state of one connection of a feed. */
export interface FeedSocketStatus {
  readonly socket: FeedSocket;
  /** True while connected (and authenticated and subscribed, for Alpaca). */
  readonly connected: boolean;
  /** `nowMs()` of the last data frame; 0 before the first. */
  readonly lastDataAt: number;
}

/**
 * The connections the feed `exchange` opens for `symbols`: Alpaca's stock endpoint for
 * symbols without a `/`, its crypto endpoint for those with one; `main` for the others.
 */
export function feedSockets(exchange: Exchange, symbols: readonly string[]): FeedSocket[] {
  if (exchange !== "alpaca") return ["main"];
  const sockets: FeedSocket[] = [];
  if (symbols.some((s) => !s.includes("/"))) sockets.push("stocks");
  if (symbols.some((s) => s.includes("/"))) sockets.push("crypto");
  return sockets;
}

/** Called by a feed for every connection failure (to count it), with its connection. */
export type FailureHandler = (type: ConnectionErrorType, socket: FeedSocket) => void;

/** An exchange feed. */
export interface Feed {
  readonly exchange: Exchange;
  /** Starts delivering frames to `onEvent`. Resolves once started (not when connected). */
  start(onEvent: FeedHandler): Promise<void>;
  /** True while the feed is connected (and authenticated, for Alpaca). */
  connected(): boolean;
  /** Each connection's state, for a feed of several; absent: one connection, `main`. */
  sockets?(): readonly FeedSocketStatus[];
  /** Stops the feed and releases its timers and sockets. */
  close(): Promise<void>;
}
