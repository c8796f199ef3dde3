/**
 * Wires the signal-bridge core to its sockets, metrics and HTTP routes: subscribes
 * to market data, runs the configured model through {@link SignalBridgeCore} and
 * publishes `signal` envelopes, carrying each cause's trace id and `tickTs`. The
 * admin routes are in admin_api.ts.
 * @module
 */
import { getLogger } from "../../lib/log.ts";
import { Publisher, Subscriber } from "../../lib/messaging/mod.ts";
import type { RunningCore, ServiceContext } from "../../lib/service.ts";
import { createSignalBridgeAdminApi } from "./admin_api.ts";
import { SignalBridgeCore } from "./core.ts";
import { createModel } from "./create_model.ts";
import { SignalBridgeHandlers } from "./handlers.ts";
import { SignalBridgeMetrics } from "./metrics.ts";

/** The running service, with the resolved signal endpoint (port 0 resolved) for tests. */
export interface SignalBridgeService extends RunningCore {
  /** Where signals are published, as peers connect to it. */
  readonly publishEndpoint: string;
}

/**
 * Starts the signal-bridge service. Throws ConfigError (the harness exits 2) when the
 * model file is missing, malformed or names unknown features; throws if a socket
 * cannot be opened.
 */
export async function startSignalBridge(
  ctx: ServiceContext<"signal-bridge">,
): Promise<SignalBridgeService> {
  const log = getLogger(["trading", "signal-bridge"]);
  const config = ctx.config.signalBridge;
  const model = createModel(config);
  log.info("Model loaded", {
    kind: model.kind,
    model: model.name,
    modelVersion: model.version,
    features: [...model.features],
    path: model.kind === "logistic" ? config.model.path : undefined,
  });
  const bootId = Date.now().toString(36);
  let signalCount = 0;
  const core = new SignalBridgeCore({
    symbols: ctx.config.symbols,
    model,
    features: config.features,
    maxDataAgeMs: config.maxDataAgeMs,
    signalTtlMs: config.signalTtlMs,
    minIntervalMs: config.minIntervalMs,
    minConfidence: config.minConfidence,
    newId: () => `sb-${bootId}-${++signalCount}`,
  });
  const families = ctx.metrics.families;
  const metrics = new SignalBridgeMetrics(families, {
    symbols: ctx.config.symbols,
    modelName: model.name,
  });
  const publisher = await Publisher.open(config.publish, {
    ...ctx.messaging.sender("signals"),
  });
  let subscriber: Subscriber;
  try {
    subscriber = await Subscriber.open([...config.marketData], {
      ...ctx.messaging.receiver("market_data"),
    });
  } catch (e) {
    await publisher.close();
    throw e;
  }
  let open = true;
  const handlers = new SignalBridgeHandlers({
    core,
    metrics,
    publish: (signal, trace) => {
      if (open) publisher.publish("signal", signal, trace);
    },
  });
  subscriber.onMessage((envelope) => handlers.onMarketData(envelope));
  log.info("Signal bridge running", {
    publish: publisher.endpoint,
    marketData: [...subscriber.endpoints],
  });
  return {
    publishEndpoint: publisher.endpoint,
    ready: () => ({ model: true, sockets: open }),
    admin: createSignalBridgeAdminApi({ core, stats: () => handlers.stats }),
    close: async () => {
      open = false;
      await subscriber.close();
      await publisher.close();
      handlers.close();
      log.info("Signal bridge closed", { ...handlers.stats });
    },
  };
}
