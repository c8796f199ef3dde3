/**
 * The soak's view of a service's JS heap after a full garbage collection, read over the
 * Chrome DevTools Protocol of a Deno started with `--inspect=127.0.0.1:<port>`: the heap
 * used that `/metrics` reports is sampled at any point of V8's sawtooth, so it cannot tell
 * objects kept from garbage not collected yet; after `HeapProfiler.collectGarbage` it can.
 *
 * @example
 * ```ts
 * const heap = await HeapInspector.connect(9229);
 * const { heapUsed } = await heap.afterGc(); // bytes, after a full GC
 * heap.close();
 * ```
 * @module
 */

/** `Deno.memoryUsage()` of the inspected process, in bytes. */
export interface MemoryUsage {
  readonly rss: number;
  readonly heapTotal: number;
  readonly heapUsed: number;
  readonly external: number;
}

/** A CDP session on one inspected Deno process. */
export class HeapInspector {
  readonly #ws: WebSocket;
  #id = 0;
  readonly #pending = new Map<number, { ok: (v: unknown) => void; fail: (e: Error) => void }>();

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.onmessage = (event) => {
      const m = JSON.parse(event.data);
      const waiting = m.id === undefined ? undefined : this.#pending.get(m.id);
      if (!waiting) return;
      this.#pending.delete(m.id);
      if (m.error) waiting.fail(new Error(`Cannot inspect: ${JSON.stringify(m.error)}`));
      else waiting.ok(m.result);
    };
    ws.onclose = () => {
      for (const w of this.#pending.values()) w.fail(new Error("Cannot inspect: socket closed"));
      this.#pending.clear();
    };
  }

  /** Connects to the inspector listening on `127.0.0.1:port`. */
  static async connect(port: number): Promise<HeapInspector> {
    const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
    const url = targets?.[0]?.webSocketDebuggerUrl;
    if (typeof url !== "string") {
      throw new Error(`Cannot inspect 127.0.0.1:${port}: no target in /json/list`);
    }
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error(`Cannot inspect 127.0.0.1:${port}: connect failed`));
    });
    return new HeapInspector(ws);
  }

  #send(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = ++this.#id;
    const answer = new Promise<unknown>((ok, fail) => this.#pending.set(id, { ok, fail }));
    this.#ws.send(JSON.stringify({ id, method, params }));
    return answer;
  }

  /** `Deno.memoryUsage()` of the process as it is (no collection). */
  async memory(): Promise<MemoryUsage> {
    const r = await this.#send("Runtime.evaluate", {
      expression: "JSON.stringify(Deno.memoryUsage())",
      returnByValue: true,
    }) as { result?: { value?: string } };
    if (typeof r.result?.value !== "string") {
      throw new Error(`Cannot inspect: Deno.memoryUsage() gave ${JSON.stringify(r)}`);
    }
    return JSON.parse(r.result.value) as MemoryUsage;
  }

  /** A full garbage collection, then {@link memory}. */
  async afterGc(): Promise<MemoryUsage> {
    await this.#send("HeapProfiler.collectGarbage");
    return await this.memory();
  }

  /** Closes the session (the process goes on). */
  close(): void {
    this.#ws.close();
  }
}
