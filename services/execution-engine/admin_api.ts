/**
 * The execution-engine's admin API, read-only (it shows what the journal holds):
 *
 * | route | answer |
 * | --- | --- |
 * | `GET /admin/orders` | `{ open: [...] }`: the orders not in a final state, oldest first |
 * | `GET /admin/orders/:id` | the journaled order with that client order id; 404 `{ error: "not_found" }` |
 * | `GET /admin/venue/positions` | the positions the venue holds (`VenuePositions`, lib/types.ts); 404 `{ error: "no_venue_positions" }` for the paper venue |
 *
 * There is no mutating route: cancels go through `ExecutionEngineCore.cancel`.
 * @module
 */
import { Hono } from "hono";
import type { VenuePositions } from "../../lib/types.ts";
import type { Journal } from "./journal.ts";

/** Options of {@link createExecutionEngineAdminApi}. */
export interface ExecutionEngineAdminApiOptions {
  /** Where the orders are read. */
  journal: Pick<Journal, "open" | "get">;
  /** The venue's positions (the Alpaca venue); none: the route answers 404. */
  venuePositions?: () => VenuePositions;
}

/** Builds the admin API (routes include the `/admin` prefix). Opens no port. */
export function createExecutionEngineAdminApi(options: ExecutionEngineAdminApiOptions): Hono {
  const { journal } = options;
  const app = new Hono();
  app.get("/admin/orders", (c) =>
    c.json({
      open: journal.open().map((journaled) => ({
        clientOrderId: journaled.order.clientOrderId,
        venueOrderId: journaled.venueOrderId ?? null,
        symbol: journaled.order.symbol,
        side: journaled.order.side,
        qty: journaled.order.qty,
        state: journaled.state,
        phase: journaled.phase,
        cumQty: journaled.cumQty,
        avgPrice: journaled.avgPrice,
      })),
    }));
  app.get("/admin/orders/:id", (c) => {
    const journaled = journal.get(c.req.param("id"));
    if (!journaled) return c.json({ error: "not_found" }, 404);
    return c.json({ ...journaled });
  });
  app.get("/admin/venue/positions", (c) => {
    if (!options.venuePositions) return c.json({ error: "no_venue_positions" }, 404);
    return c.json(options.venuePositions());
  });
  return app;
}
