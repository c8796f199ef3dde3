/**
 * Wires the execution-engine: config to core, sockets to handlers, the journal, the
 * venue, the metrics recorder, the admin API and the reconciliation timer.
 *
 * In: approved orders (ReliableReceiver connected to `executionEngine.orders`, type
 * `order`); market data for the paper exchange's prices (Subscriber on
 * `executionEngine.marketData`: quote, book, trade; only with `venue: "sim"`).
 * Out: execution reports (ReliableSender connected to `executionEngine.executionReports`,
 * type `execution_report`), each carrying the order's trace id.
 *
 * An order is acknowledged to risk-manager once it is journaled; it is then sent to the
 * venue (handlers.ts). Reports live in the journal's outbox until risk-manager
 * acknowledges them, so after a crash they are sent again (at least once; risk-manager
 * applies a fill once by `cumQty`).
 * @module
 */
import type { Hono } from "hono";
import { ConfigError } from "../../lib/config.ts";
import { nowMs } from "../../lib/clock.ts";
import { getLogger } from "../../lib/log.ts";
import { ReliableReceiver, ReliableSender, Subscriber } from "../../lib/messaging/mod.ts";
import { EXIT, type RunningCore, type ServiceContext } from "../../lib/service.ts";
import { ServiceTracer } from "../../lib/tracing.ts";
import { createExecutionEngineAdminApi } from "./admin_api.ts";
import { AlpacaClient } from "./alpaca_client.ts";
import { AlpacaVenue } from "./alpaca_venue.ts";
import { ExecutionEngineCore } from "./core.ts";
import { ExecutionEngineHandlers } from "./handlers.ts";
import { OrderTraces, TracedOrderMetrics, TracedVenue } from "./order_tracing.ts";
import { Journal } from "./journal.ts";
import { ExecutionEngineMetrics } from "./metrics.ts";
import { PriceBook } from "./price_book.ts";
import { RateLimiter } from "./rate_limiter.ts";
import { SimVenue } from "./sim_venue.ts";
import type { Venue } from "./venue.ts";

/** How often orders waiting for a price are checked for expiry, ms. */
const HELD_SWEEP_MS = 250;

/** A started execution-engine: what lib/service.ts runs, plus handles for tests. */
export interface ExecutionEngineService extends RunningCore {
  readonly admin: Hono;
  readonly core: ExecutionEngineCore;
  readonly journal: Journal;
  readonly prices: PriceBook;
  close(): Promise<void>;
}

/**
 * Builds the venue the config names: the paper exchange filling against `prices`, or
 * Alpaca with the keys from the environment.
 *
 * @throws {ConfigError} For Alpaca without keys.
 */
export function createVenue(
  ctx: ServiceContext<"execution-engine">,
  prices: PriceBook,
  metrics: ExecutionEngineMetrics,
): Venue {
  const config = ctx.config.executionEngine;
  if (config.venue === "sim") {
    return new SimVenue({
      ...config.sim,
      hoursUtc: config.sim.hoursUtc ?? ctx.config.session.hoursUtc,
      symbols: ctx.config.symbols,
      onApiCall: (call) => metrics.apiCall(call),
    }, prices);
  }
  const { alpacaKeyId: keyId, alpacaSecretKey: secretKey } = ctx.secrets;
  if (!keyId || !secretKey) {
    throw new ConfigError(
      'Cannot start execution-engine: "executionEngine.venue" is "alpaca" but APCA_API_KEY_ID and APCA_API_SECRET_KEY are not set',
    );
  }
  const client = new AlpacaClient({
    baseUrl: config.alpaca.baseUrl,
    keyId,
    secretKey,
    timeoutMs: config.alpaca.timeoutMs,
    maxRetries: config.alpaca.maxRetries,
    retryBaseMs: config.alpaca.retryBaseMs,
    limiter: new RateLimiter({ limit: config.alpaca.requestsPerMinute, windowMs: 60_000 }),
    metrics,
    rateLimitMaxWaitMs: config.alpaca.rateLimitMaxWaitMs,
  });
  return new AlpacaVenue({
    client,
    stream: {
      url: config.alpaca.streamUrl,
      keyId,
      secretKey,
      metrics,
      idleMs: config.alpaca.streamIdleMs,
      probeTimeoutMs: config.alpaca.streamProbeTimeoutMs,
    },
    startTimeoutMs: config.alpaca.timeoutMs,
    symbols: ctx.config.symbols,
    extendedHours: ctx.config.session.extendedHours,
    clockPollMs: ctx.config.session.clockPollMs,
    accountPollMs: config.alpaca.accountPollMs,
    metrics,
  });
}

/**
 * Starts the execution-engine: recovers from the journal, then takes orders.
 *
 * @throws {ConfigError} For Alpaca without keys.
 * @throws {Error} When the journal, a socket or the venue cannot start (before trading).
 */
export async function startExecutionEngine(
  ctx: ServiceContext<"execution-engine">,
): Promise<ExecutionEngineService> {
  const config = ctx.config.executionEngine;
  const log = getLogger(["trading", "execution"]);
  const metrics = new ExecutionEngineMetrics(ctx.metrics.families, {
    exchange: config.venue,
    symbols: ctx.config.symbols,
  });
  const prices = new PriceBook();
  const venue = createVenue(ctx, prices, metrics);
  const journal = new Journal(config.journalPath, {
    durability: config.durability,
    // Memory holds what the failed commit held: only a restart from the disk is safe.
    onFailure: (error) => {
      log.fatal(
        "Cannot commit the order journal; exiting, risk-manager resends what was not acknowledged",
        {
          error,
        },
      );
      Deno.exit(EXIT.crash);
    },
  });
  // Orders' spans and exemplars (order_tracing.ts); the core sees the traced venue and recorder.
  const tracer = new ServiceTracer("execution-engine");
  const tracedVenue = new TracedVenue(venue, tracer);
  const orderTraces = new OrderTraces(tracer);
  metrics.oldestOpenOrderFrom(() => {
    let oldest: number | undefined;
    for (const open of journal.open()) {
      if (oldest === undefined || open.createdAt < oldest) oldest = open.createdAt;
    }
    return oldest;
  }, nowMs);
  let reports: ReliableSender | undefined;
  let orders: ReliableReceiver | undefined;
  let marketData: Subscriber | undefined;
  let timer: ReturnType<typeof setInterval> | undefined;
  let heldTimer: ReturnType<typeof setInterval> | undefined;
  let core: ExecutionEngineCore | undefined;
  let closing: Promise<void> | undefined;
  const close = () => (closing ??= closeOnce());
  const closeOnce = async () => {
    if (timer !== undefined) clearInterval(timer);
    if (heldTimer !== undefined) clearInterval(heldTimer);
    await orders?.close().catch(() => {});
    await marketData?.close().catch(() => {});
    await venue.close().catch(() => {});
    await core?.settle();
    // Let risk-manager acknowledge the last reports, so they leave the outbox.
    await reports?.close().catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 0));
    core?.close();
    journal.close();
  };
  try {
    const sender = reports = await ReliableSender.open(config.executionReports, {
      ...ctx.messaging.sender("execution_reports"),
    });
    const running = core = new ExecutionEngineCore({
      journal,
      venue: tracedVenue,
      metrics: new TracedOrderMetrics(metrics),
      sink: (report, trace) =>
        orderTraces.report(
          report,
          trace,
          (fields) => sender.send("execution_report", report, fields),
        ),
      // The paper exchange fills against market-data's prices: an order waits for a fresh one.
      marketReady: venue.name === "sim"
        ? (symbol) => {
          const p = prices.get(symbol);
          return p !== undefined && Date.now() - p.ts <= config.maxPriceAgeMs;
        }
        : undefined,
    });
    prices.onUpdate((symbol) => running.onMarket(symbol));
    const handlers = new ExecutionEngineHandlers({
      core: running,
      prices,
      tracer,
      orderTraces,
      answerStatus: (status, trace) => {
        sender.send("order_status", status, trace).catch((error) =>
          log.debug("Order status answer not acknowledged", { requestId: status.requestId, error })
        );
      },
      // Alpaca's positions, or the paper venue's: the net fills the journal holds.
      positions: venue instanceof AlpacaVenue ? () => venue.positions() : () => ({
        venue: venue.name,
        readAt: Date.now(),
        positions: journal.positions().map((p) => ({ ...p, avgEntryPrice: 0 })),
      }),
      answerPositions: (answer, trace) => {
        sender.send("venue_positions", answer, trace).catch((error) =>
          log.debug("Positions answer not acknowledged", { requestId: answer.requestId, error })
        );
      },
    });
    await venue.start();
    if (venue.name === "sim") {
      marketData = await Subscriber.open([...config.marketData], {
        ...ctx.messaging.receiver("market_data", [
          "quote",
          "book",
          "trade",
          "one_sided_quote",
          "trade_correction",
        ]),
      });
      marketData.onMessage((envelope) => handlers.onMarketData(envelope));
    }
    await running.recover();
    orders = await ReliableReceiver.open(config.orders, {
      ...ctx.messaging.receiver("orders"),
      // An order is acknowledged once the commit holding it is durable.
      beforeAck: () => journal.flush(),
    });
    orders.onMessage((envelope) => handlers.onOrder(envelope));
    timer = setInterval(() => {
      running.reconcile({ all: false }).catch((error) => log.error("Reconcile failed", { error }));
      running.redeliver();
    }, config.reconcileMs);
    Deno.unrefTimer(timer);
    heldTimer = setInterval(() => running.expireHeld(Date.now()), HELD_SWEEP_MS);
    Deno.unrefTimer(heldTimer);
  } catch (error) {
    await close();
    throw error;
  }
  log.info("Execution engine ready", {
    venue: venue.name,
    journal: config.journalPath,
    open: core.openCount(),
  });
  return {
    admin: createExecutionEngineAdminApi({
      journal,
      ...(venue instanceof AlpacaVenue ? { venuePositions: () => venue.positions() } : {}),
    }),
    core,
    journal,
    prices,
    ready: () => ({ journal: true, orders: orders !== undefined, ...venue.ready() }),
    close,
  };
}
