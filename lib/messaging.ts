/**
 * Messaging between services over ZeroMQ: sequence numbers, gap detection,
 * heartbeats, and a lossless channel for orders.
 *
 * ## Delivery policy
 *
 * - **Market data and signals** ({@linkcode Publisher} → {@linkcode Subscriber},
 *   PUB/SUB) may be dropped under overload. A PUB socket never blocks: when
 *   a subscriber's queue (the high-water mark, default 10,000 messages) is
 *   full, ZeroMQ drops that subscriber's messages. Every message carries
 *   `(pub, epoch, seq)` with one sequence counter per publisher (heartbeats
 *   included), so a subscriber counts what it missed
 *   (`messaging_sequence_gaps_total`, `messaging_messages_missed_total`),
 *   including a lost tail, as soon as the next heartbeat arrives. A new
 *   `epoch` is a publisher restart, not a gap. Messages published before a
 *   subscriber connects are not seen by it and are not counted (ZeroMQ's
 *   "slow joiner").
 * - **Approved orders and execution reports** ({@linkcode ReliableSender} →
 *   {@linkcode ReliableReceiver}, DEALER → ROUTER) must not be lost. Each
 *   message waits in the sender's outbox (optionally journaled in SQLite)
 *   until the receiver acknowledges it; the receiver delivers each stream in
 *   sequence order, once, and acknowledges cumulatively after the handler
 *   settles. See {@linkcode ReliableSender} for the protocol.
 *
 * ## Receive path
 *
 * Deno loses zeromq.js wake-ups (deno issue 36317), so no socket here ever
 * awaits a pending `receive()`: every socket has timeouts of 0 and one
 * {@linkcode SocketPoller} (lib/zmq_poll.ts) waiting on its `ZMQ_FD`.
 * Handlers run one at a time, in order; do not `await close()` from inside a
 * handler (close waits for the handler in progress).
 *
 * ## Closing
 *
 * `close()` is bounded and never hangs. A subscriber drops what it had
 * read but not yet handled (`messaging_dropped_total{reason="closed"}`); a
 * reliable receiver leaves it unacknowledged, so it is resent. Note that `Deno.exit()` right after
 * `close()` skips ZeroMQ's linger (measured here: 3 of 10 queued 4 MB
 * messages never left), so a publisher's last messages may be lost that way;
 * a process that ends by itself lets them flush for `lingerMs`. The reliable
 * channel does not depend on linger: the sender waits for acks, and the
 * receiver waits for each sender to confirm it has the last acks.
 *
 * ## Endpoints
 *
 * `"bind:tcp://127.0.0.1:5555"`, `"connect:tcp://host:5555"`, or a plain
 * address, which binds for {@linkcode Publisher} and {@linkcode ReliableSender}
 * and connects for {@linkcode Subscriber} and {@linkcode ReliableReceiver}.
 * Port 0 (or `*`) binds a free port; read it back from `endpoint`.
 *
 * ## Metrics (on the registry passed in; families shared by all channels)
 *
 * `messaging_messages_sent_total`, `messaging_messages_received_total`
 * `{service,channel,type}`; `messaging_decode_errors_total{service,channel,reason}`;
 * `messaging_sequence_gaps_total`, `messaging_messages_missed_total`,
 * `messaging_publisher_restarts_total`, `messaging_duplicates_total`,
 * `messaging_handler_errors_total`, `messaging_resends_total`
 * `{service,channel}`; `messaging_dropped_total{service,channel,reason}`;
 * `messaging_last_message_age_seconds{service,channel}` (computed at scrape
 * time). The `system_zmq_queue_depth` gauge passed as `queueDepth` gets
 * `{queue: "<name>_in"}` (received, not yet handled) and `"<name>_out"`
 * (outgoing backlog: unacknowledged messages for the reliable sender; 0 for a
 * publisher, whose queue lives inside ZeroMQ and whose drops show up as gaps
 * at the subscribers).
 *
 * @example
 * ```ts
 * import { Registry } from "prom-client";
 * import { Publisher, Subscriber } from "./messaging.ts";
 *
 * const registry = new Registry();
 * const pub = await Publisher.open("bind:tcp://127.0.0.1:0", { service: "market-data", name: "md", registry });
 * const sub = await Subscriber.open([pub.endpoint], { service: "signal-bridge", name: "md", registry });
 * sub.onMessage((env) => console.log(env.type, env.seq, env.body));
 * pub.publish("trade", { symbol: "AAPL", px: 190.1 });
 * await sub.close();
 * await pub.close();
 * ```
 *
 * @module
 */

import * as zmq from "zeromq";
import { Counter, Gauge, type Registry } from "prom-client";
import { getLogger } from "@logtape/logtape";
import type { DatabaseSync, StatementSync } from "node:sqlite";
import {
  decode,
  DECODE_ERROR_CODES,
  DecodeError,
  encodeText,
  type Envelope,
  newTraceId,
  nowMs,
} from "./envelope.ts";
import { offloadCheckpoints } from "./wal_checkpoint.ts";
import { FdWaiter, type PollBodyResult, socketFd, SocketPoller } from "./zmq_poll.ts";

const logger = getLogger(["trading", "messaging"]);

// ---------------------------------------------------------------------------
// Options

/** Options every messaging socket takes. */
export interface MessagingOptions {
  /** The service's name, the `service` label of every metric. */
  service: string;
  /** The registry the `messaging_*` metrics are registered on. */
  registry: Registry;
  /** `system_zmq_queue_depth` (created by lib/metrics.ts); set per `<name>_in`/`<name>_out`. */
  queueDepth?: Gauge<"service" | "queue">;
  /**
   * Longest single wait of the socket's poll loop, in ms (default 100). A
   * safety net only: the loop wakes on the socket's events, so tests set it
   * high to prove no delivery depends on it.
   */
  pollMs?: number;
}

/** A body validator per message type: returns the (possibly parsed) body, throws if invalid. */
export type BodySchemas = Record<string, (body: unknown) => unknown>;

/** A message handler. Errors (thrown or rejected) are counted and logged, never fatal. */
export type MessageHandler = (env: Envelope) => void | Promise<void>;

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
}

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
}

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
}

// ---------------------------------------------------------------------------
// Endpoints

/** A parsed endpoint string. */
export interface Endpoint {
  mode: "bind" | "connect";
  address: string;
}

/**
 * Parses `"bind:<address>"`, `"connect:<address>"` or `"<address>"`.
 *
 * @throws {Error} If the address is not `tcp://`, `ipc://` or `inproc://`.
 */
export function parseEndpoint(endpoint: string, defaultMode: "bind" | "connect"): Endpoint {
  let mode = defaultMode;
  let address = endpoint.trim();
  const m = /^(bind|connect):(.*)$/.exec(address);
  if (m) {
    mode = m[1] as "bind" | "connect";
    address = m[2];
  }
  if (!/^(tcp|ipc|inproc):\/\/\S+$/.test(address)) {
    throw new Error(
      `Cannot parse endpoint ${JSON.stringify(endpoint)}: expected "bind:tcp://host:port", ` +
        `"connect:tcp://host:port" or "tcp://host:port"`,
    );
  }
  return { mode, address };
}

async function attach(socket: zmq.Socket, ep: Endpoint, what: string): Promise<string> {
  try {
    if (ep.mode === "bind") {
      await socket.bind(ep.address);
      return socket.lastEndpoint ?? ep.address;
    }
    socket.connect(ep.address);
    return ep.address;
  } catch (cause) {
    throw new Error(
      `Cannot ${ep.mode} ${what} to ${ep.address}: ${(cause as Error).message ?? cause}`,
      { cause },
    );
  }
}

function checkName(what: string, name: string): void {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
    throw new Error(
      `Cannot open ${what}: name must be 1-64 characters of [A-Za-z0-9_.-], got ${
        JSON.stringify(name)
      }`,
    );
  }
}

function checkPositive(what: string, field: string, value: number | undefined): void {
  if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
    throw new Error(`Cannot open ${what}: "${field}" must be a positive number, got ${value}`);
  }
}

// ---------------------------------------------------------------------------
// Metrics

/** Names of the metric families this module registers. */
export const MESSAGING_METRICS = {
  sent: "messaging_messages_sent_total",
  received: "messaging_messages_received_total",
  decodeErrors: "messaging_decode_errors_total",
  gaps: "messaging_sequence_gaps_total",
  missed: "messaging_messages_missed_total",
  restarts: "messaging_publisher_restarts_total",
  duplicates: "messaging_duplicates_total",
  lastMessageAge: "messaging_last_message_age_seconds",
  dropped: "messaging_dropped_total",
  handlerErrors: "messaging_handler_errors_total",
  resends: "messaging_resends_total",
} as const;

/** Values of the `reason` label of `messaging_decode_errors_total`. */
export const DECODE_ERROR_REASONS = [...DECODE_ERROR_CODES, "schema", "bad_frames"] as const;

/** Values of the `reason` label of `messaging_dropped_total`. */
export const DROP_REASONS = [
  "send_failed", // ZeroMQ refused the message
  "out_of_order", // PUB/SUB: sequence at or below the last one; reliable: ahead of the next expected (resent later)
  "unknown_type", // reliable receiver: a type outside `types`
  "closed", // subscriber closed with messages received but not handled; reliable sender closed (without journal) before the ack
] as const;

type ChannelLabels = "service" | "channel";

interface Metrics {
  sent: Counter<ChannelLabels | "type">;
  received: Counter<ChannelLabels | "type">;
  decodeErrors: Counter<ChannelLabels | "reason">;
  gaps: Counter<ChannelLabels>;
  missed: Counter<ChannelLabels>;
  restarts: Counter<ChannelLabels>;
  duplicates: Counter<ChannelLabels>;
  dropped: Counter<ChannelLabels | "reason">;
  handlerErrors: Counter<ChannelLabels>;
  resends: Counter<ChannelLabels>;
  age: Gauge<ChannelLabels>;
  ageSources: Set<AgeSource>;
}

interface AgeSource {
  service: string;
  channel: string;
  /** performance.now() of the last message (or of open). */
  lastAt: number;
}

const metricsByRegistry = new WeakMap<Registry, Metrics>();

function counter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: L[],
): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing !== undefined) {
    if (!(existing instanceof Counter)) {
      throw new Error(
        `Cannot register metric "${name}": a metric that is not a counter has that name`,
      );
    }
    return existing as Counter<L>;
  }
  return new Counter({ name, help, labelNames, registers: [registry] });
}

function messagingMetrics(registry: Registry): Metrics {
  let m = metricsByRegistry.get(registry);
  if (m !== undefined) return m;
  const ch: ChannelLabels[] = ["service", "channel"];
  const ageSources = new Set<AgeSource>();
  let age = registry.getSingleMetric(MESSAGING_METRICS.lastMessageAge) as
    | Gauge<ChannelLabels>
    | undefined;
  if (age !== undefined && !(age instanceof Gauge)) {
    throw new Error(
      `Cannot register metric "${MESSAGING_METRICS.lastMessageAge}": a metric that is not a gauge has that name`,
    );
  }
  age ??= new Gauge({
    name: MESSAGING_METRICS.lastMessageAge,
    help: "Seconds since the channel last received a valid message, heartbeats included " +
      "(since it opened, if none yet)",
    labelNames: ch,
    registers: [registry],
    collect() {
      const now = performance.now();
      for (const s of ageSources) {
        this.set({ service: s.service, channel: s.channel }, (now - s.lastAt) / 1000);
      }
    },
  });
  m = {
    sent: counter(
      registry,
      MESSAGING_METRICS.sent,
      "Messages sent (first transmissions, heartbeats included)",
      [...ch, "type"],
    ),
    received: counter(
      registry,
      MESSAGING_METRICS.received,
      "Messages received and decoded (heartbeats included, duplicates excluded)",
      [...ch, "type"],
    ),
    decodeErrors: counter(
      registry,
      MESSAGING_METRICS.decodeErrors,
      "Frames that could not be decoded or whose body failed its schema, by reason",
      [...ch, "reason"],
    ),
    gaps: counter(
      registry,
      MESSAGING_METRICS.gaps,
      "Sequence gaps seen on a channel (a publisher restart is not a gap)",
      ch,
    ),
    missed: counter(
      registry,
      MESSAGING_METRICS.missed,
      "Messages missing from sequence gaps",
      ch,
    ),
    restarts: counter(
      registry,
      MESSAGING_METRICS.restarts,
      "Publisher restarts seen (a new epoch from a known publisher)",
      ch,
    ),
    duplicates: counter(
      registry,
      MESSAGING_METRICS.duplicates,
      "Reliable messages received again after delivery (resends), acknowledged and not redelivered",
      ch,
    ),
    dropped: counter(
      registry,
      MESSAGING_METRICS.dropped,
      "Messages dropped, by reason",
      [...ch, "reason"],
    ),
    handlerErrors: counter(
      registry,
      MESSAGING_METRICS.handlerErrors,
      "Message handlers that threw or rejected",
      ch,
    ),
    resends: counter(
      registry,
      MESSAGING_METRICS.resends,
      "Reliable messages sent again because no ack came in time or the receiver asked",
      ch,
    ),
    age,
    ageSources,
  };
  metricsByRegistry.set(registry, m);
  return m;
}

/** Maps message types to a closed set of label values. */
class TypeLabels {
  readonly #known = new Set<string>(["heartbeat"]);
  readonly #learn: boolean;
  static readonly MAX_LEARNED = 32;

  constructor(explicit: Iterable<string> | undefined) {
    let any = false;
    for (const t of explicit ?? []) {
      this.#known.add(t);
      any = true;
    }
    this.#learn = !any;
  }

  label(type: string): string {
    if (this.#known.has(type)) return type;
    if (
      this.#learn && this.#known.size <= TypeLabels.MAX_LEARNED &&
      /^[A-Za-z0-9_.:-]{1,64}$/.test(type)
    ) {
      this.#known.add(type);
      return type;
    }
    return "unknown";
  }
}

/** Per-channel metric children and the age source. */
class ChannelMetrics {
  readonly m: Metrics;
  readonly labels: { service: string; channel: string };
  readonly ageSource: AgeSource;
  readonly #types: TypeLabels;
  readonly #sent = new Map<string, Counter.Internal>();
  readonly #received = new Map<string, Counter.Internal>();
  readonly #inDepth?: Gauge.Internal<"service" | "queue">;
  readonly #outDepth?: Gauge.Internal<"service" | "queue">;

  constructor(
    opts: MessagingOptions & { name: string },
    types: Iterable<string> | undefined,
    age: boolean,
  ) {
    this.m = messagingMetrics(opts.registry);
    this.labels = { service: opts.service, channel: opts.name };
    this.#types = new TypeLabels(types);
    this.ageSource = { service: opts.service, channel: opts.name, lastAt: performance.now() };
    if (age) this.m.ageSources.add(this.ageSource);
    this.#inDepth = opts.queueDepth?.labels({ service: opts.service, queue: `${opts.name}_in` });
    this.#outDepth = opts.queueDepth?.labels({ service: opts.service, queue: `${opts.name}_out` });
    this.#inDepth?.set(0);
    this.#outDepth?.set(0);
  }

  typeLabel(type: string): string {
    return this.#types.label(type);
  }

  sent(type: string): void {
    const label = this.#types.label(type);
    let c = this.#sent.get(label);
    if (c === undefined) {
      c = this.m.sent.labels({ ...this.labels, type: label });
      this.#sent.set(label, c);
    }
    c.inc();
  }

  received(type: string): void {
    const label = this.#types.label(type);
    let c = this.#received.get(label);
    if (c === undefined) {
      c = this.m.received.labels({ ...this.labels, type: label });
      this.#received.set(label, c);
    }
    c.inc();
  }

  decodeError(reason: typeof DECODE_ERROR_REASONS[number]): void {
    this.m.decodeErrors.inc({ ...this.labels, reason });
  }

  dropped(reason: typeof DROP_REASONS[number], n = 1): void {
    this.m.dropped.inc({ ...this.labels, reason }, n);
  }

  inDepth(n: number): void {
    this.#inDepth?.set(n);
  }

  outDepth(n: number): void {
    this.#outDepth?.set(n);
  }

  close(): void {
    if (this.m.ageSources.delete(this.ageSource)) this.m.age.remove(this.labels);
    this.#inDepth?.set(0);
    this.#outDepth?.set(0);
  }
}

// ---------------------------------------------------------------------------
// Rate-limited logging

/** Logs the first event of a burst, then at most one summary a second. */
class BurstLog {
  #suppressed = 0;
  #lastProps: Record<string, unknown> = {};
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly level: "warn" | "error",
    readonly message: string,
    readonly summary: string,
  ) {}

  report(props: Record<string, unknown>): void {
    if (this.#timer === undefined) {
      logger[this.level](this.message, props);
      this.#arm();
      return;
    }
    this.#suppressed++;
    this.#lastProps = props;
  }

  close(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#flush();
  }

  #arm(): void {
    const timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#flush()) this.#arm();
    }, 1000);
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  #flush(): boolean {
    if (this.#suppressed === 0) return false;
    logger[this.level](this.summary, { ...this.#lastProps, suppressed: this.#suppressed });
    this.#suppressed = 0;
    return true;
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

const RECEIVE_BATCH = 256;
const MAX_STREAMS = 1024;
const utf8 = new TextDecoder("utf-8", { fatal: true });
const utf8Encoder = new TextEncoder();

function isPromise(v: unknown): v is Promise<unknown> {
  return typeof (v as Promise<unknown> | undefined)?.then === "function";
}

// ---------------------------------------------------------------------------
// Publisher

/**
 * A PUB socket that stamps every message with `(pub, epoch, seq, ts, trace)`
 * and sends a `heartbeat` every `heartbeatMs` on the same sequence.
 * Never blocks: a subscriber whose queue is full misses messages (it counts
 * them as gaps).
 *
 * @example
 * ```ts
 * const pub = await Publisher.open("bind:tcp://127.0.0.1:5555", { service: "market-data", name: "md", registry });
 * const env = pub.publish("trade", { symbol: "AAPL", px: 190.1, qty: 5 });
 * console.log(env.seq, env.trace);
 * await pub.close();
 * ```
 */
export class Publisher {
  readonly #sock: zmq.Publisher;
  readonly #metrics: ChannelMetrics;
  readonly #name: string;
  readonly #pub: string;
  readonly #epoch: number;
  readonly #endpoint: string;
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
    this.#endpoint = endpoint;
    this.#name = opts.name;
    this.#pub = `${opts.service}/${opts.name}`;
    this.#epoch = Date.now();
    this.#metrics = metrics;
    this.#sendFailures = new BurstLog(
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
    const sock = new zmq.Publisher({
      sendTimeout: 0,
      linger: opts.lingerMs ?? 200,
      sendHighWaterMark: opts.highWaterMark ?? 10_000,
    });
    let resolved: string;
    try {
      resolved = await attach(sock, ep, what);
    } catch (error) {
      sock.close();
      metrics.close();
      throw error;
    }
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
    const env: Envelope<T> = {
      v: 1,
      type,
      seq: this.#seq + 1,
      pub: this.#pub,
      epoch: this.#epoch,
      ts: nowMs(),
      trace: trace ?? newTraceId(),
      body,
    };
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

  /** The resolved endpoint (the bound address, port 0 resolved; or the connect address). */
  get endpoint(): string {
    return this.#endpoint;
  }

  /** This publisher's `pub` field: `"<service>/<name>"`. */
  get pub(): string {
    return this.#pub;
  }

  /** This publisher's epoch (its start time in epoch ms). */
  get epoch(): number {
    return this.#epoch;
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

// ---------------------------------------------------------------------------
// Subscriber

/** What a {@linkcode Subscriber} knows about one publisher. */
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

/**
 * A SUB socket over one or more endpoints (connect: fan-in from several
 * publishers; bind: publishers connect to it). Decodes and validates every
 * frame, tracks `(epoch, seq)` per publisher, and calls the handler in order,
 * one message at a time (an async handler is awaited before the next).
 * Heartbeats refresh staleness and expose lost tails but are not delivered.
 *
 * Messages are read only once a handler is set with
 * {@linkcode Subscriber.onMessage}; until then they wait in ZeroMQ.
 *
 * @example
 * ```ts
 * const sub = await Subscriber.open(["tcp://127.0.0.1:5555"], {
 *   service: "signal-bridge", name: "md", registry, types: ["trade"],
 *   schemas: { trade: (b) => TradeSchema.parse(b) },
 * });
 * sub.onMessage((env) => onTrade(env.body as Trade));
 * ```
 */
export class Subscriber {
  readonly #sock: zmq.Subscriber;
  readonly #metrics: ChannelMetrics;
  readonly #name: string;
  readonly #pollMs: number;
  readonly #endpoints: string[];
  readonly #types: Set<string> | undefined;
  readonly #schemas: BodySchemas;
  readonly #streams = new Map<string, StreamStats>();
  readonly #decodeLog: BurstLog;
  readonly #schemaLog: BurstLog;
  readonly #gapLog: BurstLog;
  readonly #handlerLog: BurstLog;
  #handler: MessageHandler | undefined;
  #poller: SocketPoller | undefined;
  #closed = false;
  #stats = { received: 0, delivered: 0, decodeErrors: 0, handlerErrors: 0, gaps: 0, missed: 0 };

  private constructor(
    sock: zmq.Subscriber,
    endpoints: string[],
    opts: SubscriberOptions,
    metrics: ChannelMetrics,
  ) {
    this.#sock = sock;
    this.#endpoints = endpoints;
    this.#name = opts.name;
    this.#pollMs = opts.pollMs ?? 100;
    this.#metrics = metrics;
    this.#types = opts.types ? new Set(opts.types) : undefined;
    this.#schemas = opts.schemas ?? {};
    this.#decodeLog = new BurstLog(
      "warn",
      "Cannot decode a frame on {channel}: {reason}",
      "Cannot decode {suppressed} more frames on {channel}",
    );
    this.#schemaLog = new BurstLog(
      "warn",
      "Invalid {type} body on {channel} from {pub}: {error}",
      "Invalid bodies on {channel}: {suppressed} more",
    );
    this.#gapLog = new BurstLog(
      "warn",
      "Sequence gap on {channel} from {pub}: missed {missed} messages before seq {seq}",
      "Sequence gaps on {channel}: {suppressed} more",
    );
    this.#handlerLog = new BurstLog(
      "error",
      "Message handler failed on {channel} for {type} seq {seq}: {error}",
      "Message handler failed on {channel}: {suppressed} more",
    );
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
    if (endpoints.length === 0) throw new Error(`Cannot open ${what}: no endpoint given`);
    const parsed = endpoints.map((e) => parseEndpoint(e, "connect"));
    const types = new Set([...(opts.types ?? []), ...Object.keys(opts.schemas ?? {})]);
    const metrics = new ChannelMetrics(opts, types.size > 0 ? types : undefined, true);
    const sock = new zmq.Subscriber({
      receiveTimeout: 0,
      linger: 0,
      receiveHighWaterMark: opts.highWaterMark ?? 10_000,
    });
    const resolved: string[] = [];
    try {
      for (const ep of parsed) resolved.push(await attach(sock, ep, what));
      sock.subscribe();
    } catch (error) {
      sock.close();
      metrics.close();
      throw error;
    }
    logger.info("Subscriber {channel} ready on {endpoints}", {
      service: opts.service,
      channel: opts.name,
      endpoints: resolved,
    });
    return new Subscriber(sock, resolved, opts, metrics);
  }

  /**
   * Sets the handler and starts reading. The handler is called in order,
   * one message at a time; what it throws or rejects is counted and logged.
   *
   * @throws {Error} If a handler is already set or the subscriber is closed.
   */
  onMessage(handler: MessageHandler): void {
    if (this.#closed) throw new Error(`Cannot set a handler: subscriber "${this.#name}" is closed`);
    if (this.#handler) {
      throw new Error(`Cannot set a second handler on subscriber "${this.#name}"`);
    }
    this.#handler = handler;
    this.#poller = SocketPoller.start(this.#sock, () => this.#drain(), {
      maxWaitMs: this.#pollMs,
      onError: (error) =>
        logger.error("Receive loop error on {channel}: {error}", {
          channel: this.#name,
          error: errorText(error),
        }),
    });
  }

  /** The resolved endpoints (bound addresses with their ports, or connect addresses). */
  get endpoints(): readonly string[] {
    return this.#endpoints;
  }

  /** A snapshot of counters and per-publisher state. */
  stats(): ReceiverStats {
    return {
      ...this.#stats,
      duplicates: 0,
      streams: [...this.#streams.values()].map((s) => ({ ...s })),
    };
  }

  /**
   * Stops reading (the message being handled finishes first), then closes
   * the socket. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#poller?.stop();
    this.#sock.close();
    for (const l of [this.#decodeLog, this.#schemaLog, this.#gapLog, this.#handlerLog]) l.close();
    this.#metrics.close();
    logger.info("Subscriber {channel} closed", { channel: this.#name, ...this.#stats });
  }

  async #drain(): Promise<PollBodyResult> {
    const batch: Uint8Array[][] = [];
    while (batch.length < RECEIVE_BATCH && this.#sock.readable) {
      batch.push(await this.#sock.receive());
    }
    if (batch.length === 0) return undefined;
    this.#metrics.inDepth(batch.length);
    for (let i = 0; i < batch.length; i++) {
      if (this.#closed) {
        // close() waits for the message in hand, not for the rest of the batch.
        this.#metrics.dropped("closed", batch.length - i);
        break;
      }
      const pending = this.#process(batch[i]);
      if (pending !== undefined) {
        // A scrape can only see the gauge while a handler awaits: set it then, not per message.
        this.#metrics.inDepth(batch.length - i);
        await pending;
      }
    }
    this.#metrics.inDepth(0);
    return batch.length === RECEIVE_BATCH ? 0 : undefined;
  }

  #process(frames: Uint8Array[]): Promise<void> | undefined {
    if (frames.length !== 1) {
      this.#decodeError("bad_frames", `${frames.length} frames, expected 1`);
      return undefined;
    }
    let env: Envelope;
    try {
      env = decode(frames[0]);
    } catch (error) {
      this.#decodeError(
        error instanceof DecodeError ? error.code : "bad_envelope",
        errorText(error),
      );
      return undefined;
    }
    if (!this.#track(env)) return undefined;
    this.#metrics.ageSource.lastAt = performance.now();
    this.#stats.received++;
    this.#metrics.received(env.type);
    if (env.type === "heartbeat") return undefined;
    if (this.#types !== undefined && !this.#types.has(env.type)) return undefined;
    const schema = this.#schemas[env.type];
    if (schema !== undefined) {
      try {
        env = { ...env, body: schema(env.body) };
      } catch (error) {
        this.#stats.decodeErrors++;
        this.#metrics.decodeError("schema");
        this.#schemaLog.report({
          channel: this.#name,
          pub: env.pub,
          type: env.type,
          seq: env.seq,
          error: schemaErrorText(error),
        });
        return undefined;
      }
    }
    return this.#deliver(Object.freeze(env));
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
        channel: this.#name,
        pub: env.pub,
        epoch: env.epoch,
        seq: env.seq,
      });
      return true;
    }
    if (env.epoch !== st.epoch) {
      logger.info("Publisher {pub} restarted on {channel} (epoch {oldEpoch} to {epoch})", {
        channel: this.#name,
        pub: env.pub,
        oldEpoch: st.epoch,
        epoch: env.epoch,
        lastSeq: st.lastSeq,
      });
      st.restarts++;
      this.#metrics.m.restarts.inc(this.#metrics.labels);
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
      this.#stats.gaps++;
      this.#stats.missed += missed;
      this.#metrics.m.gaps.inc(this.#metrics.labels);
      this.#metrics.m.missed.inc(this.#metrics.labels, missed);
      this.#gapLog.report({ channel: this.#name, pub: env.pub, missed, seq: env.seq });
      st.lastSeq = env.seq;
      st.received++;
      return true;
    }
    st.outOfOrder++;
    this.#metrics.dropped("out_of_order");
    return false;
  }

  #deliver(env: Envelope): Promise<void> | undefined {
    this.#stats.delivered++;
    try {
      const r = this.#handler!(env);
      if (isPromise(r)) return r.then(undefined, (error) => this.#handlerFailed(env, error));
    } catch (error) {
      this.#handlerFailed(env, error);
    }
    return undefined;
  }

  #handlerFailed(env: Envelope, error: unknown): void {
    this.#stats.handlerErrors++;
    this.#metrics.m.handlerErrors.inc(this.#metrics.labels);
    this.#handlerLog.report({
      channel: this.#name,
      type: env.type,
      seq: env.seq,
      pub: env.pub,
      error: errorText(error),
    });
  }

  #decodeError(reason: typeof DECODE_ERROR_REASONS[number], detail: string): void {
    this.#stats.decodeErrors++;
    this.#metrics.decodeError(reason);
    this.#decodeLog.report({ channel: this.#name, reason, detail });
  }
}

/** A short, body-free description of a validation error (zod's issues, else the message). */
function schemaErrorText(error: unknown): string {
  const issues = (error as { issues?: { path?: unknown[]; code?: string }[] } | undefined)?.issues;
  if (Array.isArray(issues)) {
    return issues.slice(0, 3).map((i) => `${(i.path ?? []).join(".") || "(body)"}: ${i.code}`)
      .join(", ");
  }
  return errorText(error).slice(0, 200);
}

// ---------------------------------------------------------------------------
// Reliable channel

/*
 * Wire protocol (DEALER sender → ROUTER receiver), all control frames JSON:
 *   data       [ {"k":"msg","base":B}, <envelope> ]
 *   heartbeat  [ {"k":"hb","pub":P,"epoch":E,"base":B,"sent":S} ]
 *   ack        [ {"k":"ack","pub":P,"epoch":E,"upto":U} ]      receiver → sender
 *   nack       [ {"k":"nack","pub":P,"epoch":E,"from":F} ]     receiver → sender
 *   bye        [ {"k":"bye","pub":P,"epoch":E} ]               receiver → sender, on close
 *   byeack     [ {"k":"byeack","pub":P,"epoch":E} ]            sender → receiver
 * B: the sender's lowest unacknowledged seq (everything below was acked, so a
 * receiver that has never seen the stream starts there). S: the highest seq
 * sent so far. U: every seq <= U has been delivered. F: the next seq the
 * receiver needs.
 */

interface OutEntry {
  seq: number;
  /** The envelope's JSON text (sent as a string: see encodeText). */
  frame: string;
  env?: Envelope;
  resolve?: (env: Envelope) => void;
  reject?: (error: Error) => void;
  sends: number;
}

interface Journal {
  db: DatabaseSync;
  /** Stops the worker-thread checkpoints (lib/wal_checkpoint.ts); call before db.close(). */
  release: () => void;
  insert: StatementSync;
  setMeta: StatementSync;
  deleteUpTo: StatementSync;
}

/**
 * The sending end of the lossless channel (approved orders, execution
 * reports): a DEALER socket.
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
 * what was pending and the receiver's dedup still applies.
 *
 * Its `messaging_last_message_age_seconds` is the time since the receiver
 * last answered (it acks every heartbeat), so a missing receiver shows up as
 * a growing age while `system_zmq_queue_depth{queue="<name>_out"}` climbs.
 *
 * One receiver per sender (a DEALER spreads messages over all connected
 * peers). Delivery is exactly once across receiver restarts made with
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
  readonly #sock: zmq.Dealer;
  readonly #metrics: ChannelMetrics;
  readonly #name: string;
  readonly #pollMs: number;
  readonly #pub: string;
  readonly #epoch: number;
  readonly #endpoint: string;
  readonly #journal: Journal | undefined;
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
    sock: zmq.Dealer,
    endpoint: string,
    opts: ReliableSenderOptions,
    metrics: ChannelMetrics,
    journal: Journal | undefined,
    restored: { epoch: number; lastSeq: number; entries: OutEntry[] },
  ) {
    this.#sock = sock;
    this.#endpoint = endpoint;
    this.#name = opts.name;
    this.#pollMs = opts.pollMs ?? 100;
    this.#pub = `${opts.service}/${opts.name}`;
    this.#metrics = metrics;
    this.#journal = journal;
    this.#window = opts.window ?? 1000;
    this.#resendMs = opts.resendMs ?? 1000;
    this.#resendDelay = this.#resendMs;
    this.#heartbeatMs = opts.heartbeatMs ?? 1000;
    this.#closeTimeoutMs = opts.closeTimeoutMs ?? 2000;
    this.#epoch = restored.epoch;
    this.#seq = restored.lastSeq;
    this.#entries = restored.entries;
    this.#base = restored.entries[0]?.seq ?? restored.lastSeq + 1;
    this.#cursor = this.#base;
    this.#resendLog = new BurstLog(
      "warn",
      "Resending {count} unacknowledged messages on {channel} from seq {from} ({why})",
      "Resent on {channel}: {suppressed} more times",
    );
    this.#journalLog = new BurstLog(
      "error",
      "Cannot write the journal of {channel}: {error}",
      "Cannot write the journal of {channel}: {suppressed} more failures",
    );
    this.#metrics.outDepth(this.pending());
    this.#poller = SocketPoller.start(sock, () => this.#loop(), {
      maxWaitMs: this.#pollMs,
      onError: (error) =>
        logger.error("Send loop error on {channel}: {error}", {
          channel: this.#name,
          error: errorText(error),
        }),
      wantsWrite: () =>
        this.#unjournaled.length === 0 && this.#cursor <= this.#seq &&
        this.#cursor - this.#base < this.#window,
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
      ] as const
    ) {
      checkPositive(what, f, opts[f]);
    }
    const ep = parseEndpoint(endpoint, "bind");
    const pub = `${opts.service}/${opts.name}`;
    let journal: Journal | undefined;
    let restored = { epoch: Date.now(), lastSeq: 0, entries: [] as OutEntry[] };
    if (opts.journalPath !== undefined) {
      ({ journal, restored } = await openJournal(opts.journalPath, pub));
    }
    const metrics = new ChannelMetrics(opts, opts.types, true);
    const sock = new zmq.Dealer({
      // Queue only on completed connections: while no receiver is there the
      // socket is not writable and messages wait in the outbox.
      immediate: true,
      sendTimeout: 0,
      receiveTimeout: 0,
      linger: 0,
      sendHighWaterMark: opts.highWaterMark ?? 10_000,
      receiveHighWaterMark: 10_000,
    });
    let resolved: string;
    try {
      resolved = await attach(sock, ep, what);
    } catch (error) {
      sock.close();
      metrics.close();
      journal?.release();
      journal?.db.close();
      throw error;
    }
    logger.info("Reliable sender {channel} ready on {endpoint} ({pending} pending)", {
      service: opts.service,
      channel: opts.name,
      endpoint: resolved,
      epoch: restored.epoch,
      pending: restored.entries.length,
      journal: opts.journalPath ?? null,
    });
    return new ReliableSender(sock, resolved, opts, metrics, journal, restored);
  }

  /**
   * Sends one message; resolves with its envelope (frozen) once the receiver
   * has handled and acknowledged it. Never drops: while the receiver is away
   * the message waits (and is resent).
   *
   * @throws {Error} (rejects) If the sender is closing or closed; or, at
   *   close, if the message was still unacknowledged (it stays in the journal
   *   when there is one).
   * @throws {TypeError} (rejects) If the body cannot be serialised as JSON.
   */
  send<T>(type: string, body: T, trace?: string): Promise<Envelope<T>> {
    if (this.#closing) {
      return Promise.reject(
        new Error(`Cannot send ${JSON.stringify(type)}: reliable sender "${this.#name}" is closed`),
      );
    }
    const env: Envelope<T> = {
      v: 1,
      type,
      seq: this.#seq + 1,
      pub: this.#pub,
      epoch: this.#epoch,
      ts: nowMs(),
      trace: trace ?? newTraceId(),
      body,
    };
    let frame: string;
    try {
      frame = encodeText(env);
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

  /** The resolved endpoint (bound address with its port, or the connect address). */
  get endpoint(): string {
    return this.#endpoint;
  }

  /** This sender's `pub` field: `"<service>/<name>"`. */
  get pub(): string {
    return this.#pub;
  }

  /** This sender's epoch (kept across restarts when journaled). */
  get epoch(): number {
    return this.#epoch;
  }

  /** The last sequence number assigned. */
  get sequence(): number {
    return this.#seq;
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
    this.#journal?.release();
    this.#journal?.db.close();
    this.#resendLog.close();
    this.#journalLog.close();
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
      const j = this.#journal;
      j.db.exec("BEGIN");
      try {
        for (const e of this.#unjournaled) j.insert.run(e.seq, e.frame);
        j.setMeta.run("last_seq", String(this.#seq));
        j.db.exec("COMMIT");
      } catch (error) {
        try {
          j.db.exec("ROLLBACK");
        } catch {
          // the failed statement may have ended the transaction already
        }
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
    if (this.#closed || this.#unjournaled.length > 0) return;
    let resent = 0;
    while (this.#cursor <= this.#seq && this.#cursor - this.#base < this.#window) {
      if (!this.#sock.writable) break;
      const e = this.#entries[this.#head + (this.#cursor - this.#base)];
      if (this.#cursor === this.#base) this.#lastProgressAt = performance.now();
      try {
        this.#sock.send([`{"k":"msg","base":${this.#base}}`, e.frame])
          .catch(() => this.#rewind(e.seq));
      } catch {
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

  #rewind(seq: number): void {
    if (seq < this.#cursor && seq >= this.#base) this.#cursor = seq;
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
    this.#pump();
    if (now - this.#lastHeartbeatAt >= this.#heartbeatMs && this.#sock.writable) {
      this.#lastHeartbeatAt = now;
      const hb = {
        k: "hb",
        pub: this.#pub,
        epoch: this.#epoch,
        base: this.#base,
        sent: this.#cursor - 1,
      };
      this.#sock.send(JSON.stringify(hb)).catch(() => {});
      this.#metrics.sent("heartbeat");
    }
    if (n >= RECEIVE_BATCH) return 0;
    let next = this.#heartbeatMs - (now - this.#lastHeartbeatAt);
    if (this.#cursor > this.#base) {
      next = Math.min(next, this.#resendDelay - (now - this.#lastProgressAt));
    }
    return Math.max(1, next);
  }

  #onControl(frames: Uint8Array[]): void {
    let msg: { k?: unknown; pub?: unknown; epoch?: unknown; upto?: unknown; from?: unknown };
    try {
      msg = JSON.parse(utf8.decode(frames[0]));
    } catch {
      this.#metrics.decodeError("not_json");
      return;
    }
    if (msg.pub !== this.#pub || msg.epoch !== this.#epoch) return;
    this.#metrics.ageSource.lastAt = performance.now();
    if (msg.k === "ack" && Number.isSafeInteger(msg.upto)) {
      this.#ack(msg.upto as number);
    } else if (msg.k === "nack" && Number.isSafeInteger(msg.from)) {
      // The receiver has everything below `from` and needs `from` next.
      const from = msg.from as number;
      if (from > this.#base) this.#ack(from - 1);
      if (from >= this.#base && from < this.#cursor) {
        this.#resendLog.report({
          channel: this.#name,
          count: this.#cursor - from,
          from,
          why: "receiver asked",
        });
        this.#cursor = from;
        this.#lastProgressAt = performance.now();
      }
    } else if (msg.k === "bye") {
      // The receiver is closing: confirm that its acks (ahead of this on the
      // same connection) arrived. What it did not handle comes back by nack
      // or resend once a receiver is there again.
      this.#sock.send(JSON.stringify({ k: "byeack", pub: this.#pub, epoch: this.#epoch }))
        .catch(() => {});
      logger.info("Receiver of {channel} is closing with {pending} messages unacknowledged", {
        channel: this.#name,
        pending: this.pending(),
      });
    } else {
      this.#metrics.decodeError("bad_envelope");
    }
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
        this.#journal.deleteUpTo.run(upto);
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

async function openJournal(
  path: string,
  pub: string,
): Promise<
  { journal: Journal; restored: { epoch: number; lastSeq: number; entries: OutEntry[] } }
> {
  const { DatabaseSync } = await import("node:sqlite");
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path);
    // The checkpoint worker (lib/wal_checkpoint.ts) may still be closing its
    // connection to this file when it is opened again: wait for it.
    db.exec("PRAGMA busy_timeout=2000");
    db.exec("PRAGMA journal_mode=WAL");
    db.exec("PRAGMA synchronous=NORMAL");
    db.exec(
      "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);" +
        "CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, frame TEXT NOT NULL);",
    );
  } catch (cause) {
    throw new Error(`Cannot open journal ${JSON.stringify(path)}: ${(cause as Error).message}`, {
      cause,
    });
  }
  const meta = new Map<string, string>();
  for (const row of db.prepare("SELECT key, value FROM meta").all()) {
    meta.set(String(row.key), String(row.value));
  }
  const setMeta = db.prepare(
    "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
  );
  if (meta.has("pub") && meta.get("pub") !== pub) {
    db.close();
    throw new Error(
      `Cannot open journal ${JSON.stringify(path)}: it belongs to ${
        JSON.stringify(meta.get("pub"))
      }, not ${JSON.stringify(pub)}`,
    );
  }
  let epoch = Number(meta.get("epoch"));
  let lastSeq = Number(meta.get("last_seq") ?? 0);
  if (!meta.has("epoch") || !Number.isFinite(epoch)) {
    epoch = Date.now();
    lastSeq = 0;
    db.exec("DELETE FROM outbox");
    setMeta.run("pub", pub);
    setMeta.run("epoch", String(epoch));
    setMeta.run("last_seq", "0");
  }
  const entries: OutEntry[] = [];
  for (const row of db.prepare("SELECT seq, frame FROM outbox ORDER BY seq").all()) {
    const seq = Number(row.seq);
    const expected = entries.length === 0 ? seq : entries[entries.length - 1].seq + 1;
    if (seq !== expected || seq > lastSeq) {
      db.close();
      throw new Error(
        `Cannot open journal ${
          JSON.stringify(path)
        }: outbox seq ${seq} breaks the sequence (expected ${expected}, last ${lastSeq})`,
      );
    }
    const frame = String(row.frame);
    let env: Envelope | undefined;
    try {
      env = decode(utf8Encoder.encode(frame));
    } catch {
      env = undefined;
    }
    entries.push({ seq, frame, env, sends: 0 });
  }
  return {
    journal: {
      db,
      // Checkpoints (the fsyncs) on a worker thread, not inside a send's commit.
      release: offloadCheckpoints(db, path),
      insert: db.prepare("INSERT OR REPLACE INTO outbox (seq, frame) VALUES (?, ?)"),
      setMeta,
      deleteUpTo: db.prepare("DELETE FROM outbox WHERE seq <= ?"),
    },
    restored: { epoch, lastSeq, entries },
  };
}

interface RecvStream extends StreamStats {
  /** Next seq to deliver. */
  expected: number;
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
export class ReliableReceiver {
  readonly #sock: zmq.Router;
  readonly #metrics: ChannelMetrics;
  readonly #name: string;
  readonly #pollMs: number;
  readonly #endpoint: string;
  readonly #types: Set<string> | undefined;
  readonly #schemas: BodySchemas;
  readonly #lingerMs: number;
  readonly #streams = new Map<string, RecvStream>();
  readonly #decodeLog: BurstLog;
  readonly #schemaLog: BurstLog;
  readonly #handlerLog: BurstLog;
  #handler: MessageHandler | undefined;
  #poller: SocketPoller | undefined;
  #closed = false;
  #closePromise: Promise<void> | undefined;
  #lastAckFlushAt = 0;
  #stats = {
    received: 0,
    delivered: 0,
    decodeErrors: 0,
    handlerErrors: 0,
    gaps: 0,
    missed: 0,
    duplicates: 0,
  };

  private constructor(
    sock: zmq.Router,
    endpoint: string,
    opts: ReliableReceiverOptions,
    metrics: ChannelMetrics,
  ) {
    this.#sock = sock;
    this.#endpoint = endpoint;
    this.#name = opts.name;
    this.#pollMs = opts.pollMs ?? 100;
    this.#metrics = metrics;
    this.#types = opts.types ? new Set(opts.types) : undefined;
    this.#schemas = opts.schemas ?? {};
    this.#lingerMs = opts.lingerMs ?? 1000;
    this.#decodeLog = new BurstLog(
      "warn",
      "Cannot decode a frame on {channel}: {reason}",
      "Cannot decode {suppressed} more frames on {channel}",
    );
    this.#schemaLog = new BurstLog(
      "error",
      "Invalid {type} body on {channel} from {pub} seq {seq}, skipped: {error}",
      "Invalid bodies on {channel}: {suppressed} more",
    );
    this.#handlerLog = new BurstLog(
      "error",
      "Message handler failed on {channel} for {type} seq {seq}: {error}",
      "Message handler failed on {channel}: {suppressed} more",
    );
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
    const ep = parseEndpoint(endpoint, "connect");
    const types = new Set([...(opts.types ?? []), ...Object.keys(opts.schemas ?? {})]);
    const metrics = new ChannelMetrics(opts, types.size > 0 ? types : undefined, true);
    const sock = new zmq.Router({
      mandatory: true,
      sendTimeout: 0,
      receiveTimeout: 0,
      linger: opts.lingerMs ?? 1000,
      receiveHighWaterMark: opts.highWaterMark ?? 10_000,
      sendHighWaterMark: 10_000,
    });
    let resolved: string;
    try {
      resolved = await attach(sock, ep, what);
    } catch (error) {
      sock.close();
      metrics.close();
      throw error;
    }
    logger.info("Reliable receiver {channel} ready on {endpoint}", {
      service: opts.service,
      channel: opts.name,
      endpoint: resolved,
      mode: ep.mode,
    });
    return new ReliableReceiver(sock, resolved, opts, metrics);
  }

  /**
   * Sets the handler and starts reading. Each message is acknowledged after
   * the handler's promise settles; duplicates are acknowledged, not delivered.
   *
   * @throws {Error} If a handler is already set or the receiver is closed.
   */
  onMessage(handler: MessageHandler): void {
    if (this.#closed) {
      throw new Error(`Cannot set a handler: reliable receiver "${this.#name}" is closed`);
    }
    if (this.#handler) {
      throw new Error(`Cannot set a second handler on reliable receiver "${this.#name}"`);
    }
    this.#handler = handler;
    this.#poller = SocketPoller.start(this.#sock, () => this.#drain(), {
      maxWaitMs: this.#pollMs,
      onError: (error) =>
        logger.error("Receive loop error on {channel}: {error}", {
          channel: this.#name,
          error: errorText(error),
        }),
    });
  }

  /** The resolved endpoint (bound address with its port, or the connect address). */
  get endpoint(): string {
    return this.#endpoint;
  }

  /** A snapshot of counters and per-stream state. */
  stats(): ReceiverStats {
    return {
      ...this.#stats,
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
    this.#closed = true;
    await this.#poller?.stop();
    this.#flushAcks();
    await this.#sayGoodbye();
    this.#sock.close();
    for (const l of [this.#decodeLog, this.#schemaLog, this.#handlerLog]) l.close();
    this.#metrics.close();
    logger.info("Reliable receiver {channel} closed", {
      channel: this.#name,
      lingerMs: this.#lingerMs,
      ...this.#stats,
    });
  }

  async #drain(): Promise<PollBodyResult> {
    const batch: Uint8Array[][] = [];
    while (batch.length < RECEIVE_BATCH && this.#sock.readable) {
      batch.push(await this.#sock.receive());
    }
    if (batch.length === 0) return undefined;
    this.#metrics.inDepth(batch.length);
    for (let i = 0; i < batch.length; i++) {
      // Closing: leave the rest unacknowledged; the sender resends it to the next receiver.
      if (this.#closed) break;
      const pending = this.#process(batch[i]);
      if (pending !== undefined) {
        // A scrape can only see the gauge while a handler awaits: set it then, not per message.
        this.#metrics.inDepth(batch.length - i);
        await pending;
      }
      // Slow handlers: ack at least every 20 ms so the sender does not resend.
      if (performance.now() - this.#lastAckFlushAt > 20) this.#flushAcks();
    }
    this.#metrics.inDepth(0);
    this.#flushAcks();
    return batch.length === RECEIVE_BATCH ? 0 : undefined;
  }

  #flushAcks(): void {
    this.#lastAckFlushAt = performance.now();
    for (const st of this.#streams.values()) {
      if (!st.ackDue) continue;
      st.ackDue = false;
      this.#control(st, `"k":"ack","upto":${st.expected - 1}`);
    }
  }

  /**
   * Sends a control frame to the stream's sender. Resolves false if it could
   * not be routed (mandatory routing: a peer that has gone rejects instead of
   * dropping silently); a lost ack is harmless, the sender resends and we
   * answer again.
   */
  #control(st: RecvStream, fields: string): Promise<boolean> {
    const frame = `{${fields},"pub":${JSON.stringify(st.pub)},"epoch":${st.epoch}}`;
    try {
      return this.#sock.send([st.rid, frame]).then(() => true, () => false);
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
      [...waiting].map((key) => this.#control(this.#streams.get(key)!, `"k":"bye"`)),
    );
    [...waiting].forEach((key, i) => {
      if (!sent[i]) waiting.delete(key);
    });
    if (waiting.size === 0) return;
    const deadline = performance.now() + this.#lingerMs;
    const waiter = new FdWaiter(socketFd(this.#sock));
    try {
      while (waiting.size > 0 && performance.now() < deadline) {
        while (this.#sock.readable) {
          const frames = await this.#sock.receive();
          if (frames.length !== 2) continue; // data: not handled, the sender resends it
          try {
            const m = JSON.parse(utf8.decode(frames[1]));
            if (m?.k === "byeack") waiting.delete(`${m.pub}\n${m.epoch}`);
          } catch {
            // ignore
          }
        }
        if (waiting.size > 0) await waiter.wait(Math.min(50, deadline - performance.now()));
      }
    } finally {
      waiter.close();
    }
    if (waiting.size > 0) {
      logger.warn("Reliable receiver {channel} closed without confirmation from {count} senders", {
        channel: this.#name,
        count: waiting.size,
      });
    }
  }

  #stream(pub: string, epoch: number, base: number, rid: Uint8Array): RecvStream {
    const key = `${pub}\n${epoch}`;
    let st = this.#streams.get(key);
    if (st === undefined) {
      if (this.#streams.size >= MAX_STREAMS) {
        this.#streams.delete(this.#streams.keys().next().value!);
      }
      const restarts = [...this.#streams.values()].some((s) => s.pub === pub) ? 1 : 0;
      if (restarts) this.#metrics.m.restarts.inc(this.#metrics.labels);
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
        {
          channel: this.#name,
          pub,
          epoch,
          seq: base,
        },
      );
    }
    st.rid = rid;
    if (base > st.expected) st.expected = base; // acked earlier by another receiver instance
    return st;
  }

  #nack(st: RecvStream): void {
    const now = performance.now();
    if (now - st.lastNackAt < 100) return;
    st.lastNackAt = now;
    this.#control(st, `"k":"nack","from":${st.expected}`);
  }

  #process(frames: Uint8Array[]): Promise<void> | undefined {
    // [routing id, header, envelope?]
    if (frames.length < 2 || frames.length > 3) {
      this.#decodeError("bad_frames", `${frames.length} frames, expected 2 or 3`);
      return undefined;
    }
    const rid = frames[0];
    let hdr: { k?: unknown; pub?: unknown; epoch?: unknown; base?: unknown; sent?: unknown };
    try {
      hdr = JSON.parse(utf8.decode(frames[1]));
      if (typeof hdr !== "object" || hdr === null) throw new Error("not an object");
    } catch (error) {
      this.#decodeError("not_json", errorText(error));
      return undefined;
    }
    const base = hdr.base;
    if (!Number.isSafeInteger(base) || (base as number) < 1) {
      this.#decodeError("bad_envelope", 'header field "base" must be a positive integer');
      return undefined;
    }
    if (hdr.k === "hb" && frames.length === 2) {
      if (
        typeof hdr.pub !== "string" || typeof hdr.epoch !== "number" ||
        !Number.isSafeInteger(hdr.sent)
      ) {
        this.#decodeError("bad_envelope", "heartbeat header is incomplete");
        return undefined;
      }
      const st = this.#stream(hdr.pub, hdr.epoch, base as number, rid);
      this.#metrics.ageSource.lastAt = performance.now();
      this.#stats.received++;
      this.#metrics.received("heartbeat");
      if (st.expected <= (hdr.sent as number)) this.#nack(st);
      st.ackDue = true;
      return undefined;
    }
    if (hdr.k !== "msg" || frames.length !== 3) {
      this.#decodeError("bad_envelope", 'header field "k" must be "msg" or "hb"');
      return undefined;
    }
    let env: Envelope;
    try {
      env = decode(frames[2]);
    } catch (error) {
      this.#decodeError(
        error instanceof DecodeError ? error.code : "bad_envelope",
        errorText(error),
      );
      return undefined;
    }
    this.#metrics.ageSource.lastAt = performance.now();
    const st = this.#stream(env.pub, env.epoch, base as number, rid);
    if (env.seq < st.expected) {
      st.duplicates++;
      this.#stats.duplicates++;
      this.#metrics.m.duplicates.inc(this.#metrics.labels);
      st.ackDue = true;
      return undefined;
    }
    if (env.seq > st.expected) {
      st.outOfOrder++;
      this.#metrics.dropped("out_of_order");
      this.#nack(st);
      return undefined;
    }
    st.received++;
    this.#stats.received++;
    this.#metrics.received(env.type);
    if (this.#types !== undefined && !this.#types.has(env.type)) {
      this.#metrics.dropped("unknown_type");
      return this.#done(st, env);
    }
    const schema = this.#schemas[env.type];
    if (schema !== undefined) {
      try {
        env = { ...env, body: schema(env.body) };
      } catch (error) {
        this.#stats.decodeErrors++;
        this.#metrics.decodeError("schema");
        this.#schemaLog.report({
          channel: this.#name,
          pub: env.pub,
          type: env.type,
          seq: env.seq,
          error: schemaErrorText(error),
        });
        return this.#done(st, env);
      }
    }
    Object.freeze(env);
    this.#stats.delivered++;
    try {
      const r = this.#handler!(env);
      if (isPromise(r)) {
        return r.then(
          () => this.#done(st, env),
          (error) => {
            this.#handlerFailed(env, error);
            this.#done(st, env);
          },
        );
      }
    } catch (error) {
      this.#handlerFailed(env, error);
    }
    return this.#done(st, env);
  }

  #done(st: RecvStream, env: Envelope): undefined {
    st.expected = env.seq + 1;
    st.lastSeq = env.seq;
    st.ackDue = true;
    return undefined;
  }

  #handlerFailed(env: Envelope, error: unknown): void {
    this.#stats.handlerErrors++;
    this.#metrics.m.handlerErrors.inc(this.#metrics.labels);
    this.#handlerLog.report({
      channel: this.#name,
      type: env.type,
      seq: env.seq,
      pub: env.pub,
      error: errorText(error),
    });
  }

  #decodeError(reason: typeof DECODE_ERROR_REASONS[number], detail: string): void {
    this.#stats.decodeErrors++;
    this.#metrics.decodeError(reason);
    this.#decodeLog.report({ channel: this.#name, reason, detail });
  }
}
