/**
 * The Alpaca market data WebSocket v2 feed (stocks and crypto). For each endpoint
 * (stock symbols go to `stocksUrl`, crypto symbols with a `/` to `cryptoUrl`) a
 * connection: open, wait for `connected`, send `auth` and check the answer, send
 * `subscribe` (trades, quotes, bars; order books for crypto), wait for the
 * `subscription` answer, then stream data frames to the core.
 *
 * Failures are counted by kind (the closed set `CONNECTION_ERROR_TYPES`) and
 * followed by a reconnect after an exponential backoff with jitter
 * (`min * 2^attempt`, capped at `max`, times a random factor in [0.5, 1)); the
 * attempt counter resets only when data flows again. A failed authentication or
 * an exceeded connection limit waits the maximum backoff: they are not retried in
 * a hot loop. A feed silent for `staleAfterMs` is counted as `silent_feed` and
 * reconnected.
 *
 * Every error message of the server is counted by its code (`onServerError`). The errors
 * no reconnect can mend stop the connection for good (state `stopped`, `onStopped`, the
 * `market_data_feed_stopped` gauge): 402 auth failed, 409 insufficient subscription, 411
 * insufficient scope, and 410 invalid subscribe action for this feed during the
 * handshake (after it, 410 answers a later subscribe and is only logged); and an HTTP 4xx
 * other than 429 on the WebSocket upgrade. This is the official Go SDK's list
 * (`marketdata/stream/client.go` `irrecoverableErrorsAtInit`, and its `isHTTP4xx`). 403
 * already authenticated is harmless and ignored; 405 symbol limit exceeded after the
 * handshake is only logged (the subscriptions stay as they were).
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { nowMs } from "../../lib/clock.ts";
import { authAction, type ErrorMsg, parseFrame, subscribeAction } from "./alpaca_protocol.ts";
import type {
  ConnectionErrorType,
  FailureHandler,
  Feed,
  FeedHandler,
  FeedSocket,
  FeedSocketStatus,
} from "./feed.ts";

/** Options of {@link AlpacaFeed}. */
export interface AlpacaFeedOptions {
  readonly symbols: readonly string[];
  readonly stocksUrl: string;
  readonly cryptoUrl: string;
  readonly keyId: string;
  readonly secretKey: string;
  readonly reconnectMinMs: number;
  readonly reconnectMaxMs: number;
  /** Silence longer than this while streaming is a `silent_feed` failure. */
  readonly staleAfterMs: number;
  /** Time allowed from opening to `subscription`; default 10 s. */
  readonly handshakeTimeoutMs?: number;
  /** Subscribe trading statuses (halts) and LULD bands on the stock stream; default false. */
  readonly statuses?: boolean;
  readonly onFailure?: FailureHandler;
  /** Called for every error message of the server, with its code. */
  readonly onServerError?: (code: number) => void;
  /** Called when a connection stops for good after an error no reconnect can mend. */
  readonly onStopped?: (detail: string) => void;
  readonly log?: Logger;
  /** Jitter source in [0, 1); default Math.random. */
  readonly random?: () => number;
}

/** Connection states. */
export type ConnectionState =
  | "idle"
  | "connecting"
  | "authenticating"
  | "subscribing"
  | "streaming"
  | "backoff"
  | "stopped"
  | "closed";

/** Error codes after which reconnecting cannot help (the Go SDK's list, see the module comment). */
export const IRRECOVERABLE_CODES: ReadonlySet<number> = new Set([402, 409, 410, 411]);

/**
 * The failure kind of an Alpaca stream error code. Alpaca's documented codes: 400
 * invalid syntax, 401 not authenticated, 402 auth failed, 403 already authenticated,
 * 404 auth timeout, 405 symbol limit exceeded, 406 connection limit exceeded, 407 slow
 * client, 409 insufficient subscription, 410 invalid subscribe action for this feed,
 * 500 internal error.
 */
export function errorTypeOfCode(code: number): ConnectionErrorType {
  switch (code) {
    case 401:
    case 402:
    case 404:
    case 411:
      return "auth_failed";
    case 406:
      return "connection_limit";
    case 407:
      return "slow_client";
    case 405:
    case 409:
    case 410:
      return "subscription_error";
    case 500:
      return "server_error";
    default:
      return "protocol_error";
  }
}

/** The failure kind of a WebSocket error before the connection opened. */
export function errorTypeOfConnectError(message: string): ConnectionErrorType {
  if (/lookup|dns|resolve|name or service|no such host/i.test(message)) return "dns";
  if (/tls|ssl|certificate|handshake alert/i.test(message)) return "tls";
  if (/timed? ?out/i.test(message)) return "timeout";
  return "connect_refused";
}

/** True for a WebSocket upgrade answered with an HTTP 4xx other than 429 (Deno's error text). */
export function isHandshake4xx(message: string): boolean {
  const match = /status code:? (\d{3})/i.exec(message);
  if (!match) return false;
  const status = Number(match[1]);
  return status >= 400 && status < 500 && status !== 429;
}

/** The backoff delay before reconnect attempt `attempt` (0-based), with jitter. */
export function backoffMs(attempt: number, minMs: number, maxMs: number, random: number): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return base * (0.5 + random / 2);
}

/** One WebSocket connection to one Alpaca endpoint. */
export class AlpacaConnection {
  state: ConnectionState = "idle";
  /** Consecutive failed attempts since data last flowed. */
  attempt = 0;
  /** `nowMs()` of the last frame received. */
  lastFrameAt = 0;
  /** `nowMs()` of the last frame that carried data (or unparseable content); 0 before. */
  lastDataAt = 0;
  #ws: WebSocket | undefined;
  #failed = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #watchdog: ReturnType<typeof setInterval> | undefined;
  #stateSince = 0;
  #onEvent: FeedHandler = () => {};
  readonly #options: AlpacaFeedOptions;

  /**
   * @param url The stream endpoint.
   * @param symbols The symbols to subscribe to there.
   * @param crypto True for the crypto endpoint (order books are subscribed too).
   * @param options The feed's options (credentials, backoff, staleness, hooks).
   */
  constructor(
    readonly url: string,
    readonly symbols: readonly string[],
    readonly crypto: boolean,
    options: AlpacaFeedOptions,
  ) {
    this.#options = options;
  }

  /** The `socket` label of this connection: `crypto` or `stocks`. */
  get socket(): FeedSocket {
    return this.crypto ? "crypto" : "stocks";
  }

  /** Connects, and keeps reconnecting until closed; data frames go to `onEvent`. */
  start(onEvent: FeedHandler): void {
    this.#onEvent = onEvent;
    const checkEveryMs = Math.max(10, Math.min(1000, this.#options.staleAfterMs / 4));
    this.#watchdog = setInterval(() => this.#check(), checkEveryMs);
    this.#connect();
  }

  #setState(state: ConnectionState): void {
    this.state = state;
    this.#stateSince = performance.now();
  }

  #connect(): void {
    if (this.state === "closed" || this.state === "stopped") return;
    this.#failed = false;
    this.#setState("connecting");
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.url);
    } catch (e) {
      this.#fail("protocol_error", `cannot open WebSocket: ${(e as Error).message}`);
      return;
    }
    ws.binaryType = "arraybuffer";
    this.#ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
    };
    ws.onerror = (event) => {
      if (ws !== this.#ws) return;
      const text = (event as ErrorEvent).message ?? "";
      if (!opened && isHandshake4xx(text)) {
        this.#stop("auth_failed", `the WebSocket upgrade was refused: ${text.slice(0, 100)}`);
        return;
      }
      this.#fail(
        opened ? "server_close" : errorTypeOfConnectError(text),
        text || "WebSocket error",
      );
    };
    ws.onclose = (event) => {
      if (ws !== this.#ws) return;
      this.#fail(
        opened ? "server_close" : "connect_refused",
        `WebSocket closed (code ${event.code})`,
      );
    };
    ws.onmessage = (event) => {
      if (ws !== this.#ws) return;
      this.#frame(event.data);
    };
  }

  #frame(data: unknown): void {
    const receivedTs = nowMs();
    this.lastFrameAt = receivedTs;
    const text = typeof data === "string"
      ? data
      : data instanceof ArrayBuffer
      ? new TextDecoder().decode(data)
      : "";
    const parsed = parseFrame(text);
    let hasData = false;
    for (const message of parsed.messages) {
      switch (message.kind) {
        case "success":
          if (message.msg === "connected" && this.state === "connecting") {
            this.#setState("authenticating");
            this.#send(authAction(this.#options.keyId, this.#options.secretKey));
          } else if (message.msg === "authenticated" && this.state === "authenticating") {
            this.#setState("subscribing");
            this.#send(
              subscribeAction(this.symbols, {
                crypto: this.crypto,
                statuses: this.#options.statuses,
              }),
            );
          }
          break;
        case "subscription":
          if (this.state === "subscribing") {
            this.#setState("streaming");
            this.#options.log?.info("Alpaca stream subscribed", {
              url: this.url,
              lists: message.lists,
            });
          }
          break;
        case "error":
          this.#serverError(message);
          return;
        default:
          hasData = true;
      }
    }
    if (hasData && this.state === "streaming") this.attempt = 0;
    if (hasData || parsed.errors.length > 0) {
      this.lastDataAt = receivedTs;
      this.#onEvent({ receivedTs, frame: text, parsed });
    }
  }

  #serverError(error: ErrorMsg): void {
    this.#options.onServerError?.(error.code);
    const detail = `Alpaca error ${error.code}: ${error.msg.slice(0, 100)}`;
    if (error.code === 403) return; // already authenticated: harmless
    const type = errorTypeOfCode(error.code);
    const streaming = this.state === "streaming";
    if (streaming && (error.code === 405 || error.code === 410)) {
      // Answers a later subscribe; the subscriptions stay as they were.
      this.#options.log?.warn("Alpaca stream refused a subscription change", {
        url: this.url,
        code: error.code,
        detail,
      });
      return;
    }
    if (IRRECOVERABLE_CODES.has(error.code)) {
      this.#stop(type, detail);
      return;
    }
    this.#fail(type, detail);
  }

  /**
   * Stops for good: counts the failure, closes the socket and never reconnects (an
   * operator must fix the keys, the subscription or the URL, and restart).
   */
  #stop(type: ConnectionErrorType, detail: string): void {
    if (this.state === "closed" || this.state === "stopped") return;
    this.#drop(type);
    this.#setState("stopped");
    this.#options.log?.error(
      "Alpaca stream stopped: reconnecting cannot mend this error; fix the config and restart",
      { url: this.url, errorType: type, detail },
    );
    this.#options.onStopped?.(detail);
  }

  /** Marks this connection failed, closes its socket and counts the failure once. */
  #drop(type: ConnectionErrorType): void {
    this.#failed = true;
    const ws = this.#ws;
    this.#ws = undefined;
    try {
      ws?.close();
    } catch {
      // closing a socket that never opened
    }
    this.#options.onFailure?.(type, this.socket);
  }

  #send(text: string): void {
    try {
      this.#ws?.send(text);
    } catch (e) {
      this.#fail("server_close", `cannot send: ${(e as Error).message}`);
    }
  }

  /** Watchdog: handshake timeout and silent feed. */
  #check(): void {
    const inState = performance.now() - this.#stateSince;
    const handshake = this.#options.handshakeTimeoutMs ?? 10_000;
    if (
      (this.state === "connecting" || this.state === "authenticating" ||
        this.state === "subscribing") && inState > handshake
    ) {
      this.#fail("timeout", `no answer in state ${this.state} after ${handshake} ms`);
    } else if (
      this.state === "streaming" &&
      nowMs() - Math.max(this.lastFrameAt, performance.timeOrigin + this.#stateSince) >
        this.#options.staleAfterMs
    ) {
      this.#fail("silent_feed", `no message for ${this.#options.staleAfterMs} ms`);
    }
  }

  /** Counts one failure per connection attempt, closes the socket and schedules a reconnect. */
  #fail(type: ConnectionErrorType, detail: string): void {
    if (this.state === "closed" || this.state === "stopped" || this.#failed) return;
    this.#drop(type);
    const slow = type === "auth_failed" || type === "connection_limit";
    const delay = slow ? this.#options.reconnectMaxMs : backoffMs(
      this.attempt,
      this.#options.reconnectMinMs,
      this.#options.reconnectMaxMs,
      (this.#options.random ?? Math.random)(),
    );
    this.attempt++;
    const fields = {
      url: this.url,
      errorType: type,
      detail,
      attempt: this.attempt,
      delayMs: Math.round(delay),
    };
    if (type === "auth_failed") {
      this.#options.log?.error(
        "Alpaca stream authentication failed; retrying after the maximum backoff",
        fields,
      );
    } else {
      this.#options.log?.warn("Alpaca stream failed; reconnecting", fields);
    }
    this.#setState("backoff");
    this.#timer = setTimeout(() => this.#connect(), delay);
  }

  /** Closes the socket and stops the watchdog and any pending reconnect. */
  close(): void {
    this.#setState("closed");
    clearTimeout(this.#timer);
    clearInterval(this.#watchdog);
    const ws = this.#ws;
    this.#ws = undefined;
    try {
      ws?.close();
    } catch {
      // already closed
    }
  }
}

/**
 * The Alpaca feed: one connection per endpoint needed by the configured symbols.
 *
 * @example
 * ```ts
 * const feed = new AlpacaFeed({ symbols: ["AAPL", "BTC/USD"], stocksUrl, cryptoUrl,
 *   keyId, secretKey, reconnectMinMs: 500, reconnectMaxMs: 30_000, staleAfterMs: 5000 });
 * await feed.start((event) => core.handle(event));
 * ```
 */
export class AlpacaFeed implements Feed {
  readonly exchange = "alpaca" as const;
  readonly connections: AlpacaConnection[];

  constructor(options: AlpacaFeedOptions) {
    const stocks = options.symbols.filter((symbol) => !symbol.includes("/"));
    const crypto = options.symbols.filter((symbol) => symbol.includes("/"));
    this.connections = [];
    if (stocks.length) {
      this.connections.push(new AlpacaConnection(options.stocksUrl, stocks, false, options));
    }
    if (crypto.length) {
      this.connections.push(new AlpacaConnection(options.cryptoUrl, crypto, true, options));
    }
  }

  /** Starts every connection; resolves at once (not when connected). */
  start(onEvent: FeedHandler): Promise<void> {
    for (const connection of this.connections) connection.start(onEvent);
    return Promise.resolve();
  }

  /** True when a connection stopped for good after an error no reconnect can mend. */
  stopped(): boolean {
    return this.connections.some((connection) => connection.state === "stopped");
  }

  /** True while every connection is subscribed and streaming. */
  connected(): boolean {
    return this.connections.length > 0 &&
      this.connections.every((connection) => connection.state === "streaming");
  }

  /** Each connection's state: `stocks` and `crypto`, as configured. */
  sockets(): readonly FeedSocketStatus[] {
    return this.connections.map((c) => ({
      socket: c.socket,
      connected: c.state === "streaming",
      lastDataAt: c.lastDataAt,
    }));
  }

  /** Closes every connection. */
  close(): Promise<void> {
    for (const connection of this.connections) connection.close();
    return Promise.resolve();
  }
}
