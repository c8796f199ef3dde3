/**
 * Wires the market-data core to its sockets, metrics and HTTP routes.
 * @module
 */
import type { RunningCore, ServiceContext } from "../../lib/service.ts";

/** Starts the market-data core. Placeholder until its own issue lands: serves its endpoints and idles. */
export function startMarketData(_ctx: ServiceContext<"market-data">): RunningCore {
  return { ready: () => ({ core: true }) };
}
