/** The risk-manager service: `deno task risk-manager [--config PATH] [--help]`. */
import { runService } from "../../lib/service.ts";
import { startRiskManager } from "./service.ts";

if (import.meta.main) {
  await runService("risk-manager", startRiskManager, {
    summary: "Turns signals into approved orders after the pre-trade checks, keeps " +
      "positions and P&L from execution reports, and owns the trading state, the circuit " +
      "breaker and the admin API.",
    env: [
      { name: "RISK_ADMIN_TOKEN", help: "bearer token of the admin API's writes (off without it)" },
    ],
  });
}
