/**
 * What every messaging socket takes, and the checks that make a bad option fail at
 * open time (never mid-stream).
 * @module
 */
import type { Gauge, Registry } from "prom-client";
import type { Envelope } from "../envelope.ts";
import type { CurveSecurity } from "./curve.ts";

/** Options every messaging socket takes. */
export interface MessagingOptions {
  /** The service's name, the `service` label of every metric. */
  service: string;
  /** The registry the `messaging_*` metrics are registered on. */
  registry: Registry;
  /** `system_zmq_queue_depth` (created by lib/metrics.ts); set per `<name>_in`/`<name>_out`. */
  queueDepth?: Gauge<"service" | "queue">;
  /**
   * Longest single wait of the socket's poll loop, in ms (default 100). A
   * safety net only: the loop wakes on the socket's events, so tests set it
   * high to prove no delivery depends on it.
   */
  pollMs?: number;
  /**
   * CURVE authentication and encryption (curve.ts). Without it the socket runs plain
   * TCP: anyone who reaches the endpoint can read and write (services only do so behind
   * an explicit, loudly logged `insecure` setting).
   */
  curve?: CurveSecurity;
  /**
   * The age (ms) after which the service treats what this channel brings as stale; shown
   * as `messaging_stale_after_seconds`, the threshold of the channel's freshness alert.
   * Receiving sockets only; none: no threshold is exported.
   */
  staleAfterMs?: number;
}

/** A body validator per message type: returns the (possibly parsed) body, throws if invalid. */
export type BodySchemas = Record<string, (body: unknown) => unknown>;

/** A message handler. Errors (thrown or rejected) are counted and logged, never fatal. */
export type MessageHandler = (env: Envelope) => void | Promise<void>;

/**
 * Checks a channel name (the `channel` label and part of `pub`).
 *
 * @throws {Error} If it is not 1-64 characters of `[A-Za-z0-9_.-]`.
 */
export function checkName(what: string, name: string): void {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
    throw new Error(
      `Cannot open ${what}: name must be 1-64 characters of [A-Za-z0-9_.-], got ${
        JSON.stringify(name)
      }`,
    );
  }
}

/**
 * Checks an optional numeric option.
 *
 * @throws {Error} If it is given and is not a positive finite number.
 */
export function checkPositive(what: string, field: string, value: number | undefined): void {
  if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
    throw new Error(`Cannot open ${what}: "${field}" must be a positive number, got ${value}`);
  }
}
