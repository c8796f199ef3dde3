/**
 * Fixtures of the execution-engine tests and bench: orders and temporary directories.
 * @module
 */
import type { Order } from "../../../lib/types.ts";

let made = 0;

/** A valid market order with a fresh client order id; fields may be overridden. */
export function makeOrder(over: Partial<Order> = {}): Order {
  made++;
  return {
    clientOrderId: `t-${Date.now().toString(36)}-${made}`,
    signalId: `sig-${made}`,
    symbol: "AAPL",
    side: "buy",
    qty: 10,
    type: "market",
    timeInForce: "day",
    strategy: "default",
    createdAt: Date.now(),
    tickTs: Date.now(),
    ...over,
  };
}

/** A temporary directory removed by the returned function. */
export async function tempDir(): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await Deno.makeTempDir({ prefix: "ee-test-" });
  return { path, remove: () => Deno.remove(path, { recursive: true }).catch(() => {}) };
}
