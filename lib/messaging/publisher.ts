/**
 * The sending end of a channel that may drop (market data, signals, events): a PUB
 * socket.
 * @module
 */
import * as zmq from "zeromq";
import { type Envelope, stamp, type TraceContext, writeRecord } from "../envelope.ts";
import { ByteWriter } from "../bytes.ts";
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
  /**
   * Batches: the messages published in one synchronous run (one feed frame's output)
   * travel in one frame, cut at this many bytes of records (default 0: one message
   * per frame, sent at once). A batch waits for nothing but the end of the run that
   * publishes it, so it adds no latency at low rates.
   */
  maxBatchBytes?: number;
}

/**
 * A PUB socket that stamps every message with `(pub, epoch, seq, ts, trace)`
 * and sends a `heartbeat` every `heartbeatMs` on the same sequence. Frames are the
 * wire format of lib/envelope.ts: one record each, or with `maxBatchBytes` every
 * record published in one synchronous run.
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
  /** The records of the frame being built, and how many there are. */
  readonly #batch = new ByteWriter(4096);
  #batched = 0;
  readonly #maxBatchBytes: number;
  #flushScheduled = false;
  readonly #flush = () => this.#send();
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
    this.#maxBatchBytes = opts.maxBatchBytes ?? 0;
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
    if (opts.maxBatchBytes !== undefined && opts.maxBatchBytes !== 0) {
      checkPositive(what, "maxBatchBytes", opts.maxBatchBytes);
    }
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
   * sequence number, the timestamp and a trace id (random unless given; a context
   * may name the sending span and its flags too). Without batching it returns once
   * the message is queued in ZeroMQ; with `maxBatchBytes`, the frame leaves when the
   * current synchronous run ends (or at once when the batch is full). A message may
   * still be dropped for a subscriber whose queue is full.
   *
   * @throws {Error} If the publisher is closed.
   * @throws {TypeError} If the envelope cannot be encoded (a body JSON cannot hold, a
   *   trace id that is not 32 lowercase hex digits, a type over 255 bytes).
   */
  publish<T>(type: string, body: T, trace?: string | TraceContext): Envelope<T> {
    if (this.#closed) {
      throw new Error(
        `Cannot publish ${JSON.stringify(type)}: publisher "${this.#name}" is closed`,
      );
    }
    const env = stamp({ pub: this.pub, epoch: this.epoch }, this.#seq + 1, type, body, trace);
    writeRecord(this.#batch, env);
    this.#seq = env.seq;
    this.#batched++;
    this.#metrics.sent(type);
    if (this.#batch.pos >= this.#maxBatchBytes) {
      this.#send();
    } else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(this.#flush);
    }
    return Object.freeze(env);
  }

  /** Sends the frame being built (base64 of its records: envelope.ts says why). */
  #send(): void {
    this.#flushScheduled = false;
    if (this.#batched === 0) return;
    const frame = this.#batch.bytes().toBase64();
    const count = this.#batched;
    this.#batch.pos = 0;
    this.#batched = 0;
    try {
      this.#sock.send(frame).catch((error) => this.#sendFailed(error, count));
    } catch (error) {
      this.#sendFailed(error, count);
    }
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
    this.#send();
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

  #sendFailed(error: unknown, count: number): void {
    this.#metrics.dropped("send_failed", count);
    this.#sendFailures.report({ channel: this.#name, error: errorText(error) });
  }
}
