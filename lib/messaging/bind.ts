/**
 * Binding that waits out a closing socket. libzmq frees an address when its reaper thread
 * gets to a closed socket, not when close() returns, so a socket bound again at once (a
 * publisher restarted in the same process, the ZAP handler started after a stop, a port a
 * closed test socket held) can meet "Address already in use" for a few milliseconds.
 * @module
 */
import type * as zmq from "zeromq";

/** How long {@linkcode bindRetrying} keeps trying an address in use, ms. */
export const BIND_RETRY_MS = 2_000;

/**
 * Binds `socket` to `address`, trying again every 50 ms for up to `retryMs` while the
 * address is in use; any other error, or an address still in use after that, is thrown.
 */
export async function bindRetrying(
  socket: zmq.Socket,
  address: string,
  retryMs = BIND_RETRY_MS,
): Promise<void> {
  const deadline = performance.now() + retryMs;
  for (let attempt = 0;; attempt++) {
    try {
      await socket.bind(address);
      return;
    } catch (error) {
      const inUse = /address already in use/i.test(String((error as Error)?.message ?? error));
      if (!inUse || performance.now() + 50 > deadline || attempt >= 100) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
