/** The market-data service: `deno task market-data [--config PATH] [--help]`. */
import { runService } from "../../lib/service.ts";
import { startMarketData } from "./service.ts";

if (import.meta.main) {
  await runService("market-data", startMarketData, {
    summary: "Reads the exchange feed (the simulated market by default, a recorded replay, " +
      "or Alpaca's WebSocket with keys), keeps exact order books and bars, and publishes " +
      "trades, quotes, books and bars on the market_data channel.",
    env: [
      { name: "APCA_API_KEY_ID", help: 'Alpaca key id (feed "alpaca" only)' },
      { name: "APCA_API_SECRET_KEY", help: 'Alpaca secret key (feed "alpaca" only)' },
    ],
  });
}
