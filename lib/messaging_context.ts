/**
 * What a service's sockets need to join a channel of the catalogue (lib/channels.ts): its
 * name and types, the validators of what it reads, the metrics, and, unless the config
 * says `security.mode: "insecure"`, CURVE keys and the allow-list of the services on the
 * other end (lib/messaging/curve.ts). One per service process, built by lib/service.ts.
 *
 * Who may connect to whom follows the catalogue: a channel's sender admits its readers
 * and the `operator` identity (read-only tools) on channels that may drop; a channel's
 * reader admits its sender. A socket that connects pins the key of the service at the
 * other end.
 *
 * @example
 * ```ts
 * const messaging = await MessagingContext.start({ service: "risk-manager", config, registry });
 * const orders = await ReliableSender.open(config.riskManager.orders, messaging.sender("orders"));
 * const signals = await Subscriber.open(endpoints, messaging.receiver("signals"));
 * ```
 * @module
 */
import type { Gauge, Registry } from "prom-client";
import { channelStaleAfterMs } from "./channel_staleness.ts";
import {
  type ChannelName,
  CHANNELS,
  receiverOptions,
  senderOptions,
  type TypesOf,
} from "./channels.ts";
import type { Config } from "./config.ts";
import { type KeyPair, KeyStore } from "./keys.ts";
import { type CurveSecurity, ZapAuthenticator } from "./messaging/curve.ts";
import { type ServiceName, SERVICES } from "./metrics.ts";

/** The identity of operators' read-only tools (status, live view): a fifth key pair. */
export const OPERATOR = "operator";
/** Every identity that has a key pair. */
export const IDENTITIES = [...SERVICES, OPERATOR] as const;

/** Options of {@linkcode MessagingContext.start}. */
export interface MessagingContextOptions {
  service: ServiceName | typeof OPERATOR;
  config: Config;
  registry: Registry;
  queueDepth?: Gauge<"service" | "queue">;
}

/** What a socket of one channel takes (the options of the lib/messaging classes). */
export interface ChannelSocketOptions {
  service: string;
  registry: Registry;
  queueDepth?: Gauge<"service" | "queue">;
  name: string;
  types: readonly string[];
  curve?: CurveSecurity;
  /** The age after which what the channel brings is stale (lib/channel_staleness.ts). */
  staleAfterMs?: number;
  /** Batching of a PUB/SUB sender (lib/channels.ts). */
  maxBatchBytes?: number;
  /** Queue limit in frames (lib/channels.ts). */
  highWaterMark?: number;
}

/** The channel options of one service. */
export class MessagingContext {
  readonly #service: string;
  readonly #config: Config;
  readonly #registry: Registry;
  readonly #queueDepth?: Gauge<"service" | "queue">;
  readonly #keys?: KeyStore;
  readonly #own?: KeyPair;
  readonly #zap?: ZapAuthenticator;

  private constructor(
    opts: MessagingContextOptions,
    keys?: KeyStore,
    own?: KeyPair,
    zap?: ZapAuthenticator,
  ) {
    this.#service = opts.service;
    this.#config = opts.config;
    this.#registry = opts.registry;
    this.#queueDepth = opts.queueDepth;
    this.#keys = keys;
    this.#own = own;
    this.#zap = zap;
  }

  /**
   * Prepares the service's channels. With CURVE: fills a fresh key directory with every
   * identity's pair, reads the service's own pair, and starts the process's ZAP handler
   * (before any socket binds, so no connection escapes authentication).
   *
   * @throws {KeyError} If the service's key or a key it needs cannot be read.
   */
  static async start(opts: MessagingContextOptions): Promise<MessagingContext> {
    if (opts.config.security.mode === "insecure") return new MessagingContext(opts);
    const keys = KeyStore.open(opts.config.security.keysDir);
    keys.ensureAll(IDENTITIES);
    const own = keys.keyPair(opts.service);
    const zap = await ZapAuthenticator.start({ service: opts.service, registry: opts.registry });
    return new MessagingContext(opts, keys, own, zap);
  }

  /** True when the channels run CURVE. */
  get secure(): boolean {
    return this.#zap !== undefined;
  }

  /** Secret files the key store found readable by others (for a warning). */
  get exposedKeys(): readonly string[] {
    return this.#keys?.exposed ?? [];
  }

  /**
   * Options of the socket that sends on `channel` (a Publisher or ReliableSender).
   * `peer` names the reader bound at the endpoint when the sender connects and the
   * channel has several readers.
   *
   * @throws {KeyError} If a reader's public key cannot be read.
   */
  sender(channel: ChannelName, peer?: ServiceName): ChannelSocketOptions {
    const c = CHANNELS[channel];
    const readers: string[] = [...c.to];
    if (c.policy === "may_drop") readers.push(OPERATOR);
    const server = peer ?? (c.to.length === 1 ? c.to[0] : undefined);
    return {
      ...this.#base(),
      ...senderOptions(channel),
      ...this.#staleness(channel),
      ...this.#curve(channel, readers, server),
    };
  }

  /**
   * Options of a socket that reads `channel` (a Subscriber or ReliableReceiver), for the
   * types it reads (default all), with their validators and the sender's `pub`.
   *
   * @throws {KeyError} If the sender's public key cannot be read.
   */
  receiver<C extends ChannelName>(
    channel: C,
    types?: readonly TypesOf<C>[],
  ): ChannelSocketOptions & ReturnType<typeof receiverOptions> {
    const from = CHANNELS[channel].from;
    return {
      ...this.#base(),
      ...receiverOptions(channel, types),
      ...this.#staleness(channel),
      ...this.#curve(channel, [from], from),
    };
  }

  /** Stops the ZAP handler (after the sockets closed). */
  async close(): Promise<void> {
    await this.#zap?.close();
  }

  #base() {
    return { service: this.#service, registry: this.#registry, queueDepth: this.#queueDepth };
  }

  #staleness(channel: ChannelName): { staleAfterMs?: number } {
    const ms = channelStaleAfterMs(this.#config, this.#service, channel);
    return ms === undefined ? {} : { staleAfterMs: ms };
  }

  #curve(channel: string, admit: readonly string[], server?: string): { curve?: CurveSecurity } {
    if (this.#zap === undefined) return {};
    const keys = this.#keys!;
    const allow: Record<string, string> = {};
    for (const name of admit) allow[name] = keys.publicKey(name);
    return {
      curve: {
        keys: this.#own!,
        domain: channel,
        allow,
        serverKey: server === undefined ? undefined : keys.publicKey(server),
        zap: this.#zap,
      },
    };
  }
}
