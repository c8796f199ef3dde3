/**
 * What the two receivers ({@linkcode Subscriber}, {@linkcode ReliableReceiver}) share:
 * the handler, the poll loop that drains the socket in batches, the body checks by
 * type, the counting of accepted messages with their transit latency (one clock read per
 * batch, ./transit.ts), and the counting and rate-limited logging of bad frames, invalid
 * bodies and failing handlers.
 *
 * Deno loses zeromq.js wake-ups (deno issue 36317), so no socket here ever awaits a
 * pending `receive()`: the socket has a timeout of 0 and one {@linkcode SocketPoller}
 * (lib/zmq_poll.ts) waits on its `ZMQ_FD`. Handlers run one at a time, in order; do not
 * `await close()` from inside a handler (close waits for the handler in progress).
 * @module
 */
import type * as zmq from "zeromq";
import type { Envelope } from "../envelope.ts";
import { BurstLog, errorText } from "../burst_log.ts";
import { nowMs } from "../clock.ts";
import { type PollBodyResult, SocketPoller } from "../zmq_poll.ts";
import type { ChannelMetrics, DecodeErrorReason } from "./channel_metrics.ts";
import { logger } from "./logger.ts";
import type { BodySchemas, MessageHandler } from "./options.ts";
import type { TransitTally } from "./transit.ts";

/** Most frames read from the socket before they are handled (one poll wake-up). */
export const RECEIVE_BATCH = 256;
/** Most publisher (or sender) streams a receiver tracks; the oldest is forgotten beyond. */
export const MAX_STREAMS = 1024;

/** What a receiver knows about one publisher (or one reliable sender's stream). */
export interface StreamStats {
  /** The publisher's `pub`. */
  pub: string;
  /** Its current epoch. */
  epoch: number;
  /** The last sequence number accepted. */
  lastSeq: number;
  /** Messages accepted (heartbeats included). */
  received: number;
  /** Sequence gaps seen, and messages missing from them. */
  gaps: number;
  missed: number;
  /** Epoch changes seen. */
  restarts: number;
  /** Messages at or below the last sequence number (dropped). */
  outOfOrder: number;
}

/** Counters of a {@linkcode Subscriber} or {@linkcode ReliableReceiver}, for tests and diagnostics. */
export interface ReceiverStats {
  /** Valid messages accepted (heartbeats included, duplicates excluded). */
  received: number;
  /** Messages passed to the handler. */
  delivered: number;
  decodeErrors: number;
  handlerErrors: number;
  gaps: number;
  missed: number;
  /** Reliable only: resends received after delivery. */
  duplicates: number;
  /** Per publisher (PUB/SUB) or per sender stream (reliable). */
  streams: StreamStats[];
}

/** How a receiver logs a body that fails its schema. */
export interface SchemaLogText {
  level: "warn" | "error";
  message: string;
  summary: string;
}

/** Options of {@linkcode ReceiveLoop}. */
export interface ReceiveLoopOptions {
  /** `"subscriber"` or `"reliable receiver"`, for error messages. */
  what: string;
  /** The channel's name. */
  name: string;
  pollMs: number;
  /** Deliver only these types. */
  types?: readonly string[];
  schemas?: BodySchemas;
  schemaLog: SchemaLogText;
}

function isPromise(v: unknown): v is Promise<unknown> {
  return typeof (v as Promise<unknown> | undefined)?.then === "function";
}

/** A short, body-free description of a validation error (zod's issues, else the message). */
export function schemaErrorText(error: unknown): string {
  const issues = (error as { issues?: { path?: unknown[]; code?: string }[] } | undefined)?.issues;
  if (Array.isArray(issues)) {
    return issues.slice(0, 3).map((i) => `${(i.path ?? []).join(".") || "(body)"}: ${i.code}`)
      .join(", ");
  }
  return errorText(error).slice(0, 200);
}

/**
 * The base of both receivers. A subclass implements {@linkcode ReceiveLoop.process}
 * (one message's frames in, a pending handler or nothing out) and may hook the batch.
 */
export abstract class ReceiveLoop {
  /** The socket being drained. */
  protected readonly sock: zmq.Subscriber | zmq.Router;
  /** The channel's metrics. */
  protected readonly metrics: ChannelMetrics;
  /** The channel's name. */
  protected readonly name: string;
  /** Counters behind `stats()`. */
  protected readonly counts = {
    received: 0,
    delivered: 0,
    decodeErrors: 0,
    handlerErrors: 0,
    gaps: 0,
    missed: 0,
    duplicates: 0,
  };
  /** True once closing began. */
  protected closed = false;
  readonly #what: string;
  readonly #pollMs: number;
  readonly #types: Set<string> | undefined;
  readonly #schemas: BodySchemas;
  readonly #decodeLog: BurstLog;
  readonly #schemaLog: BurstLog;
  readonly #handlerLog: BurstLog;
  readonly #transit: TransitTally;
  /** `nowMs()` when the batch being handled was read off the socket. */
  #batchAt = 0;
  #handler: MessageHandler | undefined;
  #poller: SocketPoller | undefined;

  protected constructor(
    sock: zmq.Subscriber | zmq.Router,
    metrics: ChannelMetrics,
    opts: ReceiveLoopOptions,
  ) {
    this.sock = sock;
    this.metrics = metrics;
    this.name = opts.name;
    this.#what = opts.what;
    this.#pollMs = opts.pollMs;
    this.#types = opts.types ? new Set(opts.types) : undefined;
    this.#schemas = opts.schemas ?? {};
    this.#transit = metrics.transitTally();
    this.#decodeLog = new BurstLog(
      logger,
      "warn",
      "Cannot decode a frame on {channel}: {reason}",
      "Cannot decode {suppressed} more frames on {channel}",
    );
    const s = opts.schemaLog;
    this.#schemaLog = new BurstLog(logger, s.level, s.message, s.summary);
    this.#handlerLog = new BurstLog(
      logger,
      "error",
      "Message handler failed on {channel} for {type} seq {seq}: {error}",
      "Message handler failed on {channel}: {suppressed} more",
    );
  }

  /**
   * Sets the handler and starts reading. The handler is called in order,
   * one message at a time; what it throws or rejects is counted and logged.
   *
   * @throws {Error} If a handler is already set or the receiver is closed.
   */
  onMessage(handler: MessageHandler): void {
    if (this.closed) {
      throw new Error(`Cannot set a handler: ${this.#what} "${this.name}" is closed`);
    }
    if (this.#handler) {
      throw new Error(`Cannot set a second handler on ${this.#what} "${this.name}"`);
    }
    this.#handler = handler;
    this.#poller = SocketPoller.start(this.sock, () => this.#drain(), {
      maxWaitMs: this.#pollMs,
      onError: (error) =>
        logger.error("Receive loop error on {channel}: {error}", {
          channel: this.name,
          error: errorText(error),
        }),
    });
  }

  /** Handles one message's frames; returns the handler's promise when it is async. */
  protected abstract process(frames: Uint8Array[]): Promise<void> | undefined;

  /** Called when closing leaves `n` messages of a batch unhandled. */
  protected onClosedRemainder(_n: number): void {}

  /** Called after each message of a batch. */
  protected afterMessage(): void {}

  /** Called after each batch. */
  protected afterBatch(): void {}

  /**
   * Called on every pass of the loop, before reading; returns how long the loop may
   * sleep (ms) before the next pass when nothing arrives (undefined: the poll timeout).
   */
  protected tick(): number | undefined {
    return undefined;
  }

  /**
   * Counts one message accepted from the socket (`messaging_messages_received_total`:
   * heartbeats included; not duplicates, nor copies dropped out of order) and observes its
   * transit, from its envelope's `ts` to when its batch was read. Call it from `process`.
   */
  protected accepted(env: Envelope): void {
    this.counts.received++;
    this.metrics.received(env.type);
    this.#transit.observe(env.ts, this.#batchAt);
  }

  /** Whether messages of `type` go to the handler (the `types` option). */
  protected wanted(type: string): boolean {
    return this.#types === undefined || this.#types.has(type);
  }

  /**
   * The envelope with its body checked against its type's schema (and parsed), or
   * undefined when the body is invalid: then it is counted (`reason="schema"`) and logged.
   */
  protected validate(env: Envelope): Envelope | undefined {
    const schema = this.#schemas[env.type];
    if (schema === undefined) return env;
    try {
      return { ...env, body: schema(env.body) };
    } catch (error) {
      this.counts.decodeErrors++;
      this.metrics.decodeError("schema");
      this.#schemaLog.report({
        channel: this.name,
        pub: env.pub,
        type: env.type,
        seq: env.seq,
        error: schemaErrorText(error),
      });
      return undefined;
    }
  }

  /**
   * Calls the handler with `env` (frozen), counting a failure; `then` runs once it
   * settled, resolved or failed. Returns the pending promise of an async handler.
   */
  protected deliver(env: Envelope, then?: () => void): Promise<void> | undefined {
    Object.freeze(env);
    this.counts.delivered++;
    try {
      const r = this.#handler!(env);
      if (isPromise(r)) {
        return r.then(
          () => then?.(),
          (error) => {
            this.#handlerFailed(env, error);
            then?.();
          },
        );
      }
    } catch (error) {
      this.#handlerFailed(env, error);
    }
    then?.();
    return undefined;
  }

  /** Counts and logs (rate-limited) a frame that could not be decoded. */
  protected decodeError(reason: DecodeErrorReason, detail: string): void {
    this.counts.decodeErrors++;
    this.metrics.decodeError(reason);
    this.#decodeLog.report({ channel: this.name, reason, detail });
  }

  /** Stops the poll loop; the message being handled finishes first. */
  protected async stopLoop(): Promise<void> {
    await this.#poller?.stop();
  }

  /** Flushes the logs and releases the metrics; call after the socket is closed. */
  protected releaseLoop(): void {
    for (const l of [this.#decodeLog, this.#schemaLog, this.#handlerLog]) l.close();
    this.metrics.close();
  }

  #handlerFailed(env: Envelope, error: unknown): void {
    this.counts.handlerErrors++;
    this.metrics.m.handlerErrors.inc(this.metrics.labels);
    this.#handlerLog.report({
      channel: this.name,
      type: env.type,
      seq: env.seq,
      pub: env.pub,
      error: errorText(error),
    });
  }

  async #drain(): Promise<PollBodyResult> {
    const wait = this.tick();
    const batch: Uint8Array[][] = [];
    while (batch.length < RECEIVE_BATCH && this.sock.readable) {
      batch.push(await this.sock.receive());
    }
    if (batch.length === 0) return wait;
    // The receipt of every message of the batch: one clock read, after the last was read.
    this.#batchAt = nowMs();
    this.metrics.inDepth(batch.length);
    for (let i = 0; i < batch.length; i++) {
      if (this.closed) {
        // close() waits for the message in hand, not for the rest of the batch.
        this.onClosedRemainder(batch.length - i);
        break;
      }
      const pending = this.process(batch[i]);
      if (pending !== undefined) {
        // A scrape can only see the gauge while a handler awaits: set it then, not per message.
        this.metrics.inDepth(batch.length - i);
        await pending;
      }
      this.afterMessage();
    }
    this.metrics.inDepth(0);
    this.afterBatch();
    return batch.length === RECEIVE_BATCH ? 0 : wait;
  }
}
