import assert from "node:assert/strict";
import { ROOT_CONTEXT } from "@opentelemetry/api";
import { ALWAYS_OPEN } from "../../lib/market_session.ts";
import { createServiceMetrics } from "../../lib/metrics.ts";
import type {
  Order,
  OrderStatusRequest,
  PositionsRequest,
  VenuePositionsAnswer,
} from "../../lib/types.ts";
import { RiskManagerCore } from "./core.ts";
import { RecordSpans, type RiskEvents, RiskManagerHandlers } from "./handlers.ts";
import { RiskManagerMetrics } from "./metrics.ts";
import { REJECTION_LABELS } from "./rejections.ts";
import { StateStore } from "./state_store.ts";
import { envelope, fill, LIMITS, signal, SYMBOLS } from "./testing/fixtures.ts";
import { withContextManager } from "../../lib/testing/context_manager.ts";
import { RecordingTracer, spansWritten } from "../../lib/testing/recording_tracer.ts";
import { ServiceTracer, type TraceFields } from "../../lib/tracing.ts";
import { waitFor } from "../../lib/testing/tools.ts";
import { setImmediate } from "node:timers";

type Published = { type: keyof RiskEvents; body: unknown; trace?: string; fields?: TraceFields };

/** Handlers on a core in memory, AAPL marked at 100 now through the market-data handler. */
function setup(
  options: {
    publishFails?: boolean;
    retryMs?: number;
    exit?: (code: number) => void;
    orderTtlMs?: number;
    positionMismatch?: "halt" | "adopt";
    tracer?: ServiceTracer;
    /** true or false; "default" leaves the option out (the service's default). */
    prime?: boolean | "default";
    primeGapMs?: number;
  } = {},
) {
  const serviceMetrics = createServiceMetrics("risk-manager", {
    defaultMetrics: false,
    instrumented: true,
  });
  const metrics = new RiskManagerMetrics(serviceMetrics.families, SYMBOLS, "default", 5000);
  const store = StateStore.open(":memory:");
  const sent: { order: Order; trace: string; fields: TraceFields }[] = [];
  const requests: OrderStatusRequest[] = [];
  const positionRequests: PositionsRequest[] = [];
  const published: Published[] = [];
  const core: RiskManagerCore = new RiskManagerCore({
    symbols: SYMBOLS,
    strategy: "default",
    sizing: { notionalPerOrder: 1000, minQty: 0.001 },
    limits: LIMITS,
    markMaxAgeMs: 60_000,
    store,
    recorder: metrics,
    onStateChange: (change) => handlers.onStateChange(change),
    orderTtlMs: options.orderTtlMs,
    session: { schedule: ALWAYS_OPEN },
    positionMismatch: options.positionMismatch,
  });
  const handlers = new RiskManagerHandlers({
    core,
    metrics,
    sendOrder: (order, trace) => {
      sent.push({ order, trace: trace.trace, fields: trace });
      return Promise.resolve();
    },
    publishEvent: (type, body, trace) => {
      if (options.publishFails) throw new Error("publisher closed");
      published.push({ type, body, trace: trace?.trace, fields: trace });
    },
    sendStatusRequest: (request) => {
      requests.push(request);
      return Promise.resolve();
    },
    sendPositionsRequest: (request) => {
      positionRequests.push(request);
      return Promise.resolve();
    },
    retryMs: options.retryMs,
    exit: options.exit as ((code: number) => never) | undefined,
    tracer: options.tracer,
    // Off unless a test is about it: a prime left for a setImmediate would run after the test.
    ...(options.prime === "default" ? {} : { prime: options.prime ?? false }),
    primeGapMs: options.primeGapMs,
  });
  handlers.onMarketData(envelope("quote", { symbol: "AAPL", bidPrice: 99.99, askPrice: 100.01 }));
  const value = async (name: string, labels: Record<string, string> = {}) => {
    const metric = await serviceMetrics.registry.getSingleMetric(name)?.get();
    return metric?.values.find((v) =>
      Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want)
    )?.value;
  };
  const stop = () => {
    serviceMetrics.stop();
    store.close();
  };
  const text = () => serviceMetrics.registry.metrics();
  return {
    core,
    handlers,
    store,
    sent,
    requests,
    positionRequests,
    published,
    value,
    text,
    stop,
  };
}

/** A buy of AAPL at 100 that expires a minute from now. */
const liveSignal = () => signal({ expiresAt: Date.now() + 60_000 });

Deno.test("RiskManagerHandlers.onSignal() sends an approved order with the signal's trace", () => {
  const { handlers, sent, published, stop } = setup();
  try {
    handlers.onSignal(envelope("signal", liveSignal(), "ab".repeat(16)));
    assert.equal(sent.length, 1);
    assert.equal(sent[0].order.qty, 10);
    assert.equal(sent[0].trace, "ab".repeat(16));
    assert.equal(published.length, 0);
  } finally {
    stop();
  }
});

Deno.test("RiskManagerHandlers.onSignal() counts a denial and publishes it as a risk_denial event", async () => {
  const { handlers, sent, published, value, stop } = setup();
  try {
    const replayed = liveSignal();
    handlers.onSignal(envelope("signal", replayed));
    handlers.onSignal(envelope("signal", replayed, "cd".repeat(16)));
    assert.equal(sent.length, 1);
    assert.equal(published.length, 1);
    const event = published[0];
    assert.equal(event.type, "risk_denial");
    assert.equal(event.trace, "cd".repeat(16));
    assert.deepEqual(
      { ...(event.body as Record<string, unknown>), at: 0 },
      {
        signalId: replayed.id,
        symbol: "AAPL",
        code: "DUPLICATE_SIGNAL",
        check: "duplicate_signal",
        message: `DUPLICATE_SIGNAL: clientOrderId=rm-${replayed.id}`,
        at: 0,
      },
    );
    assert.equal(
      await value("risk_manager_risk_failures_total", {
        failure_type: "duplicate_signal",
        symbol: "AAPL",
      }),
      1,
    );
  } finally {
    stop();
  }
});

Deno.test("RiskManagerHandlers does not settle a report until it is stored, so the receiver acknowledges only what is durable", async () => {
  const { core, handlers, store, stop } = setup({ retryMs: 5 });
  try {
    const real = store.transaction.bind(store);
    let failures = 0;
    store.transaction = () => {
      failures++;
      throw new Error("disk I/O error");
    };
    const report = envelope("execution_report", fill("ext-1", "buy", 5, 100));
    let settled = false;
    const pending = handlers.onExecutionReport(report);
    assert.ok(pending instanceof Promise, "a report not stored leaves the handler pending");
    pending.then(() => settled = true, () => settled = true);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(settled, false, "still failing: not settled, so not acknowledged");
    assert.ok(failures >= 3, `retried (${failures} tries)`);
    assert.equal(handlers.pendingReports, 1);
    store.transaction = real;
    await pending;
    assert.equal(handlers.pendingReports, 0);
    assert.equal(handlers.onExecutionReport(report), undefined, "redelivered: applied at once");
    assert.equal(core.positions().find((p) => p.symbol === "AAPL")?.qty, 5, "applied once");
  } finally {
    stop();
  }
});

Deno.test("RiskManagerHandlers exits rather than acknowledge a report it could not store before shut-down", async () => {
  const exits: number[] = [];
  const { handlers, store, stop } = setup({ retryMs: 5, exit: (code) => exits.push(code) });
  try {
    store.transaction = () => {
      throw new Error("disk I/O error");
    };
    let settled = false;
    handlers.onExecutionReport(envelope("execution_report", fill("ext-1", "buy", 5, 100)))
      ?.then(() => settled = true, () => settled = true);
    handlers.close();
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.deepEqual(exits, [1]);
    assert.equal(settled, false, "never settled: the engine sends it again after the restart");
  } finally {
    stop();
  }
});

Deno.test("RiskManagerHandlers.refreshGauges() refreshes the business gauges after an approval or a mark", async () => {
  const { handlers, value, stop } = setup();
  try {
    handlers.onExecutionReport(envelope("execution_report", fill("ext-1", "buy", 5, 100)));
    assert.equal(await value("trading_unrealized_pnl_usd", { symbol: "AAPL" }), 0);
    handlers.onMarketData(envelope("quote", { symbol: "AAPL", bidPrice: 110, askPrice: 110 }));
    assert.equal(await value("trading_unrealized_pnl_usd", { symbol: "AAPL" }), 0, "not yet");
    handlers.refreshGauges();
    assert.equal(await value("trading_unrealized_pnl_usd", { symbol: "AAPL" }), 50);
  } finally {
    stop();
  }
});

Deno.test("RiskManagerHandlers.onStateChange() sets the gauges and publishes a trading_state event", async () => {
  const { core, published, value, stop } = setup();
  try {
    core.trip("drill", "ops", Date.now());
    assert.equal(await value("risk_manager_circuit_breaker_tripped"), 1);
    assert.equal(await value("risk_manager_trading_state"), 2);
    assert.equal(published.length, 1);
    assert.equal(published[0].type, "trading_state");
    assert.equal((published[0].body as { state: string }).state, "HALTED");
  } finally {
    stop();
  }
});

Deno.test("RiskManagerHandlers.onStateChange() does not throw when the event cannot be published", async () => {
  const { core, value, stop } = setup({ publishFails: true });
  try {
    assert.ok(core.trip("drill", "ops", Date.now()));
    assert.equal(await value("risk_manager_circuit_breaker_tripped"), 1);
  } finally {
    stop();
  }
});

Deno.test("RiskManagerHandlers reconciles open orders with the engine and counts an expired orphan it closes", async () => {
  const { core, handlers, requests, value, stop } = setup({ orderTtlMs: 1 });
  try {
    assert.equal(handlers.reconcile(Date.now(), true, 1000), undefined, "nothing open");
    handlers.onSignal(envelope("signal", liveSignal()));
    assert.equal(handlers.reconcile(Date.now(), false, 1000), undefined, "no consumer: no request");
    const request = handlers.reconcile(Date.now(), true, 1000)!;
    assert.equal(requests.length, 1);
    assert.equal(
      handlers.reconcile(Date.now(), true, 1000),
      undefined,
      "one outstanding at a time",
    );
    await new Promise((resolve) => setTimeout(resolve, 5)); // the 1 ms TTL passes
    const answer = handlers.onExecutionReport(envelope("order_status", {
      requestId: request.requestId,
      orders: request.clientOrderIds.map((clientOrderId) => ({ clientOrderId, known: false })),
      at: Date.now(),
    }));
    assert.equal(answer, undefined, "stored at once");
    assert.equal(core.openOrders().length, 0);
    assert.equal(await value("risk_manager_orphan_orders_closed_total"), 1);
    assert.ok(handlers.reconcile(Date.now(), true, 1000) === undefined, "nothing left to ask");
  } finally {
    stop();
  }
});

let venueReads = 0;

/** A `venue_positions` answer to `requestId` holding AAPL `qty`, read after the one before. */
function positionsAnswer(requestId: string, qty: number): VenuePositionsAnswer {
  return {
    requestId,
    venue: "alpaca",
    readAt: Date.now() + ++venueReads,
    positions: [{ symbol: "AAPL", qty, avgEntryPrice: 0, updatedAt: Date.now() }],
    truncated: false,
    at: Date.now(),
  };
}

Deno.test("RiskManagerHandlers has every mismatch and rejection series at zero from the start", async () => {
  const { value, stop } = setup();
  try {
    for (const symbol of [...SYMBOLS, "other"]) {
      assert.equal(await value("risk_manager_position_mismatches_total", { symbol }), 0, symbol);
    }
    assert.equal(await value("risk_manager_position_mismatched_symbols"), 0);
    for (const reason of REJECTION_LABELS) {
      assert.equal(await value("risk_manager_venue_rejections_total", { reason }), 0, reason);
    }
  } finally {
    stop();
  }
});

Deno.test("RiskManagerHandlers asks for the venue's positions one request at a time and counts a confirmed mismatch", async () => {
  const { core, handlers, positionRequests, value, stop } = setup();
  try {
    handlers.onExecutionReport(envelope("execution_report", fill("ext-1", "buy", 5, 100)));
    assert.equal(handlers.reconcilePositions(Date.now(), false, 1000), undefined, "no consumer");
    const first = handlers.reconcilePositions(Date.now(), true, 1000)!;
    assert.equal(positionRequests.length, 1);
    assert.equal(handlers.reconcilePositions(Date.now(), true, 1000), undefined, "one at a time");
    assert.ok(handlers.reconcilePositions(Date.now() + 1001, true, 1000), "a lost one is given up");
    handlers.onExecutionReport(envelope("venue_positions", positionsAnswer(first.requestId, 8)));
    assert.equal(await value("risk_manager_position_mismatches_total", { symbol: "AAPL" }), 0);
    const second = handlers.reconcilePositions(Date.now() + 2002, true, 1000)!;
    handlers.onExecutionReport(envelope("venue_positions", positionsAnswer(second.requestId, 8)));
    assert.equal(await value("risk_manager_position_mismatches_total", { symbol: "AAPL" }), 1);
    assert.equal(await value("risk_manager_position_mismatched_symbols"), 1);
    assert.equal(core.status.state, "HALTED");
    assert.equal(await value("risk_manager_trading_state"), 2);
    // Counted once while it lasts; the gauge drops when they agree.
    handlers.onExecutionReport(envelope("venue_positions", positionsAnswer("late", 8)));
    assert.equal(await value("risk_manager_position_mismatches_total", { symbol: "AAPL" }), 1);
    handlers.onExecutionReport(envelope("venue_positions", positionsAnswer("agree", 5)));
    assert.equal(await value("risk_manager_position_mismatched_symbols"), 0);
  } finally {
    stop();
  }
});

Deno.test("RiskManagerHandlers under adopt books the venue's quantity, counts it, and leaves nothing mismatched", async () => {
  const { core, handlers, value, stop } = setup({ positionMismatch: "adopt" });
  try {
    handlers.onExecutionReport(envelope("venue_positions", positionsAnswer("a", 3)));
    handlers.onExecutionReport(envelope("venue_positions", positionsAnswer("b", 3)));
    assert.equal(core.positions().find((p) => p.symbol === "AAPL")?.qty, 3);
    assert.equal(core.status.state, "ACTIVE");
    assert.equal(await value("risk_manager_position_mismatches_total", { symbol: "AAPL" }), 1);
    assert.equal(await value("risk_manager_position_mismatched_symbols"), 0);
    handlers.refreshGauges();
    assert.equal(await value("trading_open_positions_count"), 1);
  } finally {
    stop();
  }
});

Deno.test("RiskManagerHandlers counts each rejection by reason, and an account_blocked one halts trading", async () => {
  const { core, handlers, sent, value, stop } = setup();
  try {
    for (const reason of ["market_closed", "rate_limited", "insufficient_buying_power"]) {
      handlers.onSignal(envelope("signal", liveSignal()));
      const order = sent.at(-1)!.order;
      handlers.onExecutionReport(envelope("execution_report", {
        ...fill(order.clientOrderId, "buy", 0, 0, { orderQty: order.qty, cumQty: 0 }),
        kind: "reject",
        state: "rejected",
        reason,
      }));
    }
    assert.equal(
      await value("risk_manager_venue_rejections_total", { reason: "market_closed" }),
      1,
    );
    assert.equal(await value("risk_manager_venue_rejections_total", { reason: "rate_limited" }), 1);
    assert.equal(await value("risk_manager_venue_rejections_total", { reason: "other" }), 1);
    assert.equal(core.status.state, "ACTIVE");
    handlers.onSignal(envelope("signal", liveSignal()));
    const order = sent.at(-1)!.order;
    handlers.onExecutionReport(envelope("execution_report", {
      ...fill(order.clientOrderId, "buy", 0, 0, { orderQty: order.qty, cumQty: 0 }),
      kind: "reject",
      state: "rejected",
      reason: "account_blocked",
    }));
    assert.equal(
      await value("risk_manager_venue_rejections_total", { reason: "account_blocked" }),
      1,
    );
    assert.equal(core.status.state, "HALTED");
    assert.equal(await value("risk_manager_trading_state"), 2);
  } finally {
    stop();
  }
});

Deno.test("RiskManagerHandlers.onMarketData() halts a symbol on its trading status and resumes it", () => {
  const { handlers, sent, stop } = setup();
  try {
    const status = {
      symbol: "AAPL",
      state: "halted",
      reason: "trading_halt",
      haltCode: "H",
      nextOpen: null,
      nextClose: null,
      exchange: "alpaca",
      at: Date.now(),
    };
    handlers.onMarketData(envelope("trading_status", status));
    handlers.onSignal(envelope("signal", liveSignal()));
    assert.equal(sent.length, 0);
    handlers.onMarketData(
      envelope("trading_status", { ...status, state: "open", reason: "regular_session" }),
    );
    handlers.onSignal(envelope("signal", liveSignal()));
    assert.equal(sent.length, 1);
  } finally {
    stop();
  }
});

/** Resolves once the `setImmediate`s queued so far have run. */
const immediates = () => new Promise<void>((resolve) => setImmediate(resolve));

Deno.test("RiskManagerHandlers primes the decision path after a mark: once the message is handled, the newest symbol, never within the gap", async () => {
  const { core, handlers, sent, stop } = setup({ prime: true, primeGapMs: 0 });
  try {
    const primed: string[] = [];
    const prime = core.prime.bind(core);
    core.prime = (symbol, now) => (primed.push(symbol), prime(symbol, now));
    // setup's quote queued a prime of AAPL: it waits for the message to be handled.
    assert.equal(handlers.primes.ran, 0);
    await immediates();
    assert.deepEqual(primed, ["AAPL"]);
    // Two marks before the prime runs: one prime, of the newest symbol.
    handlers.onMarketData(envelope("quote", { symbol: "AAPL", bidPrice: 99.99, askPrice: 100.01 }));
    handlers.onMarketData(envelope("quote", { symbol: "MSFT", bidPrice: 399.9, askPrice: 400.1 }));
    assert.deepEqual(primed, ["AAPL"]);
    await immediates();
    assert.deepEqual(primed, ["AAPL", "MSFT"]);
    // A symbol risk-manager does not trade makes no mark, so no prime.
    handlers.onMarketData(envelope("quote", { symbol: "ZZZZ", bidPrice: 9.99, askPrice: 10.01 }));
    await immediates();
    assert.deepEqual(primed, ["AAPL", "MSFT"]);
    // The primes changed nothing: the next signal is approved and sent as on an unprimed core.
    assert.equal(core.openOrders().length, 0);
    handlers.onSignal(envelope("signal", liveSignal()));
    assert.equal(sent.length, 1);
    assert.equal(sent[0].order.qty, 10);
    assert.deepEqual(handlers.primes, { ran: 2, failed: 0 });
  } finally {
    stop();
  }
});

Deno.test("RiskManagerHandlers primes by default, and a prime that throws is counted and logged, never thrown", async () => {
  const { core, handlers, stop } = setup({ prime: "default", primeGapMs: 0 });
  try {
    await immediates();
    assert.deepEqual(handlers.primes, { ran: 1, failed: 0 }, "the default primes");
    core.prime = () => {
      throw new Error("a check broke");
    };
    handlers.onMarketData(envelope("quote", { symbol: "AAPL", bidPrice: 99.99, askPrice: 100.01 }));
    await immediates();
    assert.deepEqual(handlers.primes, { ran: 1, failed: 1 });
  } finally {
    handlers.close();
    stop();
  }
});

Deno.test("RiskManagerHandlers primes at most once per gap, and not at all with prime: false", async () => {
  const gapped = setup({ prime: true, primeGapMs: 60_000 });
  const off = setup({ prime: false });
  try {
    await immediates();
    assert.equal(gapped.handlers.primes.ran, 1, "setup's quote primed");
    for (let i = 0; i < 5; i++) {
      gapped.handlers.onMarketData(
        envelope("quote", { symbol: "AAPL", bidPrice: 99.99 + i, askPrice: 100.01 + i }),
      );
      off.handlers.onMarketData(
        envelope("quote", { symbol: "AAPL", bidPrice: 99.99 + i, askPrice: 100.01 + i }),
      );
      await immediates();
    }
    assert.equal(gapped.handlers.primes.ran, 1, "no second prime within the gap");
    assert.equal(off.handlers.primes.ran, 0);
  } finally {
    gapped.stop();
    off.stop();
  }
});

// The W3C Trace Context spec's example ids (section 3.2): signal-bridge's span.
const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const SB_SPAN = "00f067aa0ba902b7";

Deno.test("an approval makes an unsampled trace an order's: a forced-sampled order span with its checks and record, whose context the order carries", async () => {
  await withContextManager(async () => {
    const tracer = new RecordingTracer();
    const { handlers, sent, text, stop } = setup({
      tracer: new ServiceTracer("risk-manager", tracer),
    });
    try {
      handlers.onSignal({
        ...envelope("signal", liveSignal(), TRACE),
        span: SB_SPAN,
        flags: 0,
      });
      assert.deepEqual(
        tracer.spans.map((s) => s.name),
        ["risk-manager order"],
        "no receive span for an unsampled signal; the order's spans from the approval on, " +
          "the checks' written after the order left",
      );
      assert.equal(tracer.spans[0].endTime, undefined, "the order span waits for the commit");
      // The group commit runs once the synchronous run ends: then the checks' and the record's
      // spans are written and the order span ends with the record.
      await waitFor("the approval's commit", () => tracer.spans.length === 3, {
        timeoutMs: 5_000,
        everyMs: 5,
      });
      assert.equal(tracer.spans[2].name, "risk-manager record");
      const [order, checks, record] = tracer.spans;
      assert.equal(order.endTime, record.endTime, "the order span ends with its durable record");
      assert.equal(order.parent?.spanId, SB_SPAN, "the order continues signal-bridge's span");
      assert.equal(order.context.traceId, TRACE);
      assert.equal(order.context.traceFlags, 1, "forced sampled");
      assert.equal(
        order.options.attributes?.["trading.client_order_id"],
        sent[0].order.clientOrderId,
      );
      for (const s of [checks, record]) assert.equal(s.parent?.spanId, order.context.spanId);
      const start = order.options.startTime as number;
      assert.equal(checks.options.startTime, start, "the checks start with the order span");
      assert.ok((checks.endTime as number) >= start);
      assert.equal(record.options.startTime, checks.endTime, "the record follows the checks");
      assert.notEqual(order.endTime, undefined);
      assert.deepEqual(sent[0].fields, { trace: TRACE, span: order.context.spanId, flags: 1 });
      // The approval's all_checks bucket names the order's trace (OpenMetrics exposition).
      const allChecks = (await text()).split("\n").filter((l) =>
        l.startsWith("risk_manager_pretrade_check_latency_us_bucket") &&
        l.includes('check_type="all_checks"') && l.includes("# {")
      );
      assert.ok(allChecks.length > 0 && allChecks.every((l) => l.includes(`trace_id="${TRACE}"`)));
    } finally {
      stop();
    }
  });
});

Deno.test("a denied signal of a sampled trace gets its receive and checks spans, no order span and no exemplar, and its risk_denial event carries the receive span", async () => {
  await withContextManager(async () => {
    const tracer = new RecordingTracer();
    const { handlers, sent, published, text, stop } = setup({
      tracer: new ServiceTracer("risk-manager", tracer),
    });
    try {
      const replayed = liveSignal();
      handlers.onSignal(envelope("signal", replayed, "cd".repeat(16)));
      await spansWritten();
      tracer.spans.length = 0;
      handlers.onSignal({ ...envelope("signal", replayed, TRACE), span: SB_SPAN, flags: 1 });
      assert.equal(sent.length, 1, "the replay is denied");
      assert.deepEqual(tracer.spans.map((s) => s.name), ["risk-manager receive"]);
      await spansWritten();
      assert.deepEqual(tracer.spans.map((s) => s.name), [
        "risk-manager receive",
        "risk-manager checks",
      ]);
      const [receive, checks] = tracer.spans;
      assert.equal(receive.parent?.spanId, SB_SPAN);
      assert.equal(checks.parent?.spanId, receive.context.spanId);
      assert.equal(typeof checks.options.attributes?.["trading.denial"], "string");
      const denial = published.filter((p) => p.type === "risk_denial").at(-1)!;
      assert.deepEqual(denial.fields, { trace: TRACE, span: receive.context.spanId, flags: 1 });
      assert.ok(!(await text()).includes(TRACE), "a denial is no exemplar");
    } finally {
      stop();
    }
  });
});

Deno.test("with tracing off an approved order keeps the signal's trace id and no exemplar is written", async () => {
  const { handlers, sent, text, stop } = setup();
  try {
    handlers.onSignal({ ...envelope("signal", liveSignal(), TRACE), span: SB_SPAN, flags: 0 });
    assert.equal(sent[0].fields.trace, TRACE);
    assert.equal(sent[0].fields.flags, 1, "still the order's: forced sampled for the next hop");
    assert.doesNotMatch(await text(), /trace_id=/);
  } finally {
    stop();
  }
});

Deno.test("RecordSpans writes the record span and ends the order span at the commit, whether it comes before or after the hand-off", async () => {
  const tracer = new RecordingTracer();
  const t = new ServiceTracer("risk-manager", tracer);
  const ctx = t.asOrder(ROOT_CONTEXT, TRACE);
  const base = performance.timeOrigin;
  // The usual order: handed off, then the group commit ends.
  const late = new RecordSpans(t);
  const order1 = tracer.startSpan("risk-manager order", { startTime: base + 1 }, ctx);
  late.handedOff(ctx, order1, base + 2, base + 3);
  assert.equal(tracer.spans.length, 1, "nothing written before the commit");
  late.committed(10);
  await spansWritten();
  assert.equal(tracer.spans[1].name, "risk-manager record");
  assert.equal(tracer.spans[1].startedAt, base + 2, "from the checks' end");
  assert.equal(tracer.spans[1].endTime, base + 10, "to the commit's end");
  assert.equal(tracer.spans[0].endTime, base + 10);
  // A flush committed it before the hand-off: the spans end at the hand-off.
  const early = new RecordSpans(t);
  early.committed(4);
  assert.equal(tracer.spans.length, 2);
  const order2 = tracer.startSpan("risk-manager order", { startTime: base + 1 }, ctx);
  early.handedOff(ctx, order2, base + 2, base + 5);
  await spansWritten();
  assert.equal(tracer.spans[3].endTime, base + 5);
  assert.equal(tracer.spans[2].endTime, base + 5);
  early.committed(6);
  await spansWritten();
  assert.equal(tracer.spans.length, 4, "written once");
});
