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
 * - `/ready`: the feed is connected and a frame arrived within `staleAfterMs`.
 * @module
 */
import { ConfigError } from "../../lib/config.ts";
import { getLogger } from "../../lib/log.ts";
import { senderOptions } from "../../lib/channels.ts";
import { Publisher } from "../../lib/messaging/mod.ts";
import type { RunningCore, ServiceContext } from "../../lib/service.ts";
import { nowMs } from "../../lib/clock.ts";
import { AlpacaFeed } from "./alpaca_feed.ts";
import { MarketDataCore, type Outgoing } from "./core.ts";
import type { Feed, FeedEvent } from "./feed.ts";
import { Recorder } from "./recorder.ts";
import { ReplayFeed } from "./replay_feed.ts";
import { SimFeed } from "./sim_feed.ts";

/** The slice of a publisher the service needs (tests pass a fake). */
export interface MdPublisher {
  publish(type: string, body: unknown): unknown;
  close(): Promise<void>;
}

/** Injectable parts, for tests. */
export interface MarketDataDeps {
  openPublisher?: (endpoint: string, ctx: ServiceContext<"market-data">) => Promise<MdPublisher>;
  /** Bar timer period; default 100 ms. */
  barTimerMs?: number;
  /** Status (gauges) timer period; default 500 ms. */
  statusTimerMs?: number;
}

/** What {@link startMarketData} returns: the harness's RunningCore plus handles for tests. */
export interface MarketDataService extends RunningCore {
  readonly core: MarketDataCore;
  readonly feed: Feed;
  ready: () => Record<string, boolean>;
  close: () => Promise<void>;
}

function defaultPublisher(
  endpoint: string,
  ctx: ServiceContext<"market-data">,
): Promise<MdPublisher> {
  return Publisher.open(endpoint, {
    service: ctx.service,
    registry: ctx.metrics.registry,
    queueDepth: ctx.metrics.families.system_zmq_queue_depth,
    ...senderOptions("market_data"),
  });
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
  const cfg = ctx.config.marketData;
  const symbols = ctx.config.symbols;
  const fam = ctx.metrics.families;
  const log = getLogger(["trading", "market-data"]);
  const exchange = cfg.feed;

  if (exchange === "alpaca" && (!ctx.secrets.alpacaKeyId || !ctx.secrets.alpacaSecretKey)) {
    throw new ConfigError(
      'Cannot start market-data: feed "alpaca" needs APCA_API_KEY_ID and APCA_API_SECRET_KEY in the environment',
    );
  }
  if (exchange === "replay" && cfg.recordPath !== null && cfg.recordPath === cfg.replay.path) {
    throw new ConfigError(
      `Cannot start market-data: "marketData.recordPath" must differ from "marketData.replay.path", got "${cfg.recordPath}"`,
    );
  }
  if (exchange === "replay") {
    try {
      Deno.statSync(cfg.replay.path);
    } catch (e) {
      throw new ConfigError(
        `Cannot start market-data: cannot read "marketData.replay.path" "${cfg.replay.path}": ${
          (e as Error).message
        }`,
      );
    }
  }

  const publisher = await (deps.openPublisher ?? defaultPublisher)(cfg.publish, ctx);
  let publishFailures = 0;
  const sink = (m: Outgoing) => {
    try {
      publisher.publish(m.type, m.body);
    } catch (e) {
      if (publishFailures++ % 1000 === 0) {
        log.error("Cannot publish market data", {
          type: m.type,
          error: e,
          failures: publishFailures,
        });
      }
    }
  };
  const core = new MarketDataCore({
    exchange,
    symbols,
    bars: cfg.bars,
    sink,
    metrics: fam,
    log,
  });

  const failures = fam.market_data_websocket_connection_failures_total;
  let feed: Feed;
  let replay: ReplayFeed | undefined;
  switch (exchange) {
    case "sim":
      feed = new SimFeed({ ...cfg.sim, symbols });
      break;
    case "replay":
      feed = replay = new ReplayFeed({
        ...cfg.replay,
        onPassEnd: () => {
          core.flushBars();
          core.resetBars();
          log.info("Replay pass finished", { path: cfg.replay.path, frames: replay!.frames });
        },
      });
      break;
    case "alpaca":
      feed = new AlpacaFeed({
        symbols,
        ...cfg.alpaca,
        keyId: ctx.secrets.alpacaKeyId!,
        secretKey: ctx.secrets.alpacaSecretKey!,
        staleAfterMs: cfg.staleAfterMs,
        onFailure: (t) => failures.inc({ exchange, error_type: t }),
        log,
      });
      break;
  }

  let recorder: Recorder | undefined;
  if (cfg.recordPath !== null) {
    recorder = Recorder.open(cfg.recordPath);
    log.info("Recording feed frames", { path: cfg.recordPath });
  }

  const startedAt = nowMs();
  let lastFrameAt = 0;
  const onEvent = (ev: FeedEvent) => {
    lastFrameAt = ev.receivedTs;
    recorder?.write(ev);
    core.handle(ev);
  };

  const fresh = () => lastFrameAt > 0 && nowMs() - lastFrameAt <= cfg.staleAfterMs;
  const status = () => {
    fam.market_data_feed_connected.set({ exchange }, feed.connected() ? 1 : 0);
    fam.market_data_feed_last_message_age_seconds.set(
      { exchange },
      (nowMs() - (lastFrameAt || startedAt)) / 1000,
    );
  };
  status();
  const statusTimer = setInterval(status, deps.statusTimerMs ?? 500);
  const barTimer = setInterval(
    () => core.closeBars(replay ? replay.clock() : Date.now()),
    deps.barTimerMs ?? 100,
  );

  try {
    await feed.start(onEvent);
  } catch (e) {
    clearInterval(statusTimer);
    clearInterval(barTimer);
    await recorder?.close();
    await publisher.close();
    throw e;
  }
  log.info("Market data feed started", { exchange, symbols, publish: cfg.publish });

  let closed = false;
  return {
    core,
    feed,
    ready: () => ({ feed_connected: feed.connected(), feed_fresh: fresh() }),
    close: async () => {
      if (closed) return;
      closed = true;
      clearInterval(statusTimer);
      clearInterval(barTimer);
      await feed.close();
      await recorder?.close();
      await publisher.close();
      log.info("Market data stopped", { ...core.stats });
    },
  };
}
