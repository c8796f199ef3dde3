/**
 * The Alpaca trading REST client: `POST /v2/orders` (with `client_order_id`),
 * `GET /v2/orders:by_client_order_id`, `GET`/`DELETE /v2/orders/{id}`, `GET /v2/account`.
 *
 * - Every request waits for the client-side rate limit (200 a minute by default) and
 *   is cut off after `timeoutMs`.
 * - Retries only where safe: network errors, timeouts, 429 and 5xx, with exponential
 *   backoff (honouring `Retry-After`), and for a new order a look-up by client order id
 *   before any re-send (so an order the venue did receive is adopted, never sent twice;
 *   Alpaca also refuses a repeated `client_order_id`). Never on other 4xx.
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
  sleep?: (ms: number) => Promise<void>;
  logger?: Logger;
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
    case "replaced":
      state = "canceled";
      break;
    case "expired":
      state = "expired";
      break;
    case "rejected":
      state = "rejected";
      break;
    default:
      // new, accepted, pending_new, partially_filled, done_for_day, pending_cancel, ...
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

/** The answer to a new order that Alpaca already holds (a previous attempt got through). */
function adopted(status: VenueOrderStatus): SubmitResult {
  return { kind: "accepted", venueOrderId: status.venueOrderId, status };
}

/** Alpaca's REST API, with rate limit, timeouts and safe retries. */
export class AlpacaClient {
  readonly #options: AlpacaClientOptions;
  readonly #base: string;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #log: Logger;

  constructor(options: AlpacaClientOptions) {
    this.#options = options;
    this.#base = options.baseUrl.replace(/\/+$/, "");
    this.#sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.#log = options.logger ?? getLogger(["trading", "execution", "alpaca"]);
  }

  /** The request body Alpaca expects for `order`. */
  static orderBody(order: Order): Record<string, string> {
    const crypto = order.symbol.includes("/");
    const body: Record<string, string> = {
      symbol: order.symbol,
      qty: String(order.qty),
      side: order.side,
      type: order.type,
      // Alpaca takes only gtc/ioc for crypto.
      time_in_force: crypto && order.timeInForce === "day" ? "gtc" : order.timeInForce,
      client_order_id: order.clientOrderId,
    };
    if (order.type === "limit" && order.limitPrice !== undefined) {
      body.limit_price = String(order.limitPrice);
    }
    return body;
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
        result = {
          ok: false,
          status: res.status,
          code: errorCode(res.status),
          message,
          retryable: res.status === 429 || res.status >= 500,
          ...(Number.isFinite(retryAfter) && retryAfter > 0
            ? { retryAfterMs: retryAfter * 1000 }
            : {}),
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

  /** An idempotent request (GET/DELETE) with retries on network errors, timeouts, 429 and 5xx. */
  async #idempotent(
    method: "GET" | "DELETE",
    path: string,
    endpoint: Endpoint,
    expected404 = false,
  ): Promise<Attempt> {
    let result: Attempt = await this.#attempt(method, path, endpoint, undefined, expected404);
    for (let i = 1; i <= this.#options.maxRetries && !result.ok && result.retryable; i++) {
      await this.#sleep(this.#backoff(i, result.retryAfterMs));
      result = await this.#attempt(method, path, endpoint, undefined, expected404);
    }
    return result;
  }

  /**
   * Sends a new order. Accepted, rejected (4xx other than 429: never retried), or
   * `unknown` when every safe retry failed and the venue's answer is not known.
   */
  async submitOrder(order: Order): Promise<SubmitResult> {
    const body = AlpacaClient.orderBody(order);
    let last = "";
    for (let attempt = 0; attempt <= this.#options.maxRetries; attempt++) {
      if (attempt > 0) {
        // Look the order up before any re-send: the failed attempt may have reached Alpaca.
        const found = await this.lookup(order.clientOrderId);
        if (found.kind === "found") return adopted(found.status);
        if (found.kind === "unknown") {
          last = found.detail;
          continue;
        }
      }
      const result = await this.#attempt("POST", "/v2/orders", "/v2/orders", body);
      if (result.ok) {
        if (!isAlpacaOrder(result.body)) {
          // The venue took it (2xx) but the answer is unreadable: find it by client order id.
          last = "invalid_response";
          this.#options.metrics.apiFailure({
            endpoint: "/v2/orders",
            statusCode: String(result.status),
            errorMessage: "invalid_response",
          });
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
      if (!result.retryable) {
        return {
          kind: "rejected",
          reason: rejectionOf(result.status ?? 0, result.message),
          detail: result.message,
        };
      }
      last = result.code;
      if (attempt < this.#options.maxRetries) {
        await this.#sleep(this.#backoff(attempt + 1, result.retryAfterMs));
      }
    }
    return { kind: "unknown", detail: `retries exhausted: ${last}` };
  }

  /** Finds an order by client order id (`not_found` on 404). */
  async lookup(clientOrderId: string): Promise<LookupResult> {
    const result = await this.#idempotent(
      "GET",
      `/v2/orders:by_client_order_id?client_order_id=${encodeURIComponent(clientOrderId)}`,
      "/v2/orders:by_client_order_id",
      true,
    );
    if (result.ok) {
      if (!isAlpacaOrder(result.body)) return { kind: "unknown", detail: "invalid_response" };
      return { kind: "found", status: mapAlpacaOrder(result.body) };
    }
    if (result.status === 404) return { kind: "not_found" };
    return { kind: "unknown", detail: result.code };
  }

  /** Reads an order by Alpaca id. */
  async getOrder(id: string): Promise<LookupResult> {
    const result = await this.#idempotent(
      "GET",
      `/v2/orders/${encodeURIComponent(id)}`,
      "/v2/orders/{id}",
      true,
    );
    if (result.ok && isAlpacaOrder(result.body)) {
      return { kind: "found", status: mapAlpacaOrder(result.body) };
    }
    if (!result.ok && result.status === 404) return { kind: "not_found" };
    return { kind: "unknown", detail: result.ok ? "invalid_response" : result.code };
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

  /** Checks the keys: true when `GET /v2/account` answers 200. */
  async checkAccount(): Promise<{ ok: boolean; code?: ApiError }> {
    const result = await this.#idempotent("GET", "/v2/account", "/v2/account");
    return result.ok ? { ok: true } : { ok: false, code: result.code };
  }
}
