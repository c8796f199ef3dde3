/**
 * Wires the execution-engine core to its sockets, journal, venue, metrics and admin API.
 *
 * In: approved orders (ReliableReceiver connected to `executionEngine.orders`, type
 * `order`); market data for the paper exchange's prices (Subscriber on
 * `executionEngine.marketData`: quote, book, trade; only with `venue: "sim"`).
 * Out: execution reports (ReliableSender connected to `executionEngine.executionReports`,
 * type `execution_report`), each carrying the order's trace id.
 *
 * An order is acknowledged to risk-manager once it is journaled; it is then sent to the
 * venue. Reports live in the journal's outbox until risk-manager acknowledges them, so
 * after a crash they are sent again (at least once; risk-manager applies a fill once by
 * `cumQty`).
 * @module
 */
import { Hono } from "hono";
import { ConfigError } from "../../lib/config.ts";
import { getLogger } from "../../lib/log.ts";
import {
  type MessagingOptions,
  ReliableReceiver,
  ReliableSender,
  Subscriber,
} from "../../lib/messaging/mod.ts";
import { receiverOptions, senderOptions } from "../../lib/channels.ts";
import type { RunningCore, ServiceContext } from "../../lib/service.ts";
import {
  type Book,
  type ExecutionReport,
  type Order,
  type Quote,
  type Trade,
} from "../../lib/types.ts";
import { AlpacaClient } from "./alpaca_client.ts";
import { AlpacaVenue } from "./alpaca_venue.ts";
import { ExecutionEngineCore } from "./core.ts";
import { Journal } from "./journal.ts";
import { PriceBook } from "./price_book.ts";
import { RateLimiter } from "./rate_limiter.ts";
import { SimVenue } from "./sim_venue.ts";
import type { Venue } from "./venue.ts";

/** A started execution-engine: the harness's core plus handles for tests. */
export interface ExecutionEngineService extends RunningCore {
  readonly admin: Hono;
  readonly engine: ExecutionEngineCore;
  readonly journal: Journal;
  readonly prices: PriceBook;
  close(): Promise<void>;
}

/** Builds the venue the config names. Throws {@link ConfigError} for Alpaca without keys. */
export function createVenue(
  ctx: ServiceContext<"execution-engine">,
  prices: PriceBook,
): Venue {
  const ec = ctx.config.executionEngine;
  if (ec.venue === "sim") {
    const apiLatency = ctx.metrics.families.execution_engine_api_call_latency_ms;
    return new SimVenue({
      ...ec.sim,
      symbols: ctx.config.symbols,
      onApiCall: (c) =>
        apiLatency.observe(
          { endpoint: c.endpoint, method: c.method, status_code: c.statusCode },
          c.ms,
        ),
    }, prices);
  }
  const { alpacaKeyId: keyId, alpacaSecretKey: secretKey } = ctx.secrets;
  if (!keyId || !secretKey) {
    throw new ConfigError(
      'Cannot start execution-engine: "executionEngine.venue" is "alpaca" but APCA_API_KEY_ID and APCA_API_SECRET_KEY are not set',
    );
  }
  const metrics = ctx.metrics.families;
  const client = new AlpacaClient({
    baseUrl: ec.alpaca.baseUrl,
    keyId,
    secretKey,
    timeoutMs: ec.alpaca.timeoutMs,
    maxRetries: ec.alpaca.maxRetries,
    retryBaseMs: ec.alpaca.retryBaseMs,
    limiter: new RateLimiter({ limit: ec.alpaca.requestsPerMinute, windowMs: 60_000 }),
    metrics,
  });
  return new AlpacaVenue({
    client,
    stream: { url: ec.alpaca.streamUrl, keyId, secretKey, metrics },
    startTimeoutMs: ec.alpaca.timeoutMs,
  });
}

/** Starts the execution-engine core. Throws before trading when the journal or venue cannot start. */
export async function startExecutionEngine(
  ctx: ServiceContext<"execution-engine">,
): Promise<ExecutionEngineService> {
  const ec = ctx.config.executionEngine;
  const log = getLogger(["trading", "execution"]);
  const mopts: MessagingOptions = {
    service: ctx.service,
    registry: ctx.metrics.registry,
    queueDepth: ctx.metrics.families.system_zmq_queue_depth,
  };
  const prices = new PriceBook();
  const venue = createVenue(ctx, prices);
  const journal = new Journal(ec.journalPath);
  let reports: ReliableSender | undefined;
  let orders: ReliableReceiver | undefined;
  let md: Subscriber | undefined;
  let timer: ReturnType<typeof setInterval> | undefined;
  let engine: ExecutionEngineCore | undefined;
  let closing: Promise<void> | undefined;
  const close = () => (closing ??= closeOnce());
  const closeOnce = async () => {
    if (timer !== undefined) clearInterval(timer);
    await orders?.close().catch(() => {});
    await md?.close().catch(() => {});
    await venue.close().catch(() => {});
    await engine?.settle();
    // Let risk-manager acknowledge the last reports, so they leave the outbox.
    await reports?.close().catch(() => {});
    await new Promise((r) => setTimeout(r, 0));
    engine?.close();
    journal.close();
  };
  try {
    reports = await ReliableSender.open(ec.executionReports, {
      ...mopts,
      ...senderOptions("execution_reports"),
    });
    const sender = reports;
    engine = new ExecutionEngineCore({
      journal,
      venue,
      metrics: ctx.metrics.families,
      symbols: ctx.config.symbols,
      sink: (r: ExecutionReport, trace: string) => sender.send("execution_report", r, trace),
    });
    const eng = engine;
    await venue.start();
    if (venue.name === "sim") {
      md = await Subscriber.open([...ec.marketData], {
        ...mopts,
        ...receiverOptions("market_data", ["quote", "book", "trade"]),
      });
      md.onMessage((env) => {
        if (env.type === "quote") prices.quote(env.body as Quote);
        else if (env.type === "book") prices.book(env.body as Book);
        else if (env.type === "trade") prices.trade(env.body as Trade);
      });
    }
    await eng.recover();
    orders = await ReliableReceiver.open(ec.orders, {
      ...mopts,
      ...receiverOptions("orders"),
    });
    // Acknowledged once journaled (accept journals synchronously); sending goes on. If the
    // journal cannot be written the order must not be acknowledged: exit, and risk-manager
    // sends it again to the restarted engine.
    orders.onMessage((env) => {
      let a: ReturnType<ExecutionEngineCore["accept"]>;
      try {
        a = eng.accept(env.body as Order, env.trace);
      } catch (e) {
        log.fatal("Cannot journal an order; exiting so that it is delivered again", {
          error: e,
          trace: env.trace,
        });
        Deno.exit(1);
      }
      if (a.kind === "accepted") {
        a.sent.catch((e) => log.error("Order handling failed", { error: e, trace: env.trace }));
      }
    });
    timer = setInterval(() => {
      eng.reconcile({ all: false }).catch((e) => log.error("Reconcile failed", { error: e }));
      eng.redeliver();
    }, ec.reconcileMs);
    Deno.unrefTimer(timer);
  } catch (e) {
    await close();
    throw e;
  }
  const admin = createAdmin(journal);
  log.info("Execution engine ready", {
    venue: venue.name,
    journal: ec.journalPath,
    open: engine.openCount(),
  });
  return {
    admin,
    engine,
    journal,
    prices,
    ready: () => ({ journal: true, orders: orders !== undefined, ...venue.ready() }),
    close,
  };
}

/**
 * The read-only admin API: `GET /admin/orders` (open orders) and `GET /admin/orders/:id`.
 * (No unauthenticated mutating route: cancels go through `ExecutionEngineCore.cancel`.)
 */
export function createAdmin(journal: Journal): Hono {
  const app = new Hono();
  app.get("/admin/orders", (c) =>
    c.json({
      open: journal.open().map((r) => ({
        clientOrderId: r.order.clientOrderId,
        venueOrderId: r.venueOrderId ?? null,
        symbol: r.order.symbol,
        side: r.order.side,
        qty: r.order.qty,
        state: r.state,
        phase: r.phase,
        cumQty: r.cumQty,
        avgPrice: r.avgPrice,
      })),
    }));
  app.get("/admin/orders/:id", (c) => {
    const r = journal.get(c.req.param("id"));
    if (!r) return c.json({ error: "not_found" }, 404);
    return c.json({ ...r });
  });
  return app;
}
