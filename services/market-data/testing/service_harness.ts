/**
 * The market-data service started in-process for tests: the repository's config with
 * a patch, a fresh registry, and a fake publisher that keeps what is published.
 * @module
 */
import type { Config, Secrets } from "../../../lib/config.ts";
import { createServiceMetrics, type ServiceMetrics } from "../../../lib/metrics.ts";
import { testConfig, testContext } from "../../../lib/testing/context.ts";
import { type MarketDataDeps, type MarketDataService, startMarketData } from "../service.ts";

/** The repository's config file. */
export const CONFIG_URL = new URL("../../../config/system.json", import.meta.url);

/**
 * The repository's config with an ephemeral HTTP port and `patch` applied to its raw
 * `marketData` section.
 *
 * @throws {ConfigError} If the patched config is invalid.
 */
export function serviceConfig(patch: (marketData: Record<string, unknown>) => void): Config {
  const raw = JSON.parse(Deno.readTextFileSync(CONFIG_URL));
  raw.marketData.http.port = 0;
  patch(raw.marketData);
  return testConfig(raw);
}

/** One message the fake publisher was given. */
export interface Published {
  readonly type: string;
  readonly body: unknown;
}

/** What {@link startWithFakePublisher} returns; dispose it (`await using`) to close it. */
export interface ServiceHarness extends AsyncDisposable {
  readonly svc: MarketDataService;
  readonly metrics: ServiceMetrics<"market-data">;
  /** Every message published, in order. */
  readonly published: Published[];
  /** True once the service closed its publisher. */
  publisherClosed(): boolean;
}

/**
 * Starts market-data with a fake publisher and 20 ms bar and status timers (unless
 * `deps` say otherwise).
 *
 * @throws {ConfigError} When the service refuses its config (as `startMarketData`).
 */
export async function startWithFakePublisher(
  config: Config,
  secrets: Secrets = {},
  deps: MarketDataDeps = {},
): Promise<ServiceHarness> {
  const metrics = createServiceMetrics("market-data", { defaultMetrics: false });
  const ctx = await testContext("market-data", config, { secrets, metrics });
  const published: Published[] = [];
  let closed = false;
  try {
    const svc = await startMarketData(ctx, {
      openPublisher: () =>
        Promise.resolve({
          publish: (type: string, body: unknown) => published.push({ type, body }),
          close: () => {
            closed = true;
            return Promise.resolve();
          },
        }),
      barTimerMs: 20,
      statusTimerMs: 20,
      ...deps,
    });
    return {
      svc,
      metrics,
      published,
      publisherClosed: () => closed,
      async [Symbol.asyncDispose]() {
        await svc.close();
        await ctx[Symbol.asyncDispose]();
      },
    };
  } catch (e) {
    await ctx[Symbol.asyncDispose]();
    throw e;
  }
}
