/**
 * CURVE authentication and encryption of the messaging sockets, with one ZAP handler per
 * process that admits only the public keys configured for each channel.
 *
 * How a socket is secured (see {@linkcode CurveSecurity}):
 * - a socket that **binds** is the CURVE server: it holds its service's secret key, names
 *   the channel as its ZAP domain, and lets connect only the peers listed in `allow`;
 * - a socket that **connects** is a CURVE client: it pins the public key of the service
 *   bound at the endpoint (`serverKey`), so an impostor bound there cannot complete the
 *   handshake, and proves its own key to that server's ZAP handler.
 *
 * Facts measured here (zeromq.js 6.8, libzmq 4.3.5, Deno 2.9) that shape this module:
 * - a CURVE server with no ZAP handler (or one in another context, or closed) admits any
 *   key; the one setting that fails closed is a non-empty `zapDomain` with
 *   `zapEnforceDomain: true`, so every server socket sets both;
 * - the ZAP request carries the client's public key but not its routing id, so a key is
 *   admitted per channel (domain), not per claimed name;
 * - a key the handler refuses is told so (ZMTP ERROR) and its socket does not retry;
 * - a malformed key passed to a zeromq.js socket constructor kills the process (SIGSEGV,
 *   no message), so keys are checked here and set through property setters on a socket
 *   that already exists, where libzmq's refusal is a catchable error.
 *
 * Metrics (lib/metrics.ts): `messaging_peers_authenticated_total{service,channel}`,
 * `messaging_peers_refused_total{service,channel,reason}` with reason `unknown_key` (not
 * configured for that channel), `mechanism` (not CURVE) or `bad_request`.
 *
 * @example
 * ```ts
 * const zap = await ZapAuthenticator.start({ service: "risk-manager", registry });
 * const curve = { keys: own, domain: "orders", allow: { "execution-engine": eePublicKey }, zap };
 * const orders = await ReliableSender.open("bind:tcp://0.0.0.0:5557", { ...opts, curve });
 * ```
 * @module
 */
import * as zmq from "zeromq";
import type { Counter, Registry } from "prom-client";
import { BurstLog, errorText } from "../burst_log.ts";
import { fingerprint, isZ85Key, type KeyPair, z85Encode } from "../keys.ts";
import { familyOn } from "../metrics.ts";
import { SocketPoller } from "../zmq_poll.ts";
import { bindRetrying } from "./bind.ts";
import { logger } from "./logger.ts";

/** The inproc address libzmq asks for ZAP decisions. */
export const ZAP_ENDPOINT = "inproc://zeromq.zap.01";

/** Values of the `reason` label of `messaging_peers_refused_total`. */
export const REFUSAL_REASONS = ["unknown_key", "mechanism", "bad_request"] as const;
/** One of {@link REFUSAL_REASONS}. */
export type RefusalReason = typeof REFUSAL_REASONS[number];

/** How one socket is secured with CURVE. */
export interface CurveSecurity {
  /** This service's key pair. */
  readonly keys: KeyPair;
  /** The channel's name: the ZAP domain when the socket binds. */
  readonly domain: string;
  /** When the socket binds: the peers admitted, by name (for logs) to public key. */
  readonly allow: Readonly<Record<string, string>>;
  /** When the socket connects: the public key of the service bound at the endpoint. */
  readonly serverKey?: string;
  /** The process's ZAP handler (needed to bind). */
  readonly zap: ZapAuthenticator;
}

/**
 * Makes the next `bind` or `connect` of `socket` use CURVE as `curve` says.
 *
 * @throws {Error} If a key is not a valid Z85 key, or a connect has no `serverKey`.
 */
export function applyCurve(
  socket: zmq.Socket,
  mode: "bind" | "connect",
  curve: CurveSecurity,
  what: string,
): void {
  const bad = (field: string) =>
    new Error(`Cannot secure ${what}: ${field} is not a 40-character Z85 CURVE key`);
  if (!isZ85Key(curve.keys.publicKey)) throw bad("the public key");
  if (!isZ85Key(curve.keys.secretKey)) throw bad("the secret key");
  const s = socket as unknown as {
    curveServer: boolean;
    curvePublicKey: string;
    curveSecretKey: string;
    curveServerKey: string;
    zapDomain: string;
    zapEnforceDomain: boolean;
  };
  try {
    if (mode === "bind") {
      curve.zap.allow(curve.domain, curve.allow);
      s.curveServer = true;
      s.curveSecretKey = curve.keys.secretKey;
      s.curvePublicKey = curve.keys.publicKey;
      s.zapDomain = curve.domain;
      s.zapEnforceDomain = true;
    } else {
      if (curve.serverKey === undefined || !isZ85Key(curve.serverKey)) {
        throw new Error(
          `Cannot secure ${what}: connecting needs the public key of the service bound there`,
        );
      }
      // Setting the server key makes the socket a CURVE client (ZMQ_CURVE_SERVER=0 would
      // reset the mechanism to NULL).
      s.curveServerKey = curve.serverKey;
      s.curvePublicKey = curve.keys.publicKey;
      s.curveSecretKey = curve.keys.secretKey;
    }
  } catch (error) {
    throw new Error(`Cannot secure ${what} with CURVE: ${errorText(error)}`, { cause: error });
  }
}

/** Options of {@linkcode ZapAuthenticator.start}. */
export interface ZapOptions {
  /** The `service` label of the metrics. */
  service: string;
  /** Where `messaging_peers_*` are counted. */
  registry: Registry;
}

/** Counts of {@linkcode ZapAuthenticator}, for tests and diagnostics. */
export interface ZapStats {
  accepted: number;
  refused: number;
}

let current: ZapAuthenticator | undefined;

/**
 * The process's ZAP handler: a REP socket at {@link ZAP_ENDPOINT} in zeromq.js's default
 * context, read with the poll pattern of lib/zmq_poll.ts, answering each handshake from
 * the per-domain allow-lists. Decisions are synchronous map look-ups: a slow handler
 * would hold up every handshake of the process (REP answers in order).
 */
export class ZapAuthenticator {
  readonly #sock: zmq.Reply;
  readonly #poller: SocketPoller;
  readonly #service: string;
  /** domain -> public key -> peer name */
  readonly #allowed = new Map<string, Map<string, string>>();
  readonly #accepted: Counter<"service" | "channel">;
  readonly #refused: Counter<"service" | "channel" | "reason">;
  readonly #refusedLog: BurstLog;
  readonly #stats: ZapStats = { accepted: 0, refused: 0 };
  /** Callers of start() that have not closed it yet. */
  #users = 1;
  #closed = false;

  private constructor(sock: zmq.Reply, opts: ZapOptions) {
    this.#sock = sock;
    this.#service = opts.service;
    this.#accepted = familyOn(opts.registry, "messaging_peers_authenticated_total");
    this.#refused = familyOn(opts.registry, "messaging_peers_refused_total");
    this.#refusedLog = new BurstLog(
      logger,
      "warn",
      "Refused a peer on {channel} from {address}: {reason} (key {key})",
      "Refused {suppressed} more peers on {channel}",
    );
    this.#poller = SocketPoller.start(sock, () => this.#drain(), {
      onError: (error) => logger.error("ZAP handler error: {error}", { error: errorText(error) }),
    });
  }

  /**
   * Starts the process's ZAP handler, or returns the one already running (one per
   * process: libzmq asks a single inproc endpoint); each call needs its own close().
   *
   * @throws {Error} If the endpoint cannot be bound.
   */
  static async start(opts: ZapOptions): Promise<ZapAuthenticator> {
    if (current !== undefined && !current.#closed) {
      current.#users++;
      return current;
    }
    const sock = new zmq.Reply({ receiveTimeout: 0, sendTimeout: 0, linger: 0 });
    try {
      await bindRetrying(sock, ZAP_ENDPOINT);
    } catch (error) {
      sock.close();
      throw new Error(`Cannot start the ZAP handler at ${ZAP_ENDPOINT}: ${errorText(error)}`, {
        cause: error,
      });
    }
    current = new ZapAuthenticator(sock, opts);
    return current;
  }

  /** Admits `peers` (name -> public key) on `domain`, in addition to those already admitted. */
  allow(domain: string, peers: Readonly<Record<string, string>>): void {
    let keys = this.#allowed.get(domain);
    if (keys === undefined) this.#allowed.set(domain, keys = new Map());
    for (const [name, key] of Object.entries(peers)) {
      if (!isZ85Key(key)) {
        throw new Error(`Cannot admit ${name} on ${domain}: its key is not a Z85 CURVE key`);
      }
      keys.set(key, name);
    }
    // Every admitted channel has its series from the start, so a first refusal alerts.
    this.#accepted.inc({ service: this.#service, channel: domain }, 0);
    for (const reason of REFUSAL_REASONS) {
      this.#refused.inc({ service: this.#service, channel: domain, reason }, 0);
    }
  }

  /** Accepted and refused handshakes so far. */
  stats(): ZapStats {
    return { ...this.#stats };
  }

  /**
   * Stops answering once every caller of start() has closed it (one handler serves the
   * process). Sockets that bind after that refuse every peer: they fail closed.
   */
  async close(): Promise<void> {
    if (this.#closed || --this.#users > 0) return;
    this.#closed = true;
    await this.#poller.stop();
    // Unbind first: close() alone frees the inproc name only when libzmq's reaper gets to
    // it, and a handler started again meanwhile would find it taken.
    await this.#sock.unbind(ZAP_ENDPOINT).catch(() => {});
    this.#sock.close();
    this.#refusedLog.close();
    if (current === this) current = undefined;
  }

  async #drain(): Promise<undefined> {
    for (let n = 0; n < 64 && this.#sock.readable; n++) {
      const frames = await this.#sock.receive();
      const reply = this.#decide(frames);
      await this.#sock.send(reply).catch((error) =>
        logger.error("Cannot answer a ZAP request: {error}", { error: errorText(error) })
      );
    }
    return undefined;
  }

  #decide(frames: Uint8Array[]): (string | Uint8Array)[] {
    const text = (b: Uint8Array | undefined) => (b ? new TextDecoder().decode(b) : "");
    const requestId = frames[1] ?? new Uint8Array();
    const answer = (status: "200" | "400", statusText: string, userId = "") => [
      "1.0",
      requestId,
      status,
      statusText,
      userId,
      "",
    ];
    if (frames.length < 6 || text(frames[0]) !== "1.0") {
      this.#refuse("", "", "bad_request", "?");
      return answer("400", "malformed ZAP request");
    }
    const domain = text(frames[2]);
    const address = text(frames[3]);
    const mechanism = text(frames[5]);
    if (mechanism !== "CURVE" || frames[6]?.length !== 32) {
      this.#refuse(domain, address, "mechanism", mechanism);
      return answer("400", "CURVE required");
    }
    const key = z85Encode(frames[6]);
    const peer = this.#allowed.get(domain)?.get(key);
    if (peer === undefined) {
      this.#refuse(domain, address, "unknown_key", fingerprint(key));
      return answer("400", "key not allowed on this channel");
    }
    this.#stats.accepted++;
    this.#accepted.inc({ service: this.#service, channel: this.#label(domain) });
    logger.info("Authenticated {peer} on {channel} from {address}", {
      peer,
      channel: domain,
      address,
    });
    return answer("200", "OK", peer);
  }

  #refuse(domain: string, address: string, reason: RefusalReason, key: string): void {
    this.#stats.refused++;
    this.#refused.inc({ service: this.#service, channel: this.#label(domain), reason });
    this.#refusedLog.report({ channel: domain, address, reason, key });
  }

  /** The channel label of a domain: itself when it is one we serve, else `other`. */
  #label(domain: string): string {
    return this.#allowed.has(domain) ? domain : "other";
  }
}
