/**
 * A test subprocess: runs the core with the Alpaca venue against a fake Alpaca, on a
 * journal file, the venue wrapped in a {@link CrashingVenue} that makes the process die
 * (`Deno.exit(86)`) at `crashAt` when given; prints one JSON line
 * `{ recover, results, reports }` when it finishes normally.
 *
 * `deno run -A testing/crash_child.ts '{"journalPath":…,"baseUrl":…,"streamUrl":…,"crashAt":…,"orders":[…]}'`
 * @module
 */
import type { ExecutionReport, Order } from "../../../lib/types.ts";
import { ExecutionEngineCore } from "../core.ts";
import { Journal } from "../journal.ts";
import { CrashingVenue, type CrashPoint } from "./crashing_venue.ts";
import { makeFakeAlpacaVenue } from "./fake_alpaca_venue.ts";
import { testMetrics } from "./metrics.ts";
import { handleOrder } from "./handle_order.ts";

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
  const metrics = testMetrics("alpaca");
  const alpaca = makeFakeAlpacaVenue(args, metrics.recorder);
  const venue = new CrashingVenue(alpaca, { crashAt: args.crashAt });
  const journal = new Journal(args.journalPath);
  const reports: ExecutionReport[] = [];
  const core = new ExecutionEngineCore({
    journal,
    venue,
    metrics: metrics.recorder,
    sink: (report) => {
      reports.push(report);
      return Promise.resolve();
    },
  });
  await venue.start();
  const recover = await core.recover();
  const results = [];
  for (const order of args.orders) results.push(await handleOrder(core, order, "trace-crash"));
  await core.settle();
  await new Promise((resolve) => setTimeout(resolve, 0));
  core.close();
  await venue.close();
  journal.close();
  console.log(JSON.stringify({ recover, results, reports }));
}
