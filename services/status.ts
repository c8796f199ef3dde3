/**
 * `deno task status [--config PATH] [--json]`: a one-shot report of every service
 * (services/operator/status.ts); exits 0 when all are ready, 1 when any is not, 2 on a
 * bad flag or config.
 * @module
 */
import { CONFIG_DOCS, CONFIG_ENV, parseCommandLine } from "../lib/cli.ts";
import { ConfigError, loadConfig } from "../lib/config.ts";
import { takeSnapshot } from "./operator/snapshot.ts";
import { formatStatus, statusReport } from "./operator/status.ts";

if (import.meta.main) {
  const args = parseCommandLine(Deno.args, {
    name: "status",
    summary: "One-shot report of every service: reachable, ready and why not, last " +
      "message age per channel, trading state, open orders. For scripts and cron.",
    flags: [
      { name: "config", value: "PATH", help: "the config whose services to ask" },
      { name: "json", help: "print the report as one JSON object" },
    ],
    env: CONFIG_ENV.slice(0, 2),
    notes: [
      CONFIG_DOCS,
      "Exit codes: 0 every service ready, 1 one or more not, 2 bad flag or config.",
    ],
  });
  let config;
  try {
    config = loadConfig({ args: Deno.args, env: Deno.env.toObject() });
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`status: ${e.message}`);
      Deno.exit(2);
    }
    throw e;
  }
  const report = statusReport(await takeSnapshot(config));
  console.log(args.values.json ? JSON.stringify(report) : formatStatus(report));
  Deno.exit(report.allReady ? 0 : 1);
}
