/**
 * Runs lib/testing/zmq_peer.ts in a child process and talks to it: commands
 * on stdin, JSON events from stdout, stderr kept for failure messages.
 *
 * @example
 * ```ts
 * const peer = await PeerProcess.start(["pub", "--endpoint", "bind:tcp://127.0.0.1:0"]);
 * const ready = await peer.next((e) => e.event === "ready");
 * peer.command("publish 100");
 * await peer.next((e) => e.event === "published");
 * await peer.stop();
 * ```
 *
 * @module
 */

/** One JSON event a peer printed. */
// deno-lint-ignore no-explicit-any
export type PeerEvent = { event: string; [key: string]: any };

const PEER = new URL("./zmq_peer.ts", import.meta.url).pathname;
const ROOT = new URL("../../", import.meta.url).pathname;

/** A zmq_peer.ts child process. */
export class PeerProcess {
  readonly #child: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #encoder = new TextEncoder();
  readonly #reading: Promise<void>;
  readonly #stderrReading: Promise<void>;
  readonly label: string;
  /** Every event printed so far, in order. */
  readonly events: PeerEvent[] = [];
  #stderr = "";
  #cursor = 0;
  #ended = false;
  #waiters = new Set<() => void>();
  #status: Deno.CommandStatus | undefined;

  private constructor(args: string[]) {
    this.label = args.join(" ");
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", PEER, ...args],
      cwd: ROOT,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#stdin = this.#child.stdin.getWriter();
    this.#reading = this.#readStdout();
    this.#stderrReading = this.#readStderr();
  }

  /** Spawns a peer with the given arguments (see zmq_peer.ts). */
  static start(args: string[]): PeerProcess {
    return new PeerProcess(args);
  }

  /** The child's pid. */
  get pid(): number {
    return this.#child.pid;
  }

  /** The last 8 KB of the child's stderr. */
  get stderr(): string {
    return this.#stderr;
  }

  /** Sends one command line. Ignored if the child has gone. */
  command(line: string): void {
    this.#stdin.write(this.#encoder.encode(line + "\n")).catch(() => {});
  }

  /**
   * Waits for the next event (after those already returned by `next`) that
   * matches, skipping others.
   *
   * @throws {Error} If none arrives within `timeoutMs` or the child exits first.
   */
  next(match: (e: PeerEvent) => boolean, timeoutMs = 15_000): Promise<PeerEvent> {
    return this.#wait(
      () => {
        while (this.#cursor < this.events.length) {
          const e = this.events[this.#cursor++];
          if (match(e)) return e;
        }
        return undefined;
      },
      timeoutMs,
      "a matching event",
    );
  }

  /**
   * Sends `stats` until `accept` holds for the answer.
   *
   * @throws {Error} If it does not hold within `timeoutMs`.
   */
  async statsUntil(accept: (e: PeerEvent) => boolean, timeoutMs = 15_000): Promise<PeerEvent> {
    const deadline = Date.now() + timeoutMs;
    let last: PeerEvent | undefined;
    for (let i = 0; i < 10_000 && Date.now() < deadline; i++) {
      this.command("stats");
      last = await this.next((e) => e.event === "stats", deadline - Date.now());
      if (accept(last)) return last;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(
      `Peer "${this.label}": stats never matched; last ${JSON.stringify(last)}\n${this.#stderr}`,
    );
  }

  /** Sends SIGTERM or SIGKILL. */
  kill(signal: "SIGTERM" | "SIGKILL"): void {
    try {
      this.#child.kill(signal);
    } catch {
      // already exited
    }
  }

  /**
   * Ends the child: `exit` command (or the given signal), SIGKILL after
   * `timeoutMs`, then waits for its output to be read. Idempotent.
   */
  async stop(signal?: "SIGTERM" | "SIGKILL", timeoutMs = 10_000): Promise<Deno.CommandStatus> {
    if (this.#status) return this.#status;
    if (signal) this.kill(signal);
    else this.command("exit");
    await this.#stdin.close().catch(() => {});
    const timer = setTimeout(() => this.kill("SIGKILL"), timeoutMs);
    try {
      this.#status = await this.#child.status;
    } finally {
      clearTimeout(timer);
    }
    await this.#reading;
    await this.#stderrReading;
    return this.#status;
  }

  async #wait<T>(
    probe: () => T | undefined,
    timeoutMs: number,
    what: string,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = probe();
      if (found !== undefined) return found;
      const left = deadline - Date.now();
      if (this.#ended || left <= 0) {
        throw new Error(
          `Peer "${this.label}": no ${what} ${
            this.#ended ? "before it exited" : `within ${timeoutMs} ms`
          }; last events ${JSON.stringify(this.events.slice(-3))}\nstderr:\n${this.#stderr}`,
        );
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          this.#waiters.delete(wake);
          resolve();
        }, left);
        this.#waiters.add(wake);
      });
    }
  }

  #notify(): void {
    const ws = [...this.#waiters];
    this.#waiters.clear();
    for (const w of ws) w();
  }

  async #readStdout(): Promise<void> {
    let buf = "";
    try {
      for await (const chunk of this.#child.stdout.pipeThrough(new TextDecoderStream())) {
        buf += chunk;
        let nl: number;
        let any = false;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (!line.startsWith("{")) continue;
          try {
            this.events.push(JSON.parse(line));
            any = true;
          } catch {
            // not an event
          }
        }
        if (any) this.#notify();
      }
    } finally {
      this.#ended = true;
      this.#notify();
    }
  }

  async #readStderr(): Promise<void> {
    for await (const chunk of this.#child.stderr.pipeThrough(new TextDecoderStream())) {
      this.#stderr = (this.#stderr + chunk).slice(-8192);
    }
  }
}
