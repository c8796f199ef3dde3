/**
 * Wires the risk-manager core to its sockets, metrics and admin API.
 *
 * In: signals (Subscriber on `riskManager.signals`), market data for marks (Subscriber on
 * `riskManager.marketData`: quote, book, trade), execution reports (ReliableReceiver bound
 * at `riskManager.executionReports`). Out: approved orders (ReliableSender bound at
 * `riskManager.orders`, journaled next to the state file), and `trading_state` and
 * `risk_denial` events (Publisher at `riskManager.publish`).
 * @module
 */
import type { Hono } from "hono";
import type { Envelope } from "../../lib/envelope.ts";
import { getLogger } from "../../lib/log.ts";
import {
  type MessagingOptions,
  Publisher,
  ReliableReceiver,
  ReliableSender,
  Subscriber,
} from "../../lib/messaging/mod.ts";
import { receiverOptions, senderOptions } from "../../lib/channels.ts";
import type { RunningCore, ServiceContext } from "../../lib/service.ts";
import type { ExecutionReport, RiskDenialEvent, Signal } from "../../lib/types.ts";
import { nowMs } from "../../lib/clock.ts";
import { createRiskManagerAdminApi } from "./admin_api.ts";
import { type Decision, RiskManagerCore } from "./core.ts";
import { RiskManagerMetrics } from "./metrics.ts";
import { StateStore } from "./state_store.ts";
import type { TradingStateChange } from "./trading_state.ts";

/** A started risk-manager: the harness's core plus handles for tests. */
export interface RiskManagerService extends RunningCore {
  readonly admin: Hono;
  readonly core: RiskManagerCore;
  /** Resolved endpoints (ports of `:0` binds filled in). */
  readonly endpoints: { orders: string; executionReports: string; publish: string };
  close(): Promise<void>;
}

/** The journal of unacknowledged orders: `<statePath without .sqlite>-outbox.sqlite`. */
export function outboxPath(statePath: string): string {
  return statePath.replace(/\.sqlite$/, "") + "-outbox.sqlite";
}

const GAUGE_EVERY_MS = 500;
/** Retries stored-failed reports and persists changed marks this often. */
const HOUSEKEEPING_EVERY_MS = 1000;
const MAX_RETRY_REPORTS = 100_000;

/** Starts the risk-manager core. Throws (before trading) when its state cannot be opened. */
export async function startRiskManager(
  ctx: ServiceContext<"risk-manager">,
): Promise<RiskManagerService> {
  const rc = ctx.config.riskManager;
  const log = getLogger(["trading", "risk"]);
  const families = ctx.metrics.families;
  const metrics = new RiskManagerMetrics(
    families,
    ctx.config.symbols,
    rc.strategy,
    rc.limits.dailyLossLimit,
  );
  const store = StateStore.open(rc.statePath);
  let events: Publisher | undefined;

  const onStateChange = (c: TradingStateChange) => {
    metrics.state(core.status);
    const fields = {
      state: c.event.state,
      previous: c.event.previous,
      breakerTripped: c.breakerTripped,
      reason: c.event.reason,
      actor: c.event.actor,
    };
    if (c.breakerChanged && c.breakerTripped) log.error("Circuit breaker tripped", fields);
    else log.warning("Trading state changed", fields);
    try {
      events?.publish("trading_state", c.event);
    } catch (error) {
      log.error("Cannot publish a trading state event", { error });
    }
  };
  const core: RiskManagerCore = new RiskManagerCore({
    symbols: ctx.config.symbols,
    strategy: rc.strategy,
    sizing: rc.sizing,
    limits: rc.limits,
    markMaxAgeMs: rc.markMaxAgeMs,
    store,
    recorder: metrics,
    onStateChange,
  });
  const purged = core.purgeClosedOrders(Date.now());
  metrics.state(core.status);
  metrics.portfolio(core);
  log.info("Risk state restored", {
    path: rc.statePath,
    state: core.status.state,
    breakerTripped: core.status.breakerTripped,
    openPositions: core.openPositionCount(),
    openOrders: core.openOrders().length,
    dailyPnl: core.dailyPnl(),
    purgedOrders: purged,
  });

  const mo: MessagingOptions = {
    service: ctx.service,
    registry: ctx.metrics.registry,
    queueDepth: families.system_zmq_queue_depth,
  };
  const opened: { close(): Promise<void> }[] = [];
  const closeAll = async () => {
    for (const s of opened.reverse()) await s.close().catch(() => {});
    opened.length = 0;
  };
  let orders: ReliableSender;
  let reports: ReliableReceiver;
  let signals: Subscriber;
  let marketData: Subscriber;
  try {
    events = await Publisher.open(rc.publish, { ...mo, ...senderOptions("risk_events") });
    opened.push(events);
    orders = await ReliableSender.open(rc.orders, {
      ...mo,
      ...senderOptions("orders"),
      journalPath: rc.statePath === ":memory:" ? undefined : outboxPath(rc.statePath),
    });
    opened.push(orders);
    reports = await ReliableReceiver.open(rc.executionReports, {
      ...mo,
      ...receiverOptions("execution_reports"),
    });
    opened.push(reports);
    signals = await Subscriber.open([...rc.signals], {
      ...mo,
      ...receiverOptions("signals"),
    });
    opened.push(signals);
    marketData = await Subscriber.open([...rc.marketData], {
      ...mo,
      ...receiverOptions("market_data", ["quote", "book", "trade"]),
    });
    opened.push(marketData);
  } catch (error) {
    await closeAll();
    store.close();
    throw error;
  }

  let gaugesDirty = false;
  const send = (d: Decision & { approved: true }, trace: string) => {
    const o = d.order;
    log.info("Order approved", {
      clientOrderId: o.clientOrderId,
      signalId: o.signalId,
      symbol: o.symbol,
      side: o.side,
      qty: o.qty,
      trace,
    });
    orders.send("order", o, trace).then(
      () => log.debug("Order acknowledged", { clientOrderId: o.clientOrderId, trace }),
      (error) =>
        log.warning("Order not acknowledged before close; it stays in the outbox journal", {
          clientOrderId: o.clientOrderId,
          error,
        }),
    );
  };

  signals.onMessage((env) => {
    const s = env.body as Signal;
    const d = core.onSignal(s, nowMs());
    if (d.approved) {
      send(d, env.trace);
      gaugesDirty = true;
      return;
    }
    metrics.denied(d.denial, d.symbol);
    log.info("Signal denied", {
      code: d.denial.code,
      check: d.denial.check,
      detail: d.denial.message,
      signalId: s.id,
      symbol: s.symbol,
      trace: env.trace,
    });
    const ev: RiskDenialEvent = {
      signalId: s.id,
      symbol: s.symbol,
      code: d.denial.code,
      check: d.denial.check,
      message: d.denial.message,
      at: Date.now(),
    };
    events!.publish("risk_denial", ev, env.trace);
  });

  // A report that cannot be stored (disk error) is kept and retried in order: the
  // receiver acknowledges it either way, and a fill must not be lost.
  const retry: Envelope[] = [];
  const applyReport = (env: Envelope) => {
    const r = env.body as ExecutionReport;
    const out = core.onExecutionReport(r, Date.now());
    if (out.unknownOrder) {
      log.warning("Execution report for an order this risk-manager did not approve", {
        clientOrderId: r.clientOrderId,
        symbol: r.symbol,
        kind: r.kind,
        trace: env.trace,
      });
    }
    if (out.kind === "fill" && out.effect) {
      log.info("Fill applied", {
        clientOrderId: r.clientOrderId,
        symbol: r.symbol,
        side: r.side,
        qty: r.lastQty,
        price: r.lastPrice,
        position: out.effect.after.qty,
        avgPrice: out.effect.after.avgPrice,
        realized: out.effect.realized,
        trace: env.trace,
      });
      metrics.portfolio(core);
    } else if (out.kind === "duplicate") {
      log.debug("Duplicate fill ignored", { clientOrderId: r.clientOrderId, cumQty: r.cumQty });
    }
  };
  const drainRetries = () => {
    while (retry.length > 0) {
      try {
        applyReport(retry[0]);
      } catch (error) {
        log.error("Cannot store an execution report; will retry", {
          pending: retry.length,
          clientOrderId: (retry[0].body as ExecutionReport).clientOrderId,
          error,
        });
        return;
      }
      retry.shift();
    }
  };
  reports.onMessage((env) => {
    if (retry.length >= MAX_RETRY_REPORTS) {
      log.fatal("Execution report retry queue is full; report dropped", { trace: env.trace });
      return;
    }
    retry.push(env);
    drainRetries();
  });

  marketData.onMessage((env) => {
    if (core.onMarketData(env.type, env.body, Date.now())) gaugesDirty = true;
  });

  const gaugeTimer = setInterval(() => {
    if (!gaugesDirty) return;
    gaugesDirty = false;
    metrics.portfolio(core);
  }, GAUGE_EVERY_MS);
  const housekeeping = setInterval(() => {
    drainRetries();
    try {
      core.flushMarks();
    } catch (error) {
      log.error("Cannot persist marks", { error });
    }
  }, HOUSEKEEPING_EVERY_MS);

  const admin = createRiskManagerAdminApi({
    core,
    token: ctx.secrets.riskAdminToken,
    settings: {
      strategy: rc.strategy,
      sizing: rc.sizing,
      limits: rc.limits,
      markMaxAgeMs: rc.markMaxAgeMs,
    },
  });
  if (!ctx.secrets.riskAdminToken) {
    log.warning("RISK_ADMIN_TOKEN is not set: admin writes are disabled");
  }

  let closed = false;
  return {
    admin,
    core,
    endpoints: {
      orders: orders.endpoint,
      executionReports: reports.endpoint,
      publish: events.endpoint,
    },
    ready: () => ({ state_store: !closed && retry.length === 0, orders_channel: !closed }),
    close: async () => {
      if (closed) return;
      closed = true;
      clearInterval(gaugeTimer);
      clearInterval(housekeeping);
      // Inputs first, so nothing new arrives while the outputs drain.
      await closeAll();
      drainRetries();
      if (retry.length > 0) {
        log.fatal("Execution reports could not be stored before shut-down", {
          pending: retry.length,
        });
      }
      try {
        core.flushMarks();
      } finally {
        store.close();
      }
    },
  };
}
