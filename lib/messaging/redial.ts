/**
 * Dialling again a connection that has gone silent.
 *
 * libzmq reconnects by itself after a TCP failure, but not after a failed handshake: a
 * CURVE client that met a server with another key or another mechanism (an impostor
 * bound on the port while the real service was down), or that the server's ZAP handler
 * refused, stays dead for good, measured here: it never reconnects, even once the real
 * service is back. So every socket that connects watches its peer (heartbeats arrive
 * every second on every channel) and, after `silenceMs` without a frame, drops the
 * connection and dials again, counting it in `messaging_reconnects_total`.
 *
 * A ROUTER names each connection; the old one lives on inside libzmq until it is torn
 * down, and naming a new one alike before that aborts the process (a libzmq assertion),
 * so every dial of a ROUTER gets a fresh name: `<base>#<n>`.
 * @module
 */
import type * as zmq from "zeromq";
import { errorText } from "../burst_log.ts";
import { applyCurve, type CurveSecurity } from "./curve.ts";
import type { ChannelMetrics } from "./channel_metrics.ts";
import type { Endpoint } from "./endpoint.ts";
import { logger } from "./logger.ts";

/**
 * How long (ms) a connecting socket waits without a frame from its peer before it dials
 * again, unless its `silenceMs` option says otherwise: five missed heartbeats.
 */
export const DEFAULT_SILENCE_MS = 5000;

/** Options of {@linkcode Redialer}. */
export interface RedialOptions {
  /** The socket, already connected to `endpoints` (connect mode only are watched). */
  socket: zmq.Socket;
  endpoints: readonly Endpoint[];
  /** `subscriber "x"`, for logs. */
  what: string;
  metrics: ChannelMetrics;
  /** Dial again after this long without a frame, in ms. */
  silenceMs: number;
  curve?: CurveSecurity;
  /** A ROUTER's connection name base; each dial uses `<base>#<n>`. */
  routingIdBase?: string;
}

/** Watches a connecting socket's peer and dials again when it falls silent. */
export class Redialer {
  readonly #o: RedialOptions;
  readonly #targets: Endpoint[];
  #lastHeardAt = performance.now();
  #generation = 0;

  /** The `n` of the next dial's routing id. */
  constructor(options: RedialOptions) {
    this.#o = options;
    this.#targets = options.endpoints.filter((e) => e.mode === "connect");
  }

  /** The routing id of the current connection (with a `routingIdBase`). */
  get routingId(): string | undefined {
    const base = this.#o.routingIdBase;
    return base === undefined ? undefined : `${base}#${this.#generation}`;
  }

  /** True when the socket connects at all (there is something to watch). */
  get active(): boolean {
    return this.#targets.length > 0;
  }

  /** A frame came from the peer. */
  heard(): void {
    this.#lastHeardAt = performance.now();
  }

  /**
   * Dials again when the peer has been silent for `silenceMs`. Returns how long until the
   * next check is due (ms), for a poll loop's wait.
   */
  check(): number | undefined {
    if (!this.active) return undefined;
    const silent = performance.now() - this.#lastHeardAt;
    if (silent < this.#o.silenceMs) return this.#o.silenceMs - silent;
    this.#redial(silent);
    this.#lastHeardAt = performance.now();
    return this.#o.silenceMs;
  }

  #redial(silentMs: number): void {
    const socket = this.#o.socket;
    this.#generation++;
    for (const ep of this.#targets) {
      try {
        socket.disconnect(ep.address);
      } catch { /* not connected any more */ }
      try {
        if (this.#o.curve !== undefined) applyCurve(socket, "connect", this.#o.curve, this.#o.what);
        const id = this.routingId;
        if (id !== undefined) (socket as zmq.Router).connect(ep.address, { routingId: id });
        else socket.connect(ep.address);
      } catch (error) {
        logger.error("Cannot dial {endpoint} again for {what}: {error}", {
          endpoint: ep.address,
          what: this.#o.what,
          error: errorText(error),
        });
      }
    }
    this.#o.metrics.reconnected();
    logger.warn("{what} heard nothing for {silentMs} ms: dialled {endpoints} again", {
      what: this.#o.what,
      silentMs: Math.round(silentMs),
      endpoints: this.#targets.map((e) => e.address),
    });
  }
}
