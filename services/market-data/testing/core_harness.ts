/**
 * A {@link MarketDataCore} for tests: its sink collects what it publishes, and it
 * records into a fresh registry through a {@link MarketDataMetrics}, as in the service.
 * @module
 */
import { createServiceMetrics, type ServiceMetrics } from "../../../lib/metrics.ts";
import { type CoreOptions, MarketDataCore, type Outgoing } from "../core.ts";
import { MarketDataMetrics } from "../metrics.ts";

/** What {@link coreHarness} returns; dispose it (`using`) to stop the registry's sampler. */
export interface CoreHarness extends Disposable {
  readonly core: MarketDataCore;
  /** Every message the core published, in order. */
  readonly out: Outgoing[];
  readonly metrics: ServiceMetrics<"market-data">;
}

/**
 * A core on exchange "alpaca" with symbols AAPL and BTC/USD and 1s and 1m bars, unless
 * `options` say otherwise.
 *
 * @example
 * ```ts
 * using h = coreHarness({ barGraceMs: 100 });
 * h.core.handle({ receivedTs: nowMs(), frame: [{ T: "t", S: "AAPL", p: 1, s: 1, t: TS }] });
 * ```
 */
export function coreHarness(
  options: Partial<Omit<CoreOptions, "sink" | "metrics">> = {},
): CoreHarness {
  const metrics = createServiceMetrics("market-data", { defaultMetrics: false });
  const out: Outgoing[] = [];
  const exchange = options.exchange ?? "alpaca";
  const symbols = options.symbols ?? ["AAPL", "BTC/USD"];
  const core = new MarketDataCore({
    bars: ["1s", "1m"],
    ...options,
    exchange,
    symbols,
    sink: (message) => out.push(message),
    metrics: new MarketDataMetrics(metrics.families, { exchange, symbols }),
  });
  return { core, out, metrics, [Symbol.dispose]: () => metrics.stop() };
}
