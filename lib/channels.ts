/**
 * The channel catalogue: every ZeroMQ channel of the pipeline, with its one name (the
 * `channel` metric label and the second half of a publisher's `pub`), its delivery
 * policy, the service that sends on it, the services that read it, and the message
 * types it carries. Sockets take their name and type set from here, and subscribers
 * derive their body validators from it, so a channel's contract is written once.
 *
 * | channel             | policy        | from             | to                                          | types                             |
 * | ------------------- | ------------- | ---------------- | ------------------------------------------- | --------------------------------- |
 * | `market_data`       | may drop      | market-data      | signal-bridge, risk-manager, execution-engine | trade, quote, book, bar, one_sided_quote, trading_status, luld_band, trade_correction |
 * | `signals`           | may drop      | signal-bridge    | risk-manager                                | signal                            |
 * | `risk_events`       | may drop      | risk-manager     | (operators' tools)                          | trading_state, risk_denial        |
 * | `orders`            | must not lose | risk-manager     | execution-engine                            | order, order_status_request, positions_request |
 * | `execution_reports` | must not lose | execution-engine | risk-manager                                | execution_report, order_status, venue_positions |
 *
 * "May drop" channels are PUB/SUB (a slow subscriber misses messages and counts them as
 * sequence gaps); "must not lose" channels are the reliable DEALER/ROUTER channel of
 * lib/messaging (acknowledged, resent, journaled).
 *
 * @example
 * ```ts
 * const sub = await Subscriber.open(endpoints, {
 *   ...messagingOptions,
 *   ...receiverOptions("market_data", ["quote", "book", "trade"]),
 * });
 * ```
 * @module
 */
import type { ServiceName } from "./metrics.ts";
import { type MessageType, validatorsFor } from "./types.ts";

/** How a channel delivers. */
export type DeliveryPolicy = "may_drop" | "must_not_lose";

/** The declaration of one channel. */
export interface ChannelSpec {
  readonly name: string;
  readonly policy: DeliveryPolicy;
  /** The service that sends on it. */
  readonly from: ServiceName;
  /** The services that read it. */
  readonly to: readonly ServiceName[];
  /** The message types it carries (heartbeats aside). */
  readonly types: readonly MessageType[];
  /**
   * PUB/SUB only: the sender batches what it publishes in one synchronous run into one
   * frame of up to this many bytes of records (absent: one message per frame).
   */
  readonly maxBatchBytes?: number;
  /** Queue limit of each socket of the channel, in frames (absent: the socket's default). */
  readonly highWaterMark?: number;
}

function channel<const N extends string, const T extends readonly MessageType[]>(
  c: ChannelSpec & { name: N; types: T },
): ChannelSpec & { name: N; types: T } {
  return Object.freeze(c);
}

/** Every channel of the pipeline, by name. */
export const CHANNELS = {
  market_data: channel({
    name: "market_data",
    policy: "may_drop",
    from: "market-data",
    to: ["signal-bridge", "risk-manager", "execution-engine"],
    types: [
      "trade",
      "quote",
      "book",
      "bar",
      "one_sided_quote",
      "trading_status",
      "luld_band",
      "trade_correction",
    ],
    // One feed frame's output (up to ~50 books) travels as one frame: one send, one
    // wake-up per subscriber, instead of one per message.
    maxBatchBytes: 16_384,
    // In frames: 1,000 frames of up to 16 KiB of records bound each queue at ~22 MB of
    // base64, as 10,000 single messages did at ~6 MB.
    highWaterMark: 1_000,
  }),
  signals: channel({
    name: "signals",
    policy: "may_drop",
    from: "signal-bridge",
    to: ["risk-manager"],
    types: ["signal"],
  }),
  risk_events: channel({
    name: "risk_events",
    policy: "may_drop",
    from: "risk-manager",
    to: [],
    types: ["trading_state", "risk_denial"],
  }),
  orders: channel({
    name: "orders",
    policy: "must_not_lose",
    from: "risk-manager",
    to: ["execution-engine"],
    types: ["order", "order_status_request", "positions_request"],
  }),
  execution_reports: channel({
    name: "execution_reports",
    policy: "must_not_lose",
    from: "execution-engine",
    to: ["risk-manager"],
    types: ["execution_report", "order_status", "venue_positions"],
  }),
} as const;

/** A channel name. */
export type ChannelName = keyof typeof CHANNELS;
/** The message types of channel `C`. */
export type TypesOf<C extends ChannelName> = (typeof CHANNELS)[C]["types"][number];

/**
 * The name and type set a sending socket of channel `name` takes.
 *
 * @example
 * ```ts
 * await Publisher.open(endpoint, { ...messagingOptions, ...senderOptions("signals") });
 * ```
 */
export function senderOptions(
  name: ChannelName,
): { name: string; types: readonly string[]; maxBatchBytes?: number; highWaterMark?: number } {
  const c: ChannelSpec = CHANNELS[name];
  return {
    name: c.name,
    types: c.types,
    ...(c.maxBatchBytes === undefined ? {} : { maxBatchBytes: c.maxBatchBytes }),
    ...(c.highWaterMark === undefined ? {} : { highWaterMark: c.highWaterMark }),
  };
}

/** The `pub` of channel `name`'s sender: `"<service>/<channel>"`. */
export function senderPub(name: ChannelName): string {
  return `${CHANNELS[name].from}/${name}`;
}

/**
 * The name, type set and body validators a receiving socket of channel `name` takes,
 * for the types it reads (default: all the channel carries), and the `pub` of the
 * channel's sender (a reliable receiver that connects names its connection after it).
 *
 * @throws {Error} If a type is not carried by the channel.
 */
export function receiverOptions<C extends ChannelName>(
  name: C,
  types?: readonly TypesOf<C>[],
): {
  name: string;
  types: readonly string[];
  schemas: Record<string, (body: unknown) => unknown>;
  sender: string;
  highWaterMark?: number;
} {
  const c = CHANNELS[name];
  const wanted: readonly MessageType[] = types ?? c.types;
  for (const t of wanted) {
    if (!(c.types as readonly MessageType[]).includes(t)) {
      throw new Error(`Cannot read ${JSON.stringify(t)} on channel "${name}": it carries none`);
    }
  }
  const hwm = (c as ChannelSpec).highWaterMark;
  return {
    name: c.name,
    types: wanted,
    schemas: validatorsFor(wanted),
    sender: senderPub(name),
    ...(hwm === undefined ? {} : { highWaterMark: hwm }),
  };
}
