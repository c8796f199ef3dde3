/**
 * Wires the market-data core to its feed, its publisher, its metrics and `/ready`.
 *
 * - Feed from `marketData.feed`: `sim` (default), `replay` (`marketData.replay`) or
 *   `alpaca` (keys from `APCA_API_KEY_ID`/`APCA_API_SECRET_KEY`; without them the
 *   service refuses to start with a ConfigError).
 * - Publishes `trade`, `quote`, `book` and `bar` envelopes on `marketData.publish`
 *   (channel "market_data").
 * - Records every received frame to `marketData.recordPath` when set.
 * - Closes bars on a 100 ms timer (the replay's recorded clock for `replay`).
 * - Publishes each symbol's `trading_status`: on a change (checked every second, and at
 *   once on a halt) and every `session.publishMs`; the session comes from Alpaca's clock
 *   and calendar for the `alpaca` feed (`alpaca_session.ts`), else `session.hoursUtc`.
 * - `/ready`: the feed is connected and a frame arrived within `staleAfterMs`.
 * - `GET /admin/stats` (read-only): the core's counters and the feed's state.
 *
 * The feed's events are handled in `handlers.ts`, metrics recorded by `metrics.ts`,
 * the admin routes built by `admin_api.ts`; this file only wires them.
 * @module
 */
import type { Hono } from "hono";
import { ConfigError } from "../../lib/config.ts";
import type { TraceContext } from "../../lib/envelope.ts";
import { getLogger } from "../../lib/log.ts";
import { Publisher } from "../../lib/messaging/mod.ts";
import { ServiceTracer } from "../../lib/tracing.ts";
import type { RunningCore, ServiceContext } from "../../lib/service.ts";
import { createMarketDataAdminApi } from "./admin_api.ts";
import { AlpacaFeed } from "./alpaca_feed.ts";
import { AlpacaSessionSource } from "./alpaca_session.ts";
import { AlpacaSchedule, ALWAYS_OPEN, type Schedule, UtcHours } from "../../lib/market_session.ts";
import { MarketDataCore } from "./core.ts";
import { type Feed, feedSockets } from "./feed.ts";
import { FeedProblemLog, MarketDataHandlers, PublishSink } from "./handlers.ts";
import { MarketDataMetrics } from "./metrics.ts";
import { Recorder } from "./recorder.ts";
import { ReplayFeed } from "./replay_feed.ts";
import { SimFeed } from "./sim_feed.ts";

/** The slice of a publisher the service needs (tests pass a fake). */
export interface MarketDataPublisher {
  /** Publishes one message; may throw (the sink logs and drops it). */
  publish(type: string, body: unknown, trace?: TraceContext): unknown;
  /** Closes the socket. */
  close(): Promise<void>;
}

/** Injectable parts, for tests. */
export interface MarketDataDeps {
  openPublisher?: (
    endpoint: string,
    ctx: ServiceContext<"market-data">,
  ) => Promise<MarketDataPublisher>;
  /** Bar timer period; default 100 ms. */
  barTimerMs?: number;
  /** Status (gauges) timer period; default 500 ms. */
  statusTimerMs?: number;
  /** Trading status change check period; default 1000 ms. */
  sessionTimerMs?: number;
}

/** What {@link startMarketData} returns: the harness's RunningCore plus handles for tests. */
export interface MarketDataService extends RunningCore {
  readonly core: MarketDataCore;
  readonly feed: Feed;
  readonly admin: Hono;
  ready: () => Record<string, boolean>;
  close: () => Promise<void>;
}

function defaultPublisher(
  endpoint: string,
  ctx: ServiceContext<"market-data">,
): Promise<MarketDataPublisher> {
  return Publisher.open(endpoint, ctx.messaging.sender("market_data"));
}

/**
 * Refuses a feed that cannot be configured.
 *
 * @throws {ConfigError} Alpaca without keys, recording onto the replayed file, or a
 *   replay file that cannot be read.
 */
function checkFeedConfig(ctx: ServiceContext<"market-data">): void {
  const config = ctx.config.marketData;
  if (config.feed === "alpaca" && (!ctx.secrets.alpacaKeyId || !ctx.secrets.alpacaSecretKey)) {
    throw new ConfigError(
      'Cannot start market-data: feed "alpaca" needs APCA_API_KEY_ID and APCA_API_SECRET_KEY in the environment',
    );
  }
  if (
    config.feed === "replay" && config.recordPath !== null &&
    config.recordPath === config.replay.path
  ) {
    throw new ConfigError(
      `Cannot start market-data: "marketData.recordPath" must differ from "marketData.replay.path", got "${config.recordPath}"`,
    );
  }
  if (config.feed === "replay") {
    try {
      Deno.statSync(config.replay.path);
    } catch (e) {
      throw new ConfigError(
        `Cannot start market-data: cannot read "marketData.replay.path" "${config.replay.path}": ${
          (e as Error).message
        }`,
      );
    }
  }
}

/**
 * Starts the market-data service. Throws {@link ConfigError} when the feed cannot be
 * configured (Alpaca without keys, a replay file that cannot be read, recording onto
 * the replayed file).
 */
export async function startMarketData(
  ctx: ServiceContext<"market-data">,
  deps: MarketDataDeps = {},
): Promise<MarketDataService> {
  const config = ctx.config.marketData;
  const symbols = ctx.config.symbols;
  const log = getLogger(["trading", "market-data"]);
  const exchange = config.feed;
  checkFeedConfig(ctx);

  const publisher = await (deps.openPublisher ?? defaultPublisher)(config.publish, ctx);
  const metrics = new MarketDataMetrics(ctx.metrics.families, {
    exchange,
    symbols,
    sockets: feedSockets(exchange, symbols),
    staleAfterMs: config.staleAfterMs,
  });
  const tracer = new ServiceTracer("market-data");
  const publishing = new PublishSink(
    (type, body, trace) => publisher.publish(type, body, trace),
    log,
    tracer,
  );
  const problemLog = new FeedProblemLog(log, exchange);
  const hours = ctx.config.session.hoursUtc;
  // Alpaca: unknown until the clock is read (stocks are reported closed meanwhile).
  const schedule: Schedule = exchange === "alpaca"
    ? new AlpacaSchedule(undefined, [])
    : hours !== null
    ? new UtcHours(hours)
    : ALWAYS_OPEN;
  const core = new MarketDataCore({
    exchange,
    symbols,
    bars: config.bars,
    sink: publishing.sink,
    metrics,
    log: problemLog,
    schedule,
  });

  let recording: Recorder | undefined;
  if (config.recordPath !== null) {
    recording = Recorder.open(config.recordPath);
    log.info("Recording feed frames", { path: config.recordPath });
  }
  const handlers = new MarketDataHandlers({
    core,
    metrics,
    log,
    recording,
    staleAfterMs: config.staleAfterMs,
    tracer,
    publishing,
  });

  let feed: Feed;
  let replay: ReplayFeed | undefined;
  let alpacaFeed: AlpacaFeed | undefined;
  let session: AlpacaSessionSource | undefined;
  switch (exchange) {
    case "sim":
      feed = new SimFeed({ ...config.sim, symbols });
      break;
    case "replay":
      feed = replay = new ReplayFeed({
        ...config.replay,
        onPassEnd: () => handlers.onReplayPassEnd(config.replay.path, replay!.frames),
      });
      break;
    case "alpaca":
      feed = alpacaFeed = new AlpacaFeed({
        symbols,
        ...config.alpaca,
        keyId: ctx.secrets.alpacaKeyId!,
        secretKey: ctx.secrets.alpacaSecretKey!,
        staleAfterMs: config.staleAfterMs,
        onFailure: (errorType, socket) => metrics.connectionFailure(errorType, socket),
        onServerError: (code) => metrics.serverError(code),
        onStopped: () => metrics.feedStopped(true),
        log,
      });
      metrics.feedStopped(false);
      session = new AlpacaSessionSource({
        tradingUrl: config.alpaca.tradingUrl,
        keyId: ctx.secrets.alpacaKeyId!,
        secretKey: ctx.secrets.alpacaSecretKey!,
        pollMs: ctx.config.session.clockPollMs,
        onSchedule: (read) => core.setSchedule(read, Date.now()),
        log,
      });
      break;
  }
  const statusClock = () => replay ? replay.clock() : Date.now();

  const recordStatus = () => handlers.recordFeedStatus(feed.connected(), feed.sockets?.());
  recordStatus();
  const statusTimer = setInterval(recordStatus, deps.statusTimerMs ?? 500);
  const barTimer = setInterval(
    () => core.closeBars(replay ? replay.clock() : Date.now()),
    deps.barTimerMs ?? 100,
  );
  const sessionTimer = setInterval(
    () => core.publishStatus(statusClock(), false),
    deps.sessionTimerMs ?? 1000,
  );
  const statusRepeatTimer = setInterval(
    () => core.publishStatus(statusClock(), true),
    ctx.config.session.publishMs,
  );
  const stop = async () => {
    clearInterval(statusTimer);
    clearInterval(barTimer);
    clearInterval(sessionTimer);
    clearInterval(statusRepeatTimer);
    session?.close();
    await feed.close();
    await recording?.close();
    await publisher.close();
    publishing.close();
    problemLog.close();
  };

  try {
    await session?.start();
    core.publishStatus(statusClock(), true);
    await feed.start((event) => handlers.onFeedEvent(event));
  } catch (e) {
    await stop();
    throw e;
  }
  log.info("Market data feed started", { exchange, symbols, publish: config.publish });

  let closed = false;
  return {
    core,
    feed,
    admin: createMarketDataAdminApi({
      core,
      feed,
      lastFrameAgeMs: () => handlers.lastFrameAgeMs(),
      statuses: () => symbols.map((symbol) => core.statusOf(symbol, statusClock())),
    }),
    ready: () => ({
      feed_connected: feed.connected(),
      feed_fresh: handlers.fresh(),
      ...(alpacaFeed ? { feed_not_stopped: !alpacaFeed.stopped() } : {}),
    }),
    close: async () => {
      if (closed) return;
      closed = true;
      await stop();
      log.info("Market data stopped", { ...core.stats });
    },
  };
}
