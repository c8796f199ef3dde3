/** The signal-bridge service: `deno task signal-bridge [--config PATH] [--help]`. */
import { runService } from "../../lib/service.ts";
import { startSignalBridge } from "./service.ts";

if (import.meta.main) {
  await runService("signal-bridge", startSignalBridge, {
    summary: "Turns market data into trading signals: streaming features per symbol and a " +
      "rules or logistic model, published on the signals channel.",
  });
}
