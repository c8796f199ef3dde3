/** The risk-manager service: `deno task risk-manager [--config PATH]`. */
import { runService } from "../../lib/service.ts";
import { startRiskManager } from "./service.ts";

if (import.meta.main) await runService("risk-manager", startRiskManager);
