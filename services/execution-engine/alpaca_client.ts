/**
 * The Alpaca trading REST client: `POST /v2/orders` (with `client_order_id`),
 * `GET /v2/orders:by_client_order_id`, `GET`/`DELETE /v2/orders/{id}`, `GET /v2/account`,
 * `GET /v2/positions`, `GET /v2/clock`, `GET /v2/calendar`.
 *
 * - Every request waits for the client-side rate limit (200 a minute by default) and
 *   is cut off after `timeoutMs`.
 * - Every answer's `X-RateLimit-Remaining` is exported (`rateLimitRemaining`); when it is 0
 *   the limiter holds every request until `X-RateLimit-Reset` (epoch seconds, Alpaca's
 *   documented unit). A 429 is waited out until that reset (else an exponential backoff;
 *   `Retry-After` is honoured if sent, though Alpaca does not document it), for at most
 *   `rateLimitMaxWaitMs` in all: 429s do not use up `maxRetries`. A 429 means Alpaca did
 *   not take the order, so no look-up is needed before sending it again, and a new order
 *   that only ever got 429s ends `rejected` (`rate_limited`), never `unknown`.
 * - Other retries only where safe: network errors, timeouts and 5xx, with exponential
 *   backoff, and for a new order a look-up by client order id before any re-send (so an
 *   order the venue did receive is adopted, never sent twice; Alpaca also refuses a
 *   repeated `client_order_id`). Never on other 4xx.
 * - Before sending, a stock limit price is rounded to Alpaca's tick (2 decimals at or above
 *   $1, 4 below; docs "Orders at Alpaca", sub-penny rule), towards the passive side (a buy
 *   down, a sell up), so the order never pays more than its limit. Crypto prices are sent
 *   as they are (the rule is stated for equities).
 * - Metrics: `execution_engine_api_call_latency_ms{endpoint,method,status_code}` per
 *   attempt and `execution_engine_api_failures_total{endpoint,status_code,error_message}`
 *   per failed attempt; `endpoint` is a template, `status_code` the HTTP code or
 *   `timeout`/`network`, `error_message` a code from {@link API_ERRORS}.
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { getLogger } from "../../lib/log.ts";
import type { Order } from "../../lib/types.ts";
import type { ApiMetrics } from "./metrics.ts";
import type { RateLimiter } from "./rate_limiter.ts";
import type { LookupResult, RejectionReason, SubmitResult, VenueOrderStatus } from "./venue.ts";

/** Endpoint templates: the `endpoint` label values. */
export const ENDPOINTS = [
  "/v2/orders",
  "/v2/orders/{id}",
  "/v2/orders:by_client_order_id",
  "/v2/account",
  "/v2/positions",
  "/v2/clock",
  "/v2/calendar",
  "/stream",
] as const;
/** One of {@link ENDPOINTS}. */
export type Endpoint = typeof ENDPOINTS[number];

/** API failure codes: the `error_message` label values. */
export const API_ERRORS = [
  "timeout",
  "network_error",
  "http_400",
  "http_401",
  "http_403",
  "http_404",
  "http_422",
  "http_429",
  "http_4xx",
  "http_5xx",
  "invalid_response",
  "auth_failed",
  "stream_error",
  "half_open",
] as const;
/** One of {@link API_ERRORS}. */
export type ApiError = typeof API_ERRORS[number];

/** The fields of Alpaca's order object this client reads. */
export interface AlpacaOrder {
  id: string;
  client_order_id: string;
  status: string;
  symbol?: string;
  qty?: string | null;
  filled_qty?: string | null;
  filled_avg_price?: string | null;
  /** The order id that replaced this one (`status: "replaced"`). */
  replaced_by?: string | null;
  /** The order id this one replaces. */
  replaces?: string | null;
}

/** The fields of Alpaca's account object this client reads. */
export interface AlpacaAccount {
  status: string;
  trading_blocked?: boolean;
  account_blocked?: boolean;
  trade_suspended_by_user?: boolean;
}

/** One position of `GET /v2/positions`, read. */
export interface AlpacaPosition {
  /** As Alpaca spells it (`AAPL`, crypto `BTCUSD`). */
  symbol: string;
  /** Signed: short below zero. */
  qty: number;
  avgEntryPrice: number;
}

/** One attempt's outcome. */
type Attempt =
  | { ok: true; status: number; body: unknown }
  | {
    ok: false;
    status: number | null;
    code: ApiError;
    message: string;
    retryable: boolean;
    retryAfterMs?: number;
  };

/** Options of {@link AlpacaClient}. */
export interface AlpacaClientOptions {
  baseUrl: string;
  keyId: string;
  secretKey: string;
  timeoutMs: number;
  maxRetries: number;
  retryBaseMs: number;
  limiter: RateLimiter;
  /** Where each attempt and failure is recorded. */
  metrics: ApiMetrics;
  /** Longest time spent waiting out 429s for one request (ms); default 65 000. */
  rateLimitMaxWaitMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /** Epoch ms (to read `X-RateLimit-Reset`); default Date.now. */
  now?: () => number;
  logger?: Logger;
}

/** How to send an order. */
export interface SendOptions {
  /** Send `extended_hours: true` (a limit `day` order in Alpaca's pre-market or after-hours). */
  readonly extendedHours?: boolean;
}

/** The HTTP status of an error code for a status label, e.g. 503 -> "http_5xx". */
export function errorCode(status: number): ApiError {
  if (status >= 500) return "http_5xx";
  const exact = `http_${status}`;
  return (API_ERRORS as readonly string[]).includes(exact) ? exact as ApiError : "http_4xx";
}

/** Maps Alpaca's order status onto the engine's venue states. */
export function mapAlpacaOrder(order: AlpacaOrder): VenueOrderStatus {
  const cumQty = Number(order.filled_qty ?? 0) || 0;
  const avgPrice = Number(order.filled_avg_price ?? 0) || 0;
  let state: VenueOrderStatus["state"];
  switch (order.status) {
    case "filled":
      state = "filled";
      break;
    case "canceled":
      state = "canceled";
      break;
    case "expired":
      state = "expired";
      break;
    case "rejected":
      state = "rejected";
      break;
    default:
      // new, accepted, pending_new, partially_filled, done_for_day, pending_cancel, and
      // replaced: a replaced order lives on under a new id (see AlpacaClient.lookup).
      state = cumQty > 0 ? "partially_filled" : "accepted";
  }
  return {
    venueOrderId: order.id,
    clientOrderId: order.client_order_id,
    state,
    cumQty,
    avgPrice,
    ...(state === "rejected" ? { reason: "venue_rejected" as const } : {}),
  };
}

/** Checks that a value looks like an Alpaca order object. */
export function isAlpacaOrder(value: unknown): value is AlpacaOrder {
  const fields = value as Record<string, unknown>;
  return typeof value === "object" && value !== null && typeof fields.id === "string" &&
    typeof fields.client_order_id === "string" && typeof fields.status === "string";
}

/** The rejection reason of a refused order (403/422/other 4xx), from the status and message. */
export function rejectionOf(status: number, message: string): RejectionReason {
  const text = message.toLowerCase();
  if (status === 403) {
    return text.includes("buying power") ? "insufficient_buying_power" : "forbidden";
  }
  if (text.includes("market") && text.includes("closed")) return "market_closed";
  if (text.includes("time_in_force")) return "invalid_time_in_force";
  if (
    text.includes("asset") &&
    (text.includes("not found") || text.includes("not active") || text.includes("could not find"))
  ) {
    return "unknown_symbol";
  }
  if (text.includes("buying power")) return "insufficient_buying_power";
  if (status === 401) return "forbidden";
  return "invalid_order";
}

/**
 * A limit price on Alpaca's tick: 2 decimals at or above $1, 4 below, rounded towards the
 * passive side (`buy` down, `sell` up), as a decimal string.
 *
 * @example
 * ```ts
 * tickPrice(290.123, "buy");  // "290.12"
 * tickPrice(290.123, "sell"); // "290.13"
 * tickPrice(0.60131, "buy");  // "0.6013"
 * ```
 */
export function tickPrice(price: number, side: Order["side"]): string {
  const decimals = price >= 1 ? 2 : 4;
  const scale = 10 ** decimals;
  // A hair of tolerance so 290.12 (stored as 290.1199999...) stays 290.12.
  const scaled = price * scale;
  const units = side === "buy" ? Math.floor(scaled + 1e-6) : Math.ceil(scaled - 1e-6);
  const rounded = units / scale;
  // Rounding a buy down can cross $1 (1.00001 -> 1.00 is fine; 0.99999 stays 4 decimals).
  return rounded.toFixed(rounded >= 1 ? 2 : 4);
}

/** The answer to a new order that Alpaca already holds (a previous attempt got through). */
function adopted(status: VenueOrderStatus): SubmitResult {
  return { kind: "accepted", venueOrderId: status.venueOrderId, status };
}

/** Alpaca's time in force values for crypto ("Orders at Alpaca": `gtc`, `ioc`). */
export const CRYPTO_TIME_IN_FORCE: ReadonlySet<string> = new Set(["gtc", "ioc"]);

/** Alpaca's REST API, with rate limit, timeouts and safe retries. */
export class AlpacaClient {
  readonly #options: AlpacaClientOptions;
  readonly #base: string;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #now: () => number;
  readonly #log: Logger;
  readonly #maxRateWaitMs: number;

  constructor(options: AlpacaClientOptions) {
    this.#options = options;
    this.#base = options.baseUrl.replace(/\/+$/, "");
    this.#sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.#now = options.now ?? Date.now;
    this.#log = options.logger ?? getLogger(["trading", "execution", "alpaca"]);
    this.#maxRateWaitMs = options.rateLimitMaxWaitMs ?? 65_000;
  }

  /**
   * The request body Alpaca expects for `order`.
   *
   * @throws {RangeError} For a crypto order whose time in force is not `gtc` or `ioc`
   *   (Alpaca refuses `day` for crypto; it is never rewritten silently).
   */
  static orderBody(order: Order, send: SendOptions = {}): Record<string, string | boolean> {
    const crypto = order.symbol.includes("/");
    if (crypto && !CRYPTO_TIME_IN_FORCE.has(order.timeInForce)) {
      throw new RangeError(
        `Cannot send order ${order.clientOrderId}: crypto time in force must be gtc or ioc, got ${order.timeInForce}`,
      );
    }
    const body: Record<string, string | boolean> = {
      symbol: order.symbol,
      qty: String(order.qty),
      side: order.side,
      type: order.type,
      time_in_force: order.timeInForce,
      client_order_id: order.clientOrderId,
    };
    if (order.type === "limit" && order.limitPrice !== undefined) {
      body.limit_price = crypto
        ? String(order.limitPrice)
        : tickPrice(order.limitPrice, order.side);
    }
    if (send.extendedHours) body.extended_hours = true;
    return body;
  }

  /** Reads the rate-limit headers of an answer: exports the budget, pauses the limiter at 0. */
  #readRateLimit(headers: Headers, status: number): number | undefined {
    const remaining = Number(headers.get("x-ratelimit-remaining") ?? NaN);
    const reset = Number(headers.get("x-ratelimit-reset") ?? NaN);
    if (Number.isFinite(remaining)) this.#options.metrics.rateLimitRemaining?.(remaining);
    if (!Number.isFinite(reset) || reset <= 0) return undefined;
    // Epoch seconds (docs); a value that looks like ms is read as ms.
    const resetMs = reset > 1e12 ? reset : reset * 1000;
    const waitMs = Math.min(this.#maxRateWaitMs, Math.max(0, resetMs - this.#now()) + 50);
    if (status === 429 || remaining === 0) this.#options.limiter.pauseFor(waitMs);
    return status === 429 ? waitMs : undefined;
  }

  /** One request: rate limit, timeout, metrics. Never throws. */
  async #attempt(
    method: "GET" | "POST" | "DELETE",
    path: string,
    endpoint: Endpoint,
    body?: unknown,
    expected404 = false,
  ): Promise<Attempt> {
    await this.#options.limiter.acquire();
    const startedAt = performance.now();
    let result: Attempt;
    let statusLabel: string;
    try {
      const res = await fetch(this.#base + path, {
        method,
        headers: {
          "APCA-API-KEY-ID": this.#options.keyId,
          "APCA-API-SECRET-KEY": this.#options.secretKey,
          ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(this.#options.timeoutMs),
      });
      const text = await res.text();
      statusLabel = String(res.status);
      const resetWaitMs = this.#readRateLimit(res.headers, res.status);
      let parsed: unknown = undefined;
      if (text.length > 0) {
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
      }
      if (res.ok) {
        result = { ok: true, status: res.status, body: parsed };
      } else {
        const message = typeof (parsed as { message?: unknown })?.message === "string"
          ? (parsed as { message: string }).message
          : text.slice(0, 200);
        const retryAfter = Number(res.headers.get("retry-after"));
        const retryAfterMs = resetWaitMs ??
          (Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined);
        result = {
          ok: false,
          status: res.status,
          code: errorCode(res.status),
          message,
          retryable: res.status === 429 || res.status >= 500,
          ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
        };
      }
    } catch (e) {
      const error = e as Error;
      const timeout = error.name === "TimeoutError" || error.name === "AbortError";
      statusLabel = timeout ? "timeout" : "network";
      result = {
        ok: false,
        status: null,
        code: timeout ? "timeout" : "network_error",
        message: error.message,
        retryable: true,
      };
    }
    this.#options.metrics.apiCall({
      endpoint,
      method,
      statusCode: statusLabel,
      ms: performance.now() - startedAt,
    });
    if (!result.ok && !(expected404 && result.status === 404)) {
      this.#options.metrics.apiFailure({
        endpoint,
        statusCode: statusLabel,
        errorMessage: result.code,
      });
      this.#log.warn("Alpaca API call failed", {
        endpoint,
        method,
        status: statusLabel,
        code: result.code,
        detail: result.message,
      });
    }
    return result;
  }

  #backoff(attempt: number, retryAfterMs?: number): number {
    const exp = this.#options.retryBaseMs * 2 ** (attempt - 1);
    const jitter = exp * 0.2 * Math.random();
    return Math.max(retryAfterMs ?? 0, Math.min(exp + jitter, 30_000));
  }

  /**
   * How long to wait after a 429 (until the reset it named, else a backoff), or undefined
   * when `waitedMs` already reached `rateLimitMaxWaitMs`.
   */
  #rateLimitWait(result: Attempt, attempt: number, waitedMs: number): number | undefined {
    if (result.ok || result.status !== 429) return undefined;
    if (waitedMs >= this.#maxRateWaitMs) return undefined;
    const wait = result.retryAfterMs ?? this.#backoff(attempt);
    return Math.min(wait, this.#maxRateWaitMs - waitedMs);
  }

  /** An idempotent request (GET/DELETE) with retries on network errors, timeouts, 429 and 5xx. */
  async #idempotent(
    method: "GET" | "DELETE",
    path: string,
    endpoint: Endpoint,
    expected404 = false,
  ): Promise<Attempt> {
    let result: Attempt = await this.#attempt(method, path, endpoint, undefined, expected404);
    let retries = 0;
    let rateWaitedMs = 0;
    for (let i = 1; i <= 1000 && !result.ok && result.retryable; i++) {
      const rateWait = this.#rateLimitWait(result, i, rateWaitedMs);
      if (result.status === 429) {
        if (rateWait === undefined) break;
        rateWaitedMs += rateWait;
        await this.#sleep(rateWait);
      } else {
        if (++retries > this.#options.maxRetries) break;
        await this.#sleep(this.#backoff(retries, result.retryAfterMs));
      }
      result = await this.#attempt(method, path, endpoint, undefined, expected404);
    }
    return result;
  }

  /**
   * Sends a new order. Accepted, rejected (4xx other than 429: never retried; 429 until
   * `rateLimitMaxWaitMs` ran out: `rate_limited`), or `unknown` when every safe retry
   * failed and the venue's answer is not known.
   */
  async submitOrder(order: Order, send: SendOptions = {}): Promise<SubmitResult> {
    let body: Record<string, string | boolean>;
    try {
      body = AlpacaClient.orderBody(order, send);
    } catch (e) {
      return { kind: "rejected", reason: "invalid_time_in_force", detail: (e as Error).message };
    }
    let last = "";
    /** True once an attempt may have reached Alpaca without us knowing (timeout, 5xx, ...). */
    let ambiguous = false;
    let retries = 0;
    let rateWaitedMs = 0;
    for (let attempt = 0; attempt <= 1000; attempt++) {
      if (ambiguous) {
        // Look the order up before any re-send: the failed attempt may have reached Alpaca.
        const found = await this.lookup(order.clientOrderId);
        if (found.kind === "found") return adopted(found.status);
        if (found.kind === "unknown") {
          last = found.detail;
          if (++retries > this.#options.maxRetries) break;
          continue;
        }
      }
      const result = await this.#attempt("POST", "/v2/orders", "/v2/orders", body);
      if (result.ok) {
        if (!isAlpacaOrder(result.body)) {
          // The venue took it (2xx) but the answer is unreadable: find it by client order id.
          last = "invalid_response";
          ambiguous = true;
          this.#options.metrics.apiFailure({
            endpoint: "/v2/orders",
            statusCode: String(result.status),
            errorMessage: "invalid_response",
          });
          if (++retries > this.#options.maxRetries) break;
          continue;
        }
        const status = mapAlpacaOrder(result.body);
        return { kind: "accepted", venueOrderId: result.body.id, status };
      }
      if (result.status === 422 && /client_order_id/i.test(result.message)) {
        // Already there (a previous attempt got through): adopt it.
        const found = await this.lookup(order.clientOrderId);
        if (found.kind === "found") return adopted(found.status);
        return { kind: "unknown", detail: "duplicate client_order_id but lookup failed" };
      }
      if (result.status === 429) {
        const wait = this.#rateLimitWait(result, attempt + 1, rateWaitedMs);
        if (wait === undefined) {
          if (ambiguous) break;
          return {
            kind: "rejected",
            reason: "rate_limited",
            detail: `Alpaca answered 429 for ${Math.round(rateWaitedMs)} ms: ${result.message}`,
          };
        }
        rateWaitedMs += wait;
        await this.#sleep(wait);
        continue;
      }
      if (!result.retryable) {
        return {
          kind: "rejected",
          reason: rejectionOf(result.status ?? 0, result.message),
          detail: result.message,
        };
      }
      last = result.code;
      ambiguous = true;
      if (++retries > this.#options.maxRetries) break;
      await this.#sleep(this.#backoff(retries, result.retryAfterMs));
    }
    return { kind: "unknown", detail: `retries exhausted: ${last}` };
  }

  /**
   * Finds an order by client order id (`not_found` on 404). An order Alpaca replaced
   * (`status: "replaced"`) is followed through `replaced_by` (up to 10 replacements) to the
   * order that stands now: its id and state, with the fills of the orders it replaced
   * added in (INFERRED: Alpaca's docs do not say whether a replacing order's `filled_qty`
   * includes its predecessor's; we take it that it does not).
   */
  async lookup(clientOrderId: string): Promise<LookupResult> {
    const result = await this.#idempotent(
      "GET",
      `/v2/orders:by_client_order_id?client_order_id=${encodeURIComponent(clientOrderId)}`,
      "/v2/orders:by_client_order_id",
      true,
    );
    if (result.ok) {
      if (!isAlpacaOrder(result.body)) return { kind: "unknown", detail: "invalid_response" };
      return await this.#follow(result.body);
    }
    if (result.status === 404) return { kind: "not_found" };
    return { kind: "unknown", detail: result.code };
  }

  /** Follows a replaced order to the order standing now (see {@link lookup}). */
  async #follow(first: AlpacaOrder): Promise<LookupResult> {
    let order = first;
    let cumQty = 0;
    let notional = 0;
    for (let hop = 0; hop < 10 && order.status === "replaced" && order.replaced_by; hop++) {
      const filled = Number(order.filled_qty ?? 0) || 0;
      cumQty += filled;
      notional += filled * (Number(order.filled_avg_price ?? 0) || 0);
      const next = await this.getOrderObject(order.replaced_by);
      if (next.kind !== "found") {
        return next.kind === "unknown"
          ? next
          : { kind: "unknown", detail: "replacement not found" };
      }
      order = next.order;
    }
    const status = mapAlpacaOrder(order);
    if (cumQty === 0) {
      return { kind: "found", status: { ...status, clientOrderId: first.client_order_id } };
    }
    const total = cumQty + status.cumQty;
    const avgPrice = total > 0 ? (notional + status.cumQty * status.avgPrice) / total : 0;
    return {
      kind: "found",
      status: {
        ...status,
        clientOrderId: first.client_order_id,
        cumQty: total,
        avgPrice,
        state: status.state === "accepted" && total > 0 ? "partially_filled" : status.state,
      },
    };
  }

  /** Reads Alpaca's order object by Alpaca id. */
  async getOrderObject(
    id: string,
  ): Promise<
    { kind: "found"; order: AlpacaOrder } | { kind: "not_found" } | {
      kind: "unknown";
      detail: string;
    }
  > {
    const result = await this.#idempotent(
      "GET",
      `/v2/orders/${encodeURIComponent(id)}`,
      "/v2/orders/{id}",
      true,
    );
    if (result.ok && isAlpacaOrder(result.body)) return { kind: "found", order: result.body };
    if (!result.ok && result.status === 404) return { kind: "not_found" };
    return { kind: "unknown", detail: result.ok ? "invalid_response" : result.code };
  }

  /** Reads an order by Alpaca id. */
  async getOrder(id: string): Promise<LookupResult> {
    const found = await this.getOrderObject(id);
    return found.kind === "found" ? { kind: "found", status: mapAlpacaOrder(found.order) } : found;
  }

  /** Requests a cancel; true when Alpaca took the request (204), false when refused (404/422). */
  async cancelOrder(id: string): Promise<boolean> {
    const result = await this.#idempotent(
      "DELETE",
      `/v2/orders/${encodeURIComponent(id)}`,
      "/v2/orders/{id}",
    );
    return result.ok;
  }

  /** Reads the account: its body when `GET /v2/account` answers 200, else the failure code. */
  async getAccount(): Promise<
    { ok: true; account: AlpacaAccount } | { ok: false; code: ApiError }
  > {
    const result = await this.#idempotent("GET", "/v2/account", "/v2/account");
    if (!result.ok) return { ok: false, code: result.code };
    const body = result.body as Record<string, unknown> | null;
    if (typeof body !== "object" || body === null || typeof body.status !== "string") {
      return { ok: false, code: "invalid_response" };
    }
    return { ok: true, account: body as unknown as AlpacaAccount };
  }

  /** Checks the keys: true when `GET /v2/account` answers 200. */
  async checkAccount(): Promise<{ ok: boolean; code?: ApiError }> {
    const read = await this.getAccount();
    return read.ok ? { ok: true } : { ok: false, code: read.code };
  }

  /** Reads `GET /v2/positions`; undefined when it cannot be read. */
  async getPositions(): Promise<AlpacaPosition[] | undefined> {
    const result = await this.#idempotent("GET", "/v2/positions", "/v2/positions");
    if (!result.ok || !Array.isArray(result.body)) return undefined;
    const out: AlpacaPosition[] = [];
    for (const item of result.body as Record<string, unknown>[]) {
      if (typeof item !== "object" || item === null || typeof item.symbol !== "string") {
        return undefined;
      }
      let qty = Number(item.qty);
      if (!Number.isFinite(qty)) return undefined;
      if (item.side === "short" && qty > 0) qty = -qty;
      out.push({
        symbol: item.symbol.trim(),
        qty,
        avgEntryPrice: Number(item.avg_entry_price) || 0,
      });
    }
    return out;
  }

  /** Reads `GET /v2/clock` (the raw body); undefined when it cannot be read. */
  async getClock(): Promise<unknown> {
    const result = await this.#idempotent("GET", "/v2/clock", "/v2/clock");
    return result.ok ? result.body : undefined;
  }

  /** Reads `GET /v2/calendar` from `start` to `end` (`YYYY-MM-DD`, the raw body); undefined when it cannot be read. */
  async getCalendar(start: string, end: string): Promise<unknown> {
    const result = await this.#idempotent(
      "GET",
      `/v2/calendar?start=${start}&end=${end}`,
      "/v2/calendar",
    );
    return result.ok ? result.body : undefined;
  }
}
