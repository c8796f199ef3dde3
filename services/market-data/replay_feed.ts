/**
 * Plays back an NDJSON recording (see `recorder.ts`) at the recorded pace scaled by
 * `speed` (1 = as recorded, 2 = twice as fast), or as fast as possible (`speed` 0),
 * once or in a loop. Shows progress on stderr when stderr is a terminal.
 *
 * Each frame is handed to the core with `receivedTs` = now (the time this service
 * received it, for tick-to-trade); exchange timestamps inside the frames are kept,
 * and {@link ReplayFeed.clock} gives the recorded time for closing bars.
 * A line that is not a recorded frame is passed on as text so the core counts it
 * as a parse error; the replay continues.
 * @module
 */
import { nowMs } from "../../lib/clock.ts";
import type { Feed, FeedHandler } from "./feed.ts";

/** Options of {@link ReplayFeed}. */
export interface ReplayOptions {
  readonly path: string;
  /** 0 = as fast as possible. */
  readonly speed: number;
  readonly loop: boolean;
  /** Called after each pass over the file (flush bars there). */
  readonly onPassEnd?: () => void;
  /** Progress on stderr; default: when stderr is a terminal. */
  readonly progress?: boolean;
  /** As-fast-as-possible replay yields to the event loop every this many frames; default 200. */
  readonly yieldEvery?: number;
}

interface Line {
  ts: number | undefined;
  frame: string | unknown[];
}

function decodeLine(line: string): Line {
  try {
    const record = JSON.parse(line);
    if (
      record && typeof record === "object" && typeof record.ts === "number" &&
      Number.isFinite(record.ts)
    ) {
      if (Array.isArray(record.frame)) return { ts: record.ts, frame: record.frame };
      if (typeof record.text === "string") return { ts: record.ts, frame: record.text };
    }
  } catch {
    // fall through: handed on as text, counted by the core
  }
  return { ts: undefined, frame: line };
}

/**
 * The replay feed.
 *
 * @example
 * ```ts
 * const feed = new ReplayFeed({ path: "data/recording.ndjson", speed: 0, loop: false });
 * await feed.start((event) => core.handle(event));
 * await feed.done;
 * ```
 */
export class ReplayFeed implements Feed {
  readonly exchange = "replay" as const;
  #running = false;
  #playing = false;
  #clock = 0;
  #abort = new AbortController();
  #done: Promise<void> = Promise.resolve();
  /** Frames played so far. */
  frames = 0;
  /** Completed passes over the file. */
  passes = 0;

  constructor(readonly options: ReplayOptions) {}

  /** Resolves when playback ends (never, while looping, until closed). */
  get done(): Promise<void> {
    return this.#done;
  }

  /** The recorded time of the playback position (epoch ms), for closing bars. */
  clock(): number {
    return this.#clock;
  }

  /** Opens the file (throws if it cannot be read) and starts playing it. */
  async start(onEvent: FeedHandler): Promise<void> {
    if (this.#running) return;
    const stat = await Deno.stat(this.options.path); // fails fast on a missing file
    this.#running = true;
    this.#playing = true;
    this.#done = this.#play(onEvent, stat.size).finally(() => {
      this.#playing = false;
    });
  }

  async #play(onEvent: FeedHandler, size: number): Promise<void> {
    const progress = this.options.progress ?? Deno.stderr.isTerminal();
    do {
      await this.#pass(onEvent, size, progress);
      this.passes++;
      this.options.onPassEnd?.();
    } while (this.options.loop && this.#running);
    if (progress) await Deno.stderr.write(new TextEncoder().encode("\n"));
  }

  async #pass(onEvent: FeedHandler, size: number, progress: boolean): Promise<void> {
    const file = await Deno.open(this.options.path, { read: true });
    const signal = this.#abort.signal;
    const speed = this.options.speed;
    const yieldEvery = this.options.yieldEvery ?? 200;
    let firstTs: number | undefined;
    const startedAt = performance.now();
    let bytesRead = 0;
    let lastProgress = 0;
    let sinceYield = 0;
    let rest = "";
    const decoder = new TextDecoder();
    const emit = async (text: string) => {
      if (text.trim() === "") return;
      const line = decodeLine(text);
      if (line.ts !== undefined) {
        firstTs ??= line.ts;
        if (speed > 0) {
          const due = (line.ts - firstTs) / speed - (performance.now() - startedAt);
          if (due > 1) await sleep(due, signal);
        }
        this.#clock = line.ts;
      }
      if (signal.aborted) return;
      onEvent({ receivedTs: nowMs(), frame: line.frame });
      this.frames++;
      if (++sinceYield >= yieldEvery) {
        sinceYield = 0;
        await sleep(0, signal);
      }
    };
    try {
      for await (const chunk of file.readable) {
        if (signal.aborted) break;
        bytesRead += chunk.length;
        const lines = (rest + decoder.decode(chunk, { stream: true })).split("\n");
        rest = lines.pop()!;
        for (const line of lines) {
          await emit(line);
          if (signal.aborted) break;
        }
        if (progress && performance.now() - lastProgress > 250) {
          lastProgress = performance.now();
          const percent = size > 0 ? Math.floor((100 * bytesRead) / size) : 100;
          await Deno.stderr.write(
            new TextEncoder().encode(`\rreplay ${percent}% ${this.frames} frames`),
          );
        }
      }
      if (!signal.aborted) await emit(rest + decoder.decode());
    } finally {
      try {
        file.close();
      } catch {
        // already closed by the readable stream
      }
    }
  }

  /** True while the file is playing. */
  connected(): boolean {
    return this.#playing;
  }

  /** Stops playback; resolves once the current pass has stopped. */
  async close(): Promise<void> {
    this.#running = false;
    this.#abort.abort();
    await this.#done.catch(() => {});
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
