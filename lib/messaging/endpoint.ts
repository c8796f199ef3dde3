/**
 * Endpoint strings: `"bind:tcp://127.0.0.1:5555"`, `"connect:tcp://host:5555"`, or a
 * plain address, which binds for a publisher and a reliable sender and connects for a
 * subscriber and a reliable receiver. Port 0 (or `*`) binds a free port; read it back
 * from the socket's `endpoint`.
 * @module
 */
import type * as zmq from "zeromq";
import { bindRetrying } from "./bind.ts";
import { applyCurve, type CurveSecurity } from "./curve.ts";

/** A parsed endpoint string. */
export interface Endpoint {
  mode: "bind" | "connect";
  address: string;
}

/**
 * Parses `"bind:<address>"`, `"connect:<address>"` or `"<address>"`.
 *
 * @example
 * ```ts
 * parseEndpoint("tcp://127.0.0.1:5555", "connect"); // { mode: "connect", address: "tcp://127.0.0.1:5555" }
 * ```
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

/**
 * Binds or connects `socket` as `ep` says, with CURVE when `curve` is given (curve.ts),
 * naming the connection `connectRoutingId` when a ROUTER connects. Returns the resolved
 * address (the bound one, with port 0 resolved; or the connect address).
 *
 * @throws {Error} Naming `what` and the address, when ZeroMQ refuses or a key is invalid.
 */
export async function attach(
  socket: zmq.Socket,
  ep: Endpoint,
  what: string,
  curve?: CurveSecurity,
  connectRoutingId?: string,
): Promise<string> {
  if (curve !== undefined) applyCurve(socket, ep.mode, curve, what);
  try {
    if (ep.mode === "bind") {
      await bindRetrying(socket, ep.address);
      return socket.lastEndpoint ?? ep.address;
    }
    if (connectRoutingId !== undefined) {
      (socket as zmq.Router).connect(ep.address, { routingId: connectRoutingId });
    } else {
      socket.connect(ep.address);
    }
    return ep.address;
  } catch (cause) {
    throw new Error(
      `Cannot ${ep.mode} ${what} to ${ep.address}: ${(cause as Error).message ?? cause}`,
      { cause },
    );
  }
}

/**
 * Attaches a new socket to each endpoint in turn ({@linkcode attach}). On failure the
 * socket is closed, `release` frees what was prepared for it (metrics, a journal), and
 * the error is thrown: a socket that did not open leaves nothing behind.
 *
 * @throws {Error} The first endpoint's error.
 */
export async function attachAll(
  socket: zmq.Socket,
  endpoints: readonly Endpoint[],
  what: string,
  options: { curve?: CurveSecurity; connectRoutingId?: string },
  release: () => void,
): Promise<string[]> {
  const resolved: string[] = [];
  try {
    for (const ep of endpoints) {
      resolved.push(await attach(socket, ep, what, options.curve, options.connectRoutingId));
    }
  } catch (error) {
    socket.close();
    release();
    throw error;
  }
  return resolved;
}
