/**
 * Deterministic client order ids: the same signal id always gives the same id, so a
 * replayed signal can be recognised and never becomes a second order.
 * @module
 */
import { createHash } from "node:crypto";

/** Alpaca's limit on `client_order_id`, and OrderSchema's. */
export const MAX_CLIENT_ORDER_ID_LENGTH = 48;

const SAFE = /^[A-Za-z0-9._:-]+$/;

/**
 * The client order id of the order caused by `signalId`: `rm-<signalId>` when the id
 * is short and made of safe characters, else `rmh-` and the first 40 hex digits of its
 * SHA-256. The two prefixes differ, so a raw id can never equal another id's hash form.
 *
 * @example
 * ```ts
 * clientOrderIdFor("sig-42"); // "rm-sig-42"
 * ```
 */
export function clientOrderIdFor(signalId: string): string {
  const raw = `rm-${signalId}`;
  if (raw.length <= MAX_CLIENT_ORDER_ID_LENGTH && SAFE.test(signalId)) return raw;
  return `rmh-${createHash("sha256").update(signalId).digest("hex").slice(0, 40)}`;
}
