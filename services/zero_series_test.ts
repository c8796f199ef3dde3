/**
 * Every counter an alert or a dashboard panel reads exists from start-up, at 0, for each
 * value of its closed label set: the four services are started as subprocesses (the
 * default config: simulated feed and venue, CURVE) and each one's first `/metrics` is
 * read. prom-client creates a labelled series at its first increment, which Prometheus
 * sees as a series that appears already at 1: `increase()` and `rate()` miss that first
 * event, so the first failure of a process's life would never alert.
 *
 * The expected series are built here from the closed sets (the services' code lists and
 * the channel catalogue), not from the recorders, and the rules and the dashboard are
 * read to check that no counter they name is left out.
 */
import assert from "node:assert/strict";
import { type ChannelName, CHANNELS } from "../lib/channels.ts";
import { channelStaleAfterMs } from "../lib/channel_staleness.ts";
import { parseConfig } from "../lib/config.ts";
import { CONTROL_REFUSAL_REASONS, DECODE_ERROR_REASONS } from "../lib/messaging/channel_metrics.ts";
import { REFUSAL_REASONS } from "../lib/messaging/curve.ts";
import { CATALOGUE, type ServiceName, SERVICES } from "../lib/metrics.ts";
import { startStack } from "../lib/testing/stack.ts";
import { removeDir } from "../lib/testing/tools.ts";
import { ORDER_STATES, ORDER_TYPES } from "../lib/types.ts";
import { dashboardQueries } from "../monitoring/dashboard_queries.ts";
import { metricNamesIn } from "../monitoring/promql_names.ts";
import { TRANSITIONS } from "./execution-engine/order_state.ts";
import { REJECTION_REASONS } from "./execution-engine/venue.ts";
import { PARSE_REASONS } from "./market-data/alpaca_protocol.ts";
import { CONNECTION_ERROR_TYPES } from "./market-data/feed.ts";
import { SERVER_ERROR_CODES } from "./market-data/metrics.ts";
import { REJECTION_LABELS } from "./risk-manager/rejections.ts";
import { CHECK_TYPES, DENIAL_CODES, type DenialCode, failureType } from "./risk-manager/denial.ts";
import { CONFIDENCE_BUCKETS } from "./signal-bridge/confidence_bucket.ts";
import { SUPPRESS_REASONS } from "./signal-bridge/core.ts";
import { ACTIONS } from "./signal-bridge/model.ts";

/** One sample of an exposition: its name, labels and value. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    const m = line.match(/^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}

/** Every combination of `values` (label name to its values). */
function product(values: Record<string, readonly string[]>): Record<string, string>[] {
  let out: Record<string, string>[] = [{}];
  for (const [k, vs] of Object.entries(values)) {
    out = out.flatMap((o) => vs.map((v) => ({ ...o, [k]: v })));
  }
  return out;
}

/** A family and the label sets it must have at start-up. */
interface Expected {
  name: string;
  sets: Record<string, string>[];
  /** True for counters that a healthy start leaves at 0 (errors, refusals). */
  zero?: boolean;
}

/** The counter families a socket moves, by what it does on its channel. */
const ROLE_COUNTERS = {
  publisher: ["messaging_messages_sent_total", "messaging_dropped_total"],
  subscriber: [
    "messaging_messages_received_total",
    "messaging_decode_errors_total",
    "messaging_sequence_gaps_total",
    "messaging_messages_missed_total",
    "messaging_publisher_restarts_total",
    "messaging_dropped_total",
    "messaging_handler_errors_total",
    "messaging_reconnects_total",
  ],
  reliable_sender: [
    "messaging_messages_sent_total",
    "messaging_resends_total",
    "messaging_decode_errors_total",
    "messaging_dropped_total",
    "messaging_control_refused_total",
    "messaging_reconnects_total",
  ],
  reliable_receiver: [
    "messaging_messages_received_total",
    "messaging_decode_errors_total",
    "messaging_duplicates_total",
    "messaging_publisher_restarts_total",
    "messaging_dropped_total",
    "messaging_handler_errors_total",
    "messaging_control_refused_total",
    "messaging_reconnects_total",
  ],
  /** A socket that binds: the ZAP handler's counts for its channel. */
  bound: ["messaging_peers_authenticated_total", "messaging_peers_refused_total"],
} as const;

/** The channels each service uses, what it does on each, and whether it binds there. */
function channelRoles(service: ServiceName) {
  const roles: { channel: ChannelName; role: keyof typeof ROLE_COUNTERS; binds: boolean }[] = [];
  // Who binds, in config/system.json: publishers; risk-manager's two reliable ends.
  const binds = (channel: ChannelName) =>
    CHANNELS[channel].policy === "may_drop"
      ? CHANNELS[channel].from === service
      : service === "risk-manager";
  for (const channel of Object.keys(CHANNELS) as ChannelName[]) {
    const c = CHANNELS[channel];
    const reliable = c.policy === "must_not_lose";
    if (c.from === service) {
      roles.push({
        channel,
        role: reliable ? "reliable_sender" : "publisher",
        binds: binds(channel),
      });
    }
    if ((c.to as readonly string[]).includes(service)) {
      roles.push({
        channel,
        role: reliable ? "reliable_receiver" : "subscriber",
        binds: reliable && binds(channel),
      });
    }
  }
  return roles;
}

const CONFIG = parseConfig(JSON.parse(Deno.readTextFileSync("config/system.json")), "test");
const SYMBOLS = [...CONFIG.symbols, "other"];

/** What a freshly started service must export, from the closed sets. */
function expected(service: ServiceName): Expected[] {
  const out: Expected[] = [];
  const add = (name: string, values: Record<string, readonly string[]>, zero = false) =>
    out.push({ name, sets: product(values), zero });
  switch (service) {
    case "market-data": {
      const exchange = [CONFIG.marketData.feed];
      add("market_data_messages_processed_total", {
        message_type: ["trade", "quote", "orderbook", "bar"],
        symbol: SYMBOLS,
        exchange,
      });
      add("market_data_parse_errors_total", { exchange, reason: PARSE_REASONS }, true);
      add("market_data_book_crossed_total", { symbol: SYMBOLS, kind: ["crossed", "locked"] }, true);
      add("market_data_websocket_connection_failures_total", {
        exchange,
        error_type: CONNECTION_ERROR_TYPES,
      }, true);
      add("market_data_feed_connection_failures_total", {
        exchange,
        socket: ["main"],
        error_type: CONNECTION_ERROR_TYPES,
      }, true);
      for (const gauge of ["connected", "last_message_age_seconds"]) {
        add(`market_data_feed_socket_${gauge}`, { exchange, socket: ["main"] });
      }
      add("market_data_feed_stale_after_seconds", { exchange, socket: ["main"] });
      add("market_data_trade_corrections_total", {
        exchange,
        action: ["cancel", "correct"],
        outcome: ["applied", "late", "unknown"],
      }, true);
      add("market_data_server_errors_total", {
        exchange,
        code: [...SERVER_ERROR_CODES, "other"],
      }, true);
      // Gauges: 0 while the feed runs; each configured symbol's session (SessionDisagreement).
      add("market_data_feed_stopped", { exchange }, true);
      add("market_data_market_state", { symbol: CONFIG.symbols });
      break;
    }
    case "signal-bridge":
      add("signal_bridge_signals_generated_total", {
        signal_type: ACTIONS,
        symbol: SYMBOLS,
        confidence_bucket: CONFIDENCE_BUCKETS,
      });
      add("signal_bridge_signals_suppressed_total", { reason: SUPPRESS_REASONS, symbol: SYMBOLS });
      break;
    case "risk-manager":
      add("risk_manager_checks_performed_total", {
        check_type: CHECK_TYPES,
        result: ["pass", "fail"],
      });
      add("risk_manager_risk_failures_total", {
        failure_type: (Object.keys(DENIAL_CODES) as DenialCode[]).map(failureType),
        symbol: SYMBOLS,
      });
      add("risk_manager_position_mismatches_total", { symbol: SYMBOLS }, true);
      add("risk_manager_venue_rejections_total", { reason: REJECTION_LABELS }, true);
      add("risk_manager_orphan_orders_closed_total", {}, true);
      add("risk_manager_position_mismatched_symbols", {}, true);
      // Unlabelled: its buckets at 0 from start-up (RiskDecisionRecordSlow, its panel).
      add("risk_manager_decision_record_latency_seconds_count", {});
      break;
    case "execution-engine": {
      const exchange = [CONFIG.executionEngine.venue];
      add("execution_engine_orders_submitted_total", {
        order_type: [...ORDER_TYPES, "other"],
        status: ["success", "failure"],
        exchange,
      });
      add("execution_engine_order_rejections_total", {
        rejection_reason: REJECTION_REASONS,
        symbol: SYMBOLS,
      });
      add("execution_engine_fills_total", { exchange, symbol: SYMBOLS, fill: ["partial", "full"] });
      const illegal = ORDER_STATES.flatMap((from) =>
        ORDER_STATES.filter((to) => to !== from && !TRANSITIONS[from].includes(to)).map((to) => ({
          from,
          to,
        }))
      );
      out.push({ name: "execution_engine_illegal_transitions_total", sets: illegal, zero: true });
      add("execution_engine_oldest_open_order_age_seconds", { exchange });
      add("execution_engine_tick_to_trade_latency_seconds_count", { exchange });
      add("execution_engine_order_submission_latency_seconds_count", {
        exchange,
        order_type: [...ORDER_TYPES, "other"],
      });
      break;
    }
  }
  // lib/service.ts, for every service: the supervisor's restart count, 0 without one.
  add("service_restarts_total", { service: [service] }, true);
  for (const { channel, role, binds } of channelRoles(service)) {
    const labels = { service: [service], channel: [channel] };
    const types = [...CHANNELS[channel].types, "heartbeat"];
    const families: string[] = [...ROLE_COUNTERS[role], ...(binds ? ROLE_COUNTERS.bound : [])];
    for (const name of families) {
      if (name.endsWith("_sent_total") || name.endsWith("_received_total")) {
        // A receiver counts the types it reads; it may read fewer than the channel carries.
        const reads = role === "subscriber" && channel === "market_data"
          ? (service === "signal-bridge" ? types : ["quote", "book", "trade", "heartbeat"])
          : types;
        add(name, { ...labels, type: reads });
      } else if (name === "messaging_decode_errors_total") {
        add(name, { ...labels, reason: DECODE_ERROR_REASONS }, true);
      } else if (name === "messaging_control_refused_total") {
        add(name, { ...labels, reason: CONTROL_REFUSAL_REASONS }, true);
      } else if (name === "messaging_peers_refused_total") {
        add(name, { ...labels, reason: REFUSAL_REASONS }, true);
      } else if (name === "messaging_dropped_total") {
        const reasons = {
          publisher: ["send_failed"],
          subscriber: ["out_of_order", "closed"],
          reliable_sender: ["closed"],
          reliable_receiver: ["out_of_order", "unknown_type"],
        }[role as Exclude<typeof role, "bound">];
        add(name, { ...labels, reason: reasons });
      } else {
        add(name, labels, name === "messaging_handler_errors_total");
      }
    }
    add("messaging_channel_secure", labels);
    if (role === "subscriber" || role === "reliable_receiver") {
      // A receiver's transit histogram (its panel's series), created at 0 when it opens.
      add("messaging_transit_latency_seconds_count", labels);
      add("messaging_transit_latency_seconds_bucket", { ...labels, le: ["+Inf"] });
    }
    if (channelStaleAfterMs(CONFIG, service, channel) !== undefined) {
      add("messaging_stale_after_seconds", labels);
      add("messaging_last_message_age_seconds", labels);
    }
  }
  return out;
}

/** Counters read by a rule or a panel that are not zero-initialised, and why. */
const NOT_ZEROED: Record<string, string> = {
  // Its status_code is the venue's HTTP status (or timeout/network): not a closed set
  // that can be listed at start-up. The rules also count a series that appears.
  execution_engine_api_failures_total: "status_code is the venue's HTTP status",
};

Deno.test("every counter an alert or panel reads exists at 0 in each freshly started service", async (t) => {
  const stack = startStack();
  try {
    // Ready: the core and every socket are up (a service serves /metrics before that).
    await stack.waitReady(60_000);
    const scrapes = new Map<ServiceName, Sample[]>();
    for (const service of SERVICES) {
      const text = await (await fetch(`${stack.url(service)}/metrics`)).text();
      scrapes.set(service, parseExposition(text));
    }

    for (const service of SERVICES) {
      await t.step(`${service} exports every series of its closed label sets`, () => {
        const samples = scrapes.get(service)!;
        const missing: string[] = [];
        const moved: string[] = [];
        for (const e of expected(service)) {
          for (const set of e.sets) {
            const found = samples.filter((s) =>
              s.name === e.name && Object.entries(set).every(([k, v]) => s.labels[k] === v)
            );
            if (found.length === 0) missing.push(`${e.name}${JSON.stringify(set)}`);
            else if (e.zero && found.some((s) => s.value !== 0)) {
              moved.push(`${e.name}${JSON.stringify(set)}`);
            }
          }
        }
        assert.deepEqual(missing, [], `${service} is missing series at start-up`);
        assert.deepEqual(moved, [], `${service}: error counters not at 0 in a healthy start`);
      });
    }

    await t.step("the gauges only a venue sets are absent with the paper venue, not 0", () => {
      // VenueAccountNotTradable (== 0) and VenueRateLimitLow (< 20) would fire on a 0 that
      // no venue reported; absent, they judge nothing (monitoring/alerts/trading_system_test.yml).
      assert.equal(CONFIG.executionEngine.venue, "sim");
      const samples = scrapes.get("execution-engine")!;
      for (
        const name of [
          "execution_engine_venue_account_tradable",
          "execution_engine_api_rate_limit_remaining",
        ]
      ) {
        assert.deepEqual(samples.filter((s) => s.name === name), [], `${name} is exported`);
      }
    });

    await t.step("no counter named by an alert or a panel is left out", () => {
      // Any mention of a counter in the rule file counts (expressions, and descriptions
      // that quote them): a superset of what the rules read.
      const rules = Deno.readTextFileSync("monitoring/alerts/trading_system.yml");
      const panels = new Set(dashboardQueries().flatMap((q) => [...metricNamesIn(q.expr)]));
      const counters = CATALOGUE.filter((s) =>
        s.type === "counter" && (panels.has(s.name) || new RegExp(`\\b${s.name}\\b`).test(rules))
      );
      assert.ok(counters.length > 15, `only ${counters.length} counters found in rules and panels`);
      const roleFamilies = new Set<string>(Object.values(ROLE_COUNTERS).flat());
      const left: string[] = [];
      for (const spec of counters) {
        if (spec.name in NOT_ZEROED || spec.name === "http_requests_total") continue;
        if (spec.owner === "all") {
          const everywhere = SERVICES.every((service) =>
            expected(service).some((e) => e.name === spec.name) &&
            scrapes.get(service)!.some((s) => s.name === spec.name)
          );
          if (!roleFamilies.has(spec.name) && !everywhere) {
            left.push(`${spec.name}: no socket role creates it, nor every service`);
          }
          continue;
        }
        const listed = expected(spec.owner).some((e) => e.name === spec.name);
        const exported = scrapes.get(spec.owner)!.some((s) => s.name === spec.name);
        if (!listed || !exported) left.push(`${spec.name} on ${spec.owner}`);
      }
      assert.deepEqual(left, [], "counters read by alerts or panels but not created at start-up");
    });
  } finally {
    await stack.stop();
    await removeDir(stack.dir);
  }
});
