/**
 * The sending end of a channel that may drop (market data, signals, events): a PUB
 * socket.
 * @module
 */
import * as zmq from "zeromq";
import { encodeText, type Envelope, stamp } from "../envelope.ts";
import { BurstLog, errorText } from "../burst_log.ts";
import { ChannelMetrics } from "./channel_metrics.ts";
import { attachAll, parseEndpoint } from "./endpoint.ts";
import { logger } from "./logger.ts";
import { checkName, checkPositive, type MessagingOptions } from "./options.ts";

/** Options of {@linkcode Publisher.open}. */
export interface PublisherOptions extends MessagingOptions {
  /** The channel's name: the `channel` label, and part of `pub` (`"<service>/<name>"`). */
  name: string;
  /** Heartbeat period in ms (default 1000). */
  heartbeatMs?: number;
  /** Message types published, for the closed `type` label set (default: the first 32 seen). */
  types?: readonly string[];
  /** Per-subscriber queue limit in messages before ZeroMQ drops (default 10,000). */
  highWaterMark?: number;
  /** How long close() lets queued messages flush, in ms (default 200). */
  lingerMs?: number;
}

/**
 * A PUB socket that stamps every message with `(pub, epoch, seq, ts, trace)`
 * and sends a `heartbeat` every `heartbeatMs` on the same sequence.
 * Never blocks: a subscriber whose queue is full misses messages (it counts
 * them as gaps).
 *
 * @example
 * ```ts
 * const pub = await Publisher.open("bind:tcp://127.0.0.1:5555", { service: "market-data", name: "market_data", registry });
 * const env = pub.publish("trade", { symbol: "AAPL", px: 190.1, qty: 5 });
 * console.log(env.seq, env.trace);
 * await pub.close();
 * ```
 */
export class Publisher {
  readonly #sock: zmq.Publisher;
  readonly #metrics: ChannelMetrics;
  readonly #name: string;
  /** The resolved endpoint (the bound address, port 0 resolved; or the connect address). */
  readonly endpoint: string;
  /** This publisher's `pub` field: `"<service>/<name>"`. */
  readonly pub: string;
  /** This publisher's epoch (its start time in epoch ms). */
  readonly epoch: number;
  readonly #sendFailures: BurstLog;
  #seq = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  private constructor(
    sock: zmq.Publisher,
    endpoint: string,
    opts: PublisherOptions,
    metrics: ChannelMetrics,
  ) {
    this.#sock = sock;
    this.endpoint = endpoint;
    this.#name = opts.name;
    this.pub = `${opts.service}/${opts.name}`;
    this.epoch = Date.now();
    this.#metrics = metrics;
    this.#sendFailures = new BurstLog(
      logger,
      "warn",
      "Cannot send a message on {channel}: {error}",
      "Cannot send {suppressed} more messages on {channel}",
    );
    const heartbeatMs = opts.heartbeatMs ?? 1000;
    this.#timer = setInterval(
      () => this.publish("heartbeat", { intervalMs: heartbeatMs }),
      heartbeatMs,
    );
  }

  /**
   * Opens a PUB socket: binds (default) or connects, then starts heartbeats.
   *
   * @param endpoint `"bind:tcp://127.0.0.1:5555"`, `"connect:tcp://…"` or a plain address (binds).
   * @throws {Error} If the options are invalid or the endpoint cannot be bound.
   */
  static async open(endpoint: string, opts: PublisherOptions): Promise<Publisher> {
    const what = `publisher "${opts.name}"`;
    checkName("publisher", opts.name);
    checkPositive(what, "heartbeatMs", opts.heartbeatMs);
    checkPositive(what, "highWaterMark", opts.highWaterMark);
    const ep = parseEndpoint(endpoint, "bind");
    const metrics = new ChannelMetrics(opts, opts.types, false);
    metrics.zero("publisher");
    const sock = new zmq.Publisher({
      sendTimeout: 0,
      linger: opts.lingerMs ?? 200,
      sendHighWaterMark: opts.highWaterMark ?? 10_000,
    });
    const [resolved] = await attachAll(sock, [ep], what, opts, () => metrics.close());
    logger.info("Publisher {channel} ready on {endpoint}", {
      service: opts.service,
      channel: opts.name,
      endpoint: resolved,
      mode: ep.mode,
    });
    return new Publisher(sock, resolved, opts, metrics);
  }

  /**
   * Publishes one message and returns its envelope (frozen). Assigns the next
   * sequence number, the timestamp and a trace id (random unless given).
   * Returns once the message is queued in ZeroMQ; it may still be dropped
   * for a subscriber whose queue is full.
   *
   * @throws {Error} If the publisher is closed.
   * @throws {TypeError} If the body cannot be serialised as JSON.
   */
  publish<T>(type: string, body: T, trace?: string): Envelope<T> {
    if (this.#closed) {
      throw new Error(
        `Cannot publish ${JSON.stringify(type)}: publisher "${this.#name}" is closed`,
      );
    }
    const env = stamp({ pub: this.pub, epoch: this.epoch }, this.#seq + 1, type, body, trace);
    const frame = encodeText(env);
    this.#seq = env.seq;
    try {
      this.#sock.send(frame).catch((error) => this.#sendFailed(error));
      this.#metrics.sent(type);
    } catch (error) {
      this.#sendFailed(error);
    }
    return Object.freeze(env);
  }

  /** The last sequence number assigned (heartbeats included); 0 before the first message. */
  get sequence(): number {
    return this.#seq;
  }

  /**
   * Stops heartbeats and closes the socket; queued messages get `lingerMs`
   * to flush in the background. Idempotent.
   */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#sock.close();
    this.#sendFailures.close();
    this.#metrics.close();
    logger.info("Publisher {channel} closed after {seq} messages", {
      channel: this.#name,
      seq: this.#seq,
    });
    return Promise.resolve();
  }

  #sendFailed(error: unknown): void {
    this.#metrics.dropped("send_failed");
    this.#sendFailures.report({ channel: this.#name, error: errorText(error) });
  }
}
