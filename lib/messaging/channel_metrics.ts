/**
 * The `messaging_*` families (declared in lib/metrics.ts's catalogue) as one channel
 * sees them: pre-bound children for the hot counters, the closed set of `type` label
 * values, the queue-depth gauges and the scrape-time staleness source.
 *
 * Families: `messaging_messages_sent_total`, `messaging_messages_received_total`
 * `{service,channel,type}`; `messaging_decode_errors_total{service,channel,reason}`;
 * `messaging_sequence_gaps_total`, `messaging_messages_missed_total`,
 * `messaging_publisher_restarts_total`, `messaging_duplicates_total`,
 * `messaging_handler_errors_total`, `messaging_resends_total` `{service,channel}`;
 * `messaging_dropped_total{service,channel,reason}`;
 * `messaging_last_message_age_seconds{service,channel}` (computed at scrape time) and
 * `messaging_stale_after_seconds{service,channel}` (its configured limit, when the socket
 * has one); `messaging_transit_latency_seconds{service,channel}`, a receiver's histogram of
 * each message's time from its stamp to its receipt (./transit.ts), tallied per channel and
 * merged at scrape time. Every counter series a socket can move, and a receiver's transit
 * histogram, is created at 0 when it opens ({@link ChannelMetrics.zero}).
 * The `system_zmq_queue_depth` gauge passed as `queueDepth` gets `{queue: "<name>_in"}`
 * (received, not yet handled) and `"<name>_out"` (outgoing backlog).
 * @module
 */
import type { Counter, Gauge, Histogram, Registry } from "prom-client";
import { familyOn } from "../metrics.ts";
import { DECODE_ERROR_CODES } from "../envelope.ts";
import {
  beforeCollect,
  type BoundCounter,
  boundCounter,
  type BoundGauge,
  boundGauge,
} from "../bound_metrics.ts";
import { TransitTally } from "./transit.ts";
import type { MessagingOptions } from "./options.ts";

/** Names of the metric families the messaging layer records into. */
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
  controlRefused: "messaging_control_refused_total",
  reconnects: "messaging_reconnects_total",
  secure: "messaging_channel_secure",
  peersAuthenticated: "messaging_peers_authenticated_total",
  peersRefused: "messaging_peers_refused_total",
  staleAfter: "messaging_stale_after_seconds",
  transit: "messaging_transit_latency_seconds",
} as const;

/**
 * What a socket does on its channel, which decides the series it creates at 0 when it
 * opens ({@link ChannelMetrics.zero}): a publisher only sends, a subscriber only
 * receives, and the two ends of the reliable channel each do both (data one way, acks
 * the other).
 */
export type SocketRole = "publisher" | "subscriber" | "reliable_sender" | "reliable_receiver";

/** Values of the `reason` label of `messaging_decode_errors_total`. */
export const DECODE_ERROR_REASONS = [...DECODE_ERROR_CODES, "schema", "bad_frames"] as const;
/** One of {@link DECODE_ERROR_REASONS}. */
export type DecodeErrorReason = typeof DECODE_ERROR_REASONS[number];

/** Values of the `reason` label of `messaging_dropped_total`. */
export const DROP_REASONS = [
  "send_failed", // ZeroMQ refused the message
  "out_of_order", // PUB/SUB: sequence at or below the last one; reliable: ahead of the next expected (resent later)
  "unknown_type", // reliable receiver: a type outside `types`
  "closed", // subscriber closed with messages received but not handled; reliable sender closed (without journal) before the ack
] as const;
/** One of {@link DROP_REASONS}. */
export type DropReason = typeof DROP_REASONS[number];

/** Values of the `reason` label of `messaging_control_refused_total`. */
export const CONTROL_REFUSAL_REASONS = [
  "unknown_peer", // a frame from a connection that is not the channel's selected peer
  "wrong_publisher", // a stream claimed by a connection that is not that publisher's
  "sequence_jump", // a base, ack or nack beyond what the stream has sent
] as const;
/** One of {@link CONTROL_REFUSAL_REASONS}. */
export type ControlRefusalReason = typeof CONTROL_REFUSAL_REASONS[number];

type ChannelLabels = "service" | "channel";

/** The messaging families of one registry, shared by all its channels. */
export interface MessagingFamilies {
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
  controlRefused: Counter<ChannelLabels | "reason">;
  reconnects: Counter<ChannelLabels>;
  secure: Gauge<ChannelLabels>;
  staleAfter: Gauge<ChannelLabels>;
  age: Gauge<ChannelLabels>;
  ageSources: Set<AgeSource>;
  transit: Histogram<ChannelLabels>;
  /** The open receivers' transit tallies, merged into `transit` whenever it is read. */
  transitTallies: Set<TransitTally>;
}

/** A channel's last-message clock, read when the registry is scraped. */
export interface AgeSource {
  service: string;
  channel: string;
  /** performance.now() of the last message (or of open). */
  lastAt: number;
}

const byRegistry = new WeakMap<Registry, MessagingFamilies>();

/** The messaging families on `registry`, registering them (from the catalogue) when absent. */
export function messagingFamilies(registry: Registry): MessagingFamilies {
  let m = byRegistry.get(registry);
  if (m !== undefined) return m;
  const ageSources = new Set<AgeSource>();
  const age = familyOn<Gauge<ChannelLabels>>(registry, MESSAGING_METRICS.lastMessageAge);
  // Computed at scrape time: prom-client calls a metric's `collect` before reading it.
  (age as unknown as { collect: () => void }).collect = function (this: Gauge<ChannelLabels>) {
    const now = performance.now();
    for (const s of ageSources) {
      this.set({ service: s.service, channel: s.channel }, (now - s.lastAt) / 1000);
    }
  };
  const transitTallies = new Set<TransitTally>();
  const transit = familyOn<Histogram<ChannelLabels>>(registry, MESSAGING_METRICS.transit);
  beforeCollect(transit, () => {
    for (const t of transitTallies) t.flush();
  });
  const c = <L extends string>(name: string) => familyOn<Counter<L>>(registry, name);
  m = {
    sent: c(MESSAGING_METRICS.sent),
    received: c(MESSAGING_METRICS.received),
    decodeErrors: c(MESSAGING_METRICS.decodeErrors),
    gaps: c(MESSAGING_METRICS.gaps),
    missed: c(MESSAGING_METRICS.missed),
    restarts: c(MESSAGING_METRICS.restarts),
    duplicates: c(MESSAGING_METRICS.duplicates),
    dropped: c(MESSAGING_METRICS.dropped),
    handlerErrors: c(MESSAGING_METRICS.handlerErrors),
    resends: c(MESSAGING_METRICS.resends),
    controlRefused: c(MESSAGING_METRICS.controlRefused),
    reconnects: c(MESSAGING_METRICS.reconnects),
    secure: familyOn<Gauge<ChannelLabels>>(registry, MESSAGING_METRICS.secure),
    staleAfter: familyOn<Gauge<ChannelLabels>>(registry, MESSAGING_METRICS.staleAfter),
    age,
    ageSources,
    transit,
    transitTallies,
  };
  byRegistry.set(registry, m);
  return m;
}

/** Maps message types to a closed set of label values. */
export class TypeLabels {
  readonly #known = new Set<string>(["heartbeat"]);
  readonly #learn: boolean;
  /** Most types learnt when no explicit set is given; later ones are `unknown`. */
  static readonly MAX_LEARNED = 32;

  /** @param explicit The types of the channel; none given: learn the first ones seen. */
  constructor(explicit: Iterable<string> | undefined) {
    let any = false;
    for (const t of explicit ?? []) {
      this.#known.add(t);
      any = true;
    }
    this.#learn = !any;
  }

  /** The types known so far (heartbeat included). */
  known(): readonly string[] {
    return [...this.#known];
  }

  /** The label value of `type`: itself when known (or learnt), else `unknown`. */
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

/** One channel's metric children and its staleness source. */
export class ChannelMetrics {
  /** The registry's messaging families. */
  readonly m: MessagingFamilies;
  /** `{service, channel}` of every series of this channel. */
  readonly labels: { service: string; channel: string };
  /** The channel's last-message clock (set `lastAt` on every valid message). */
  readonly ageSource: AgeSource;
  readonly #types: TypeLabels;
  readonly #sent = new Map<string, BoundCounter>();
  readonly #received = new Map<string, BoundCounter>();
  readonly #inDepth?: BoundGauge;
  readonly #outDepth?: BoundGauge;
  #transit: TransitTally | undefined;

  /**
   * @param opts The channel's options (service, name, registry, queueDepth).
   * @param types The channel's message types (the `type` label set).
   * @param age Whether the channel reports `messaging_last_message_age_seconds`.
   */
  constructor(
    opts: MessagingOptions & { name: string },
    types: Iterable<string> | undefined,
    age: boolean,
  ) {
    this.m = messagingFamilies(opts.registry);
    this.labels = { service: opts.service, channel: opts.name };
    this.#types = new TypeLabels(types);
    this.ageSource = { service: opts.service, channel: opts.name, lastAt: performance.now() };
    if (age) this.m.ageSources.add(this.ageSource);
    if (opts.queueDepth !== undefined) {
      this.#inDepth = boundGauge(opts.queueDepth, {
        service: opts.service,
        queue: `${opts.name}_in`,
      });
      this.#outDepth = boundGauge(opts.queueDepth, {
        service: opts.service,
        queue: `${opts.name}_out`,
      });
    }
    this.#inDepth?.set(0);
    this.#outDepth?.set(0);
    this.m.secure.set(this.labels, opts.curve ? 1 : 0);
    if (opts.staleAfterMs !== undefined) {
      this.m.staleAfter.set(this.labels, opts.staleAfterMs / 1000);
    }
  }

  /**
   * Creates at 0 every counter series the socket can move in its `role`, for each value
   * of the closed label sets (message types, decode error and drop reasons), so the first
   * event of each is a step that `increase()` sees, and a receiver's transit histogram, so
   * its panel and quantiles read a series from the start. Called once when the socket opens.
   */
  zero(role: SocketRole): void {
    const m = this.m;
    const labels = this.labels;
    const each = (c: Counter<ChannelLabels | "reason">, reasons: readonly string[]) => {
      for (const reason of reasons) c.inc({ ...labels, reason }, 0);
    };
    const sends = role !== "subscriber" && role !== "reliable_receiver";
    for (const type of this.#types.known()) {
      (sends ? m.sent : m.received).inc({ ...labels, type }, 0);
    }
    switch (role) {
      case "publisher":
        each(m.dropped, ["send_failed"]);
        break;
      case "subscriber":
        m.transit.zero(labels);
        each(m.decodeErrors, DECODE_ERROR_REASONS);
        each(m.dropped, ["out_of_order", "closed"]);
        for (const c of [m.gaps, m.missed, m.restarts, m.handlerErrors]) c.inc(labels, 0);
        break;
      case "reliable_sender":
        each(m.decodeErrors, DECODE_ERROR_REASONS);
        each(m.dropped, ["closed"]);
        m.resends.inc(labels, 0);
        break;
      case "reliable_receiver":
        m.transit.zero(labels);
        each(m.decodeErrors, DECODE_ERROR_REASONS);
        each(m.dropped, ["out_of_order", "unknown_type"]);
        for (const c of [m.duplicates, m.restarts, m.handlerErrors]) c.inc(labels, 0);
        break;
    }
  }

  /**
   * The channel's transit tally (./transit.ts), created on the first call and merged into
   * `messaging_transit_latency_seconds` whenever the family is read, until {@link close}.
   */
  transitTally(): TransitTally {
    if (this.#transit === undefined) {
      this.#transit = new TransitTally(this.m.transit, this.labels);
      this.m.transitTallies.add(this.#transit);
    }
    return this.#transit;
  }

  /** Creates the channel's `messaging_control_refused_total` series at 0 (reliable channels). */
  zeroControlRefusals(): void {
    for (const reason of CONTROL_REFUSAL_REASONS) {
      this.m.controlRefused.inc({ ...this.labels, reason }, 0);
    }
  }

  /** Counts a connection dialled again (and creates the series at 0 with `n = 0`). */
  reconnected(n = 1): void {
    this.m.reconnects.inc(this.labels, n);
  }

  /** Counts a reliable-channel frame refused for its origin or content. */
  controlRefused(reason: ControlRefusalReason): void {
    this.m.controlRefused.inc({ ...this.labels, reason });
  }

  /** The `type` label value of a message type. */
  typeLabel(type: string): string {
    return this.#types.label(type);
  }

  /** Counts one message sent. */
  sent(type: string): void {
    this.#child(this.#sent, this.m.sent, type).inc();
  }

  /** Counts one message received. */
  received(type: string): void {
    this.#child(this.#received, this.m.received, type).inc();
  }

  /** Counts one frame that could not be decoded. */
  decodeError(reason: DecodeErrorReason): void {
    this.m.decodeErrors.inc({ ...this.labels, reason });
  }

  /** Counts `n` messages dropped. */
  dropped(reason: DropReason, n = 1): void {
    this.m.dropped.inc({ ...this.labels, reason }, n);
  }

  /** Sets the `<name>_in` queue depth. */
  inDepth(n: number): void {
    this.#inDepth?.set(n);
  }

  /** Sets the `<name>_out` queue depth. */
  outDepth(n: number): void {
    this.#outDepth?.set(n);
  }

  /**
   * Stops reporting staleness, zeroes the queue depths, and writes the transit tally into its
   * series one last time (the series stays, like the counters).
   */
  close(): void {
    if (this.#transit !== undefined) {
      this.#transit.flush();
      this.m.transitTallies.delete(this.#transit);
      this.#transit = undefined;
    }
    if (this.m.ageSources.delete(this.ageSource)) this.m.age.remove(this.labels);
    this.m.secure.remove(this.labels);
    this.m.staleAfter.remove(this.labels);
    this.#inDepth?.set(0);
    this.#outDepth?.set(0);
  }

  /** The bound counter of `type`: a look-up by the raw type first, its label only once. */
  #child(
    cache: Map<string, BoundCounter>,
    family: Counter<ChannelLabels | "type">,
    type: string,
  ): BoundCounter {
    let c = cache.get(type);
    if (c === undefined) {
      const label = this.#types.label(type);
      c = cache.get(label) ?? boundCounter(family, { ...this.labels, type: label });
      // Raw types are bounded: past the learnt set they are not kept, only their label.
      if (cache.size < 4 * TypeLabels.MAX_LEARNED) cache.set(type, c);
      cache.set(label, c);
    }
    return c;
  }
}
