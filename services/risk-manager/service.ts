/**
 * Wires the risk-manager core to its sockets, metrics and admin API.
 *
 * In: signals (Subscriber on `riskManager.signals`), market data for marks and each
 * symbol's market (Subscriber on `riskManager.marketData`: quote, book, trade,
 * one_sided_quote, trade_correction, trading_status, luld_band), execution reports and the
 * answers to reconciliation requests (ReliableReceiver bound at
 * `riskManager.executionReports`). Out: approved orders and the `order_status_request` and
 * `positions_request` of reconciliation, every `reconcileMs` (ReliableSender bound at
 * `riskManager.orders`, journaled next to the state file), and `trading_state` and
 * `risk_denial` events (Publisher at `riskManager.publish`).
 * @module
 */
import type { Hono } from "hono";
import { nowMs } from "../../lib/clock.ts";
import { senderPub } from "../../lib/channels.ts";
import { getLogger } from "../../lib/log.ts";
import { ALWAYS_OPEN, type Schedule, UtcHours } from "../../lib/market_session.ts";
import {
  Publisher,
  ReliableReceiver,
  ReliableSender,
  Subscriber,
} from "../../lib/messaging/mod.ts";
import { OutboxJournal } from "../../lib/messaging/outbox_journal.ts";
import { EXIT, type RunningCore, type ServiceContext } from "../../lib/service.ts";
import { createRiskManagerAdminApi, isBearerToken } from "./admin_api.ts";
import { RiskManagerCore, WARM_EVERY_MS, WARM_START_ROUNDS } from "./core.ts";
import { RiskManagerHandlers } from "./handlers.ts";
import { RiskManagerMetrics } from "./metrics.ts";
import { STATUS_MAX_AGE_PERIODS } from "./market_state.ts";
import { StateStore } from "./state_store.ts";

/** A started risk-manager: the harness's core plus handles for tests. */
export interface RiskManagerService extends RunningCore {
  readonly admin: Hono;
  readonly core: RiskManagerCore;
  /** Resolved endpoints (ports of `:0` binds filled in). */
  readonly endpoints: { orders: string; executionReports: string; publish: string };
  close(): Promise<void>;
}

/**
 * Where the release before this one journaled unacknowledged orders:
 * `<statePath without .sqlite>-outbox.sqlite`. The outbox now lives in the state database
 * (one commit for an approval's order and its outbox row); a file found there is imported
 * at start-up and moved to `<that>.migrated`.
 */
export function outboxPath(statePath: string): string {
  return statePath.replace(/\.sqlite$/, "") + "-outbox.sqlite";
}

/** Options of {@link startRiskManager}, for tests. */
export interface RiskManagerDeps {
  /** Ends the process when a commit fails; default `Deno.exit`. */
  readonly exit?: (code: number) => never;
}

/**
 * Imports the outbox file of the previous release into the state database (same stream,
 * same seqs), then moves the file (and its WAL) away; returns how many unacknowledged
 * orders it held. Nothing happens without such a file.
 */
async function importOldOutbox(store: StateStore, statePath: string, pub: string): Promise<number> {
  const old = outboxPath(statePath);
  if (statePath === ":memory:") return 0;
  try {
    Deno.statSync(old);
  } catch {
    return 0;
  }
  const copied = await OutboxJournal.importFile(store.journalDb.db, old, pub);
  for (const suffix of ["", "-wal", "-shm"]) {
    try {
      Deno.renameSync(old + suffix, `${old}${suffix}.migrated`);
    } catch { /* no such side file */ }
  }
  return copied;
}

const GAUGE_EVERY_MS = 500;
/** Retries stored-failed reports and persists changed marks this often. */
const HOUSEKEEPING_EVERY_MS = 1000;

/**
 * The schedule the checks fall back on while no fresh `trading_status` is known: the
 * configured hours for the sim and replay feeds (market-data computes their statuses from
 * the same config), none for Alpaca's (its session comes only from market-data).
 */
export function fallbackSchedule(
  config: ServiceContext<"risk-manager">["config"],
): Schedule | undefined {
  if (config.marketData.feed === "alpaca") return undefined;
  const hours = config.session.hoursUtc;
  return hours === null ? ALWAYS_OPEN : new UtcHours(hours);
}

/**
 * Starts the risk-manager: restores its state, opens its sockets and wires them to the
 * handlers. Throws (before trading) when its state cannot be opened or a socket cannot
 * be bound.
 */
export async function startRiskManager(
  ctx: ServiceContext<"risk-manager">,
  deps: RiskManagerDeps = {},
): Promise<RiskManagerService> {
  const settings = ctx.config.riskManager;
  const log = getLogger(["trading", "risk"]);
  const families = ctx.metrics.families;
  const metrics = new RiskManagerMetrics(
    families,
    ctx.config.symbols,
    settings.strategy,
    settings.limits.dailyLossLimit,
  );
  const exit = deps.exit ?? ((code: number) => Deno.exit(code));
  const store = StateStore.open(settings.statePath, {
    durability: settings.durability,
    // Memory holds what the failed commit held: only a restart from the disk is safe.
    onFailure: (error) => {
      log.fatal(
        "Cannot commit the risk state; exiting, the peers resend what was not acknowledged",
        {
          error,
        },
      );
      exit(EXIT.crash);
    },
  });
  const imported = await importOldOutbox(store, settings.statePath, senderPub("orders"));
  if (imported > 0) {
    log.warning("Imported the orders outbox of the previous release into the state database", {
      path: outboxPath(settings.statePath),
      pending: imported,
    });
  }
  // The orders channel opens after the core; nothing asks the core before it exists.
  let orders: ReliableSender | undefined;
  const core: RiskManagerCore = new RiskManagerCore({
    symbols: ctx.config.symbols,
    strategy: settings.strategy,
    sizing: settings.sizing,
    limits: settings.limits,
    markMaxAgeMs: settings.markMaxAgeMs,
    store,
    recorder: metrics,
    ordersChannel: {
      live: () => orders?.receiverLive ?? false,
      pending: () => orders?.pending() ?? 0,
    },
    maxOutboxPending: settings.maxOutboxPending,
    orderTtlMs: settings.orderTtlMs,
    orderMemoryMs: settings.orderMemoryMs,
    orderRetentionMs: settings.orderRetentionMs,
    session: {
      schedule: fallbackSchedule(ctx.config),
      statusMaxAgeMs: STATUS_MAX_AGE_PERIODS * ctx.config.session.publishMs,
      extendedHours: ctx.config.session.extendedHours,
    },
    positionMismatch: settings.positionMismatch,
    // No change can happen before the sockets and the handlers exist: nothing drives the core.
    onStateChange: (change) => handlers.onStateChange(change),
  });
  const purged = core.pruneClosedOrders(Date.now()).deleted;
  metrics.state(core.status);
  metrics.portfolio(core);
  log.info("Risk state restored", {
    path: settings.statePath,
    state: core.status.state,
    breakerTripped: core.status.breakerTripped,
    openPositions: core.openPositionCount(),
    openOrders: core.openOrders().length,
    dailyPnl: core.dailyPnl(),
    purgedOrders: purged,
  });

  const opened: { close(): Promise<void> }[] = [];
  const closeAll = async () => {
    for (const socket of opened.reverse()) await socket.close().catch(() => {});
    opened.length = 0;
  };
  let events: Publisher;
  let reports: ReliableReceiver;
  let signals: Subscriber;
  let marketData: Subscriber;
  try {
    events = await Publisher.open(settings.publish, {
      ...ctx.messaging.sender("risk_events"),
    });
    opened.push(events);
    const sender = orders = await ReliableSender.open(settings.orders, {
      ...ctx.messaging.sender("orders"),
      // In the state database: an approval's order row and its outbox row, one commit.
      journalDb: store.journalDb,
    });
    opened.push(sender);
    reports = await ReliableReceiver.open(settings.executionReports, {
      ...ctx.messaging.receiver("execution_reports"),
      // A report is acknowledged once the commit holding its fill is durable.
      beforeAck: () => store.flush(),
    });
    opened.push(reports);
    signals = await Subscriber.open([...settings.signals], {
      ...ctx.messaging.receiver("signals"),
    });
    opened.push(signals);
    marketData = await Subscriber.open([...settings.marketData], {
      ...ctx.messaging.receiver("market_data", [
        "quote",
        "book",
        "trade",
        "one_sided_quote",
        "trade_correction",
        "trading_status",
        "luld_band",
      ]),
    });
    opened.push(marketData);
  } catch (error) {
    await closeAll();
    store.close();
    throw error;
  }

  const handlers = new RiskManagerHandlers({
    core,
    metrics,
    sendOrder: (order, trace) => orders!.send("order", order, trace),
    sendStatusRequest: (request) => orders!.send("order_status_request", request),
    sendPositionsRequest: (request) => orders!.send("positions_request", request),
    publishEvent: (type, body, trace) => void events.publish(type, body, trace),
  });
  signals.onMessage((env) => handlers.onSignal(env));
  reports.onMessage((env) => handlers.onExecutionReport(env));
  marketData.onMessage((env) => handlers.onMarketData(env));

  const gaugeTimer = setInterval(() => handlers.refreshGauges(), GAUGE_EVERY_MS);
  // The checks stay compiled and in cache at the default system's few signals a second.
  // On the clock the handlers decide signals with (nowMs), so a warm-up never reads the books
  // at a time ahead of the next decision's.
  core.warm(nowMs(), WARM_START_ROUNDS);
  const warmTimer = setInterval(() => core.warm(nowMs()), WARM_EVERY_MS);
  Deno.unrefTimer(warmTimer);
  // Reconciliation of open orders and positions with the engine: as soon as it is there
  // after start-up, then every reconcileMs (the timer ticks faster so the first request
  // does not wait a period).
  let lastReconcileAt = -Infinity;
  const reconcileTimer = setInterval(() => {
    const now = Date.now();
    if (now - lastReconcileAt < settings.reconcileMs) return;
    const live = orders!.receiverLive;
    if (!live) return;
    lastReconcileAt = now;
    handlers.reconcile(now, live, 3 * settings.reconcileMs);
    handlers.reconcilePositions(now, live, 3 * settings.reconcileMs);
  }, Math.min(250, settings.reconcileMs));
  const housekeeping = setInterval(() => {
    try {
      // Memory holds the open orders and the recently closed ones, whatever the history.
      core.pruneClosedOrders(Date.now());
    } catch (error) {
      log.error("Cannot prune closed orders", { error });
    }
    try {
      core.flushMarks();
    } catch (error) {
      log.error("Cannot persist marks", { error });
    }
  }, HOUSEKEEPING_EVERY_MS);

  const token = ctx.secrets.riskAdminToken;
  if (!token) {
    log.warning("RISK_ADMIN_TOKEN is not set: admin writes are disabled");
  } else if (!isBearerToken(token)) {
    log.warning(
      "RISK_ADMIN_TOKEN holds characters a bearer token cannot carry (RFC 6750: letters, digits, -._~+/ and trailing =): every admin write will be refused",
    );
  }
  const admin = createRiskManagerAdminApi({
    core,
    token,
    settings: {
      strategy: settings.strategy,
      sizing: settings.sizing,
      limits: settings.limits,
      markMaxAgeMs: settings.markMaxAgeMs,
      reconcileMs: settings.reconcileMs,
      positionMismatch: settings.positionMismatch,
      extendedHours: ctx.config.session.extendedHours,
    },
  });

  let closed = false;
  return {
    admin,
    core,
    endpoints: {
      orders: orders!.endpoint,
      executionReports: reports.endpoint,
      publish: events.endpoint,
    },
    ready: () => ({
      state_store: !closed && handlers.pendingReports === 0,
      // No order is approved without a live consumer: not ready without one either.
      orders_channel: !closed && orders!.receiverLive,
    }),
    close: async () => {
      if (closed) return;
      closed = true;
      clearInterval(gaugeTimer);
      clearInterval(warmTimer);
      clearInterval(housekeeping);
      clearInterval(reconcileTimer);
      // A report still waiting for the store ends the process unacknowledged.
      handlers.close();
      // Inputs first, so nothing new arrives while the outputs drain.
      await closeAll();
      try {
        core.flushMarks();
      } finally {
        store.close();
      }
    },
  };
}
