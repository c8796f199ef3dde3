/**
 * The services' ZeroMQ endpoints when each service runs on a host of its own: which
 * endpoint binds, which connects and to whom, and the config that puts the four services
 * on four hosts (network namespaces in the cross-host test, pods behind Kubernetes
 * Services in deploy/).
 *
 * Every endpoint field of the config is listed once in {@linkcode ENDPOINT_FIELDS} with
 * its channel (lib/channels.ts) and whether the service sends or reads there. An endpoint
 * written `bind:` binds, `connect:` connects, and a plain address does what its socket
 * does by default (lib/messaging/endpoint.ts): a sender binds, a reader connects. A
 * connecting endpoint reaches the service that binds its port.
 *
 * @example
 * ```ts
 * const raw = JSON.parse(Deno.readTextFileSync("config/system.json"));
 * const spread = acrossHosts(raw, {
 *   "market-data": { bind: "0.0.0.0", host: "market-data" },
 *   "signal-bridge": { bind: "0.0.0.0", host: "signal-bridge" },
 *   "risk-manager": { bind: "0.0.0.0", host: "risk-manager" },
 *   "execution-engine": { bind: "0.0.0.0", host: "execution-engine" },
 * });
 * spread.executionEngine.orders; // "connect:tcp://risk-manager:5557"
 * ```
 * @module
 */
import { type ChannelName, CHANNELS } from "../lib/channels.ts";
import { type ServiceName, SERVICES } from "../lib/metrics.ts";

/** A config object as read from JSON, before validation. */
// deno-lint-ignore no-explicit-any
export type RawConfig = Record<string, any>;

/** The config section of each service. */
export const SECTION: Readonly<Record<ServiceName, string>> = {
  "market-data": "marketData",
  "signal-bridge": "signalBridge",
  "risk-manager": "riskManager",
  "execution-engine": "executionEngine",
};

/** One endpoint field of the config. */
export interface EndpointField {
  readonly service: ServiceName;
  /** The key in the service's section. */
  readonly key: string;
  readonly channel: ChannelName;
  /** Whether the service sends or reads the channel there. */
  readonly role: "sender" | "reader";
  /** A list of endpoints (a reader may connect to several senders). */
  readonly list: boolean;
}

/** Every endpoint field of the config, by service. */
export const ENDPOINT_FIELDS: readonly EndpointField[] = [
  { service: "market-data", key: "publish", channel: "market_data", role: "sender", list: false },
  { service: "signal-bridge", key: "publish", channel: "signals", role: "sender", list: false },
  {
    service: "signal-bridge",
    key: "marketData",
    channel: "market_data",
    role: "reader",
    list: true,
  },
  { service: "risk-manager", key: "signals", channel: "signals", role: "reader", list: true },
  {
    service: "risk-manager",
    key: "marketData",
    channel: "market_data",
    role: "reader",
    list: true,
  },
  { service: "risk-manager", key: "orders", channel: "orders", role: "sender", list: false },
  {
    service: "risk-manager",
    key: "executionReports",
    channel: "execution_reports",
    role: "reader",
    list: false,
  },
  { service: "risk-manager", key: "publish", channel: "risk_events", role: "sender", list: false },
  { service: "execution-engine", key: "orders", channel: "orders", role: "reader", list: false },
  {
    service: "execution-engine",
    key: "executionReports",
    channel: "execution_reports",
    role: "sender",
    list: false,
  },
  {
    service: "execution-engine",
    key: "marketData",
    channel: "market_data",
    role: "reader",
    list: true,
  },
];

/** One endpoint a service binds, with who connects to it. */
export interface Binding {
  readonly service: ServiceName;
  readonly channel: ChannelName;
  readonly port: number;
  /** The config path, e.g. `riskManager.orders`. */
  readonly field: string;
  /** The services whose endpoints connect to this port. */
  readonly connectors: readonly ServiceName[];
}

/** Thrown when the endpoints cannot be placed; the message names the field. */
export class PlacementError extends Error {
  override name = "PlacementError";
}

interface Parsed {
  field: EndpointField;
  path: string;
  mode: "bind" | "connect";
  scheme: string;
  host: string;
  port: number;
}

function parse(field: EndpointField, path: string, text: unknown): Parsed {
  const m = typeof text === "string" &&
    /^(?:(bind|connect):)?(tcp):\/\/(\[[^\]]+\]|[^:/]+):(\d+)$/.exec(text);
  if (!m) {
    throw new PlacementError(
      `Cannot place "${path}": it must be a tcp endpoint with a port, got ${JSON.stringify(text)}`,
    );
  }
  const mode = (m[1] as "bind" | "connect" | undefined) ??
    (field.role === "sender" ? "bind" : "connect");
  return { field, path, mode, scheme: m[2], host: m[3], port: Number(m[4]) };
}

function endpointsOf(config: RawConfig): Parsed[] {
  const out: Parsed[] = [];
  for (const field of ENDPOINT_FIELDS) {
    const section = SECTION[field.service];
    const value = config[section]?.[field.key];
    const path = `${section}.${field.key}`;
    if (field.list) {
      if (!Array.isArray(value)) {
        throw new PlacementError(`Cannot place "${path}": it must be a list of endpoints`);
      }
      value.forEach((v, i) => out.push(parse(field, `${path}.${i}`, v)));
    } else {
      out.push(parse(field, path, value));
    }
  }
  return out;
}

/** The service that binds each port, from the `bind` endpoints. */
function binders(endpoints: readonly Parsed[]): Map<number, Parsed> {
  const byPort = new Map<number, Parsed>();
  for (const e of endpoints) {
    if (e.mode !== "bind") continue;
    const other = byPort.get(e.port);
    if (other !== undefined) {
      throw new PlacementError(
        `Cannot place "${e.path}": port ${e.port} is bound by "${other.path}" too`,
      );
    }
    byPort.set(e.port, e);
  }
  return byPort;
}

function ownerOf(e: Parsed, byPort: Map<number, Parsed>): Parsed {
  const owner = byPort.get(e.port);
  if (owner === undefined) {
    throw new PlacementError(`Cannot place "${e.path}": no service binds port ${e.port}`);
  }
  if (owner.field.channel !== e.field.channel) {
    throw new PlacementError(
      `Cannot place "${e.path}": it reads "${e.field.channel}" on port ${e.port}, ` +
        `where "${owner.path}" binds "${owner.field.channel}"`,
    );
  }
  return owner;
}

/**
 * Every endpoint a service binds and the services that connect to it: the edges of the
 * pipeline as the config draws them (the NetworkPolicies of deploy/ allow exactly these).
 *
 * @throws {PlacementError} If an endpoint is malformed, two bind one port, or a
 *   connecting endpoint names a port nobody binds or one of another channel.
 */
export function bindings(config: RawConfig): Binding[] {
  const endpoints = endpointsOf(config);
  const byPort = binders(endpoints);
  const connectors = new Map<number, Set<ServiceName>>();
  for (const e of endpoints) {
    if (e.mode !== "connect") continue;
    const owner = ownerOf(e, byPort);
    if (!connectors.has(owner.port)) connectors.set(owner.port, new Set());
    connectors.get(owner.port)!.add(e.field.service);
  }
  return [...byPort.values()].map((b) => ({
    service: b.field.service,
    channel: b.field.channel,
    port: b.port,
    field: b.path,
    connectors: [...(connectors.get(b.port) ?? [])].sort(),
  }));
}

/** Where one service runs: the address its endpoints bind and the name peers dial. */
export interface Place {
  /** Bound endpoints and the HTTP server listen here (`0.0.0.0` or the host's address). */
  readonly bind: string;
  /** What the other services connect to (an address or a DNS name). */
  readonly host: string;
}

/**
 * A copy of `config` with every service on a host of its own: bound endpoints on the
 * service's `bind` address, connecting endpoints at the `host` of the service that binds
 * their port, and each HTTP server on its service's `bind` address. Ports are kept.
 *
 * @throws {PlacementError} As {@linkcode bindings}.
 */
export function acrossHosts(
  config: RawConfig,
  places: Readonly<Record<ServiceName, Place>>,
): RawConfig {
  const out = structuredClone(config);
  const endpoints = endpointsOf(config);
  const byPort = binders(endpoints);
  for (const e of endpoints) {
    const target = e.mode === "bind"
      ? places[e.field.service].bind
      : places[ownerOf(e, byPort).field.service].host;
    const text = `${e.mode}:${e.scheme}://${target}:${e.port}`;
    const section = out[SECTION[e.field.service]];
    const index = /\.(\d+)$/.exec(e.path);
    if (index) section[e.field.key][Number(index[1])] = text;
    else section[e.field.key] = text;
  }
  for (const service of SERVICES) out[SECTION[service]].http.host = places[service].bind;
  return out;
}

/**
 * The pairs of services each channel of the catalogue joins (sender, reader), for
 * comparing with {@linkcode bindings}: `risk_events` has readers outside the pipeline
 * (operators' tools) and so no pair.
 */
export function catalogueEdges(): { channel: ChannelName; pair: [ServiceName, ServiceName] }[] {
  return Object.values(CHANNELS).flatMap((c) =>
    c.to.map((to) => ({
      channel: c.name as ChannelName,
      pair: [c.from, to] as [ServiceName, ServiceName],
    }))
  );
}
