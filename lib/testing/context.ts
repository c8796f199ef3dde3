/**
 * Services started inside a test's process: a {@link ServiceContext} with its own
 * registry and channels that run CURVE (as in production) with keys in a temporary
 * directory, and the channel options of another identity, for a test that plays a
 * peer service (a publisher risk-manager subscribes to, an execution-engine end).
 *
 * @example
 * ```ts
 * const config = testConfig(raw);
 * await using ctx = await testContext("risk-manager", config, { secrets: { riskAdminToken: "t" } });
 * const rm = await startRiskManager(ctx);
 * await using engine = await peerMessaging("execution-engine", config);
 * const orders = await ReliableReceiver.open(rm.endpoints.orders, engine.receiver("orders"));
 * ```
 * @module
 */
import type { Registry } from "prom-client";
import { type Config, parseConfig, type Secrets } from "../config.ts";
import {
  type MessagingContext,
  MessagingContext as Messaging,
  type OPERATOR,
} from "../messaging_context.ts";
import { createServiceMetrics, type ServiceMetrics, type ServiceName } from "../metrics.ts";
import type { ServiceContext } from "../service.ts";
import type { RawConfig } from "./stack.ts";
import { testKeysDir } from "./tools.ts";

export { testKeysDir };

/**
 * Validates a raw config for a test, with its keys in {@link testKeysDir} unless it
 * names a key directory of its own outside `data/`.
 *
 * @throws {ConfigError} If the config is invalid.
 */
export function testConfig(raw: RawConfig, source = "test"): Config {
  const copy = structuredClone(raw);
  const security = copy.security ?? { mode: "curve", keysDir: "data/keys" };
  if (String(security.keysDir).startsWith("data")) security.keysDir = testKeysDir();
  copy.security = security;
  return parseConfig(copy, source);
}

/** A started test context; dispose it to stop its ZAP handler and metrics sampler. */
export type TestContext<S extends ServiceName> = ServiceContext<S> & AsyncDisposable;

/**
 * A context like lib/service.ts builds, for calling a service's `start*` in-process.
 * The config's keys must be test keys (see {@link testConfig}).
 */
export async function testContext<S extends ServiceName>(
  service: S,
  config: Config,
  options: { secrets?: Secrets; metrics?: ServiceMetrics<S> } = {},
): Promise<TestContext<S>> {
  const metrics = options.metrics ??
    createServiceMetrics(service, { defaultMetrics: false, sampleMs: 60_000 });
  const messaging = await Messaging.start({
    service,
    config,
    registry: metrics.registry,
    queueDepth: (metrics.families as ServiceMetrics<ServiceName>["families"])
      .system_zmq_queue_depth,
  });
  return {
    service,
    config,
    secrets: options.secrets ?? {},
    metrics,
    messaging,
    signal: new AbortController().signal,
    async [Symbol.asyncDispose]() {
      await messaging.close();
      metrics.stop();
    },
  };
}

/** The channel options of `identity` (a peer service played by the test); dispose to close. */
export async function peerMessaging(
  identity: ServiceName | typeof OPERATOR,
  config: Config,
  registry?: Registry,
): Promise<MessagingContext & AsyncDisposable> {
  const metrics = registry === undefined
    ? createServiceMetrics("market-data", { defaultMetrics: false, sampleMs: 60_000 })
    : undefined;
  const messaging = await Messaging.start({
    service: identity,
    config,
    registry: registry ?? metrics!.registry,
  });
  return Object.assign(messaging, {
    async [Symbol.asyncDispose]() {
      await messaging.close();
      metrics?.stop();
    },
  });
}
