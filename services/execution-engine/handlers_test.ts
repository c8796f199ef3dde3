import assert from "node:assert/strict";
import { ExecutionEngineCore } from "./core.ts";
import { ExecutionEngineHandlers } from "./handlers.ts";
import { Journal } from "./journal.ts";
import { PriceBook } from "./price_book.ts";
import { FakeVenue } from "./testing/fake_venue.ts";
import { makeBook, makeEnvelope, makeOrder, makeQuote, makeTrade } from "./testing/fixtures.ts";
import { testMetrics } from "./testing/metrics.ts";
import { OrderTraces, TracedOrderMetrics, TracedVenue } from "./order_tracing.ts";
import { withContextManager } from "../../lib/testing/context_manager.ts";
import { RecordingTracer, spansWritten } from "../../lib/testing/recording_tracer.ts";
import { ServiceTracer, type TraceFields } from "../../lib/tracing.ts";
import {
  MAX_VENUE_POSITIONS,
  type OrderStatus,
  type VenuePositions,
  type VenuePositionsAnswer,
  VenuePositionsAnswerSchema,
} from "../../lib/types.ts";

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

Deno.test("ExecutionEngineHandlers answers a positions request with the venue's positions by symbol, at most MAX_VENUE_POSITIONS", () => {
  const answers: { answer: VenuePositionsAnswer; trace: string }[] = [];
  let held: VenuePositions = {
    venue: "alpaca",
    readAt: 1000,
    positions: [
      { symbol: "MSFT", qty: -2, avgEntryPrice: 400, updatedAt: 900 },
      { symbol: "AAPL", qty: 10, avgEntryPrice: 100, updatedAt: 950 },
    ],
  };
  const handlers = new ExecutionEngineHandlers({
    core: setup().core,
    prices: new PriceBook(),
    positions: () => held,
    answerPositions: (answer, trace) => answers.push({ answer, trace }),
    now: () => 5000,
  });
  handlers.onOrder(makeEnvelope("positions_request", { requestId: "p-1", at: 4000 }, "trace-3"));
  assert.equal(answers.length, 1);
  assert.equal(answers[0].trace, "trace-3");
  assert.deepEqual(answers[0].answer, {
    requestId: "p-1",
    venue: "alpaca",
    readAt: 1000,
    positions: [held.positions[1], held.positions[0]],
    truncated: false,
    at: 5000,
  });
  assert.equal(VenuePositionsAnswerSchema.safeParse(answers[0].answer).success, true);

  held = {
    venue: "alpaca",
    readAt: 1000,
    positions: Array.from({ length: MAX_VENUE_POSITIONS + 5 }, (_, i) => ({
      symbol: `S${String(i).padStart(5, "0")}`,
      qty: 1,
      avgEntryPrice: 1,
      updatedAt: 1,
    })).reverse(),
  };
  handlers.onOrder(makeEnvelope("positions_request", { requestId: "p-2", at: 4000 }));
  const big = answers[1].answer;
  assert.equal(big.truncated, true);
  assert.equal(big.positions.length, MAX_VENUE_POSITIONS);
  assert.equal(big.positions[0].symbol, "S00000");
  assert.equal(VenuePositionsAnswerSchema.safeParse(big).success, true);
});

Deno.test("ExecutionEngineHandlers logs and survives a positions source that throws, and takes no request for an order", async () => {
  const answers: VenuePositionsAnswer[] = [];
  const { core, venue, journal } = setup();
  const handlers = new ExecutionEngineHandlers({
    core,
    prices: new PriceBook(),
    positions: () => {
      throw new Error("positions not readable");
    },
    answerPositions: (answer) => answers.push(answer),
  });
  handlers.onOrder(makeEnvelope("positions_request", { requestId: "p-1", at: 1 }));
  assert.equal(answers.length, 0);
  await core.settle();
  assert.equal(venue.submits.length, 0, "a positions request is never taken for an order");
  assert.equal(journal.countByState().new ?? 0, 0);
  journal.close();
});

Deno.test("an order is handled in its trace: receive, journal up to the venue call, the venue span, a report span per report carrying it on, and the order's exemplars", async () => {
  await withContextManager(async () => {
    const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
    const RM_SPAN = "00f067aa0ba902b7";
    const recording = new RecordingTracer();
    const tracer = new ServiceTracer("execution-engine", recording);
    const fake = new FakeVenue();
    const venue = new TracedVenue(fake, tracer);
    const traces = new OrderTraces(tracer);
    const metrics = testMetrics(fake.name);
    const sent: TraceFields[] = [];
    const journal = new Journal(":memory:");
    const core = new ExecutionEngineCore({
      journal,
      venue,
      metrics: new TracedOrderMetrics(metrics.recorder),
      sink: (report, trace) =>
        traces.report(report, trace, (f) => (sent.push(f), Promise.resolve())),
    });
    const handlers = new ExecutionEngineHandlers({
      core,
      prices: new PriceBook(),
      tracer,
      orderTraces: traces,
    });
    const order = makeOrder();
    handlers.onOrder({ ...makeEnvelope("order", order, TRACE), span: RM_SPAN, flags: 1 });
    // The journal's group commit runs after the handler returned.
    const returnedAt = performance.timeOrigin + performance.now();
    await core.settle();
    fake.emit({
      clientOrderId: order.clientOrderId,
      venueOrderId: `v-${order.clientOrderId}`,
      state: "filled",
      cumQty: 10,
      avgPrice: 100,
      lastQty: 10,
      lastPrice: 100,
    });
    await core.settle();
    await spansWritten();
    const byName = (name: string) => recording.spans.filter((s) => s.name === name);
    const [receive] = byName("execution-engine receive");
    assert.equal(receive.parent?.spanId, RM_SPAN);
    const [journaled] = byName("execution-engine journal");
    const [call] = byName("execution-engine venue");
    for (const s of [journaled, call]) assert.equal(s.parent?.spanId, receive.context.spanId);
    assert.ok(
      (journaled.endTime as number) >= returnedAt,
      "the journal span runs to the end of the order's commit, after the handler returned",
    );
    assert.ok(
      (journaled.endTime as number) <= call.startedAt + 0.001,
      "the venue call starts once the order is durable",
    );
    const reports = byName("execution-engine report");
    assert.deepEqual(reports.map((s) => s.options.attributes?.["trading.state"]), [
      "accepted",
      "filled",
    ]);
    for (const [i, r] of reports.entries()) {
      assert.equal(r.parent?.spanId, receive.context.spanId);
      assert.deepEqual(sent[i], { trace: TRACE, span: r.context.spanId, flags: 1 });
    }
    assert.equal(traces.size, 0, "the final report forgot the order");
    const text = await metrics.registry.metrics();
    for (const family of ["tick_to_trade", "order_submission"]) {
      assert.match(
        text,
        new RegExp(`execution_engine_${family}_latency_us_bucket.*# \\{trace_id="${TRACE}"`),
      );
    }
    journal.close();
  });
});
