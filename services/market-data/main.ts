/** The market-data service: `deno task market-data [--config PATH]`. */
import { runService } from "../../lib/service.ts";
import { startMarketData } from "./service.ts";

if (import.meta.main) await runService("market-data", startMarketData);
