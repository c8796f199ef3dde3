/**
 * Wires the execution-engine core to its sockets, metrics and HTTP routes.
 * @module
 */
import type { RunningCore, ServiceContext } from "../../lib/service.ts";

/** Starts the execution-engine core. Placeholder until its own issue lands: serves its endpoints and idles. */
export function startExecutionEngine(_ctx: ServiceContext<"execution-engine">): RunningCore {
  return { ready: () => ({ core: true }) };
}
