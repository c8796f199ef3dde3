/**
 * Wires the signal-bridge core to its sockets, metrics and HTTP routes.
 * @module
 */
import type { RunningCore, ServiceContext } from "../../lib/service.ts";

/** Starts the signal-bridge core. Placeholder until its own issue lands: serves its endpoints and idles. */
export function startSignalBridge(_ctx: ServiceContext<"signal-bridge">): RunningCore {
  return { ready: () => ({ core: true }) };
}
