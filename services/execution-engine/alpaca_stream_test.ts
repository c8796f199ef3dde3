import assert from "node:assert/strict";
import { readTradeUpdate } from "./alpaca_stream.ts";
import { FILL_UPDATE } from "./testing/alpaca_fixtures.ts";

Deno.test("readTradeUpdate() reads Alpaca's documented fill with its execution id and position", () => {
  const update = readTradeUpdate(FILL_UPDATE.data);
  assert.equal(update.event, "fill");
  assert.equal(update.executionId, "2f63ea93-423d-4169-b3f6-3fdafc10c418");
  assert.equal(update.positionQty, 0);
  assert.equal(update.order.symbol, "SOLUSD");
  assert.deepEqual(
    {
      ...update.update,
      ts: 0,
    },
    {
      venueOrderId: "a5be8f5e-fdfa-41f5-a644-7a74fe947a8f",
      clientOrderId: "4642fd68-d59a-47d7-a9ac-e22f536828d1",
      state: "filled",
      cumQty: 1790.86,
      avgPrice: 105.8988475,
      lastQty: 1790.86,
      lastPrice: 105.8988475,
      ts: 0,
    },
  );
  assert.equal(
    readTradeUpdate(FILL_UPDATE.data).update!.ts,
    Date.parse("2022-04-19T17:45:05.024Z"),
  );
});

Deno.test("readTradeUpdate() keeps a replaced order open and names no execution for non-fills", () => {
  const order = {
    ...FILL_UPDATE.data.order,
    status: "replaced",
    filled_qty: "0",
    replaced_by: "n1",
  };
  const update = readTradeUpdate({
    event: "replaced",
    order,
    timestamp: FILL_UPDATE.data.timestamp,
  });
  assert.equal(update.update?.state, "accepted");
  assert.equal(update.executionId, undefined);
  assert.equal(update.order.replaced_by, "n1");
  assert.equal(readTradeUpdate({ event: "pending_replace", order }).update, undefined);
});
