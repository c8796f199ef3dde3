import assert from "node:assert/strict";
import { withContextManager } from "../../lib/testing/context_manager.ts";
import { RecordingTracer, spansWritten } from "../../lib/testing/recording_tracer.ts";
import { activeTraceIds, ServiceTracer, type TraceFields } from "../../lib/tracing.ts";
import type { Outgoing } from "./core.ts";
import type { FeedEvent } from "./feed.ts";
import { FeedProblemLog, MarketDataHandlers, PublishSink } from "./handlers.ts";
import { fieldsLogger } from "./testing/fields_logger.ts";

function setup(staleAfterMs = 1000) {
  let clock = 10_000;
  const calls: string[] = [];
  const status: { connected: boolean; ageSeconds: number }[] = [];
  const sockets: { socket: string; connected: boolean; ageSeconds: number }[] = [];
  const { logger } = fieldsLogger();
  const handlers = new MarketDataHandlers({
    core: {
      handle: (event: FeedEvent) => (calls.push(`core ${event.receivedTs}`), 0),
      flushBars: () => (calls.push("flush"), 0),
      resetBars: () => void calls.push("reset"),
    },
    metrics: {
      feedStatus: (connected, ageSeconds) => void status.push({ connected, ageSeconds }),
      socketStatus: (socket, connected, ageSeconds) =>
        void sockets.push({ socket, connected, ageSeconds }),
    },
    log: logger,
    recording: { write: (event) => void calls.push(`record ${event.receivedTs}`) },
    staleAfterMs,
    now: () => clock,
  });
  return {
    handlers,
    calls,
    status,
    sockets,
    advance: (ms: number) => (clock += ms),
    now: () => clock,
  };
}

Deno.test("MarketDataHandlers.onFeedEvent() records the frame, then hands it to the core", () => {
  const s = setup();
  s.handlers.onFeedEvent({ receivedTs: 10_000, frame: [] });
  assert.deepEqual(s.calls, ["record 10000", "core 10000"]);
});

Deno.test("MarketDataHandlers is fresh only within staleAfterMs of the last frame", () => {
  const s = setup(1000);
  assert.equal(s.handlers.fresh(), false, "no frame yet");
  assert.equal(s.handlers.lastFrameAgeMs(), null);
  s.handlers.onFeedEvent({ receivedTs: s.now(), frame: [] });
  s.advance(1000);
  assert.equal(s.handlers.fresh(), true);
  assert.equal(s.handlers.lastFrameAgeMs(), 1000);
  s.advance(1);
  assert.equal(s.handlers.fresh(), false);
});

Deno.test("MarketDataHandlers.recordFeedStatus() counts the age from start-up until the first frame", () => {
  const s = setup();
  s.advance(2000);
  s.handlers.recordFeedStatus(false);
  s.handlers.onFeedEvent({ receivedTs: s.now(), frame: [] });
  s.advance(500);
  s.handlers.recordFeedStatus(true);
  assert.deepEqual(s.status, [
    { connected: false, ageSeconds: 2 },
    { connected: true, ageSeconds: 0.5 },
  ]);
});

Deno.test("MarketDataHandlers.onReplayPassEnd() flushes the open bars, then drops them", () => {
  const s = setup();
  s.handlers.onReplayPassEnd("data/recording.ndjson", 10);
  assert.deepEqual(s.calls, ["flush", "reset"]);
});

Deno.test("PublishSink publishes each message and drops one whose publish throws", () => {
  const published: string[] = [];
  const { logger, lines } = fieldsLogger();
  let failing = true;
  const publishing = new PublishSink((type) => {
    if (failing) throw new Error("queue full");
    published.push(type);
  }, logger);
  try {
    const trade = {
      type: "trade" as const,
      body: {
        symbol: "AAPL",
        price: 1,
        size: 1,
        exchange: "sim",
        exchangeTs: 1,
        receivedTs: 1,
      },
    };
    for (let i = 0; i < 5; i++) publishing.sink(trade);
    failing = false;
    publishing.sink(trade);
    assert.deepEqual(published, ["trade"]);
    assert.equal(lines.length, 1, "a burst of failures is one line until the summary");
    assert.equal(lines[0].level, "error");
    assert.equal(lines[0].fields.failures, 1);
  } finally {
    publishing.close();
  }
  assert.equal(lines.length, 2, "closing writes the summary");
  assert.equal(lines[1].fields.suppressed, 4);
});

Deno.test("FeedProblemLog logs the first problem of each kind at once, with the exchange", () => {
  const { logger, lines } = fieldsLogger();
  const log = new FeedProblemLog(logger, "alpaca");
  try {
    log.parseError("invalid_json", "frame is not JSON");
    log.parseError("invalid_json", "frame is not JSON");
    log.parseError("unknown_type", "unknown T x");
    log.lateTrade("AAPL", 1_700_000_000_000);
    assert.deepEqual(lines.map((l) => [l.level, l.fields]), [
      [
        "warn",
        { exchange: "alpaca", reason: "invalid_json", detail: "frame is not JSON", suppressed: 0 },
      ],
      ["warn", {
        exchange: "alpaca",
        reason: "unknown_type",
        detail: "unknown T x",
        suppressed: 0,
      }],
      ["warn", {
        exchange: "alpaca",
        symbol: "AAPL",
        exchangeTs: 1_700_000_000_000,
        suppressed: 0,
      }],
    ]);
  } finally {
    log.close();
  }
  assert.equal(lines.length, 4, "closing writes the summary of the suppressed one");
  assert.equal(lines[3].fields.suppressed, 1);
});

Deno.test("MarketDataHandlers.recordFeedStatus() reports a one-connection feed as socket main", () => {
  const s = setup();
  s.advance(1000);
  s.handlers.recordFeedStatus(true);
  s.handlers.onFeedEvent({ receivedTs: s.now(), frame: [] });
  s.advance(250);
  s.handlers.recordFeedStatus(true);
  assert.deepEqual(s.sockets, [
    { socket: "main", connected: true, ageSeconds: 1 },
    { socket: "main", connected: true, ageSeconds: 0.25 },
  ]);
});

Deno.test("MarketDataHandlers.recordFeedStatus() reports each connection of a feed on its own", () => {
  const s = setup();
  const start = s.now();
  s.advance(3000);
  s.handlers.recordFeedStatus(false, [
    { socket: "stocks", connected: false, lastDataAt: 0 },
    { socket: "crypto", connected: true, lastDataAt: start + 2500 },
  ]);
  assert.deepEqual(s.sockets, [
    { socket: "stocks", connected: false, ageSeconds: 3 },
    { socket: "crypto", connected: true, ageSeconds: 0.5 },
  ]);
});

/** Handlers whose core publishes `types` through a PublishSink for every frame. */
function tracedSetup(sampleRoots: boolean, types: string[]) {
  const tracer = new RecordingTracer(sampleRoots);
  /** The trace id current while the core handled each frame (what its log lines name). */
  const active: (string | undefined)[] = [];
  const serviceTracer = new ServiceTracer("market-data", tracer);
  const published: { type: string; trace?: TraceFields }[] = [];
  const { logger } = fieldsLogger();
  const publishing = new PublishSink(
    (type, _body, trace) => void published.push({ type, trace }),
    logger,
    serviceTracer,
  );
  const handlers = new MarketDataHandlers({
    core: {
      handle: () => {
        active.push(activeTraceIds()?.trace_id);
        for (const type of types) publishing.sink({ type, body: {} } as Outgoing);
        return types.length;
      },
      flushBars: () => 0,
      resetBars: () => {},
    },
    metrics: { feedStatus: () => {} },
    log: logger,
    staleAfterMs: 1000,
    tracer: serviceTracer,
    publishing,
  });
  return { tracer, handlers, publishing, published, active };
}

Deno.test("a sampled tick is a root span with an update stage and one publish span per message, each envelope carrying its publish span", async () => {
  await withContextManager(async () => {
    const s = tracedSetup(true, ["trade", "quote"]);
    s.handlers.onFeedEvent({ receivedTs: 1_700_000_000_000, frame: [] });
    const [tick, update, ...publishes] = s.tracer.spans;
    assert.equal(tick.endTime, undefined, "the spans end after the tick's messages left");
    await spansWritten();
    assert.equal(tick.name, "market-data tick");
    assert.deepEqual(s.active, [tick.context.traceId]);
    assert.equal(tick.parent, undefined);
    assert.equal(
      tick.options.startTime,
      1_700_000_000_000,
      "the tick starts at the frame's receipt",
    );
    assert.equal(update.name, "market-data update");
    assert.equal(update.parent?.spanId, tick.context.spanId);
    assert.deepEqual(publishes.map((p) => p.name), ["market-data publish", "market-data publish"]);
    for (const [i, p] of publishes.entries()) {
      assert.equal(p.parent?.spanId, update.context.spanId);
      assert.notEqual(p.endTime, undefined, "every span ended");
      assert.deepEqual(s.published[i].trace, {
        trace: tick.context.traceId,
        span: p.context.spanId,
        flags: 1,
      });
    }
    assert.notEqual(tick.endTime, undefined);
  });
});

Deno.test("an unsampled tick records no span after its root, and all its messages carry one trace id without a sampled flag", async () => {
  await withContextManager(() => {
    const s = tracedSetup(false, ["trade", "quote", "book"]);
    s.handlers.onFeedEvent({ receivedTs: 1_700_000_000_000, frame: [] });
    assert.deepEqual(s.tracer.spans.map((x) => x.name), ["market-data tick"]);
    const root = s.tracer.spans[0].context;
    assert.deepEqual(s.active, [root.traceId], "the tick's log lines name its trace");
    for (const p of s.published) {
      assert.deepEqual(p.trace, { trace: root.traceId, span: root.spanId, flags: 0 });
    }
    // A message outside any tick (a status on a timer) gets a trace of its own downstream.
    s.publishing.sink({ type: "trading_status", body: {} } as Outgoing);
    assert.equal(s.published.at(-1)!.trace, undefined);
  });
});

Deno.test("with tracing off, each tick's messages share one new trace id and name no span", () => {
  const s = tracedSetup(true, ["trade", "quote"]);
  const handlers = new MarketDataHandlers({
    core: {
      handle: () => {
        s.publishing.sink({ type: "trade", body: {} } as Outgoing);
        s.publishing.sink({ type: "quote", body: {} } as Outgoing);
        return 2;
      },
      flushBars: () => 0,
      resetBars: () => {},
    },
    metrics: { feedStatus: () => {} },
    log: fieldsLogger().logger,
    staleAfterMs: 1000,
    publishing: s.publishing,
  });
  handlers.onFeedEvent({ receivedTs: 1, frame: [] });
  handlers.onFeedEvent({ receivedTs: 2, frame: [] });
  const [a, b, c, d] = s.published.map((p) => p.trace!);
  assert.match(a.trace, /^[0-9a-f]{32}$/);
  assert.equal(a.span, undefined);
  assert.equal(b.trace, a.trace, "one trace per tick");
  assert.equal(d.trace, c.trace);
  assert.notEqual(c.trace, a.trace, "a new trace for the next tick");
});
