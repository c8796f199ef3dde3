import assert from "node:assert/strict";
import { CHANNELS, receiverOptions, senderOptions } from "./channels.ts";
import { SERVICES } from "./metrics.ts";
import { SCHEMAS } from "./types.ts";

Deno.test("every channel is keyed by its own name, carries known types and links known services", () => {
  for (const [key, c] of Object.entries(CHANNELS)) {
    assert.equal(c.name, key);
    assert.match(c.name, /^[a-z_]{1,64}$/);
    for (const t of c.types) assert.ok(t in SCHEMAS, `${key}: ${t} has no schema`);
    for (const s of [c.from, ...c.to]) assert.ok((SERVICES as readonly string[]).includes(s));
    assert.ok(!(c.to as readonly string[]).includes(c.from), `${key} does not loop back`);
  }
});

Deno.test("orders and execution reports are the channels that must not lose a message", () => {
  const lossless = Object.values(CHANNELS).filter((c) => c.policy === "must_not_lose");
  assert.deepEqual(lossless.map((c) => c.name).sort(), ["execution_reports", "orders"]);
});

Deno.test("receiverOptions() validates bodies by the channel's types and refuses a foreign type", () => {
  const o = receiverOptions("market_data", ["quote"]);
  assert.deepEqual(o.types, ["quote"]);
  assert.deepEqual(Object.keys(o.schemas), ["quote"]);
  assert.throws(() => o.schemas.quote({ symbol: "AAPL" }));
  assert.deepEqual(receiverOptions("signals").types, ["signal"]);
  assert.throws(
    // @ts-expect-error: "order" is not a market data type
    () => receiverOptions("market_data", ["order"]),
    /Cannot read "order" on channel "market_data": it carries none/,
  );
  assert.deepEqual(senderOptions("orders"), {
    name: "orders",
    types: ["order", "order_status_request", "positions_request"],
  });
});
