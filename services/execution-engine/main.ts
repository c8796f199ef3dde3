/** The execution-engine service: `deno task execution-engine [--config PATH] [--help]`. */
import { runService } from "../../lib/service.ts";
import { startExecutionEngine } from "./service.ts";

if (import.meta.main) {
  await runService("execution-engine", startExecutionEngine, {
    summary: "Sends approved orders to the venue (the paper exchange by default, Alpaca " +
      "with keys), journals them before they leave, and reports every order state change " +
      "back to risk-manager.",
    env: [
      { name: "APCA_API_KEY_ID", help: 'Alpaca key id (venue "alpaca" only)' },
      { name: "APCA_API_SECRET_KEY", help: 'Alpaca secret key (venue "alpaca" only)' },
    ],
  });
}
