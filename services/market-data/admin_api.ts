/**
 * The market-data admin API, served by the harness under `/admin/*` on the metrics
 * port. Read-only, so it needs no token: `GET /admin/stats` shows what `/metrics`
 * already shows, as one JSON object; `GET /admin/status` every configured symbol's
 * trading status (session and halts), as it is published on `market_data`.
 * @module
 */
import { Hono } from "hono";
import type { TradingStatus } from "../../lib/types.ts";
import type { CoreStats } from "./core.ts";
import type { Exchange } from "./feed.ts";

/** What the admin API reads. */
export interface MarketDataAdminOptions {
  /** The core (its counters). */
  readonly core: { readonly stats: Readonly<CoreStats> };
  /** The feed (its exchange and whether it is connected). */
  readonly feed: { readonly exchange: Exchange; connected(): boolean };
  /** Milliseconds since the last frame arrived; null before the first. */
  readonly lastFrameAgeMs: () => number | null;
  /** Every configured symbol's trading status now; none: `/admin/status` answers `[]`. */
  readonly statuses?: () => TradingStatus[];
}

/** The answer of `GET /admin/stats`. */
export interface MarketDataStats {
  readonly exchange: Exchange;
  readonly connected: boolean;
  /** Whole milliseconds since the last frame; null before the first. */
  readonly lastFrameAgeMs: number | null;
  /** The core's counters. */
  readonly core: CoreStats;
}

/**
 * Builds the admin app (routes include the `/admin` prefix). Test it with `app.request()`.
 *
 * @example
 * ```ts
 * const admin = createMarketDataAdminApi({ core, feed, lastFrameAgeMs: () => handlers.lastFrameAgeMs() });
 * const stats = await (await admin.request("/admin/stats")).json();
 * ```
 */
export function createMarketDataAdminApi(options: MarketDataAdminOptions): Hono {
  const app = new Hono();
  app.get("/admin/stats", (c) => {
    const age = options.lastFrameAgeMs();
    const stats: MarketDataStats = {
      exchange: options.feed.exchange,
      connected: options.feed.connected(),
      lastFrameAgeMs: age === null ? null : Math.round(age),
      core: { ...options.core.stats },
    };
    return c.json(stats);
  });
  app.get("/admin/status", (c) => c.json(options.statuses?.() ?? []));
  return app;
}
