/**
 * A local stand-in for Alpaca's trading API, for tests: a raw HTTP/1.1 server on
 * 127.0.0.1 (so it can drop a connection without answering) speaking the documented
 * REST endpoints, and a WebSocket `trade_updates` stream (`auth`, `listen`, binary
 * frames as the paper endpoint sends).
 *
 * Faults are scripted per route, first in first out: an HTTP status (403, 422, 429
 * with Retry-After, 500...), `timeout` (answers after `delayMs`), or `drop` (closes the
 * connection without a response); `commit: true` makes a POST create the order before
 * failing, as when the venue took it and the answer was lost.
 *
 * Run standalone (`deno run -A testing/fake_alpaca.ts`) it prints `{"rest":...,"stream":...}`.
 * @module
 */

/** Alpaca's order object, as the fake keeps it. */
export interface FakeOrder {
  id: string;
  client_order_id: string;
  symbol: string;
  qty: string;
  filled_qty: string;
  filled_avg_price: string | null;
  side: string;
  type: string;
  time_in_force: string;
  limit_price: string | null;
  status: string;
  created_at: string;
}

/** A scripted fault. */
export interface Fault {
  /** `"POST /v2/orders"`, `"GET /v2/orders:by_client_order_id"`, `"GET /v2/orders/{id}"`, ... */
  route: string;
  action: { status: number; message?: string; retryAfter?: number } | "timeout" | "drop";
  /** Create the order before failing (POST only). */
  commit?: boolean;
  delayMs?: number;
}

/** One request the fake received. */
export interface Seen {
  method: string;
  route: string;
  clientOrderId?: string;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** The fake Alpaca. */
export class FakeAlpaca {
  readonly orders = new Map<string, FakeOrder>();
  readonly byClient = new Map<string, string>();
  readonly seen: Seen[] = [];
  readonly faults: Fault[] = [];
  assets = new Set(["AAPL", "MSFT", "SPY", "BTC/USD"]);
  buyingPower = 1_000_000;
  price = 100;
  keyId = "key";
  secretKey = "secret";
  #listener: Deno.Listener;
  #ws: Deno.HttpServer;
  #sockets = new Set<WebSocket>();
  #conns = new Set<Deno.Conn>();
  #seq = 0;
  #closed = false;
  #serving: Promise<void>;

  private constructor(listener: Deno.Listener, ws: Deno.HttpServer) {
    this.#listener = listener;
    this.#ws = ws;
    this.#serving = this.#accept();
  }

  /** Starts both servers on free ports. */
  static start(): FakeAlpaca {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const holder: { self?: FakeAlpaca } = {};
    const ws = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
      if (req.headers.get("upgrade") !== "websocket") return new Response("no", { status: 400 });
      const { socket, response } = Deno.upgradeWebSocket(req);
      holder.self!.#stream(socket);
      return response;
    });
    holder.self = new FakeAlpaca(listener, ws);
    return holder.self;
  }

  /** `http://127.0.0.1:<port>` */
  get baseUrl(): string {
    return `http://127.0.0.1:${(this.#listener.addr as Deno.NetAddr).port}`;
  }

  /** `ws://127.0.0.1:<port>/stream` */
  get streamUrl(): string {
    return `ws://127.0.0.1:${(this.#ws.addr as Deno.NetAddr).port}/stream`;
  }

  /** Requests of one route, e.g. `posts()` for `POST /v2/orders`. */
  count(route: string, clientOrderId?: string): number {
    return this.seen.filter((s) =>
      `${s.method} ${s.route}` === route &&
      (clientOrderId === undefined || s.clientOrderId === clientOrderId)
    ).length;
  }

  /** Number of sockets authenticated and listening on the stream. */
  get listeners(): number {
    return [...this.#sockets].filter((s) => (s as unknown as { listening?: boolean }).listening)
      .length;
  }

  /** Fills `qty` of the order at `price` and pushes a `fill`/`partial_fill` trade update. */
  fill(clientOrderId: string, qty: number, price = this.price): void {
    const o = this.orders.get(this.byClient.get(clientOrderId)!)!;
    const prev = Number(o.filled_qty);
    const cum = prev + qty;
    const avg = (Number(o.filled_avg_price ?? 0) * prev + price * qty) / cum;
    o.filled_qty = String(cum);
    o.filled_avg_price = String(avg);
    o.status = cum >= Number(o.qty) ? "filled" : "partially_filled";
    this.push(o.status === "filled" ? "fill" : "partial_fill", o, { price, qty });
  }

  /** Sets a status and pushes the matching trade update (`canceled`, `expired`, `rejected`). */
  finish(clientOrderId: string, status: "canceled" | "expired" | "rejected"): void {
    const o = this.orders.get(this.byClient.get(clientOrderId)!)!;
    o.status = status;
    this.push(status, o);
  }

  /** Sends a trade update to every listening socket. */
  push(event: string, o: FakeOrder, last?: { price: number; qty: number }): void {
    const msg = {
      stream: "trade_updates",
      data: {
        event,
        order: { ...o },
        timestamp: new Date().toISOString(),
        ...(last ? { price: String(last.price), qty: String(last.qty) } : {}),
      },
    };
    this.sendRaw(JSON.stringify(msg));
  }

  /** Sends raw text to every listening socket as a binary frame (as Alpaca's paper stream). */
  sendRaw(text: string): void {
    for (const s of this.#sockets) {
      if ((s as unknown as { listening?: boolean }).listening && s.readyState === WebSocket.OPEN) {
        s.send(enc.encode(text));
      }
    }
  }

  /** Closes every stream connection (the client must reconnect). */
  dropStreams(): void {
    for (const s of this.#sockets) s.close();
    this.#sockets.clear();
  }

  /** Stops both servers and closes every connection. */
  async close(): Promise<void> {
    this.#closed = true;
    this.dropStreams();
    try {
      this.#listener.close();
    } catch { /* closed */ }
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    await this.#serving.catch(() => {});
    await this.#ws.shutdown();
  }

  #stream(socket: WebSocket): void {
    this.#sockets.add(socket);
    const state = socket as unknown as { listening?: boolean; authed?: boolean };
    socket.onmessage = (ev) => {
      const text = typeof ev.data === "string" ? ev.data : dec.decode(ev.data as ArrayBuffer);
      let msg: { action?: string; key?: string; secret?: string; data?: { streams?: string[] } };
      try {
        msg = JSON.parse(text);
      } catch {
        return;
      }
      if (msg.action === "auth") {
        const ok = msg.key === this.keyId && msg.secret === this.secretKey;
        state.authed = ok;
        socket.send(enc.encode(JSON.stringify({
          stream: "authorization",
          data: { action: "authenticate", status: ok ? "authorized" : "unauthorized" },
        })));
        if (!ok) socket.close();
      } else if (msg.action === "listen" && state.authed) {
        const streams = (msg.data?.streams ?? []).filter((s) => s === "trade_updates");
        state.listening = streams.length > 0;
        socket.send(enc.encode(JSON.stringify({ stream: "listening", data: { streams } })));
      }
    };
    socket.onclose = () => this.#sockets.delete(socket);
    socket.onerror = () => {};
  }

  async #accept(): Promise<void> {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch {
        return;
      }
      this.#conns.add(conn);
      this.#handle(conn).catch(() => {}).finally(() => {
        this.#conns.delete(conn);
        try {
          conn.close();
        } catch { /* closed */ }
      });
    }
  }

  async #handle(conn: Deno.Conn): Promise<void> {
    // Reads one request (headers + Content-Length body); answers with Connection: close.
    let buf: Uint8Array = new Uint8Array(0);
    const chunk = new Uint8Array(16384);
    let headerEnd = -1;
    for (let i = 0; i < 1000 && headerEnd < 0; i++) {
      const n = await conn.read(chunk);
      if (n === null) return;
      buf = concat(buf, chunk.subarray(0, n));
      headerEnd = dec.decode(buf).indexOf("\r\n\r\n");
    }
    if (headerEnd < 0) return;
    const head = dec.decode(buf).slice(0, headerEnd);
    const [requestLine, ...headerLines] = head.split("\r\n");
    const [method, target] = requestLine.split(" ");
    const headers = new Map(headerLines.map((l) => {
      const i = l.indexOf(":");
      return [l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim()] as [string, string];
    }));
    const length = Number(headers.get("content-length") ?? 0);
    const bodyStart = enc.encode(dec.decode(buf).slice(0, headerEnd + 4)).length;
    for (let i = 0; i < 1000 && buf.length - bodyStart < length; i++) {
      const n = await conn.read(chunk);
      if (n === null) return;
      buf = concat(buf, chunk.subarray(0, n));
    }
    const body = dec.decode(buf.subarray(bodyStart, bodyStart + length));
    const res = await this.#route(method, target, headers, body);
    if (res === "drop") return;
    const payload = res.body === undefined ? "" : JSON.stringify(res.body);
    const bytes = enc.encode(payload);
    const extra = res.retryAfter !== undefined ? `Retry-After: ${res.retryAfter}\r\n` : "";
    const text = `HTTP/1.1 ${res.status} ${res.status < 300 ? "OK" : "Error"}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${bytes.length}\r\n${extra}` +
      `Connection: close\r\n\r\n`;
    await writeAll(conn, concat(enc.encode(text), bytes));
  }

  async #route(
    method: string,
    target: string,
    headers: Map<string, string>,
    body: string,
  ): Promise<{ status: number; body?: unknown; retryAfter?: number } | "drop"> {
    const url = new URL(target, "http://x");
    const path = url.pathname;
    let route: string;
    let id: string | undefined;
    if (path === "/v2/orders") route = "/v2/orders";
    else if (path === "/v2/orders:by_client_order_id") route = "/v2/orders:by_client_order_id";
    else if (path.startsWith("/v2/orders/")) {
      route = "/v2/orders/{id}";
      id = decodeURIComponent(path.slice("/v2/orders/".length));
    } else if (path === "/v2/account") route = "/v2/account";
    else return { status: 404, body: { code: 40410000, message: "endpoint not found" } };
    let parsed: Record<string, string> = {};
    if (body) {
      try {
        parsed = JSON.parse(body);
      } catch {
        return { status: 400, body: { code: 40010000, message: "invalid json" } };
      }
    }
    const clientOrderId = parsed.client_order_id ?? url.searchParams.get("client_order_id") ??
      undefined;
    this.seen.push({ method, route, clientOrderId });
    if (
      headers.get("apca-api-key-id") !== this.keyId ||
      headers.get("apca-api-secret-key") !== this.secretKey
    ) {
      return { status: 403, body: { message: "forbidden." } };
    }
    const fi = this.faults.findIndex((f) => f.route === `${method} ${route}`);
    if (fi >= 0) {
      const [f] = this.faults.splice(fi, 1);
      if (f.commit && method === "POST" && route === "/v2/orders") this.#create(parsed);
      if (f.action === "drop") return "drop";
      if (f.action === "timeout") {
        await new Promise((r) => setTimeout(r, f.delayMs ?? 1000));
        return "drop";
      }
      return {
        status: f.action.status,
        body: { code: f.action.status * 100000, message: f.action.message ?? "error" },
        retryAfter: f.action.retryAfter,
      };
    }
    if (method === "POST" && route === "/v2/orders") return this.#post(parsed);
    if (method === "GET" && route === "/v2/orders:by_client_order_id") {
      const oid = this.byClient.get(clientOrderId ?? "");
      return oid
        ? { status: 200, body: this.orders.get(oid) }
        : { status: 404, body: { code: 40410000, message: "order not found" } };
    }
    if (route === "/v2/orders/{id}") {
      const o = this.orders.get(id!);
      if (!o) return { status: 404, body: { code: 40410000, message: "order not found" } };
      if (method === "GET") return { status: 200, body: o };
      if (method === "DELETE") {
        if (["filled", "canceled", "expired", "rejected"].includes(o.status)) {
          return { status: 422, body: { code: 42210000, message: "order is not cancelable" } };
        }
        o.status = "canceled";
        queueMicrotask(() => this.push("canceled", o));
        return { status: 204 };
      }
    }
    if (route === "/v2/account" && method === "GET") {
      return {
        status: 200,
        body: { id: "acct", buying_power: String(this.buyingPower), status: "ACTIVE" },
      };
    }
    return { status: 405, body: { message: "method not allowed" } };
  }

  #post(p: Record<string, string>): { status: number; body: unknown } {
    if (!p.symbol || !p.qty || !p.side || !p.type || !p.time_in_force) {
      return { status: 422, body: { code: 40010001, message: "invalid order: missing field" } };
    }
    if (p.client_order_id && this.byClient.has(p.client_order_id)) {
      return { status: 422, body: { code: 40010001, message: "client_order_id must be unique" } };
    }
    if (!this.assets.has(p.symbol)) {
      return { status: 422, body: { code: 40010001, message: `asset "${p.symbol}" not found` } };
    }
    if (p.side === "buy" && Number(p.qty) * this.price > this.buyingPower) {
      return { status: 403, body: { code: 40310000, message: "insufficient buying power" } };
    }
    return { status: 200, body: this.#create(p) };
  }

  #create(p: Record<string, string>): FakeOrder {
    const existing = this.byClient.get(p.client_order_id);
    if (existing) return this.orders.get(existing)!;
    const o: FakeOrder = {
      id: `alp-${++this.#seq}-${crypto.randomUUID().slice(0, 8)}`,
      client_order_id: p.client_order_id ?? crypto.randomUUID(),
      symbol: p.symbol,
      qty: p.qty,
      filled_qty: "0",
      filled_avg_price: null,
      side: p.side,
      type: p.type,
      time_in_force: p.time_in_force,
      limit_price: p.limit_price ?? null,
      status: "accepted",
      created_at: new Date().toISOString(),
    };
    this.orders.set(o.id, o);
    this.byClient.set(o.client_order_id, o.id);
    queueMicrotask(() => this.push("new", o));
    return o;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  for (let i = 0; i < 10_000 && off < bytes.length; i++) {
    off += await conn.write(bytes.subarray(off));
  }
}

if (import.meta.main) {
  const f = FakeAlpaca.start();
  console.log(JSON.stringify({ rest: f.baseUrl, stream: f.streamUrl }));
}
