/**
 * A local stand-in for Alpaca's trading API, for tests: a raw HTTP/1.1 server on
 * 127.0.0.1 (so it can drop a connection without answering) speaking the documented
 * REST endpoints, and a WebSocket `trade_updates` stream (documented `authenticate` and
 * `listen`, binary frames as the paper endpoint sends).
 *
 * What it does as Alpaca does (payloads from `testing/alpaca_fixtures.ts`):
 * - wrong keys: 401 `request is not authorized` (or 403 `forbidden.` with `authFailureStatus`);
 * - every answer carries `X-RateLimit-Limit`, `-Remaining` and `-Reset` (epoch seconds) of a
 *   real window (`rateLimit` a minute); past it, 429 until the reset;
 * - `GET /v2/account` (the documented account, its `status`/`*_blocked` settable),
 *   `GET /v2/positions` (kept by the fills), `GET /v2/clock` (`clock`: a body, or computed
 *   around now from `marketOpen`), `GET /v2/calendar` (`calendar`);
 * - orders: crypto `day` refused (422 `invalid crypto time_in_force`), a sub-penny limit
 *   refused (422), `extended_hours` with a non-limit order refused (422); a market order
 *   while its clock says closed is accepted and queued (status `accepted`, kept in
 *   `queued`), as Alpaca does after the close;
 * - fills carry `execution_id` and `position_qty`; {@link FakeAlpaca.replace} replaces an
 *   order (a `replaced` update for the old one naming `replaced_by`, then `new` for the
 *   new one naming `replaces`; INFERRED order and client order id: not documented);
 * - the stream answers `listen` before auth with `unauthorized`/`listen`, can send an
 *   error frame, a heartbeat, forget a socket's auth, and go half-open ({@link FakeAlpaca.freeze}).
 *
 * Faults are scripted per route, first in first out: an HTTP status (403, 422, 429
 * with Retry-After or X-RateLimit-Reset, 500...), `timeout` (answers after `delayMs`), or
 * `drop` (closes the connection without a response); `commit: true` makes a POST create the
 * order before failing, as when the venue took it and the answer was lost.
 *
 * Run standalone (`deno run -A testing/fake_alpaca.ts`) it prints `{"rest":...,"stream":...}`.
 * @module
 */
import { ACCOUNT, ERRORS, LISTEN_UNAUTHORIZED } from "./alpaca_fixtures.ts";

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
  extended_hours: boolean;
  replaced_by: string | null;
  replaces: string | null;
}

/** A scripted fault. */
export interface Fault {
  /** `"POST /v2/orders"`, `"GET /v2/orders:by_client_order_id"`, `"GET /v2/orders/{id}"`, ... */
  route: string;
  action:
    | {
      status: number;
      message?: string;
      retryAfter?: number;
      /** `X-RateLimit-Reset` to send, epoch seconds (with `X-RateLimit-Remaining: 0`). */
      reset?: number;
    }
    | "timeout"
    | "drop";
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
  /** The status of a refused key: 401 (the trading API's) or 403. */
  authFailureStatus: 401 | 403 = 401;
  /** The account `GET /v2/account` answers (the documented example; change its fields). */
  account: Record<string, unknown> = { ...ACCOUNT };
  /** Signed positions by symbol, moved by the fills. */
  readonly positions = new Map<string, number>();
  /** `GET /v2/clock`'s body; undefined: computed around now from {@link marketOpen}. */
  clock: unknown = undefined;
  /** Whether the computed clock says open (and so whether a market order is queued). */
  marketOpen = true;
  /** `GET /v2/calendar`'s body. */
  calendar: unknown = [];
  /** Requests allowed per minute before 429 (Alpaca: 200). */
  rateLimit = 200;
  /** The rate-limit window's clock (epoch ms); a test that skips time shares its own. */
  now: () => number = Date.now;
  /** Orders accepted while closed, queued for the next open. */
  readonly queued: string[] = [];
  #window = { start: 0, used: 0 };
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
    const position = (this.positions.get(o.symbol) ?? 0) + (o.side === "buy" ? qty : -qty);
    this.positions.set(o.symbol, position);
    this.push(o.status === "filled" ? "fill" : "partial_fill", o, {
      price,
      qty,
      execution_id: crypto.randomUUID(),
      position_qty: String(position),
    });
  }

  /**
   * Replaces an open order (as a `PATCH /v2/orders/{id}` or a corporate action would): the
   * old order becomes `replaced` with `replaced_by`, a new order with `replaces` takes its
   * place with a fresh client order id, and `replaced` then `new` are pushed (INFERRED
   * order). Returns the new order.
   */
  replace(clientOrderId: string, change: { qty?: string; limit_price?: string } = {}): FakeOrder {
    const old = this.orders.get(this.byClient.get(clientOrderId)!)!;
    const next: FakeOrder = {
      ...old,
      id: `alp-${++this.#seq}-${crypto.randomUUID().slice(0, 8)}`,
      client_order_id: crypto.randomUUID(),
      qty: change.qty ?? old.qty,
      limit_price: change.limit_price ?? old.limit_price,
      filled_qty: "0",
      filled_avg_price: null,
      status: "new",
      replaces: old.id,
      replaced_by: null,
      created_at: new Date().toISOString(),
    };
    old.status = "replaced";
    old.replaced_by = next.id;
    this.orders.set(next.id, next);
    this.byClient.set(next.client_order_id, next.id);
    this.push("replaced", old);
    this.push("new", next);
    return next;
  }

  /** Sends an error frame (INFERRED shape by default) to every listening socket. */
  sendError(frame: unknown): void {
    this.sendRaw(JSON.stringify(frame));
  }

  /** Sends the one-byte heartbeat frame to every listening socket. */
  heartbeat(): void {
    for (const s of this.#sockets) {
      if ((s as unknown as { listening?: boolean }).listening) s.send(new Uint8Array([1]));
    }
  }

  /** Makes every open stream socket forget its authorization (a listen then gets `unauthorized`). */
  forgetAuth(): void {
    for (const s of this.#sockets) {
      const state = s as unknown as { authed?: boolean; listening?: boolean };
      state.authed = false;
      state.listening = false;
    }
  }

  /**
   * Makes every open stream socket half-open: it neither sends nor answers anything again,
   * and never closes. New connections work.
   */
  freeze(): void {
    for (const s of this.#sockets) (s as unknown as { frozen?: boolean }).frozen = true;
  }

  /** Sets a status and pushes the matching trade update (`canceled`, `expired`, `rejected`). */
  finish(clientOrderId: string, status: "canceled" | "expired" | "rejected"): void {
    const o = this.orders.get(this.byClient.get(clientOrderId)!)!;
    o.status = status;
    this.push(status, o);
  }

  /** Sends a trade update to every listening socket. */
  push(
    event: string,
    o: FakeOrder,
    last?: { price: number; qty: number; execution_id?: string; position_qty?: string },
  ): void {
    const msg = {
      stream: "trade_updates",
      data: {
        event,
        order: { ...o },
        timestamp: new Date().toISOString(),
        ...(last
          ? {
            price: String(last.price),
            qty: String(last.qty),
            ...(last.execution_id ? { execution_id: last.execution_id } : {}),
            ...(last.position_qty ? { position_qty: last.position_qty } : {}),
          }
          : {}),
      },
    };
    this.sendRaw(JSON.stringify(msg));
  }

  /** Sends raw text to every listening socket as a binary frame (as Alpaca's paper stream). */
  sendRaw(text: string): void {
    for (const s of this.#sockets) {
      const state = s as unknown as { listening?: boolean; frozen?: boolean };
      if (state.listening && !state.frozen && s.readyState === WebSocket.OPEN) {
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
    const state = socket as unknown as { listening?: boolean; authed?: boolean; frozen?: boolean };
    socket.onmessage = (ev) => {
      if (state.frozen) return;
      const text = typeof ev.data === "string" ? ev.data : dec.decode(ev.data as ArrayBuffer);
      let msg: {
        action?: string;
        data?: { streams?: string[]; key_id?: string; secret_key?: string };
      };
      try {
        msg = JSON.parse(text);
      } catch {
        return;
      }
      if (msg.action === "authenticate") {
        const ok = msg.data?.key_id === this.keyId && msg.data?.secret_key === this.secretKey;
        state.authed = ok;
        socket.send(enc.encode(JSON.stringify({
          stream: "authorization",
          data: { status: ok ? "authorized" : "unauthorized", action: "authenticate" },
        })));
        if (!ok) socket.close();
      } else if (msg.action === "listen") {
        if (!state.authed) {
          socket.send(enc.encode(JSON.stringify(LISTEN_UNAUTHORIZED)));
          return;
        }
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
    let extra = res.retryAfter !== undefined ? `Retry-After: ${res.retryAfter}\r\n` : "";
    if (res.rate) {
      extra +=
        `X-RateLimit-Limit: ${res.rate.limit}\r\nX-RateLimit-Remaining: ${res.rate.remaining}\r\n` +
        `X-RateLimit-Reset: ${res.rate.reset}\r\n`;
    }
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
  ): Promise<Answer | "drop"> {
    const answer = await this.#answer(method, target, headers, body);
    if (answer === "drop" || answer.rate) return answer;
    return { ...answer, rate: this.#rate(answer.status === 429) };
  }

  /** The rate-limit window after one more request (a 429 of a fault uses none). */
  #rate(refused: boolean): { limit: number; remaining: number; reset: number } {
    const now = this.now();
    if (now - this.#window.start >= 60_000) this.#window = { start: now, used: 0 };
    if (!refused) this.#window.used++;
    return {
      limit: this.rateLimit,
      remaining: Math.max(0, this.rateLimit - this.#window.used),
      reset: Math.ceil((this.#window.start + 60_000) / 1000),
    };
  }

  /** Whether the fake's clock says the market is open. */
  #open(): boolean {
    const clock = this.clock as { is_open?: unknown } | undefined;
    return clock === undefined ? this.marketOpen : clock.is_open === true;
  }

  async #answer(
    method: string,
    target: string,
    headers: Map<string, string>,
    body: string,
  ): Promise<Answer | "drop"> {
    const url = new URL(target, "http://x");
    const path = url.pathname;
    let route: string;
    let id: string | undefined;
    if (path === "/v2/orders") route = "/v2/orders";
    else if (path === "/v2/orders:by_client_order_id") route = "/v2/orders:by_client_order_id";
    else if (path.startsWith("/v2/orders/")) {
      route = "/v2/orders/{id}";
      id = decodeURIComponent(path.slice("/v2/orders/".length));
    } else if (
      path === "/v2/account" || path === "/v2/positions" || path === "/v2/clock" ||
      path === "/v2/calendar"
    ) route = path;
    else return { status: 404, body: { code: 40410000, message: "endpoint not found" } };
    let parsed: Record<string, string | boolean> = {};
    if (body) {
      try {
        parsed = JSON.parse(body);
      } catch {
        return { status: 400, body: { code: 40010000, message: "invalid json" } };
      }
    }
    const clientOrderId = (parsed.client_order_id as string | undefined) ??
      url.searchParams.get("client_order_id") ?? undefined;
    this.seen.push({ method, route, clientOrderId });
    if (
      headers.get("apca-api-key-id") !== this.keyId ||
      headers.get("apca-api-secret-key") !== this.secretKey
    ) {
      return this.authFailureStatus === 401
        ? ERRORS.unauthorized
        : { status: 403, body: { message: "forbidden." } };
    }
    if (this.now() - this.#window.start >= 60_000) this.#window = { start: this.now(), used: 0 };
    if (this.#window.used >= this.rateLimit) {
      return { ...ERRORS.rateLimited, rate: this.#rate(true) };
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
      const reset = f.action.reset;
      return {
        status: f.action.status,
        body: f.action.status === 429 && f.action.message === undefined
          ? ERRORS.rateLimited.body
          : { code: f.action.status * 100000, message: f.action.message ?? "error" },
        retryAfter: f.action.retryAfter,
        ...(reset !== undefined ? { rate: { limit: this.rateLimit, remaining: 0, reset } } : {}),
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
        if (["filled", "canceled", "expired", "rejected", "replaced"].includes(o.status)) {
          return { status: 422, body: { code: 42210000, message: "order is not cancelable" } };
        }
        o.status = "canceled";
        queueMicrotask(() => this.push("canceled", o));
        return { status: 204 };
      }
    }
    if (route === "/v2/account" && method === "GET") {
      return { status: 200, body: { ...this.account, buying_power: String(this.buyingPower) } };
    }
    if (route === "/v2/positions" && method === "GET") {
      return {
        status: 200,
        body: [...this.positions].filter(([, qty]) => qty !== 0).map(([symbol, qty]) => ({
          symbol: symbol.replace("/", ""),
          asset_class: symbol.includes("/") ? "crypto" : "us_equity",
          avg_entry_price: String(this.price),
          qty: String(qty),
          side: qty < 0 ? "short" : "long",
        })),
      };
    }
    if (route === "/v2/clock" && method === "GET") {
      if (this.clock !== undefined) return { status: 200, body: this.clock };
      const now = Date.now();
      const hour = 3_600_000;
      return {
        status: 200,
        body: {
          timestamp: new Date(now).toISOString(),
          is_open: this.marketOpen,
          next_open: new Date(now + (this.marketOpen ? 20 : 1) * hour).toISOString(),
          next_close: new Date(now + (this.marketOpen ? 1 : 8) * hour).toISOString(),
        },
      };
    }
    if (route === "/v2/calendar" && method === "GET") return { status: 200, body: this.calendar };
    return { status: 405, body: { message: "method not allowed" } };
  }

  #post(p: Record<string, string | boolean>): { status: number; body: unknown } {
    if (!p.symbol || !p.qty || !p.side || !p.type || !p.time_in_force) {
      return { status: 422, body: { code: 40010001, message: "invalid order: missing field" } };
    }
    const symbol = String(p.symbol);
    if (symbol.includes("/") && p.time_in_force !== "gtc" && p.time_in_force !== "ioc") {
      return ERRORS.cryptoTimeInForce;
    }
    if (p.limit_price !== undefined && !symbol.includes("/")) {
      const price = String(p.limit_price);
      const decimals = price.split(".")[1]?.length ?? 0;
      if (decimals > (Number(price) >= 1 ? 2 : 4)) return ERRORS.subPenny(price);
    }
    if (p.extended_hours === true && p.type !== "limit") return ERRORS.extendedHoursLimitOnly;
    if (p.client_order_id && this.byClient.has(String(p.client_order_id))) {
      return { status: 422, body: { code: 40010001, message: "client_order_id must be unique" } };
    }
    if (!this.assets.has(symbol)) {
      return { status: 422, body: { code: 40010001, message: `asset "${p.symbol}" not found` } };
    }
    if (p.side === "buy" && Number(p.qty) * this.price > this.buyingPower) {
      return { status: 403, body: { code: 40310000, message: "insufficient buying power" } };
    }
    const order = this.#create(p);
    if (!this.#open() && !symbol.includes("/") && p.extended_hours !== true) {
      // Alpaca: "Orders not eligible for extended hours submitted after 4:00pm ET will be
      // queued up for release the next trading day."
      this.queued.push(order.client_order_id);
    }
    return { status: 200, body: order };
  }

  #create(p: Record<string, string | boolean>): FakeOrder {
    const existing = this.byClient.get(String(p.client_order_id));
    if (existing) return this.orders.get(existing)!;
    const o: FakeOrder = {
      id: `alp-${++this.#seq}-${crypto.randomUUID().slice(0, 8)}`,
      client_order_id: p.client_order_id ? String(p.client_order_id) : crypto.randomUUID(),
      symbol: String(p.symbol),
      qty: String(p.qty),
      filled_qty: "0",
      filled_avg_price: null,
      side: String(p.side),
      type: String(p.type),
      time_in_force: String(p.time_in_force),
      limit_price: p.limit_price !== undefined ? String(p.limit_price) : null,
      status: "accepted",
      created_at: new Date().toISOString(),
      extended_hours: p.extended_hours === true,
      replaced_by: null,
      replaces: null,
    };
    this.orders.set(o.id, o);
    this.byClient.set(o.client_order_id, o.id);
    queueMicrotask(() => this.push("new", o));
    return o;
  }
}

/** One answer of the REST server. */
interface Answer {
  status: number;
  body?: unknown;
  retryAfter?: number;
  rate?: { limit: number; remaining: number; reset: number };
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
