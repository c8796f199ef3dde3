/**
 * A test subprocess: runs the engine with the Alpaca venue against a fake Alpaca, on a
 * journal file, optionally dying (`Deno.exit(86)`) at a crash point; prints one JSON line
 * `{ recover, results, reports }` when it finishes normally.
 *
 * `deno run -A testing/crash_child.ts '{"journalPath":…,"baseUrl":…,"streamUrl":…,"crashAt":…,"orders":[…]}'`
 * @module
 */
import { createServiceMetrics } from "../../../lib/metrics.ts";
import type { ExecutionReport, Order } from "../../../lib/types.ts";
import { AlpacaClient } from "../alpaca_client.ts";
import { AlpacaVenue } from "../alpaca_venue.ts";
import { type CrashPoint, ExecutionEngineCore } from "../core.ts";
import { Journal } from "../journal.ts";
import { RateLimiter } from "../rate_limiter.ts";

/** The child's argument. */
export interface CrashChildArgs {
  journalPath: string;
  baseUrl: string;
  streamUrl: string;
  crashAt?: CrashPoint;
  orders: Order[];
}

if (import.meta.main) {
  const args = JSON.parse(Deno.args[0]) as CrashChildArgs;
  const metrics = createServiceMetrics("execution-engine", { defaultMetrics: false });
  metrics.stop();
  const client = new AlpacaClient({
    baseUrl: args.baseUrl,
    keyId: "key",
    secretKey: "secret",
    timeoutMs: 2000,
    maxRetries: 2,
    retryBaseMs: 5,
    limiter: new RateLimiter({ limit: 200 }),
    metrics: metrics.families,
  });
  const venue = new AlpacaVenue({
    client,
    stream: { url: args.streamUrl, keyId: "key", secretKey: "secret", metrics: metrics.families },
    startTimeoutMs: 2000,
  });
  const journal = new Journal(args.journalPath);
  const reports: ExecutionReport[] = [];
  const engine = new ExecutionEngineCore({
    journal,
    venue,
    metrics: metrics.families,
    symbols: ["AAPL"],
    sink: (r) => {
      reports.push(r);
      return Promise.resolve();
    },
    crashAt: args.crashAt,
  });
  await venue.start();
  const recover = await engine.recover();
  const results = [];
  for (const o of args.orders) results.push(await engine.handleOrder(o, "trace-crash"));
  await engine.settle();
  await new Promise((r) => setTimeout(r, 0));
  engine.close();
  await venue.close();
  journal.close();
  console.log(JSON.stringify({ recover, results, reports }));
}
