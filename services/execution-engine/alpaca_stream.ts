/**
 * Alpaca's `trade_updates` WebSocket stream (alpacahq/alpaca-docs
 * `content/api-references/trading-api/streaming.md`): connects to `streamUrl`, sends
 * `{"action":"authenticate","data":{"key_id":…,"secret_key":…}}`, waits for
 * `authorization`/`authorized`, sends `{"action":"listen","data":{"streams":["trade_updates"]}}`,
 * then turns each trade update into an {@link AlpacaTradeUpdate}. Text and binary frames
 * are both read (the paper endpoint sends binary); a one-byte `0x01` frame is a heartbeat
 * (the official JS SDK skips it the same way).
 *
 * - `unauthorized` for `authenticate`: the keys are refused (counted `auth_failed`), the
 *   socket closed and reconnected after the backoff. `unauthorized` for `listen` (Alpaca's
 *   answer to a listen before auth): authenticate again, then listen (counted
 *   `stream_error`).
 * - An error frame (`{"action":"error",…}`, `{"stream":"error",…}`, or a `data.error`;
 *   INFERRED shapes: Alpaca documents none, the JS SDK logs `data.error`): counted
 *   `stream_error`, logged, and the stream reconnected and resynced, since what the server
 *   still sends us is then unknown.
 * - Half-open: with no frame for `idleMs`, a `listen` is sent as a probe (Alpaca
 *   acknowledges every listen with `listening`); with still no frame `probeTimeoutMs`
 *   later, the connection is half-open: counted `half_open`, dropped without waiting for
 *   its close, and reconnected. (Deno's WebSocket client cannot send a WebSocket ping; the
 *   listen round trip proves more anyway: that Alpaca's application, not only a proxy,
 *   still answers.)
 * - Once listening again after any reconnect, `onResync` asks the engine to reconcile every
 *   open order by client order id, those already `sent` included: updates may have been
 *   missed meanwhile.
 * - A fill whose `execution_id` was already seen (a repeated update) is dropped.
 *
 * A malformed message is counted in `execution_engine_api_failures_total{endpoint="/stream",
 * status_code="invalid",error_message="invalid_response"}`, logged and skipped.
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { getLogger } from "../../lib/log.ts";
import { type AlpacaOrder, isAlpacaOrder, mapAlpacaOrder } from "./alpaca_client.ts";
import type { ApiMetrics } from "./metrics.ts";
import type { VenueEvent } from "./venue.ts";

/** One trade update, read: the engine's event and what the venue keeps beside it. */
export interface AlpacaTradeUpdate {
  /** Alpaca's event name (`fill`, `replaced`, ...). */
  readonly event: string;
  /** The order as Alpaca sent it. */
  readonly order: AlpacaOrder;
  /** The engine's view of it; undefined for an event that changes nothing it tracks. */
  readonly update: VenueEvent | undefined;
  /** The fill's execution id, when the event is a fill. */
  readonly executionId?: string;
  /** The venue's position in the symbol after this fill (`position_qty`, signed). */
  readonly positionQty?: number;
}

/** Options of {@link TradeUpdatesStream}. */
export interface TradeUpdatesStreamOptions {
  url: string;
  keyId: string;
  secretKey: string;
  /** Where stream failures are recorded. */
  metrics: ApiMetrics;
  onUpdate: (update: AlpacaTradeUpdate) => void;
  /** Called after a reconnection is listening again. */
  onResync?: () => void;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** Silence before a probe (ms); default 15 000. */
  idleMs?: number;
  /** Silence after a probe before the stream counts as half-open (ms); default 5000. */
  probeTimeoutMs?: number;
  logger?: Logger;
}

const EXECUTIONS_KEPT = 10_000;

function numberOf(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * Parses one `trade_updates` message's `data` into the engine's event. Returns undefined
 * for an update that changes nothing the engine tracks, and throws a `TypeError` when
 * malformed. `replaced` keeps the order open (the venue follows it to its new id).
 */
export function parseTradeUpdate(data: unknown): VenueEvent | undefined {
  return readTradeUpdate(data).update;
}

/** Parses one `trade_updates` message's `data` in full; throws a `TypeError` when malformed. */
export function readTradeUpdate(data: unknown): AlpacaTradeUpdate {
  const d = data as Record<string, unknown>;
  if (typeof data !== "object" || data === null || typeof d.event !== "string") {
    throw new TypeError("trade update without event");
  }
  if (!isAlpacaOrder(d.order)) throw new TypeError("trade update without a valid order");
  const order = d.order;
  const base = mapAlpacaOrder(order);
  const ts = typeof d.timestamp === "string" ? Date.parse(d.timestamp) || Date.now() : Date.now();
  const lastQty = numberOf(d.qty);
  const lastPrice = numberOf(d.price);
  let update: VenueEvent | undefined;
  switch (d.event) {
    case "fill":
      update = { ...base, state: "filled", lastQty, lastPrice, ts };
      break;
    case "partial_fill":
      update = { ...base, state: "partially_filled", lastQty, lastPrice, ts };
      break;
    case "canceled":
      update = { ...base, state: "canceled", ts };
      break;
    case "expired":
      update = { ...base, state: "expired", ts };
      break;
    case "rejected":
      update = { ...base, state: "rejected", reason: "venue_rejected", ts };
      break;
    case "new":
    case "accepted":
    case "pending_new":
    case "replaced":
      update = { ...base, ts };
      break;
    default:
      // pending_cancel, pending_replace, done_for_day, calculated, order_replace_rejected,
      // order_cancel_rejected, trade_bust, trade_correct...: nothing to change here.
      update = undefined;
  }
  const fill = d.event === "fill" || d.event === "partial_fill";
  return {
    event: d.event,
    order,
    update,
    ...(fill && typeof d.execution_id === "string" ? { executionId: d.execution_id } : {}),
    ...(numberOf(d.position_qty) !== undefined ? { positionQty: numberOf(d.position_qty) } : {}),
  };
}

/** The `trade_updates` stream client. */
export class TradeUpdatesStream {
  readonly #options: TradeUpdatesStreamOptions;
  readonly #log: Logger;
  readonly #idleMs: number;
  readonly #probeTimeoutMs: number;
  #ws?: WebSocket;
  #listening = false;
  #closed = false;
  #connections = 0;
  #backoffMs: number;
  #timer?: ReturnType<typeof setTimeout>;
  #watchdog?: ReturnType<typeof setInterval>;
  #firstOutcome?: (ok: boolean) => void;
  #lastFrameAt = 0;
  #probeSentAt: number | undefined;
  readonly #executions = new Set<string>();

  constructor(options: TradeUpdatesStreamOptions) {
    this.#options = options;
    this.#log = options.logger ?? getLogger(["trading", "execution", "alpaca_stream"]);
    this.#backoffMs = options.reconnectMinMs ?? 500;
    this.#idleMs = options.idleMs ?? 15_000;
    this.#probeTimeoutMs = options.probeTimeoutMs ?? 5_000;
  }

  /** True while authenticated and listening. */
  get listening(): boolean {
    return this.#listening;
  }

  /** Connects; resolves true once listening, false when the first attempt failed (it keeps retrying). */
  start(): Promise<boolean> {
    const every = Math.max(10, Math.min(this.#idleMs, this.#probeTimeoutMs) / 4);
    this.#watchdog = setInterval(() => this.#check(), every);
    Deno.unrefTimer(this.#watchdog);
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

  #fail(
    code: "network_error" | "auth_failed" | "invalid_response" | "stream_error" | "half_open",
    status: string,
  ): void {
    this.#options.metrics.apiFailure({
      endpoint: "/stream",
      statusCode: status,
      errorMessage: code,
    });
  }

  #authenticate(ws: WebSocket): void {
    ws.send(JSON.stringify({
      action: "authenticate",
      data: { key_id: this.#options.keyId, secret_key: this.#options.secretKey },
    }));
  }

  #listen(ws: WebSocket): void {
    ws.send(JSON.stringify({ action: "listen", data: { streams: ["trade_updates"] } }));
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
    this.#probeSentAt = undefined;
    ws.binaryType = "arraybuffer";
    ws.onopen = () => {
      this.#lastFrameAt = performance.now();
      this.#authenticate(ws);
    };
    ws.onmessage = (ev) => {
      if (ws !== this.#ws) return;
      this.#lastFrameAt = performance.now();
      this.#probeSentAt = undefined;
      this.#message(ws, ev.data);
    };
    ws.onerror = () => {};
    ws.onclose = () => {
      if (this.#ws !== ws) return;
      const was = this.#listening;
      this.#listening = false;
      this.#ws = undefined;
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

  /** Drops the current socket without waiting for its close and reconnects at once. */
  #drop(reason: string): void {
    const ws = this.#ws;
    this.#ws = undefined;
    this.#listening = false;
    this.#probeSentAt = undefined;
    try {
      ws?.close();
    } catch {
      // already closing
    }
    if (this.#closed) return;
    this.#log.warn("trade_updates stream dropped; reconnecting", { reason });
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#connect(), 0);
  }

  /** Watchdog: probes a silent stream and drops a half-open one. */
  #check(): void {
    const ws = this.#ws;
    if (!ws || !this.#listening || ws.readyState !== WebSocket.OPEN) return;
    const now = performance.now();
    if (this.#probeSentAt === undefined) {
      if (now - this.#lastFrameAt >= this.#idleMs) {
        this.#probeSentAt = now;
        try {
          this.#listen(ws);
        } catch {
          // a socket that cannot send is found by the timeout below
        }
      }
    } else if (now - this.#probeSentAt >= this.#probeTimeoutMs) {
      this.#fail("half_open", "timeout");
      this.#log.error("trade_updates stream is half-open: no answer to a probe; reconnecting", {
        silentMs: Math.round(now - this.#lastFrameAt),
      });
      this.#drop("half-open");
    }
  }

  #message(ws: WebSocket, data: unknown): void {
    let text: string;
    if (typeof data === "string") text = data;
    else if (data instanceof ArrayBuffer) {
      const bytes = new Uint8Array(data);
      if (bytes.length === 1 && bytes[0] === 1) return; // heartbeat
      text = new TextDecoder().decode(bytes);
    } else {
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
      if (ws !== this.#ws) return;
      this.#item(ws, item);
    }
  }

  #item(ws: WebSocket, item: unknown): void {
    const message = item as {
      stream?: unknown;
      action?: unknown;
      data?: Record<string, unknown>;
    };
    if (
      message?.action === "error" || message?.stream === "error" ||
      (message?.data !== undefined && message.data !== null && "error" in message.data)
    ) {
      this.#fail("stream_error", "error");
      this.#log.error("trade_updates stream sent an error; reconnecting and resyncing", {
        error: JSON.stringify(message).slice(0, 300),
      });
      this.#drop("error frame");
      return;
    }
    if (message?.stream === "authorization") {
      const status = message.data?.status;
      if (status === "authorized") {
        this.#listen(ws);
      } else if (message.data?.action === "listen") {
        // A listen before (or after losing) authorization: authenticate again.
        this.#fail("stream_error", "unauthorized");
        this.#log.warn("trade_updates stream refused listen before authorization; authenticating");
        this.#listening = false;
        this.#authenticate(ws);
      } else {
        this.#fail("auth_failed", "unauthorized");
        this.#log.error("trade_updates stream refused the keys", {
          status,
          message: typeof message.data?.message === "string" ? message.data.message : undefined,
        });
        ws.close();
      }
    } else if (message?.stream === "listening") {
      const streams = message.data?.streams;
      if (Array.isArray(streams) && streams.includes("trade_updates")) {
        if (this.#listening) return; // a probe's answer
        this.#listening = true;
        this.#backoffMs = this.#options.reconnectMinMs ?? 500;
        this.#connections++;
        this.#log.info("trade_updates stream listening", { connection: this.#connections });
        this.#settle(true);
        if (this.#connections > 1) this.#options.onResync?.();
      }
    } else if (message?.stream === "trade_updates") {
      let update: AlpacaTradeUpdate;
      try {
        update = readTradeUpdate(message.data);
      } catch (e) {
        this.#invalid((e as Error).message);
        return;
      }
      if (update.executionId !== undefined) {
        if (this.#executions.has(update.executionId)) {
          this.#log.info("Repeated fill dropped", { executionId: update.executionId });
          return;
        }
        this.#executions.add(update.executionId);
        if (this.#executions.size > EXECUTIONS_KEPT) {
          this.#executions.delete(this.#executions.values().next().value!);
        }
      }
      this.#options.onUpdate(update);
    } else {
      this.#invalid("unknown stream");
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
    clearInterval(this.#watchdog);
    this.#settle(false);
    this.#listening = false;
    const ws = this.#ws;
    this.#ws = undefined;
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
