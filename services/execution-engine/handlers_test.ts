import assert from "node:assert/strict";
import { ExecutionEngineCore } from "./core.ts";
import { ExecutionEngineHandlers } from "./handlers.ts";
import { Journal } from "./journal.ts";
import { PriceBook } from "./price_book.ts";
import { FakeVenue } from "./testing/fake_venue.ts";
import { makeBook, makeEnvelope, makeOrder, makeQuote, makeTrade } from "./testing/fixtures.ts";
import { testMetrics } from "./testing/metrics.ts";
import type { OrderStatus } from "../../lib/types.ts";

class Exited extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

function setup(answers: { status: OrderStatus; trace: string }[] = []) {
  const venue = new FakeVenue();
  const journal = new Journal(":memory:");
  const core = new ExecutionEngineCore({
    journal,
    venue,
    metrics: testMetrics(venue.name).recorder,
    sink: () => Promise.resolve(),
  });
  const prices = new PriceBook();
  const handlers = new ExecutionEngineHandlers({
    core,
    prices,
    exit: (code) => {
      throw new Exited(code);
    },
    answerStatus: (status, trace) => answers.push({ status, trace }),
  });
  return { venue, journal, core, prices, handlers };
}

Deno.test("ExecutionEngineHandlers.onOrder() journals the order before it returns, then sends it", async () => {
  const { venue, journal, core, handlers } = setup();
  const order = makeOrder();
  handlers.onOrder(makeEnvelope("order", order, "trace-1"));
  assert.equal(journal.get(order.clientOrderId)?.trace, "trace-1");
  await core.settle();
  assert.deepEqual(venue.submits.map((sent) => sent.clientOrderId), [order.clientOrderId]);
  journal.close();
});

Deno.test("ExecutionEngineHandlers.onOrder() sends a repeated order once", async () => {
  const { venue, journal, core, handlers } = setup();
  const order = makeOrder();
  handlers.onOrder(makeEnvelope("order", order));
  handlers.onOrder(makeEnvelope("order", { ...order }));
  await core.settle();
  assert.equal(venue.submits.length, 1);
  journal.close();
});

Deno.test("ExecutionEngineHandlers.onOrder() exits with the crash code when the journal cannot be written", () => {
  const { venue, journal, handlers } = setup();
  journal.close();
  assert.throws(
    () => handlers.onOrder(makeEnvelope("order", makeOrder())),
    (error) => error instanceof Exited && error.code === 1,
  );
  assert.equal(venue.submits.length, 0);
});

Deno.test("ExecutionEngineHandlers.onMarketData() feeds quotes, books and trades to the price book", () => {
  const { journal, prices, handlers } = setup();
  handlers.onMarketData(makeEnvelope("quote", makeQuote({ bidPrice: 1, askPrice: 2 })));
  assert.deepEqual([prices.get("AAPL")?.bid, prices.get("AAPL")?.ask], [1, 2]);
  handlers.onMarketData(makeEnvelope("book", makeBook({ bids: [[3, 1]], asks: [[4, 1]] })));
  assert.deepEqual([prices.get("AAPL")?.bid, prices.get("AAPL")?.ask], [3, 4]);
  handlers.onMarketData(makeEnvelope("trade", makeTrade({ price: 3.5 })));
  assert.equal(prices.get("AAPL")?.last, 3.5);
  handlers.onMarketData(
    makeEnvelope("one_sided_quote", { ...makeQuote(), bidPrice: null, bidSize: 0, askPrice: 4 }),
  );
  assert.deepEqual([prices.get("AAPL")?.bid, prices.get("AAPL")?.ask], [null, 4]);
  handlers.onMarketData(
    makeEnvelope("trade_correction", {
      symbol: "AAPL",
      action: "cancel",
      tradeId: "1",
      originalPrice: 3.5,
      originalSize: 1,
      correctedPrice: null,
      correctedSize: null,
      outcome: "applied",
      lastPrice: 3.4,
      exchange: "alpaca",
      exchangeTs: 1,
      receivedTs: 1,
    }),
  );
  assert.equal(prices.get("AAPL")?.last, 3.4);
  journal.close();
});

Deno.test("ExecutionEngineHandlers answers an order status request with what the journal holds of each order", async () => {
  const answers: { status: OrderStatus; trace: string }[] = [];
  const { core, handlers } = setup(answers);
  const order = makeOrder();
  handlers.onOrder(makeEnvelope("order", order, "trace-1"));
  await core.settle();
  handlers.onOrder(
    makeEnvelope("order_status_request", {
      requestId: "r-1",
      clientOrderIds: [order.clientOrderId, "rm-never-sent"],
      at: Date.now(),
    }, "trace-2"),
  );
  assert.equal(answers.length, 1);
  const [known, unknown] = answers[0].status.orders;
  assert.equal(answers[0].status.requestId, "r-1");
  assert.equal(answers[0].trace, "trace-2");
  assert.ok(known.known);
  assert.equal(known.report.kind, "status");
  assert.equal(known.report.clientOrderId, order.clientOrderId);
  assert.equal(known.report.orderQty, order.qty);
  assert.deepEqual(unknown, { clientOrderId: "rm-never-sent", known: false });
});
