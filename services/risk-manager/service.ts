/**
 * Wires the risk-manager core to its sockets, metrics and HTTP routes.
 * @module
 */
import type { RunningCore, ServiceContext } from "../../lib/service.ts";

/** Starts the risk-manager core. Placeholder until its own issue lands: serves its endpoints and idles. */
export function startRiskManager(_ctx: ServiceContext<"risk-manager">): RunningCore {
  return { ready: () => ({ core: true }) };
}
