/**
 * The sending end of the lossless channel (approved orders, execution reports): a
 * DEALER socket with an outbox, acknowledgements and go-back-N resends.
 * @module
 */
import * as zmq from "zeromq";
import { encodeFrame, type Envelope, stamp, type TraceContext } from "../envelope.ts";
import { BurstLog, errorText } from "../burst_log.ts";
import { type PollBodyResult, SocketPoller } from "../zmq_poll.ts";
import { ChannelMetrics } from "./channel_metrics.ts";
import { attachAll, parseEndpoint } from "./endpoint.ts";
import { DEFAULT_SILENCE_MS, Redialer } from "./redial.ts";
import { checkName, checkPositive, type MessagingOptions } from "./options.ts";
import { type JournaledMessage, OutboxJournal } from "./outbox_journal.ts";
import {
  byeAckFrame,
  dataHeader,
  heartbeatFrame,
  isFrameError,
  parseReceiverFrame,
} from "./reliable_frames.ts";

const text = new TextDecoder();

/** The routing id a connecting sender gives its one connection. */
const RECEIVER_CONNECTION = "receiver";
/** How long sends pause after the peer had no room (ms). */
const BLOCKED_RETRY_MS = 5;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
import { logger } from "./logger.ts";
import { RECEIVE_BATCH } from "./receive_loop.ts";

/** Options of {@linkcode ReliableSender.open}. */
export interface ReliableSenderOptions extends MessagingOptions {
  /** The channel's name: the `channel` label, and part of `pub` (`"<service>/<name>"`). */
  name: string;
  /**
   * SQLite file keeping unacknowledged messages (and the epoch and sequence)
   * across restarts. Without it, messages unacknowledged when the process
   * dies are lost.
   */
  journalPath?: string;
  /** Message types sent, for the closed `type` label set (default: the first 32 seen). */
  types?: readonly string[];
  /** Most messages sent but not yet acknowledged (default 1000). */
  window?: number;
  /**
   * Resend everything unacknowledged after this long without an ack, in ms
   * (default 1000; doubles after each such resend up to 30 s, back to this on
   * progress). Keep it above the receiver's slowest handler.
   */
  resendMs?: number;
  /** Heartbeat period in ms (default 1000); the receiver answers each with an ack. */
  heartbeatMs?: number;
  /** How long close() waits for outstanding acks, in ms (default 2000). */
  closeTimeoutMs?: number;
  /** ZeroMQ send queue limit in messages (default 10,000). */
  highWaterMark?: number;
  /**
   * How long the selected receiver may stay silent before another may take its place,
   * in ms (default 3 heartbeats, at least 3 s). A receiver answers every heartbeat.
   */
  peerTimeoutMs?: number;
  /** When connecting: dial again after this long without an answer, in ms (default 5000). */
  silenceMs?: number;
  /**
   * How hard the journal's commits are made durable: `power` (default; SQLite
   * synchronous FULL, a commit survives a power loss) or `process` (NORMAL: it survives
   * a crash of the process; a power loss may roll back the last commits, which the
   * sender then detects, see {@linkcode ReliableSender}).
   */
  durability?: "process" | "power";
}

interface OutEntry extends JournaledMessage {
  resolve?: (env: Envelope) => void;
  reject?: (error: Error) => void;
  sends: number;
}

/**
 * The sending end of the lossless channel (approved orders, execution
 * reports): a ROUTER socket whose routing id is its `pub`. Frames:
 * lib/messaging/reliable_frames.ts.
 *
 * Protocol: each message gets the next `seq` of this sender's stream
 * `(pub, epoch)` and waits in the outbox until the receiver acknowledges it.
 * At most `window` messages are in flight; the rest queue (unbounded in
 * memory; watch `pending()` and `system_zmq_queue_depth{queue="<name>_out"}`).
 * The receiver acks cumulatively after its handler settles. Go-back-N
 * recovery: the sender resends everything unacknowledged, in order, when the
 * receiver asks (nack: it saw a seq beyond the one it needs, or a heartbeat
 * announcing messages it never got, e.g. after it restarted), and when no ack
 * came for `resendMs`. Heartbeats every `heartbeatMs` carry the highest seq
 * sent, so a lost tail is recovered within one heartbeat.
 *
 * With `journalPath`, messages are written to SQLite (WAL, one transaction
 * per burst) before they leave, deleted when acknowledged, and the stream
 * `(epoch, seq)` continues across restarts, so a restarted sender resends
 * what was pending and the receiver's dedup still applies. A journal that rolled back
 * (a power loss with durability `process`, a restored backup) would make the sender
 * reuse sequence numbers the receiver already has, and the receiver would drop the new
 * messages as duplicates; so a journaled sender sends no data until the first receiver
 * it selects has answered once, and when that answer acknowledges more than the
 * journal says was sent, it starts a new epoch (`max(now, epoch + 1)`) holding every
 * unacknowledged message renumbered from 1: the receiver sees a new stream, nothing is
 * dropped, and what it had already is delivered again (at least once).
 *
 * Its `messaging_last_message_age_seconds` is the time since the receiver
 * last answered (it acks every heartbeat), so a missing receiver shows up as
 * a growing age while `system_zmq_queue_depth{queue="<name>_out"}` climbs.
 *
 * One receiver at a time: the sender sends only to the connection it selected, the
 * first that talked to it (a connecting receiver says `hello` every heartbeat; a
 * receiver this sender connects to answers its heartbeats), until that one is silent
 * for `peerTimeoutMs` or says `bye`; then the next receiver that talks gets everything
 * unacknowledged. Frames from any other connection are refused and counted
 * (`messaging_control_refused_total{reason="unknown_peer"}`), and acks or nacks beyond
 * what was sent are refused (`reason="sequence_jump"`), so a peer can neither take
 * messages it was not given nor acknowledge them away. Delivery is exactly once across
 * receiver restarts made with
 * `close()`; if a receiver crashes after its handler ran but before its ack
 * left, that message is delivered again (at least once), so handlers should
 * be idempotent (e.g. by `client_order_id`).
 *
 * @example
 * ```ts
 * const orders = await ReliableSender.open("bind:tcp://127.0.0.1:5557", {
 *   service: "risk-manager", name: "orders", registry, journalPath: "data/orders.db",
 * });
 * const env = await orders.send("order", { symbol: "AAPL", side: "buy", qty: 10 });
 * // here the execution engine has handled env.seq
 * ```
 */
export class ReliableSender {
  readonly #sock: zmq.Router;
  readonly #metrics: ChannelMetrics;
  /** Connecting: names the one connection and dials again when the receiver is silent. */
  readonly #redialer: Redialer;
  readonly #peerTimeoutMs: number;
  readonly #peerLog: BurstLog;
  /** The receiver messages go to, and when it last talked. */
  #peer: { rid: Uint8Array; name: string; heardAt: number } | undefined;
  /** Sends to the peer failed for lack of room until this time (performance.now()). */
  #blockedUntil = 0;
  readonly #name: string;
  readonly #pollMs: number;
  /** The resolved endpoint (bound address with its port, or the connect address). */
  readonly endpoint: string;
  /** This sender's `pub` field: `"<service>/<name>"`. */
  readonly pub: string;
  /** This sender's epoch (kept across restarts when journaled; a new one after a rolled-back journal). */
  get epoch(): number {
    return this.#epoch;
  }
  #epoch: number;
  /**
   * False until the selected receiver has answered once after a journaled start: until
   * then no data leaves, so a rolled-back journal is detected before it reuses a seq.
   */
  #verified: boolean;
  readonly #journal: OutboxJournal | undefined;
  readonly #window: number;
  readonly #resendMs: number;
  readonly #heartbeatMs: number;
  readonly #closeTimeoutMs: number;
  readonly #resendLog: BurstLog;
  readonly #journalLog: BurstLog;
  readonly #poller: SocketPoller;
  /** Current resend timeout: resendMs, doubled (up to 30 s) after each resend without progress. */
  #resendDelay: number;
  /** Unacknowledged entries, seq ascending and contiguous, from #head. */
  #entries: OutEntry[] = [];
  #head = 0;
  /** Sequence number of the first unacknowledged entry (== lastSeq + 1 when none). */
  #base: number;
  /** Last assigned sequence number. */
  #seq: number;
  /** Next seq to transmit: entries below it were sent at least once. */
  #cursor: number;
  #unjournaled: OutEntry[] = [];
  #flushScheduled = false;
  #lastProgressAt = performance.now();
  #lastHeartbeatAt = 0;
  #drainWaiters: (() => void)[] = [];
  #closing = false;
  #closed = false;
  #closePromise: Promise<void> | undefined;

  private constructor(
    sock: zmq.Router,
    endpoint: string,
    opts: ReliableSenderOptions,
    metrics: ChannelMetrics,
    journal: OutboxJournal | undefined,
    restored: { epoch: number; lastSeq: number; entries: OutEntry[] },
    redialer: Redialer,
  ) {
    this.#sock = sock;
    this.#redialer = redialer;
    this.endpoint = endpoint;
    this.#name = opts.name;
    this.#pollMs = opts.pollMs ?? 100;
    this.pub = `${opts.service}/${opts.name}`;
    this.#metrics = metrics;
    this.#journal = journal;
    this.#window = opts.window ?? 1000;
    this.#resendMs = opts.resendMs ?? 1000;
    this.#resendDelay = this.#resendMs;
    this.#heartbeatMs = opts.heartbeatMs ?? 1000;
    this.#closeTimeoutMs = opts.closeTimeoutMs ?? 2000;
    this.#peerTimeoutMs = opts.peerTimeoutMs ?? Math.max(3 * this.#heartbeatMs, 3000);
    this.#epoch = restored.epoch;
    this.#verified = journal === undefined;
    this.#seq = restored.lastSeq;
    this.#entries = restored.entries;
    this.#base = restored.entries[0]?.seq ?? restored.lastSeq + 1;
    this.#cursor = this.#base;
    this.#resendLog = new BurstLog(
      logger,
      "warn",
      "Resending {count} unacknowledged messages on {channel} from seq {from} ({why})",
      "Resent on {channel}: {suppressed} more times",
    );
    this.#journalLog = new BurstLog(
      logger,
      "error",
      "Cannot write the journal of {channel}: {error}",
      "Cannot write the journal of {channel}: {suppressed} more failures",
    );
    this.#peerLog = new BurstLog(
      logger,
      "warn",
      "Refused a frame on {channel} from {peer}: {reason}",
      "Refused {suppressed} more frames on {channel}",
    );
    this.#metrics.zeroControlRefusals();
    this.#metrics.zero("reliable_sender");
    this.#metrics.outDepth(this.pending());
    this.#poller = SocketPoller.start(sock, () => this.#loop(), {
      maxWaitMs: this.#pollMs,
      onError: (error) =>
        logger.error("Send loop error on {channel}: {error}", {
          channel: this.#name,
          error: errorText(error),
        }),
      wantsWrite: () =>
        this.#peer !== undefined && this.#verified && this.#unjournaled.length === 0 &&
        this.#cursor <= this.#seq && this.#cursor - this.#base < this.#window &&
        performance.now() >= this.#blockedUntil,
    });
  }

  /**
   * Opens a DEALER socket: binds (default) or connects. With `journalPath`,
   * restores the stream and any unacknowledged messages, which are resent.
   *
   * @throws {Error} If an option is invalid, the endpoint cannot be bound, or
   *   the journal cannot be opened or belongs to another sender.
   */
  static async open(endpoint: string, opts: ReliableSenderOptions): Promise<ReliableSender> {
    const what = `reliable sender "${opts.name}"`;
    checkName("reliable sender", opts.name);
    for (
      const f of [
        "window",
        "resendMs",
        "heartbeatMs",
        "closeTimeoutMs",
        "highWaterMark",
        "pollMs",
        "peerTimeoutMs",
        "silenceMs",
      ] as const
    ) {
      checkPositive(what, f, opts[f]);
    }
    const ep = parseEndpoint(endpoint, "bind");
    const pub = `${opts.service}/${opts.name}`;
    let journal: OutboxJournal | undefined;
    let restored = { epoch: Date.now(), lastSeq: 0, entries: [] as OutEntry[] };
    if (opts.journalPath !== undefined) {
      const opened = await OutboxJournal.open(opts.journalPath, pub, {
        durability: opts.durability,
      });
      journal = opened.journal;
      restored = {
        ...opened.restored,
        entries: opened.restored.entries.map((e) => ({ ...e, sends: 0 })),
      };
    }
    const metrics = new ChannelMetrics(opts, opts.types, true);
    const sock = new zmq.Router({
      // Its routing id is its pub: a receiver it connects to sees it under that name.
      routingId: pub,
      // A send to a connection that is gone fails instead of vanishing.
      mandatory: true,
      sendTimeout: 0,
      receiveTimeout: 0,
      linger: 0,
      sendHighWaterMark: opts.highWaterMark ?? 10_000,
      receiveHighWaterMark: 10_000,
    });
    // Connecting, it names its one connection (afresh on every dial); binding, it learns
    // receivers as they talk.
    const redialer = new Redialer({
      socket: sock,
      endpoints: [ep],
      what,
      metrics,
      silenceMs: opts.silenceMs ?? DEFAULT_SILENCE_MS,
      curve: opts.curve,
      routingIdBase: ep.mode === "connect" ? RECEIVER_CONNECTION : undefined,
    });
    const [resolved] = await attachAll(
      sock,
      [ep],
      what,
      { curve: opts.curve, connectRoutingId: redialer.routingId },
      () => {
        metrics.close();
        journal?.close();
      },
    );
    metrics.reconnected(0);
    logger.info("Reliable sender {channel} ready on {endpoint} ({pending} pending)", {
      service: opts.service,
      channel: opts.name,
      endpoint: resolved,
      epoch: restored.epoch,
      pending: restored.entries.length,
      journal: opts.journalPath ?? null,
    });
    return new ReliableSender(sock, resolved, opts, metrics, journal, restored, redialer);
  }

  /**
   * Sends one message; resolves with its envelope (frozen) once the receiver
   * has handled and acknowledged it. Never drops: while the receiver is away
   * the message waits (and is resent).
   *
   * @throws {Error} (rejects) If the sender is closing or closed; or, at
   *   close, if the message was still unacknowledged (it stays in the journal
   *   when there is one).
   * @throws {TypeError} (rejects) If the envelope cannot be encoded (lib/envelope.ts).
   */
  send<T>(type: string, body: T, trace?: string | TraceContext): Promise<Envelope<T>> {
    if (this.#closing) {
      return Promise.reject(
        new Error(`Cannot send ${JSON.stringify(type)}: reliable sender "${this.#name}" is closed`),
      );
    }
    const env = stamp({ pub: this.pub, epoch: this.epoch }, this.#seq + 1, type, body, trace);
    let frame: string;
    try {
      frame = encodeFrame([env]);
    } catch (error) {
      return Promise.reject(error);
    }
    this.#seq = env.seq;
    Object.freeze(env);
    const promise = new Promise<Envelope<T>>((resolve, reject) => {
      const entry: OutEntry = {
        seq: env.seq,
        frame,
        env,
        resolve: resolve as (env: Envelope) => void,
        reject,
        sends: 0,
      };
      this.#entries.push(entry);
      if (this.#journal) this.#unjournaled.push(entry);
    });
    // Marked handled: a send left unacknowledged at close() must not crash a
    // process that did not await it. Callers still see the rejection.
    promise.catch(() => {});
    this.#metrics.outDepth(this.pending());
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(() => this.#flush());
    }
    return promise;
  }

  /** Messages not yet acknowledged (in flight or queued). */
  pending(): number {
    return this.#entries.length - this.#head;
  }

  /** The last sequence number assigned. */
  get sequence(): number {
    return this.#seq;
  }

  /**
   * True when a receiver is selected and talked to this sender within `peerTimeoutMs`
   * (a live receiver answers every heartbeat): messages sent now reach a consumer.
   * Read-only; it changes nothing.
   */
  get receiverLive(): boolean {
    return this.#peer !== undefined && !this.#closing &&
      performance.now() - this.#peer.heardAt <= this.#peerTimeoutMs;
  }

  /**
   * Stops accepting messages, waits up to `closeTimeoutMs` for outstanding
   * acks, then closes the socket. Messages still unacknowledged are rejected
   * (the rejections are marked handled, so unawaited sends do not crash the
   * process) and, with a journal, kept for the next start. Idempotent.
   */
  close(): Promise<void> {
    this.#closePromise ??= this.#close();
    return this.#closePromise;
  }

  async #close(): Promise<void> {
    this.#closing = true;
    this.#flush();
    if (this.pending() > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.#drainWaiters.push(resolve)),
        new Promise<void>((resolve) => timer = setTimeout(resolve, this.#closeTimeoutMs)),
      ]);
      clearTimeout(timer);
    }
    await this.#poller.stop();
    this.#sock.close();
    const left = this.pending();
    const notJournaled = new Set(this.#unjournaled);
    for (let i = this.#head; i < this.#entries.length; i++) {
      const e = this.#entries[i];
      const kept = this.#journal !== undefined && !notJournaled.has(e);
      e.reject?.(
        new Error(
          `Cannot confirm delivery of seq ${e.seq}: reliable sender "${this.#name}" closed before the ack` +
            (kept ? " (kept in the journal)" : ""),
        ),
      );
    }
    const lost = this.#journal ? notJournaled.size : left;
    if (lost > 0) this.#metrics.dropped("closed", lost);
    this.#journal?.close();
    this.#resendLog.close();
    this.#journalLog.close();
    this.#peerLog.close();
    this.#metrics.close();
    this.#closed = true;
    logger.info("Reliable sender {channel} closed with {pending} unacknowledged", {
      channel: this.#name,
      pending: left,
      seq: this.#seq,
    });
  }

  #flush(): void {
    this.#flushScheduled = false;
    if (this.#closed) return;
    if (this.#journal && this.#unjournaled.length > 0) {
      try {
        this.#journal.append(this.#unjournaled, this.#seq);
      } catch (error) {
        // Keep them unjournaled and unsent; the loop retries the flush.
        this.#journalLog.report({ channel: this.#name, error: errorText(error) });
        return;
      }
      this.#unjournaled = [];
    }
    this.#pump();
  }

  /** Transmits entries from the cursor while the window and the socket allow. */
  #pump(): void {
    const peer = this.#peer;
    if (this.#closed || this.#unjournaled.length > 0 || peer === undefined) return;
    if (!this.#verified) return;
    if (performance.now() < this.#blockedUntil) return;
    let resent = 0;
    while (this.#cursor <= this.#seq && this.#cursor - this.#base < this.#window) {
      if (!this.#sock.writable) break;
      const e = this.#entries[this.#head + (this.#cursor - this.#base)];
      if (this.#cursor === this.#base) this.#lastProgressAt = performance.now();
      try {
        this.#sock.send([peer.rid, dataHeader(this.#base), e.frame])
          .catch(() => this.#blocked(e.seq));
      } catch {
        this.#blocked(e.seq);
        break;
      }
      if (e.sends++ === 0) {
        this.#metrics.sent(e.env?.type ?? "unknown");
      } else {
        resent++;
      }
      this.#cursor++;
    }
    if (resent > 0) this.#metrics.m.resends.inc(this.#metrics.labels, resent);
    // Called outside the loop (from send()), our socket calls may have
    // consumed the fd's edge for an ack the loop is waiting for.
    if (this.#sock.readable) this.#poller?.wake();
  }

  /** A send to the peer failed (its queue is full, or it is gone): retry from `seq` soon. */
  #blocked(seq: number): void {
    if (seq < this.#cursor && seq >= this.#base) this.#cursor = seq;
    this.#blockedUntil = performance.now() + BLOCKED_RETRY_MS;
  }

  async #loop(): Promise<PollBodyResult> {
    let n = 0;
    while (n < RECEIVE_BATCH && this.#sock.readable) {
      const frames = await this.#sock.receive();
      n++;
      this.#onControl(frames);
    }
    if (this.#unjournaled.length > 0) this.#flush();
    const now = performance.now();
    if (this.#cursor > this.#base && now - this.#lastProgressAt >= this.#resendDelay) {
      this.#resendLog.report({
        channel: this.#name,
        count: this.#cursor - this.#base,
        from: this.#base,
        why: `no ack for ${Math.round(this.#resendDelay)} ms`,
      });
      this.#cursor = this.#base;
      this.#lastProgressAt = now;
      this.#resendDelay = Math.min(this.#resendDelay * 2, Math.max(30_000, this.#resendMs));
    }
    if (this.#peer !== undefined && now - this.#peer.heardAt > this.#peerTimeoutMs) {
      this.#dropPeer(`silent for ${Math.round(now - this.#peer.heardAt)} ms`);
    }
    const dialled = this.#redialer.routingId;
    this.#redialer.check();
    if (this.#redialer.routingId !== dialled) this.#dropPeer("its connection was dialled again");
    this.#pump();
    // Heartbeats go to the selected receiver; connecting, to the one connection even
    // before it answered (its answer is what selects it).
    const connection = this.#redialer.routingId;
    const to = this.#peer?.rid ??
      (connection === undefined ? undefined : new TextEncoder().encode(connection));
    if (now - this.#lastHeartbeatAt >= this.#heartbeatMs && to !== undefined) {
      this.#lastHeartbeatAt = now;
      this.#heartbeat(to);
    }
    if (n >= RECEIVE_BATCH) return 0;
    let next = this.#heartbeatMs - (now - this.#lastHeartbeatAt);
    if (this.#cursor > this.#base) {
      next = Math.min(next, this.#resendDelay - (now - this.#lastProgressAt));
    }
    return Math.max(1, next);
  }

  #stream(): { pub: string; epoch: number } {
    return { pub: this.pub, epoch: this.epoch };
  }

  #heartbeat(to: Uint8Array): void {
    const hb = heartbeatFrame(this.#stream(), this.#base, this.#cursor - 1);
    try {
      this.#sock.send([to, hb]).catch(() => {});
      this.#metrics.sent("heartbeat");
    } catch {
      // no room or no route: the next heartbeat tries again
    }
  }

  #onControl(frames: Uint8Array[]): void {
    if (frames.length !== 2) {
      this.#metrics.decodeError("bad_frames");
      return;
    }
    const [rid, body] = frames;
    this.#redialer.heard();
    const msg = parseReceiverFrame(body, this.#stream());
    if (msg === null) return; // another stream's (an old epoch's) answer
    if (isFrameError(msg)) {
      this.#metrics.decodeError(msg.error);
      return;
    }
    const now = performance.now();
    if (this.#peer === undefined) {
      this.#selectPeer(rid, now);
    } else if (!sameBytes(rid, this.#peer.rid)) {
      this.#refuse("unknown_peer", rid, `a ${msg.k} while ${this.#peer.name} is the receiver`);
      return;
    }
    this.#peer!.heardAt = now;
    this.#metrics.ageSource.lastAt = now;
    if (!this.#verified && (msg.k === "ack" || msg.k === "nack")) {
      const claimed = msg.k === "ack" ? msg.upto : msg.from - 1;
      if (claimed > this.#seq) {
        this.#startNewEpoch(claimed);
        return;
      }
      this.#verified = true;
    }
    switch (msg.k) {
      case "hello":
        break;
      case "ack":
        if (msg.upto > this.#seq) {
          this.#refuse("sequence_jump", rid, `ack of ${msg.upto}, only ${this.#seq} sent`);
          break;
        }
        this.#ack(msg.upto);
        break;
      case "nack": {
        // The receiver has everything below `from` and needs `from` next.
        const from = msg.from;
        if (from > this.#seq + 1) {
          this.#refuse("sequence_jump", rid, `nack from ${from}, only ${this.#seq} sent`);
          break;
        }
        if (from > this.#base) this.#ack(from - 1);
        if (from >= this.#base && from < this.#cursor) {
          this.#resendLog.report({
            channel: this.#name,
            count: this.#cursor - from,
            from,
            why: "receiver asked",
          });
          this.#cursor = from;
          this.#lastProgressAt = now;
        }
        break;
      }
      case "bye":
        // The receiver is closing: confirm that its acks (ahead of this on the
        // same connection) arrived. What it did not handle goes to the next
        // receiver that talks to us.
        try {
          this.#sock.send([rid, byeAckFrame(this.#stream())]).catch(() => {});
        } catch { /* gone already */ }
        logger.info("Receiver of {channel} is closing with {pending} messages unacknowledged", {
          channel: this.#name,
          pending: this.pending(),
        });
        this.#dropPeer("it closed");
        break;
    }
  }

  /**
   * The receiver has up to `claimed` of this epoch, more than the journal says was sent:
   * the journal rolled back. Starts a new epoch holding every unacknowledged message,
   * renumbered from 1, journaled in one transaction; until that succeeds nothing is sent
   * (the next answer tries again).
   */
  #startNewEpoch(claimed: number): void {
    if (this.#journal && this.#unjournaled.length > 0) {
      try {
        this.#journal.append(this.#unjournaled, this.#seq);
        this.#unjournaled = [];
      } catch (error) {
        this.#journalLog.report({ channel: this.#name, error: errorText(error) });
        return;
      }
    }
    const epoch = Math.max(Date.now(), this.#epoch + 1);
    const kept = this.#entries.slice(this.#head).filter((e) => e.env !== undefined);
    const renumbered: OutEntry[] = kept.map((e, i) => {
      const env = Object.freeze(
        stamp({ pub: this.pub, epoch }, i + 1, e.env!.type, e.env!.body, e.env!),
      );
      return { ...e, seq: i + 1, env, frame: encodeFrame([env]), sends: 0 };
    });
    try {
      this.#journal?.restart(epoch, renumbered);
    } catch (error) {
      this.#journalLog.report({ channel: this.#name, error: errorText(error) });
      return;
    }
    const undecodable = this.pending() - kept.length;
    if (undecodable > 0) this.#metrics.dropped("closed", undecodable);
    logger.error(
      "Reliable sender {channel}: the receiver has up to seq {claimed} of epoch {old}, but the journal says {seq} were sent (it rolled back); starting epoch {epoch} with {pending} messages",
      {
        channel: this.#name,
        claimed,
        old: this.#epoch,
        seq: this.#seq,
        epoch,
        pending: renumbered.length,
      },
    );
    this.#metrics.controlRefused("sequence_jump");
    this.#epoch = epoch;
    this.#entries = renumbered;
    this.#head = 0;
    this.#seq = renumbered.length;
    this.#base = 1;
    this.#cursor = 1;
    this.#verified = true;
    this.#lastProgressAt = performance.now();
    if (this.#peer !== undefined) this.#heartbeat(this.#peer.rid);
  }

  #selectPeer(rid: Uint8Array, now: number): void {
    this.#peer = { rid, name: text.decode(rid), heardAt: now };
    // Everything unacknowledged goes (again) to the new receiver, from the base.
    this.#cursor = this.#base;
    this.#lastProgressAt = now;
    this.#blockedUntil = 0;
    logger.info("Reliable sender {channel} sends to {peer}", {
      channel: this.#name,
      peer: this.#peer.name,
      pending: this.pending(),
    });
    this.#heartbeat(rid);
  }

  #dropPeer(why: string): void {
    if (this.#peer === undefined) return;
    logger.warn("Reliable sender {channel} stopped sending to {peer}: {why}", {
      channel: this.#name,
      peer: this.#peer.name,
      why,
      pending: this.pending(),
    });
    this.#peer = undefined;
  }

  #refuse(reason: "unknown_peer" | "sequence_jump", rid: Uint8Array, detail: string): void {
    this.#metrics.controlRefused(reason);
    this.#peerLog.report({
      channel: this.#name,
      peer: text.decode(rid).slice(0, 64),
      reason,
      detail,
    });
  }

  #ack(upto: number): void {
    upto = Math.min(upto, this.#seq - this.#unjournaled.length);
    if (upto < this.#base) return;
    const count = upto - this.#base + 1;
    const acked = this.#entries.slice(this.#head, this.#head + count);
    this.#head += count;
    this.#base = upto + 1;
    if (this.#cursor < this.#base) this.#cursor = this.#base;
    this.#lastProgressAt = performance.now();
    this.#resendDelay = this.#resendMs;
    if (this.#head > 4096 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
    if (this.#journal) {
      try {
        this.#journal.deleteUpTo(upto);
      } catch (error) {
        // Harmless for delivery: a restart resends them and the receiver dedups.
        this.#journalLog.report({ channel: this.#name, error: errorText(error) });
      }
    }
    for (const e of acked) e.resolve?.(e.env!);
    this.#metrics.outDepth(this.pending());
    if (this.pending() === 0) {
      for (const w of this.#drainWaiters.splice(0)) w();
    }
  }
}
