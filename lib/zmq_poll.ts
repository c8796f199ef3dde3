/**
 * Stall-free socket I/O for zeromq.js under Deno.
 *
 * Deno's libuv shim loses zeromq.js wake-ups (deno issue 36317): a pending
 * `await socket.receive()` can hang for ever, and `receiveTimeout > 0`
 * segfaults. zeromq.js also falls back to a libuv "check" handle after 512
 * synchronous operations in a row unless the socket's timeout is `0`. So this
 * module never lets zeromq.js wait:
 *
 * - sockets are created with `receiveTimeout: 0` and `sendTimeout: 0`, so
 *   `receive()` and `send()` always complete synchronously inside the call
 *   (they reject with `EAGAIN` when they cannot);
 * - {@linkcode SocketPoller} reads the socket's `ZMQ_FD` (option 14) and
 *   waits on it with `poll(2)` through a Deno FFI symbol declared
 *   `nonblocking` (it runs on a thread of Deno's blocking pool), next to an
 *   `eventfd` used to wake the wait early (close, new work);
 * - `ZMQ_FD` is edge-triggered and only says "the state may have changed";
 *   any call on the socket (send, receive, reading `ZMQ_EVENTS`) processes
 *   pending commands and clears it. So the loop reads `socket.readable` (and
 *   `socket.writable` when the body has something to send) as the very last
 *   thing before each wait, and skips the wait if either holds: an event
 *   after that read signals the fd again. Each wait is still bounded
 *   (`maxWaitMs`, default 100 ms) as a safety net, so an idle socket costs
 *   about ten `poll(2)` calls a second.
 *
 * One poller per socket: a socket's fd must only be polled by one loop, and
 * must not be polled after the socket is closed, so always
 * `await poller.stop()` before `socket.close()`.
 *
 * Needs `--allow-ffi` (the services run with `-A`).
 *
 * @example Drain a SUB socket
 * ```ts
 * import * as zmq from "zeromq";
 * import { SocketPoller } from "./zmq_poll.ts";
 *
 * const sub = new zmq.Subscriber({ receiveTimeout: 0, linger: 0 });
 * sub.connect("tcp://127.0.0.1:5555");
 * sub.subscribe();
 * const poller = SocketPoller.start(sub, async () => {
 *   while (sub.readable) console.log(await sub.receive());
 * });
 * // ... later
 * await poller.stop();
 * sub.close();
 * ```
 *
 * @module
 */

import type * as zmq from "zeromq";
import { setImmediate } from "node:timers";

/** `ZMQ_FD`: the socket option that returns the socket's signalling fd. */
export const ZMQ_FD = 14;

const POLLIN = 0x001;
const EFD_NONBLOCK = 0o4000;
const EFD_CLOEXEC = 0o2000000;

const LIBC_SYMBOLS = {
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  write: { parameters: ["i32", "buffer", "u64"], result: "i64" },
  read: { parameters: ["i32", "buffer", "u64"], result: "i64" },
  close: { parameters: ["i32"], result: "i32" },
} as const;

type Libc = Deno.DynamicLibrary<typeof LIBC_SYMBOLS>["symbols"];

let libc: Libc | undefined;

function loadLibc(): Libc {
  if (libc === undefined) {
    try {
      libc = Deno.dlopen("libc.so.6", LIBC_SYMBOLS).symbols;
    } catch (cause) {
      throw new Error(
        "Cannot load libc.so.6 for poll(2): run with --allow-ffi on Linux (glibc)",
        { cause },
      );
    }
  }
  return libc;
}

/**
 * Returns the `ZMQ_FD` of a zeromq.js socket: a file descriptor that becomes
 * readable when the socket's `ZMQ_EVENTS` may have changed (edge-triggered).
 *
 * @throws {Error} If the socket is closed or the option cannot be read.
 */
export function socketFd(socket: zmq.Socket): number {
  // getInt32Option is protected in zeromq.js's typings; ZMQ_FD is an int on
  // Linux (getInt64Option returns the same value, read with a wider buffer).
  const fd = (socket as unknown as { getInt32Option(option: number): number })
    .getInt32Option(ZMQ_FD);
  if (!Number.isInteger(fd) || fd < 0) {
    throw new Error(`Cannot read ZMQ_FD of the socket: got ${fd}`);
  }
  return fd;
}

/**
 * Waits on one fd with `poll(2)` on a pool thread, next to an `eventfd` that
 * {@linkcode FdWaiter.wake} signals. Not thread-safe by design: one
 * {@linkcode FdWaiter.wait} at a time.
 */
export class FdWaiter {
  readonly #libc: Libc;
  readonly #fds = new Uint8Array(16); // two struct pollfd { int fd; short events; short revents; }
  readonly #view = new DataView(this.#fds.buffer);
  readonly #wakeFd: number;
  readonly #word = new Uint8Array(8);
  #waiting = false;
  #closed = false;

  /**
   * @param fd The fd to watch for readability (for example {@linkcode socketFd}).
   * @throws {Error} If libc cannot be loaded or `eventfd(2)` fails.
   */
  constructor(fd: number) {
    this.#libc = loadLibc();
    this.#wakeFd = this.#libc.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (this.#wakeFd < 0) throw new Error("Cannot create an eventfd for the poll loop");
    this.#view.setInt32(0, fd, true);
    this.#view.setInt16(4, POLLIN, true);
    this.#view.setInt32(8, this.#wakeFd, true);
    this.#view.setInt16(12, POLLIN, true);
    new DataView(this.#word.buffer).setBigUint64(0, 1n, true);
  }

  /**
   * Waits until the fd is readable, {@linkcode FdWaiter.wake} is called, or
   * `timeoutMs` passes (0 returns at once).
   *
   * @returns `true` if the watched fd was readable.
   * @throws {Error} If called while another wait is pending or after close.
   */
  async wait(timeoutMs: number): Promise<boolean> {
    if (this.#closed) throw new Error("Cannot wait: the poller is closed");
    if (this.#waiting) throw new Error("Cannot wait: a wait is already pending");
    this.#waiting = true;
    try {
      this.#view.setInt16(6, 0, true);
      this.#view.setInt16(14, 0, true);
      const n = await this.#libc.poll(this.#fds, 2n, Math.max(0, Math.floor(timeoutMs)));
      if (n > 0 && (this.#view.getInt16(14, true) & POLLIN) !== 0) this.#drainWake();
      return n > 0 && this.#view.getInt16(6, true) !== 0;
    } finally {
      this.#waiting = false;
    }
  }

  /** Makes a pending (or the next) {@linkcode FdWaiter.wait} return at once. */
  wake(): void {
    if (this.#closed) return;
    this.#libc.write(this.#wakeFd, this.#word, 8n);
  }

  /** Whether a wait is in progress. */
  get waiting(): boolean {
    return this.#waiting;
  }

  /**
   * Closes the eventfd. Call only when no wait is pending.
   *
   * @throws {Error} If a wait is pending.
   */
  close(): void {
    if (this.#closed) return;
    if (this.#waiting) throw new Error("Cannot close the poller while a wait is pending");
    this.#closed = true;
    this.#libc.close(this.#wakeFd);
  }

  #drainWake(): void {
    // Nonblocking eventfd: read resets the counter (or fails with EAGAIN when
    // another read got there first, which is just as good).
    this.#libc.read(this.#wakeFd, new Uint8Array(8), 8n);
  }
}

/**
 * What a poll loop body returns: how long the loop may sleep before calling
 * it again, in milliseconds (`0`: call again after yielding to the event
 * loop, without polling; `undefined`: sleep up to `maxWaitMs` or until the
 * socket's fd or {@linkcode SocketPoller.wake} fires).
 */
export type PollBodyResult = number | undefined | void;

/** Options of {@linkcode SocketPoller.start}. */
export interface SocketPollerOptions {
  /** Upper bound of one `poll(2)` wait in ms (default 100). */
  maxWaitMs?: number;
  /** Called with any error the body throws; the loop keeps running. */
  onError?: (error: unknown) => void;
  /**
   * Whether the body has something to send. When it does and the socket is
   * writable, the loop calls the body again instead of waiting.
   */
  wantsWrite?: () => boolean;
}

/**
 * Runs `body` whenever a zeromq.js socket may have become readable or
 * writable, on one loop per socket. The body must do all its socket work
 * synchronously-completing (`receive()`/`send()` with timeout 0) and re-check
 * `readable`/`writable` itself; it is called once at start, after every wake,
 * and at least every `maxWaitMs`.
 */
export class SocketPoller {
  readonly #socket: zmq.Socket;
  readonly #waiter: FdWaiter;
  readonly #body: () => PollBodyResult | Promise<PollBodyResult>;
  readonly #maxWaitMs: number;
  readonly #onError: (error: unknown) => void;
  readonly #wantsWrite: () => boolean;
  #stopping = false;
  #done: Promise<void>;

  private constructor(
    socket: zmq.Socket,
    body: () => PollBodyResult | Promise<PollBodyResult>,
    options: SocketPollerOptions,
  ) {
    this.#socket = socket;
    this.#waiter = new FdWaiter(socketFd(socket));
    this.#body = body;
    this.#maxWaitMs = options.maxWaitMs ?? 100;
    this.#onError = options.onError ?? ((error) => console.error(error));
    this.#wantsWrite = options.wantsWrite ?? (() => false);
    this.#done = this.#run();
  }

  /**
   * Starts a loop that calls `body` on `socket`'s events (see the class doc).
   *
   * @throws {Error} If the socket is closed or libc cannot be loaded.
   */
  static start(
    socket: zmq.Socket,
    body: () => PollBodyResult | Promise<PollBodyResult>,
    options: SocketPollerOptions = {},
  ): SocketPoller {
    return new SocketPoller(socket, body, options);
  }

  /** Makes the loop call its body soon, even if the socket's fd stays quiet. */
  wake(): void {
    if (!this.#stopping) this.#waiter.wake();
  }

  /** Whether {@linkcode SocketPoller.stop} was called. */
  get stopping(): boolean {
    return this.#stopping;
  }

  /**
   * Stops the loop: lets the current body call finish, ends the pending
   * `poll(2)` and releases the eventfd. Resolves when the socket's fd is no
   * longer polled, so the socket can then be closed. Idempotent.
   */
  async stop(): Promise<void> {
    if (!this.#stopping) {
      this.#stopping = true;
      this.#waiter.wake();
    }
    await this.#done;
  }

  async #run(): Promise<void> {
    try {
      while (!this.#stopping && !this.#socket.closed) {
        let next: PollBodyResult;
        try {
          next = await this.#body();
        } catch (error) {
          this.#onError(error);
          next = undefined;
        }
        if (this.#stopping || this.#socket.closed) break;
        // Any socket call (a send, a ZMQ_EVENTS read) may have consumed the
        // fd's edge for an event that is now pending: read the state last,
        // right before waiting. Events after this read signal the fd again.
        if (
          next !== 0 &&
          (this.#socket.readable || (this.#wantsWrite() && this.#socket.writable))
        ) {
          next = 0;
        }
        if (next === 0) {
          // setImmediate, not setTimeout(0): nested zero timers are clamped
          // (about 2 ms each here), which capped a busy loop at ~60k msgs/s.
          await new Promise((resolve) => setImmediate(resolve));
          continue;
        }
        const wait = next === undefined ? this.#maxWaitMs : Math.min(next, this.#maxWaitMs);
        await this.#waiter.wait(wait);
      }
    } finally {
      this.#waiter.close();
    }
  }
}
