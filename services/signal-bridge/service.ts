/**
 * Wires the signal-bridge core to its sockets, metrics and HTTP routes: subscribes
 * to market data, runs the configured model through {@link SignalBridgeCore} and
 * publishes `signal` envelopes, carrying each cause's trace id and `tickTs`.
 *
 * Admin routes (read-only): `GET /admin/model` (the model in use) and
 * `GET /admin/features` (every symbol's current features and last action).
 * @module
 */
import { Hono } from "hono";
import { receiverOptions, senderOptions } from "../../lib/channels.ts";
import { Publisher, Subscriber } from "../../lib/messaging/mod.ts";
import { getLogger } from "../../lib/log.ts";
import type { RunningCore, ServiceContext } from "../../lib/service.ts";
import { SignalBridge } from "./handlers.ts";
import { createModel } from "./create_model.ts";
import type { Model } from "./model.ts";
import { SignalBridgeCore } from "./core.ts";

/** The running core, with the resolved signal endpoint (port 0 resolved) for tests. */
export interface SignalBridgeService extends RunningCore {
  readonly publishEndpoint: string;
}

/**
 * Starts the signal-bridge core. Throws ConfigError (the harness exits 2) when the
 * model file is missing, malformed or names unknown features; throws if a socket
 * cannot be opened.
 */
export async function startSignalBridge(
  ctx: ServiceContext<"signal-bridge">,
): Promise<SignalBridgeService> {
  const log = getLogger(["trading", "signal-bridge"]);
  const sb = ctx.config.signalBridge;
  const model = createModel(sb);
  log.info("Model loaded", {
    kind: model.kind,
    model: model.name,
    modelVersion: model.version,
    features: [...model.features],
    path: model.kind === "logistic" ? sb.model.path : undefined,
  });
  const bootId = Date.now().toString(36);
  let n = 0;
  const engine = new SignalBridgeCore({
    symbols: ctx.config.symbols,
    model,
    features: sb.features,
    maxDataAgeMs: sb.maxDataAgeMs,
    signalTtlMs: sb.signalTtlMs,
    minIntervalMs: sb.minIntervalMs,
    minConfidence: sb.minConfidence,
    newId: () => `sb-${bootId}-${++n}`,
  });
  const fam = ctx.metrics.families;
  const common = {
    service: "signal-bridge",
    registry: ctx.metrics.registry,
    queueDepth: fam.system_zmq_queue_depth,
  };
  const publisher = await Publisher.open(sb.publish, {
    ...common,
    ...senderOptions("signals"),
  });
  let subscriber: Subscriber;
  try {
    subscriber = await Subscriber.open([...sb.marketData], {
      ...common,
      ...receiverOptions("market_data"),
    });
  } catch (e) {
    await publisher.close();
    throw e;
  }
  let open = true;
  const bridge = new SignalBridge({
    engine,
    metrics: fam,
    symbols: ctx.config.symbols,
    publish: (signal, trace) => {
      if (open) publisher.publish("signal", signal, trace);
    },
  });
  subscriber.onMessage((env) => bridge.handle(env));
  log.info("Signal bridge running", {
    publish: publisher.endpoint,
    marketData: [...subscriber.endpoints],
  });
  return {
    publishEndpoint: publisher.endpoint,
    ready: () => ({ model: true, sockets: open }),
    admin: adminApp(model, engine, bridge),
    close: async () => {
      open = false;
      await subscriber.close();
      await publisher.close();
      log.info("Signal bridge closed", { ...bridge.stats });
    },
  };
}

/** The read-only admin routes (`/admin/model`, `/admin/features`, `/admin/stats`). */
export function adminApp(model: Model, engine: SignalBridgeCore, bridge?: SignalBridge): Hono {
  const app = new Hono();
  app.get("/admin/model", (c) =>
    c.json({
      kind: model.kind,
      name: model.name,
      version: model.version,
      features: model.features,
    }));
  app.get("/admin/features", (c) => c.json(engine.snapshot()));
  app.get("/admin/stats", (c) => c.json(bridge?.stats ?? {}));
  return app;
}
