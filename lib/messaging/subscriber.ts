/**
 * The receiving end of a channel that may drop (market data, signals, events): a SUB
 * socket that checks every publisher's sequence for gaps.
 * @module
 */
import * as zmq from "zeromq";
import { type DecodedRecord, DecodeError, decodeFrame, type Envelope } from "../envelope.ts";
import { BurstLog, errorText } from "../burst_log.ts";
import { ChannelMetrics } from "./channel_metrics.ts";
import { attachAll, type Endpoint, parseEndpoint } from "./endpoint.ts";
import { DEFAULT_SILENCE_MS, Redialer } from "./redial.ts";
import { type BodySchemas, checkName, checkPositive, type MessagingOptions } from "./options.ts";
import { MAX_STREAMS, ReceiveLoop, type ReceiverStats, type StreamStats } from "./receive_loop.ts";
import { logger } from "./logger.ts";

/** Options of {@linkcode Subscriber.open}. */
export interface SubscriberOptions extends MessagingOptions {
  /** The channel's name: the `channel` label. */
  name: string;
  /** Deliver only these types (heartbeats are never delivered). Default: all. */
  types?: readonly string[];
  /** Body validators per type; an invalid body is counted (`reason="schema"`) and skipped. */
  schemas?: BodySchemas;
  /** Receive queue limit in messages (default 10,000). */
  highWaterMark?: number;
  /**
   * Connected endpoints are dialled again after this long without a message, heartbeats
   * included, in ms (default 5000; publishers heartbeat every second). See redial.ts.
   */
  silenceMs?: number;
}

/**
 * A SUB socket over one or more endpoints (connect: fan-in from several
 * publishers; bind: publishers connect to it). Decodes and validates every
 * frame, tracks `(epoch, seq)` per publisher, and calls the handler in order,
 * one message at a time (an async handler is awaited before the next).
 * Heartbeats refresh staleness and expose lost tails but are not delivered.
 *
 * Every message carries `(pub, epoch, seq)` with one sequence counter per publisher
 * (heartbeats included), so a subscriber counts what it missed
 * (`messaging_sequence_gaps_total`, `messaging_messages_missed_total`), including a
 * lost tail, as soon as the next heartbeat arrives. A new `epoch` is a publisher
 * restart, not a gap. Messages published before a subscriber connects are not seen by
 * it and are not counted (ZeroMQ's "slow joiner").
 *
 * Messages are read only once a handler is set with
 * {@linkcode Subscriber.onMessage}; until then they wait in ZeroMQ. On close, what was
 * read but not yet handled is dropped (`messaging_dropped_total{reason="closed"}`).
 *
 * @example
 * ```ts
 * const sub = await Subscriber.open(["tcp://127.0.0.1:5555"], {
 *   service: "signal-bridge", name: "market_data", registry, types: ["trade"],
 *   schemas: { trade: (b) => TradeSchema.parse(b) },
 * });
 * sub.onMessage((env) => onTrade(env.body as Trade));
 * ```
 */
export class Subscriber extends ReceiveLoop {
  declare protected readonly sock: zmq.Subscriber;
  readonly #endpoints: string[];
  readonly #streams = new Map<string, StreamStats>();
  readonly #gapLog: BurstLog;
  readonly #redialer: Redialer;
  /** Which records' bodies are decoded: the delivered types (heartbeats never). */
  readonly #wantsBody = (type: string) => type !== "heartbeat" && this.wanted(type);

  private constructor(
    sock: zmq.Subscriber,
    endpoints: string[],
    opts: SubscriberOptions,
    metrics: ChannelMetrics,
    parsed: Endpoint[],
  ) {
    super(sock, metrics, {
      what: "subscriber",
      name: opts.name,
      pollMs: opts.pollMs ?? 100,
      types: opts.types,
      schemas: opts.schemas,
      schemaLog: {
        level: "warn",
        message: "Invalid {type} body on {channel} from {pub}: {error}",
        summary: "Invalid bodies on {channel}: {suppressed} more",
      },
    });
    this.#endpoints = endpoints;
    this.#gapLog = new BurstLog(
      logger,
      "warn",
      "Sequence gap on {channel} from {pub}: missed {missed} messages before seq {seq}",
      "Sequence gaps on {channel}: {suppressed} more",
    );
    this.#redialer = new Redialer({
      socket: sock,
      endpoints: parsed,
      what: `subscriber "${opts.name}"`,
      metrics,
      silenceMs: opts.silenceMs ?? DEFAULT_SILENCE_MS,
      curve: opts.curve,
    });
    metrics.reconnected(0);
    metrics.zero("subscriber");
  }

  /**
   * Opens a SUB socket subscribed to everything, connected to (default) or
   * bound on each endpoint.
   *
   * @throws {Error} If there is no endpoint, an option is invalid, or an
   *   endpoint cannot be bound.
   */
  static async open(endpoints: string[], opts: SubscriberOptions): Promise<Subscriber> {
    const what = `subscriber "${opts.name}"`;
    checkName("subscriber", opts.name);
    checkPositive(what, "highWaterMark", opts.highWaterMark);
    checkPositive(what, "pollMs", opts.pollMs);
    checkPositive(what, "silenceMs", opts.silenceMs);
    if (endpoints.length === 0) throw new Error(`Cannot open ${what}: no endpoint given`);
    const parsed = endpoints.map((e) => parseEndpoint(e, "connect"));
    const types = new Set([...(opts.types ?? []), ...Object.keys(opts.schemas ?? {})]);
    const metrics = new ChannelMetrics(opts, types.size > 0 ? types : undefined, true);
    const sock = new zmq.Subscriber({
      receiveTimeout: 0,
      linger: 0,
      receiveHighWaterMark: opts.highWaterMark ?? 10_000,
    });
    const resolved = await attachAll(sock, parsed, what, opts, () => metrics.close());
    sock.subscribe();
    logger.info("Subscriber {channel} ready on {endpoints}", {
      service: opts.service,
      channel: opts.name,
      endpoints: resolved,
    });
    return new Subscriber(sock, resolved, opts, metrics, parsed);
  }

  /** The resolved endpoints (bound addresses with their ports, or connect addresses). */
  get endpoints(): readonly string[] {
    return this.#endpoints;
  }

  /** A snapshot of counters and per-publisher state. */
  stats(): ReceiverStats {
    return {
      ...this.counts,
      duplicates: 0,
      streams: [...this.#streams.values()].map((s) => ({ ...s })),
    };
  }

  /**
   * Stops reading (the message being handled finishes first), then closes
   * the socket. Idempotent.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.stopLoop();
    this.sock.close();
    this.#gapLog.close();
    this.releaseLoop();
    logger.info("Subscriber {channel} closed", { channel: this.name, ...this.counts });
  }

  protected override tick(): number | undefined {
    return this.#redialer.check();
  }

  protected override onClosedRemainder(n: number): void {
    this.metrics.dropped("closed", n);
  }

  protected process(frames: Uint8Array[]): Promise<void> | undefined {
    if (frames.length !== 1) {
      this.decodeError("bad_frames", `${frames.length} frames, expected 1`);
      return undefined;
    }
    let records: DecodedRecord[];
    try {
      records = decodeFrame(frames[0], this.#wantsBody);
    } catch (error) {
      this.decodeError(
        error instanceof DecodeError ? error.code : "bad_envelope",
        errorText(error),
      );
      return undefined;
    }
    // One clock read per frame: its records arrived together.
    this.#redialer.heard();
    this.metrics.ageSource.lastAt = performance.now();
    return this.#deliverFrom(records, 0);
  }

  /** Handles the records of one frame from `i` on, in order; waits for an async handler. */
  #deliverFrom(records: DecodedRecord[], i: number): Promise<void> | undefined {
    for (; i < records.length; i++) {
      if (this.closed) {
        this.metrics.dropped("closed", records.length - i);
        return undefined;
      }
      const pending = this.#one(records[i]);
      if (pending !== undefined) {
        const next = i + 1;
        return next < records.length
          ? pending.then(() => this.#deliverFrom(records, next))
          : pending;
      }
    }
    return undefined;
  }

  #one(record: DecodedRecord): Promise<void> | undefined {
    const env = record.env;
    if (!this.#track(env)) return undefined;
    this.accepted(env);
    if (!record.hasBody) return undefined;
    const valid = record.checked ? env : this.validate(env);
    return valid === undefined ? undefined : this.deliver(valid);
  }

  /** Updates the publisher's stream state; returns false to drop the message. */
  #track(env: Envelope): boolean {
    let st = this.#streams.get(env.pub);
    if (st === undefined) {
      if (this.#streams.size >= MAX_STREAMS) {
        this.#streams.delete(this.#streams.keys().next().value!);
      }
      st = {
        pub: env.pub,
        epoch: env.epoch,
        lastSeq: env.seq,
        received: 1,
        gaps: 0,
        missed: 0,
        restarts: 0,
        outOfOrder: 0,
      };
      this.#streams.set(env.pub, st);
      logger.info("Subscriber {channel} receiving from {pub} (epoch {epoch}, seq {seq})", {
        channel: this.name,
        pub: env.pub,
        epoch: env.epoch,
        seq: env.seq,
      });
      return true;
    }
    if (env.epoch !== st.epoch) {
      logger.info("Publisher {pub} restarted on {channel} (epoch {oldEpoch} to {epoch})", {
        channel: this.name,
        pub: env.pub,
        oldEpoch: st.epoch,
        epoch: env.epoch,
        lastSeq: st.lastSeq,
      });
      st.restarts++;
      this.metrics.m.restarts.inc(this.metrics.labels);
      st.epoch = env.epoch;
      st.lastSeq = env.seq;
      st.received++;
      return true;
    }
    if (env.seq === st.lastSeq + 1) {
      st.lastSeq = env.seq;
      st.received++;
      return true;
    }
    if (env.seq > st.lastSeq) {
      const missed = env.seq - st.lastSeq - 1;
      st.gaps++;
      st.missed += missed;
      this.counts.gaps++;
      this.counts.missed += missed;
      this.metrics.m.gaps.inc(this.metrics.labels);
      this.metrics.m.missed.inc(this.metrics.labels, missed);
      this.#gapLog.report({ channel: this.name, pub: env.pub, missed, seq: env.seq });
      st.lastSeq = env.seq;
      st.received++;
      return true;
    }
    st.outOfOrder++;
    this.metrics.dropped("out_of_order");
    return false;
  }
}
