/**
 * A local WebSocket server that speaks the documented Alpaca market data v2 protocol,
 * for tests (a test double: never imported by production code):
 * - `connected` on open; `auth` answered with `authenticated` or 402 (then closed); a
 *   second `auth` with 403; no `auth` within `authTimeoutMs` with 404 (then closed);
 * - `subscribe`/`unsubscribe` answered with the whole current subscription (every list;
 *   `corrections` and `cancelErrors` follow `trades`, as Alpaca subscribes them
 *   automatically; `orderbooks` on the crypto path only); before auth with 401; a frame
 *   that is not JSON, or an unknown action, with 400;
 * - scripted refusals with the documented frames (`testing/alpaca_fixtures.ts`): an error
 *   code answering `auth` (`authError`) or `subscribe` (`subscribeError`), and an HTTP
 *   status refusing the WebSocket upgrade (`upgradeStatus`);
 * - every message it builds has `T` first (the Go SDK requires it);
 * - the trading API's `GET /v2/clock` and `GET /v2/calendar` (at {@link tradingUrl}):
 *   the clock in the documented shape around the current time (`marketOpen`), the
 *   calendar as set (`calendar`); wrong keys get 401 with the documented body.
 * Tests push data frames of every kind and misbehaviour (server close, silence,
 * slow-client errors) through it.
 * @module
 */
import { ERROR_FRAMES } from "./alpaca_fixtures.ts";

/** The path the server answers stock streams on (Alpaca's IEX feed). */
export const STOCKS_PATH = "/v2/iex";
/** The path the server answers crypto streams on. */
export const CRYPTO_PATH = "/v1beta3/crypto/us";

/** The lists of a stock subscription answer, in the docs' order. */
const STOCK_LISTS = ["trades", "quotes", "bars", "updatedBars", "dailyBars", "statuses", "lulds"];
/** The lists of a crypto subscription answer, in the docs' order. */
const CRYPTO_LISTS = ["trades", "quotes", "orderbooks", "bars", "updatedBars", "dailyBars"];

/** What the server saw of one connection. */
export interface FakeConnection {
  readonly path: string;
  readonly socket: WebSocket;
  authenticated: boolean;
  /** What the client asked for (lists it named), after the server's answer. */
  subscribed: Record<string, string[]> | undefined;
  /** The server's current subscription of this connection, every list. */
  readonly lists: Record<string, string[]>;
}

/** A fake Alpaca stream server on 127.0.0.1 and a free port. */
export class FakeAlpacaServer {
  readonly connections: FakeConnection[] = [];
  readonly received: string[] = [];
  /** When false, the server does not greet with `connected` (handshake timeout tests). */
  greet = true;
  /** An error code to answer every `auth` with (its documented frame), then close. */
  authError: number | undefined;
  /** An error code to answer every `subscribe` with (its documented frame). */
  subscribeError: number | undefined;
  /** An HTTP status to refuse the WebSocket upgrade with (e.g. 403). */
  upgradeStatus: number | undefined;
  /** Time the client has to authenticate before 404 `auth timeout`; default 10 s. */
  authTimeoutMs = 10_000;
  /** Whether `GET /v2/clock` says the market is open. */
  marketOpen = true;
  /** The body of `GET /v2/calendar`. */
  calendar: unknown = [];
  /** REST requests seen (`GET /v2/clock`, ...). */
  readonly rest: string[] = [];
  readonly #server: Deno.HttpServer<Deno.NetAddr>;

  constructor(readonly keyId = "key", readonly secretKey = "secret") {
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      (req) => {
        const url = new URL(req.url);
        if (url.pathname === "/v2/clock" || url.pathname === "/v2/calendar") {
          return this.#rest(req, url);
        }
        if (this.upgradeStatus !== undefined) {
          return new Response(JSON.stringify({ message: "forbidden." }), {
            status: this.upgradeStatus,
          });
        }
        if (req.headers.get("upgrade") !== "websocket") return new Response("no", { status: 400 });
        const { socket, response } = Deno.upgradeWebSocket(req);
        const path = new URL(req.url).pathname;
        const conn: FakeConnection = {
          path,
          socket,
          authenticated: false,
          subscribed: undefined,
          lists: Object.fromEntries(
            (path === CRYPTO_PATH ? CRYPTO_LISTS : STOCK_LISTS).map((list) => [list, []]),
          ),
        };
        this.connections.push(conn);
        let authTimer: ReturnType<typeof setTimeout> | undefined;
        socket.onopen = () => {
          if (this.greet) socket.send(JSON.stringify([{ T: "success", msg: "connected" }]));
          authTimer = setTimeout(() => {
            if (conn.authenticated || socket.readyState !== WebSocket.OPEN) return;
            socket.send(ERROR_FRAMES[404]);
            socket.close();
          }, this.authTimeoutMs);
        };
        socket.onmessage = (ev) => this.#onMessage(conn, String(ev.data));
        socket.onclose = () => clearTimeout(authTimer);
        socket.onerror = () => {};
        return response;
      },
    );
  }

  /** The base URL (`ws://127.0.0.1:PORT`). */
  get base(): string {
    return `ws://127.0.0.1:${this.#server.addr.port}`;
  }

  /** The trading API URL (`marketData.alpaca.tradingUrl` of a test). */
  get tradingUrl(): string {
    return `http://127.0.0.1:${this.#server.addr.port}`;
  }

  #rest(req: Request, url: URL): Response {
    this.rest.push(`${req.method} ${url.pathname}`);
    if (
      req.headers.get("apca-api-key-id") !== this.keyId ||
      req.headers.get("apca-api-secret-key") !== this.secretKey
    ) {
      // Petersoj/alpaca-java#156: Alpaca's answer to keys it does not know.
      return Response.json({ code: 40110000, message: "request is not authorized" }, {
        status: 401,
      });
    }
    if (url.pathname === "/v2/calendar") return Response.json(this.calendar);
    const now = Date.now();
    const hour = 3_600_000;
    return Response.json({
      timestamp: new Date(now).toISOString(),
      is_open: this.marketOpen,
      next_open: new Date(now + (this.marketOpen ? 20 : 1) * hour).toISOString(),
      next_close: new Date(now + (this.marketOpen ? 1 : 8) * hour).toISOString(),
    });
  }

  /** The stock stream URL (`marketData.alpaca.stocksUrl` of a test). */
  get stocksUrl(): string {
    return this.base + STOCKS_PATH;
  }

  /** The crypto stream URL (`marketData.alpaca.cryptoUrl` of a test). */
  get cryptoUrl(): string {
    return this.base + CRYPTO_PATH;
  }

  #onMessage(conn: FakeConnection, text: string): void {
    this.received.push(text);
    const send = (message: unknown) => conn.socket.send(JSON.stringify([message]));
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(text);
    } catch {
      conn.socket.send(ERROR_FRAMES[400]);
      return;
    }
    if (msg.action === "auth") {
      if (conn.authenticated) {
        conn.socket.send(ERROR_FRAMES[403]);
      } else if (this.authError !== undefined) {
        conn.socket.send(ERROR_FRAMES[this.authError]);
        conn.socket.close();
      } else if (msg.key === this.keyId && msg.secret === this.secretKey) {
        conn.authenticated = true;
        send({ T: "success", msg: "authenticated" });
      } else {
        conn.socket.send(ERROR_FRAMES[402]);
        conn.socket.close();
      }
    } else if (msg.action === "subscribe" || msg.action === "unsubscribe") {
      if (!conn.authenticated) {
        conn.socket.send(ERROR_FRAMES[401]);
        return;
      }
      if (this.subscribeError !== undefined) {
        conn.socket.send(ERROR_FRAMES[this.subscribeError]);
        return;
      }
      const asked: Record<string, string[]> = {};
      for (const [list, symbols] of Object.entries(msg)) {
        if (list === "action" || !Array.isArray(symbols)) continue;
        if (!(list in conn.lists) && list !== "imbalances") {
          conn.socket.send(ERROR_FRAMES[410]);
          return;
        }
        asked[list] = symbols as string[];
        const current = new Set(conn.lists[list] ?? []);
        for (const symbol of symbols as string[]) {
          if (msg.action === "subscribe") current.add(symbol);
          else current.delete(symbol);
        }
        conn.lists[list] = [...current];
      }
      conn.subscribed = asked;
      const answer: Record<string, unknown> = { T: "subscription", ...conn.lists };
      if (conn.path !== CRYPTO_PATH) {
        // Subscribed automatically with the trades (docs: "Trade Corrections").
        answer.corrections = [...conn.lists.trades];
        answer.cancelErrors = [...conn.lists.trades];
      }
      send(answer);
    } else {
      conn.socket.send(ERROR_FRAMES[400]);
    }
  }

  /** Open connections that have subscribed. */
  streaming(): FakeConnection[] {
    return this.connections.filter((c) =>
      c.subscribed !== undefined && c.socket.readyState === WebSocket.OPEN
    );
  }

  /** Sends a raw text frame to every subscribed connection (on `path`, if given). */
  send(frame: string, path?: string): void {
    for (const connection of this.streaming()) {
      if (path === undefined || connection.path === path) connection.socket.send(frame);
    }
  }

  /** Sends one frame holding `messages` (objects, `T` first) to the subscribed connections. */
  sendMessages(messages: readonly unknown[], path?: string): void {
    this.send(JSON.stringify(messages), path);
  }

  /** Closes every connection from the server side. */
  dropAll(code = 1011): void {
    for (const c of this.connections) {
      if (c.socket.readyState === WebSocket.OPEN) c.socket.close(code, "server going away");
    }
  }

  /** Stops the server. */
  async close(): Promise<void> {
    for (const c of this.connections) {
      try {
        c.socket.close();
      } catch {
        // already closed
      }
    }
    await this.#server.shutdown();
  }
}
