import assert from "node:assert/strict";
import { VenuePositionsSchema } from "../../lib/types.ts";
import { createExecutionEngineAdminApi } from "./admin_api.ts";
import { Journal } from "./journal.ts";
import { makeOrder } from "./testing/fixtures.ts";

function journalWithOrders() {
  const journal = new Journal(":memory:");
  const open = makeOrder({ qty: 5 });
  const filled = makeOrder({ qty: 2 });
  journal.insert(open, "trace-open", "sim", 1);
  const done = journal.insert(filled, "trace-filled", "sim", 2)!;
  journal.save({ ...done, state: "filled", phase: "sent", cumQty: 2, avgPrice: 10 });
  return { journal, open, filled };
}

Deno.test("GET /admin/orders lists the open orders only", async () => {
  const { journal, open } = journalWithOrders();
  const app = createExecutionEngineAdminApi({ journal });
  const res = await app.request("/admin/orders");
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), {
    open: [{
      clientOrderId: open.clientOrderId,
      venueOrderId: null,
      symbol: "AAPL",
      side: "buy",
      qty: 5,
      state: "new",
      phase: "journaled",
      cumQty: 0,
      avgPrice: 0,
    }],
  });
  journal.close();
});

Deno.test("GET /admin/orders/:id answers the journaled order, open or final", async () => {
  const { journal, filled } = journalWithOrders();
  const app = createExecutionEngineAdminApi({ journal });
  const res = await app.request(`/admin/orders/${filled.clientOrderId}`);
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.deepEqual(body.order, filled);
  assert.equal(body.state, "filled");
  assert.equal(body.trace, "trace-filled");
  journal.close();
});

Deno.test("GET /admin/orders/:id answers 404 for an order the journal does not hold", async () => {
  const { journal } = journalWithOrders();
  const res = await createExecutionEngineAdminApi({ journal }).request("/admin/orders/nope");
  assert.equal(res.status, 404);
  assert.deepEqual(await res.json(), { error: "not_found" });
  journal.close();
});

Deno.test("GET /admin/venue/positions serves the venue's positions, and 404 for the paper venue", async () => {
  const journal = new Journal(":memory:");
  try {
    const positions = {
      venue: "alpaca",
      readAt: 5,
      positions: [{ symbol: "AAPL", qty: 5, avgEntryPrice: 100, updatedAt: 5 }],
    };
    const alpaca = createExecutionEngineAdminApi({ journal, venuePositions: () => positions });
    const res = await alpaca.request("/admin/venue/positions");
    assert.equal(res.status, 200);
    assert.deepEqual(VenuePositionsSchema.parse(await res.json()), positions);
    const paper = createExecutionEngineAdminApi({ journal });
    assert.equal((await paper.request("/admin/venue/positions")).status, 404);
  } finally {
    journal.close();
  }
});
