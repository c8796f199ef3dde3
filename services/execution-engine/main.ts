/** The execution-engine service: `deno task execution-engine [--config PATH]`. */
import { runService } from "../../lib/service.ts";
import { startExecutionEngine } from "./service.ts";

if (import.meta.main) await runService("execution-engine", startExecutionEngine);
