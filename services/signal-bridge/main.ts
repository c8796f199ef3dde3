/** The signal-bridge service: `deno task signal-bridge [--config PATH]`. */
import { runService } from "../../lib/service.ts";
import { startSignalBridge } from "./service.ts";

if (import.meta.main) await runService("signal-bridge", startSignalBridge);
