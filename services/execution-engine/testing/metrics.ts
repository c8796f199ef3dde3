/**
 * The execution-engine's metrics for a test: a registry of its own families (no
 * sampler, no process metrics), the recorder over them, and a reader of one sample.
 * @module
 */
import type { Registry } from "prom-client";
import { createServiceMetrics, type Families } from "../../../lib/metrics.ts";
import { sampleValue } from "../../../lib/testing/stack.ts";
import { ExecutionEngineMetrics } from "../metrics.ts";
import type { VenueName } from "../venue.ts";

/** What {@link testMetrics} returns. */
export interface TestMetrics {
  readonly registry: Registry;
  readonly families: Families<"execution-engine">;
  readonly recorder: ExecutionEngineMetrics;
  /**
   * The value of sample `name` (e.g. `execution_engine_orders_submitted_total`, or a
   * histogram's `…_count`), summed over the series whose labels include `labels`; 0 when
   * there is none.
   */
  value(name: string, labels?: Record<string, string>): Promise<number>;
}

/** Fresh metrics for a core on venue `exchange` trading `symbols`. */
export function testMetrics(
  exchange: VenueName,
  symbols: readonly string[] = ["AAPL"],
): TestMetrics {
  const metrics = createServiceMetrics("execution-engine", { defaultMetrics: false });
  metrics.stop();
  return {
    registry: metrics.registry,
    families: metrics.families,
    recorder: new ExecutionEngineMetrics(metrics.families, { exchange, symbols }),
    value: async (name, labels = {}) =>
      sampleValue(await metrics.registry.metrics(), name, labels) ?? 0,
  };
}
