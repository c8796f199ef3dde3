/**
 * The receiving end of the lossless channel: a ROUTER socket that delivers each
 * sender's stream in order, once, and acknowledges after its handler settled.
 * @module
 */
import * as zmq from "zeromq";
import { type DecodedRecord, DecodeError, decodeFrame, type Envelope } from "../envelope.ts";
import { BurstLog, errorText } from "../burst_log.ts";
import { FdWaiter, socketFd } from "../zmq_poll.ts";
import { ChannelMetrics } from "./channel_metrics.ts";
import { attachAll, type Endpoint, parseEndpoint } from "./endpoint.ts";
import { DEFAULT_SILENCE_MS, Redialer } from "./redial.ts";
import { type BodySchemas, checkName, checkPositive, type MessagingOptions } from "./options.ts";
import {
  ackFrame,
  byeFrame,
  helloFrame,
  isFrameError,
  nackFrame,
  parseByeAck,
  parseSenderFrame,
} from "./reliable_frames.ts";

const text = new TextDecoder();
import { MAX_STREAMS, ReceiveLoop, type ReceiverStats, type StreamStats } from "./receive_loop.ts";
import { logger } from "./logger.ts";

/** Options of {@linkcode ReliableReceiver.open}. */
export interface ReliableReceiverOptions extends MessagingOptions {
  /** The channel's name: the `channel` label. */
  name: string;
  /** Deliver only these types; others are acknowledged and dropped (`reason="unknown_type"`). */
  types?: readonly string[];
  /** Body validators per type; an invalid body is counted, acknowledged and skipped. */
  schemas?: BodySchemas;
  /** ZeroMQ receive queue limit in messages (default 10,000). */
  highWaterMark?: number;
  /** How long close() lets the last acks flush, in ms (default 1000). */
  lingerMs?: number;
  /**
   * The `pub` of the sender at the endpoint (`"<service>/<channel>"`): needed to connect,
   * where the receiver names its connection after it. Frames of any other stream on that
   * connection are refused.
   */
  sender?: string;
  /** When connecting: how often it says `hello` to the sender, in ms (default 1000). */
  heartbeatMs?: number;
  /** When connecting: dial again after this long without a frame, in ms (default 5000). */
  silenceMs?: number;
  /**
   * Called before acknowledgements leave: makes what the handlers wrote durable (a group
   * commit, lib/group_commit.ts), so a message is acknowledged only once its effects are
   * stored. Returns false when that failed: no ack is sent (resends are not handled
   * again); the store is then broken for good and the process is expected to end, so
   * the sender gives the messages to the restarted receiver.
   */
  beforeAck?: () => boolean;
}

interface RecvStream extends StreamStats {
  /** Next seq to deliver. */
  expected: number;
  /** The routing id of the sender's connection (its `pub`). */
  rid: Uint8Array;
  ackDue: boolean;
  lastNackAt: number;
  duplicates: number;
}

/**
 * The receiving end of the lossless channel: a ROUTER socket. Delivers each
 * sender's stream in sequence order, exactly once per `(pub, epoch, seq)`,
 * one message at a time, and acknowledges after the handler settles
 * (resolved or failed: a failing handler is counted and logged, and the
 * message is not redelivered). Messages ahead of the one it needs are
 * discarded and asked for again (nack). See {@linkcode ReliableSender}.
 *
 * Identity, not content: every stream belongs to the connection it arrived on, whose
 * routing id is the sender's `pub` (a sender's socket is named so; a receiver that
 * connects names its connection after `sender`). A frame whose stream names another
 * publisher is refused (`messaging_control_refused_total{reason="wrong_publisher"}`), and
 * a known stream's `base` may not jump past what it delivered (`reason="sequence_jump"`:
 * only this receiver acknowledges it). With CURVE (curve.ts) the connection itself is
 * authenticated, so only the configured sender can speak for its stream.
 *
 * Messages are read only once a handler is set.
 *
 * @example
 * ```ts
 * const orders = await ReliableReceiver.open("connect:tcp://127.0.0.1:5557", {
 *   service: "execution-engine", name: "orders", registry,
 *   schemas: { order: (b) => OrderSchema.parse(b) },
 * });
 * orders.onMessage(async (env) => { await execute(env.body as Order); });
 * ```
 */
export class ReliableReceiver extends ReceiveLoop {
  declare protected readonly sock: zmq.Router;
  readonly #endpoint: string;
  readonly #lingerMs: number;
  readonly #streams = new Map<string, RecvStream>();
  /** Connecting: the sender's pub (every frame on the socket comes from that sender). */
  readonly #sender: string | undefined;
  /** Connecting: watches the sender and dials again when it falls silent. */
  readonly #redialer: Redialer;
  readonly #helloMs: number;
  readonly #refusedLog: BurstLog;
  readonly #beforeAck: (() => boolean) | undefined;
  #closePromise: Promise<void> | undefined;
  #lastAckFlushAt = 0;
  #lastHelloAt = -Infinity;

  private constructor(
    sock: zmq.Router,
    endpoint: string,
    opts: ReliableReceiverOptions,
    metrics: ChannelMetrics,
    ep: Endpoint,
    redialer: Redialer,
  ) {
    super(sock, metrics, {
      what: "reliable receiver",
      name: opts.name,
      pollMs: opts.pollMs ?? 100,
      types: opts.types,
      schemas: opts.schemas,
      schemaLog: {
        level: "error",
        message: "Invalid {type} body on {channel} from {pub} seq {seq}, skipped: {error}",
        summary: "Invalid bodies on {channel}: {suppressed} more",
      },
    });
    this.#endpoint = endpoint;
    this.#lingerMs = opts.lingerMs ?? 1000;
    this.#sender = ep.mode === "connect" ? opts.sender : undefined;
    this.#redialer = redialer;
    this.#helloMs = opts.heartbeatMs ?? 1000;
    this.#beforeAck = opts.beforeAck;
    this.#refusedLog = new BurstLog(
      logger,
      "warn",
      "Refused a frame on {channel} from {peer}: {reason}",
      "Refused {suppressed} more frames on {channel}",
    );
    metrics.zeroControlRefusals();
    metrics.zero("reliable_receiver");
  }

  /**
   * Opens a ROUTER socket: connects (default) or binds.
   *
   * @throws {Error} If an option is invalid or the endpoint cannot be bound.
   */
  static async open(endpoint: string, opts: ReliableReceiverOptions): Promise<ReliableReceiver> {
    const what = `reliable receiver "${opts.name}"`;
    checkName("reliable receiver", opts.name);
    checkPositive(what, "highWaterMark", opts.highWaterMark);
    checkPositive(what, "pollMs", opts.pollMs);
    checkPositive(what, "heartbeatMs", opts.heartbeatMs);
    checkPositive(what, "silenceMs", opts.silenceMs);
    const ep = parseEndpoint(endpoint, "connect");
    if (ep.mode === "connect" && (opts.sender === undefined || opts.sender.length === 0)) {
      throw new Error(
        `Cannot open ${what}: connecting needs "sender", the pub of the sender at the endpoint`,
      );
    }
    const types = new Set([...(opts.types ?? []), ...Object.keys(opts.schemas ?? {})]);
    const metrics = new ChannelMetrics(opts, types.size > 0 ? types : undefined, true);
    const sock = new zmq.Router({
      routingId: `${opts.service}/${opts.name}`,
      mandatory: true,
      // A sender that reconnects under its name takes over its stale connection.
      handover: true,
      sendTimeout: 0,
      receiveTimeout: 0,
      linger: opts.lingerMs ?? 1000,
      receiveHighWaterMark: opts.highWaterMark ?? 10_000,
      sendHighWaterMark: 10_000,
    });
    // Connecting, it names its connection after the sender, afresh on every dial.
    const redialer = new Redialer({
      socket: sock,
      endpoints: [ep],
      what,
      metrics,
      silenceMs: opts.silenceMs ?? DEFAULT_SILENCE_MS,
      curve: opts.curve,
      routingIdBase: ep.mode === "connect" ? opts.sender : undefined,
    });
    const [resolved] = await attachAll(
      sock,
      [ep],
      what,
      { curve: opts.curve, connectRoutingId: redialer.routingId },
      () => metrics.close(),
    );
    metrics.reconnected(0);
    logger.info("Reliable receiver {channel} ready on {endpoint}", {
      service: opts.service,
      channel: opts.name,
      endpoint: resolved,
      mode: ep.mode,
    });
    return new ReliableReceiver(sock, resolved, opts, metrics, ep, redialer);
  }

  /** The resolved endpoint (bound address with its port, or the connect address). */
  get endpoint(): string {
    return this.#endpoint;
  }

  /** A snapshot of counters and per-stream state. */
  stats(): ReceiverStats {
    return {
      ...this.counts,
      streams: [...this.#streams.values()].map((s) => ({
        pub: s.pub,
        epoch: s.epoch,
        lastSeq: s.expected - 1,
        received: s.received,
        gaps: s.gaps,
        missed: s.missed,
        restarts: s.restarts,
        outOfOrder: s.outOfOrder,
      })),
    };
  }

  /**
   * Stops reading (the message being handled finishes and is acknowledged;
   * messages read but not handled are left for the sender to resend), sends
   * the last acks, and waits up to `lingerMs` until each connected sender
   * confirms it has them (a `bye` answered by `byeack` on the same ordered
   * connection), so a restart does not redeliver. Then closes the socket.
   * Idempotent.
   */
  close(): Promise<void> {
    this.#closePromise ??= this.#close();
    return this.#closePromise;
  }

  async #close(): Promise<void> {
    this.closed = true;
    await this.stopLoop();
    this.#flushAcks();
    await this.#sayGoodbye();
    this.sock.close();
    this.#refusedLog.close();
    this.releaseLoop();
    logger.info("Reliable receiver {channel} closed", {
      channel: this.name,
      lingerMs: this.#lingerMs,
      ...this.counts,
    });
  }

  /** Slow handlers: ack at least every 20 ms so the sender does not resend. */
  protected override afterMessage(): void {
    if (performance.now() - this.#lastAckFlushAt > 20) this.#flushAcks();
  }

  protected override afterBatch(): void {
    this.#flushAcks();
  }

  /** Connecting: says hello every `heartbeatMs`, so a bound sender knows it is there. */
  protected override tick(): number | undefined {
    if (this.#sender === undefined) return undefined;
    const redialIn = this.#redialer.check() ?? Infinity;
    const now = performance.now();
    if (now - this.#lastHelloAt >= this.#helloMs) {
      this.#lastHelloAt = now;
      try {
        this.sock.send([this.#redialer.routingId!, helloFrame()]).catch(() => {});
      } catch { /* no room: the next hello */ }
    }
    return Math.max(1, Math.min(redialIn, this.#helloMs - (now - this.#lastHelloAt)));
  }

  #flushAcks(): void {
    this.#lastAckFlushAt = performance.now();
    if (this.#beforeAck !== undefined) {
      let due = false;
      for (const st of this.#streams.values()) due ||= st.ackDue;
      if (due && !this.#beforeAck()) return;
    }
    for (const st of this.#streams.values()) {
      if (!st.ackDue) continue;
      st.ackDue = false;
      this.#control(st, ackFrame(st, st.expected - 1));
    }
  }

  /**
   * Sends a control frame to the stream's sender. Resolves false if it could
   * not be routed (mandatory routing: a peer that has gone rejects instead of
   * dropping silently); a lost ack is harmless, the sender resends and we
   * answer again.
   */
  #control(st: RecvStream, frame: string): Promise<boolean> {
    try {
      return this.sock.send([st.rid, frame]).then(() => true, () => false);
    } catch {
      return Promise.resolve(false);
    }
  }

  /** Close handshake: waits (bounded) until each reachable sender has our last acks. */
  async #sayGoodbye(): Promise<void> {
    if (this.#streams.size === 0 || this.#lingerMs <= 0) return;
    const waiting = new Set<string>();
    for (const [key, st] of this.#streams) {
      if (st.received > 0 || st.duplicates > 0) waiting.add(key);
    }
    const sent = await Promise.all(
      [...waiting].map((key) => {
        const st = this.#streams.get(key)!;
        return this.#control(st, byeFrame(st));
      }),
    );
    [...waiting].forEach((key, i) => {
      if (!sent[i]) waiting.delete(key);
    });
    if (waiting.size === 0) return;
    const deadline = performance.now() + this.#lingerMs;
    const waiter = new FdWaiter(socketFd(this.sock));
    try {
      while (waiting.size > 0 && performance.now() < deadline) {
        while (this.sock.readable) {
          const frames = await this.sock.receive();
          if (frames.length !== 2) continue; // data: not handled, the sender resends it
          const bye = parseByeAck(frames[1]);
          if (bye) waiting.delete(`${bye.pub}\n${bye.epoch}`);
        }
        if (waiting.size > 0) await waiter.wait(Math.min(50, deadline - performance.now()));
      }
    } finally {
      waiter.close();
    }
    if (waiting.size > 0) {
      logger.warn("Reliable receiver {channel} closed without confirmation from {count} senders", {
        channel: this.name,
        count: waiting.size,
      });
    }
  }

  /**
   * The stream `(pub, epoch)` on connection `rid`, created when new; undefined (refused
   * and counted) when the connection is not that publisher's, or when a known stream's
   * base jumps past what was delivered.
   */
  #stream(pub: string, epoch: number, base: number, rid: Uint8Array): RecvStream | undefined {
    const from = text.decode(rid);
    // Bound, a sender's connection is named by the sender (its pub); connecting, the
    // socket's only connections are the ones it dialled to its one sender.
    if (pub !== (this.#sender ?? from)) {
      this.#refuse("wrong_publisher", from, `a frame of ${pub.slice(0, 64)}`);
      return undefined;
    }
    const key = `${pub}\n${epoch}`;
    let st = this.#streams.get(key);
    if (st === undefined) {
      if (this.#streams.size >= MAX_STREAMS) {
        this.#streams.delete(this.#streams.keys().next().value!);
      }
      const restarts = [...this.#streams.values()].some((s) => s.pub === pub) ? 1 : 0;
      if (restarts) this.metrics.m.restarts.inc(this.metrics.labels);
      st = {
        pub,
        epoch,
        lastSeq: base - 1,
        expected: base,
        received: 0,
        gaps: 0,
        missed: 0,
        restarts,
        outOfOrder: 0,
        duplicates: 0,
        rid,
        ackDue: false,
        lastNackAt: -Infinity,
      };
      this.#streams.set(key, st);
      logger.info(
        "Reliable receiver {channel} receiving from {pub} (epoch {epoch}, from seq {seq})",
        { channel: this.name, pub, epoch, seq: base },
      );
      return st;
    }
    if (base > st.expected) {
      // Only this receiver acknowledges the stream: a base beyond what it delivered
      // would make it skip messages it never got.
      this.#refuse("sequence_jump", from, `base ${base}, next expected ${st.expected}`);
      return undefined;
    }
    st.rid = rid;
    return st;
  }

  #refuse(reason: "wrong_publisher" | "sequence_jump", peer: string, detail: string): void {
    this.metrics.controlRefused(reason);
    this.#refusedLog.report({ channel: this.name, peer: peer.slice(0, 64), reason, detail });
  }

  #nack(st: RecvStream): void {
    const now = performance.now();
    if (now - st.lastNackAt < 100) return;
    st.lastNackAt = now;
    this.#control(st, nackFrame(st, st.expected));
  }

  protected process(frames: Uint8Array[]): Promise<void> | undefined {
    // [routing id, header, envelope?]
    if (frames.length < 2 || frames.length > 3) {
      this.decodeError("bad_frames", `${frames.length} frames, expected 2 or 3`);
      return undefined;
    }
    const rid = frames[0];
    this.#redialer.heard();
    const hdr = parseSenderFrame(frames[1], frames.length === 3);
    if (isFrameError(hdr)) {
      this.decodeError(hdr.error, hdr.detail);
      return undefined;
    }
    if (hdr.k === "hb") {
      const st = this.#stream(hdr.pub, hdr.epoch, hdr.base, rid);
      if (st === undefined) return undefined;
      this.metrics.ageSource.lastAt = performance.now();
      // A control frame: no envelope, no `ts`, so no transit.
      this.counts.received++;
      this.metrics.received("heartbeat");
      if (st.expected <= hdr.sent) this.#nack(st);
      st.ackDue = true;
      return undefined;
    }
    let record: DecodedRecord;
    try {
      const records = decodeFrame(frames[2]);
      if (records.length !== 1) {
        throw new DecodeError(
          "bad_envelope",
          `${records.length} records in a data frame, expected 1`,
        );
      }
      record = records[0];
    } catch (error) {
      this.decodeError(
        error instanceof DecodeError ? error.code : "bad_envelope",
        errorText(error),
      );
      return undefined;
    }
    const env: Envelope = record.env;
    const st = this.#stream(env.pub, env.epoch, hdr.base, rid);
    if (st === undefined) return undefined;
    this.metrics.ageSource.lastAt = performance.now();
    if (env.seq < st.expected) {
      st.duplicates++;
      this.counts.duplicates++;
      this.metrics.m.duplicates.inc(this.metrics.labels);
      st.ackDue = true;
      return undefined;
    }
    if (env.seq > st.expected) {
      st.outOfOrder++;
      this.metrics.dropped("out_of_order");
      this.#nack(st);
      return undefined;
    }
    st.received++;
    this.accepted(env);
    if (!this.wanted(env.type)) {
      this.metrics.dropped("unknown_type");
      return this.#done(st, env);
    }
    const valid = record.checked ? env : this.validate(env);
    if (valid === undefined) return this.#done(st, env);
    return this.deliver(valid, () => this.#done(st, env));
  }

  #done(st: RecvStream, env: Envelope): undefined {
    st.expected = env.seq + 1;
    st.lastSeq = env.seq;
    st.ackDue = true;
    return undefined;
  }
}
