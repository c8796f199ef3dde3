/**
 * Alpaca's `trade_updates` WebSocket stream: connects to `streamUrl`, sends
 * `{"action":"auth","key":…,"secret":…}`, waits for `authorization`/`authorized`, sends
 * `{"action":"listen","data":{"streams":["trade_updates"]}}`, then turns each trade
 * update into a {@link VenueEvent}. Text and binary frames are both read (the paper
 * endpoint sends binary). On close it reconnects with exponential backoff and, once
 * listening again, asks for a resync (updates may have been missed meanwhile).
 *
 * A malformed message is counted in `execution_engine_api_failures_total{endpoint="/stream",
 * status_code="invalid",error_message="invalid_response"}`, logged and skipped.
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { getLogger } from "../../lib/log.ts";
import { isAlpacaOrder, mapAlpacaOrder } from "./alpaca_client.ts";
import type { ApiMetrics } from "./metrics.ts";
import type { VenueEvent } from "./venue.ts";

/** Options of {@link TradeUpdatesStream}. */
export interface TradeUpdatesStreamOptions {
  url: string;
  keyId: string;
  secretKey: string;
  /** Where stream failures are recorded. */
  metrics: ApiMetrics;
  onUpdate: (ev: VenueEvent) => void;
  /** Called after a reconnection is listening again. */
  onResync?: () => void;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  logger?: Logger;
}

/**
 * Parses one `trade_updates` message's `data`. Returns undefined for an update that
 * changes nothing the engine tracks, and throws a `TypeError` when malformed.
 */
export function parseTradeUpdate(data: unknown): VenueEvent | undefined {
  const d = data as Record<string, unknown>;
  if (typeof data !== "object" || data === null || typeof d.event !== "string") {
    throw new TypeError("trade update without event");
  }
  if (!isAlpacaOrder(d.order)) throw new TypeError("trade update without a valid order");
  const base = mapAlpacaOrder(d.order);
  const ts = typeof d.timestamp === "string" ? Date.parse(d.timestamp) || Date.now() : Date.now();
  const lastQty = d.qty !== undefined ? Number(d.qty) : undefined;
  const lastPrice = d.price !== undefined ? Number(d.price) : undefined;
  switch (d.event) {
    case "fill":
      return { ...base, state: "filled", lastQty, lastPrice, ts };
    case "partial_fill":
      return { ...base, state: "partially_filled", lastQty, lastPrice, ts };
    case "canceled":
      return { ...base, state: "canceled", ts };
    case "expired":
      return { ...base, state: "expired", ts };
    case "rejected":
      return { ...base, state: "rejected", reason: "venue_rejected", ts };
    case "new":
    case "accepted":
    case "pending_new":
      return { ...base, ts };
    default:
      // pending_cancel, done_for_day, replaced, calculated...: nothing to change here.
      return undefined;
  }
}

/** The `trade_updates` stream client. */
export class TradeUpdatesStream {
  readonly #options: TradeUpdatesStreamOptions;
  readonly #log: Logger;
  #ws?: WebSocket;
  #listening = false;
  #closed = false;
  #connections = 0;
  #backoffMs: number;
  #timer?: ReturnType<typeof setTimeout>;
  #firstOutcome?: (ok: boolean) => void;

  constructor(options: TradeUpdatesStreamOptions) {
    this.#options = options;
    this.#log = options.logger ?? getLogger(["trading", "execution", "alpaca_stream"]);
    this.#backoffMs = options.reconnectMinMs ?? 500;
  }

  /** True while authenticated and listening. */
  get listening(): boolean {
    return this.#listening;
  }

  /** Connects; resolves true once listening, false when the first attempt failed (it keeps retrying). */
  start(): Promise<boolean> {
    return new Promise((resolve) => {
      this.#firstOutcome = resolve;
      this.#connect();
    });
  }

  #settle(ok: boolean): void {
    const f = this.#firstOutcome;
    this.#firstOutcome = undefined;
    f?.(ok);
  }

  #fail(code: "network_error" | "auth_failed" | "invalid_response", status: string): void {
    this.#options.metrics.apiFailure({
      endpoint: "/stream",
      statusCode: status,
      errorMessage: code,
    });
  }

  #connect(): void {
    if (this.#closed) return;
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.#options.url);
    } catch (e) {
      this.#fail("network_error", "network");
      this.#log.warn("Cannot open trade_updates stream", { error: e });
      this.#settle(false);
      this.#reconnect();
      return;
    }
    this.#ws = ws;
    ws.binaryType = "arraybuffer";
    ws.onopen = () => {
      ws.send(
        JSON.stringify({
          action: "auth",
          key: this.#options.keyId,
          secret: this.#options.secretKey,
        }),
      );
    };
    ws.onmessage = (ev) => this.#message(ws, ev.data);
    ws.onerror = () => {};
    ws.onclose = () => {
      const was = this.#listening;
      this.#listening = false;
      if (this.#ws === ws) this.#ws = undefined;
      if (this.#closed) return;
      if (!was) this.#fail("network_error", "network");
      this.#log.warn("trade_updates stream closed; reconnecting", { backoffMs: this.#backoffMs });
      this.#settle(false);
      this.#reconnect();
    };
  }

  #reconnect(): void {
    if (this.#closed) return;
    const wait = this.#backoffMs;
    this.#backoffMs = Math.min(this.#backoffMs * 2, this.#options.reconnectMaxMs ?? 30_000);
    this.#timer = setTimeout(() => this.#connect(), wait);
  }

  #message(ws: WebSocket, data: unknown): void {
    let text: string;
    if (typeof data === "string") text = data;
    else if (data instanceof ArrayBuffer) text = new TextDecoder().decode(data);
    else {
      this.#invalid("unsupported frame");
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      this.#invalid("not JSON");
      return;
    }
    for (const item of Array.isArray(parsed) ? parsed : [parsed]) {
      const message = item as { stream?: unknown; data?: Record<string, unknown> };
      if (message?.stream === "authorization") {
        if (message.data?.status === "authorized") {
          ws.send(JSON.stringify({ action: "listen", data: { streams: ["trade_updates"] } }));
        } else {
          this.#fail("auth_failed", "unauthorized");
          this.#log.error("trade_updates stream refused the keys", {
            status: message.data?.status,
          });
          ws.close();
        }
      } else if (message?.stream === "listening") {
        const streams = message.data?.streams;
        if (Array.isArray(streams) && streams.includes("trade_updates")) {
          this.#listening = true;
          this.#backoffMs = this.#options.reconnectMinMs ?? 500;
          this.#connections++;
          this.#log.info("trade_updates stream listening", { connection: this.#connections });
          this.#settle(true);
          if (this.#connections > 1) this.#options.onResync?.();
        }
      } else if (message?.stream === "trade_updates") {
        try {
          const update = parseTradeUpdate(message.data);
          if (update) this.#options.onUpdate(update);
        } catch (e) {
          this.#invalid((e as Error).message);
        }
      } else {
        this.#invalid("unknown stream");
      }
    }
  }

  #invalid(detail: string): void {
    this.#fail("invalid_response", "invalid");
    this.#log.warn("Malformed trade_updates message skipped", { detail });
  }

  /** Closes the stream and stops reconnecting; resolves when the socket closed (at most 1 s). */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#settle(false);
    this.#listening = false;
    const ws = this.#ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      ws.addEventListener("close", () => resolve());
      timer = setTimeout(resolve, 1000);
      try {
        ws.close();
      } catch {
        resolve();
      }
    });
    clearTimeout(timer);
  }
}
