/**
 * Messaging between services over ZeroMQ: sequence numbers, gap detection,
 * heartbeats, and a lossless channel for orders. The channels themselves (names,
 * delivery policy, message types) are declared in lib/channels.ts.
 *
 * ## Delivery policy
 *
 * - **May drop** ({@linkcode Publisher} → {@linkcode Subscriber}, PUB/SUB): market data,
 *   signals, risk events. A PUB socket never blocks: when a subscriber's queue (the
 *   high-water mark, default 10,000 messages) is full, ZeroMQ drops that subscriber's
 *   messages, and the subscriber counts them as sequence gaps.
 * - **Must not lose** ({@linkcode ReliableSender} → {@linkcode ReliableReceiver},
 *   DEALER → ROUTER): approved orders and execution reports. Each message waits in the
 *   sender's outbox (optionally journaled in SQLite) until the receiver acknowledges it;
 *   the receiver delivers each stream in sequence order, once, and acknowledges
 *   cumulatively after the handler settles. The frames: reliable_frames.ts.
 *
 * ## Receive path
 *
 * Deno loses zeromq.js wake-ups (deno issue 36317), so no socket here ever awaits a
 * pending `receive()`: see receive_loop.ts and lib/zmq_poll.ts.
 *
 * ## Closing
 *
 * `close()` is bounded and never hangs. A subscriber drops what it had read but not
 * yet handled (`messaging_dropped_total{reason="closed"}`); a reliable receiver leaves
 * it unacknowledged, so it is resent. Note that `Deno.exit()` right after `close()`
 * skips ZeroMQ's linger (measured here: 3 of 10 queued 4 MB messages never left), so a
 * publisher's last messages may be lost that way; a process that ends by itself lets
 * them flush for `lingerMs`. The reliable channel does not depend on linger: the sender
 * waits for acks, and the receiver waits for each sender to confirm it has the last acks.
 *
 * ## Files
 *
 * | file | what |
 * | --- | --- |
 * | options.ts | options every socket takes, their checks |
 * | endpoint.ts | `bind:`/`connect:` endpoint strings |
 * | channel_metrics.ts | the `messaging_*` families as one channel records them |
 * | publisher.ts, subscriber.ts | PUB/SUB |
 * | receive_loop.ts | what both receivers share: the drain loop, body checks, error counting |
 * | reliable_frames.ts | the reliable protocol's frames |
 * | outbox_journal.ts | the reliable sender's SQLite outbox |
 * | reliable_sender.ts, reliable_receiver.ts | DEALER/ROUTER |
 *
 * @example
 * ```ts
 * import { Registry } from "prom-client";
 * import { Publisher, Subscriber } from "./mod.ts";
 *
 * const registry = new Registry();
 * const pub = await Publisher.open("bind:tcp://127.0.0.1:0", { service: "market-data", name: "market_data", registry });
 * const sub = await Subscriber.open([pub.endpoint], { service: "signal-bridge", name: "market_data", registry });
 * sub.onMessage((env) => console.log(env.type, env.seq, env.body));
 * pub.publish("trade", { symbol: "AAPL", px: 190.1 });
 * await sub.close();
 * await pub.close();
 * ```
 *
 * @module
 */
export type { BodySchemas, MessageHandler, MessagingOptions } from "./options.ts";
export { type Endpoint, parseEndpoint } from "./endpoint.ts";
export {
  DECODE_ERROR_REASONS,
  type DecodeErrorReason,
  DROP_REASONS,
  type DropReason,
  MESSAGING_METRICS,
} from "./channel_metrics.ts";
export { Publisher, type PublisherOptions } from "./publisher.ts";
export { Subscriber, type SubscriberOptions } from "./subscriber.ts";
export type { ReceiverStats, StreamStats } from "./receive_loop.ts";
export { ReliableSender, type ReliableSenderOptions } from "./reliable_sender.ts";
export { ReliableReceiver, type ReliableReceiverOptions } from "./reliable_receiver.ts";
