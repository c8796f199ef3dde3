/**
 * Records raw feed frames to an NDJSON file, one frame per line with its receive
 * time, in the format the replay feed plays back:
 * `{"ts":<epoch ms>,"frame":[...]}` for a decoded frame, `{"ts":..,"text":"..."}`
 * for a text frame (kept verbatim, even when it is not valid JSON, so nothing is lost).
 * Writes are buffered and flushed every `flushMs` and on close.
 * @module
 */
import type { FeedEvent } from "./feed.ts";

const encoder = new TextEncoder();

/** One line of a recording. */
export function recordLine(event: FeedEvent): string {
  return typeof event.frame === "string"
    ? JSON.stringify({ ts: event.receivedTs, text: event.frame })
    : JSON.stringify({ ts: event.receivedTs, frame: event.frame });
}

/**
 * An append-only recorder.
 *
 * @example
 * ```ts
 * const rec = Recorder.open("data/recording.ndjson");
 * rec.write(event);
 * await rec.close();
 * ```
 */
export class Recorder {
  #file: Deno.FsFile | undefined;
  #buffer: string[] = [];
  #bytes = 0;
  #timer: ReturnType<typeof setInterval>;

  private constructor(file: Deno.FsFile, flushMs: number) {
    this.#file = file;
    this.#timer = setInterval(() => this.flush(), flushMs);
    Deno.unrefTimer(this.#timer as unknown as number);
  }

  /** Opens (creating directories and the file, appending) a recording. Throws if it cannot. */
  static open(path: string, flushMs = 200): Recorder {
    const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "";
    if (dir) Deno.mkdirSync(dir, { recursive: true });
    const file = Deno.openSync(path, { create: true, append: true });
    return new Recorder(file, flushMs);
  }

  /** Buffers one frame. */
  write(event: FeedEvent): void {
    if (!this.#file) return;
    const line = recordLine(event) + "\n";
    this.#buffer.push(line);
    this.#bytes += line.length;
    if (this.#bytes > 1 << 20) this.flush();
  }

  /** Writes the buffer to the file. */
  flush(): void {
    if (!this.#file || this.#buffer.length === 0) return;
    const bytes = encoder.encode(this.#buffer.join(""));
    this.#buffer = [];
    this.#bytes = 0;
    let written = 0;
    while (written < bytes.length) written += this.#file.writeSync(bytes.subarray(written));
  }

  /** Flushes and closes the file. */
  close(): Promise<void> {
    clearInterval(this.#timer);
    this.flush();
    this.#file?.close();
    this.#file = undefined;
    return Promise.resolve();
  }
}
