/**
 * A local WebSocket server that speaks the documented Alpaca market data v2
 * protocol, for tests (a test double: never imported by production code): `connected` on open, `auth` answered with `authenticated`
 * or error 402 (then closed), `subscribe` answered with `subscription`, 401 for a
 * subscribe before auth, 400 for a frame that is not JSON. Tests push data frames
 * and misbehaviour (server close, silence, slow-client errors) through it.
 * @module
 */

/** The path the server answers stock streams on (Alpaca's IEX feed). */
export const STOCKS_PATH = "/v2/iex";
/** The path the server answers crypto streams on. */
export const CRYPTO_PATH = "/v1beta3/crypto/us";

/** What the server saw of one connection. */
export interface FakeConnection {
  readonly path: string;
  readonly socket: WebSocket;
  authenticated: boolean;
  subscribed: Record<string, string[]> | undefined;
}

/** A fake Alpaca stream server on 127.0.0.1 and a free port. */
export class FakeAlpacaServer {
  readonly connections: FakeConnection[] = [];
  readonly received: string[] = [];
  /** When false, the server does not greet with `connected` (handshake timeout tests). */
  greet = true;
  readonly #server: Deno.HttpServer<Deno.NetAddr>;

  constructor(readonly keyId = "key", readonly secretKey = "secret") {
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      (req) => {
        if (req.headers.get("upgrade") !== "websocket") return new Response("no", { status: 400 });
        const { socket, response } = Deno.upgradeWebSocket(req);
        const conn: FakeConnection = {
          path: new URL(req.url).pathname,
          socket,
          authenticated: false,
          subscribed: undefined,
        };
        this.connections.push(conn);
        socket.onopen = () => {
          if (this.greet) socket.send(JSON.stringify([{ T: "success", msg: "connected" }]));
        };
        socket.onmessage = (ev) => this.#onMessage(conn, String(ev.data));
        socket.onerror = () => {};
        return response;
      },
    );
  }

  /** The base URL (`ws://127.0.0.1:PORT`). */
  get base(): string {
    return `ws://127.0.0.1:${this.#server.addr.port}`;
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
      send({ T: "error", code: 400, msg: "invalid syntax" });
      return;
    }
    if (msg.action === "auth") {
      if (msg.key === this.keyId && msg.secret === this.secretKey) {
        conn.authenticated = true;
        send({ T: "success", msg: "authenticated" });
      } else {
        send({ T: "error", code: 402, msg: "auth failed" });
        conn.socket.close();
      }
    } else if (msg.action === "subscribe") {
      if (!conn.authenticated) {
        send({ T: "error", code: 401, msg: "not authenticated" });
        return;
      }
      const lists: Record<string, string[]> = {};
      for (const list of ["trades", "quotes", "bars", "orderbooks"]) {
        if (Array.isArray(msg[list])) lists[list] = msg[list] as string[];
      }
      conn.subscribed = lists;
      send({ T: "subscription", ...lists });
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
