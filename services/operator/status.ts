/**
 * `deno task status`: a one-shot report of every service, for scripts and cron:
 * reachable, ready and the checks that fail, the last message age of each channel it
 * reads, risk-manager's trading state, and the open orders on both sides. The exit code
 * is 0 when every service is ready, 1 otherwise.
 * @module
 */
import type { Snapshot } from "./snapshot.ts";

/** One service's line of the report. */
export interface StatusLine {
  readonly service: string;
  readonly reachable: boolean;
  readonly ready: boolean;
  /** The readiness checks that fail (or why it could not be read). */
  readonly notReady: readonly string[];
  /** Seconds since each channel it reads last delivered a message. */
  readonly channelAgeS: Readonly<Record<string, number>>;
}

/** The whole report. */
export interface StatusReport {
  readonly allReady: boolean;
  readonly services: readonly StatusLine[];
  readonly tradingState?: string;
  readonly breakerTripped?: boolean;
  readonly openOrders: { readonly riskManager?: number; readonly executionEngine?: number };
}

/** The report of a snapshot. */
export function statusReport(snapshot: Snapshot): StatusReport {
  const services = snapshot.services.map((s): StatusLine => {
    const ages: Record<string, number> = {};
    for (const a of s.metrics?.find("messaging_last_message_age_seconds") ?? []) {
      ages[a.labels.channel] = Math.round(a.value * 10) / 10;
    }
    const notReady = s.reachable
      ? Object.entries(s.checks).filter(([, ok]) => !ok).map(([name]) => name)
      : [`unreachable: ${s.error ?? "no answer"}`];
    return {
      service: s.service,
      reachable: s.reachable,
      ready: s.ready,
      notReady,
      channelAgeS: ages,
    };
  });
  return {
    allReady: services.every((s) => s.ready),
    services,
    tradingState: snapshot.risk?.state,
    breakerTripped: snapshot.risk?.breakerTripped,
    openOrders: { riskManager: snapshot.risk?.openOrders, executionEngine: snapshot.openOrders },
  };
}

/** The report as text for a person. */
export function formatStatus(report: StatusReport): string {
  const rows = [["service", "reachable", "ready", "not ready because", "last message age"]];
  for (const s of report.services) {
    rows.push([
      s.service,
      s.reachable ? "yes" : "no",
      s.ready ? "yes" : "no",
      s.notReady.join(", ") || "-",
      Object.entries(s.channelAgeS).map(([c, a]) => `${c} ${a}s`).join(", ") || "-",
    ]);
  }
  const width = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const lines = rows.map((r) => r.map((c, i) => c.padEnd(width[i])).join("  ").trimEnd());
  const state = report.tradingState === undefined
    ? "trading state: unknown (risk-manager not answering)"
    : `trading state: ${report.tradingState}${report.breakerTripped ? " (breaker TRIPPED)" : ""}`;
  const open = report.openOrders;
  lines.push(
    "",
    state,
    `open orders: risk-manager ${open.riskManager ?? "?"}, execution-engine ${
      open.executionEngine ?? "?"
    }`,
    report.allReady ? "all services ready" : "NOT READY",
  );
  return lines.join("\n");
}
