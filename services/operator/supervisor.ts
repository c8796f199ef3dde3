/**
 * The launcher's supervisor: runs the four services, restarts one that dies, the way a
 * restart policy does, and stops everything only when asked or when a service fails in a
 * way a restart cannot fix.
 *
 * - A service that exits is restarted after a backoff that doubles from `initialBackoffMs`
 *   up to `maxBackoffMs` with every crash in a row; a run longer than `stableAfterMs`
 *   resets it. Each restart is an event (logged by the caller) and the child is told its
 *   restart count (`TRADING_SUPERVISOR_RESTARTS`), which it exports as
 *   `service_restarts_total`, so the crash-loop alert sees it.
 * - Exit codes 2 (invalid config or key) and 3 (metrics port taken) are fatal: the same
 *   start would fail again, so every other service is stopped and the reason is returned.
 * - `stop()` sends SIGTERM to every child, SIGKILL after `stopGraceMs`.
 *
 * No I/O of its own: the caller passes the function that spawns a child.
 * @module
 */
import type { ServiceName } from "../../lib/metrics.ts";

/** How a child ended. */
export interface ChildExit {
  readonly code: number;
  readonly signal: string | null;
}

/** A running service process. */
export interface Child {
  readonly pid: number;
  readonly status: Promise<ChildExit>;
  kill(signal: Deno.Signal): void;
}

/** What the supervisor tells its caller. */
export type SupervisorEvent =
  | { kind: "started"; service: ServiceName; pid: number; restarts: number }
  | { kind: "exited"; service: ServiceName; code: number; signal: string | null; ranMs: number }
  | { kind: "restarting"; service: ServiceName; inMs: number; restarts: number }
  | { kind: "fatal"; service: ServiceName; code: number; reason: string }
  | { kind: "stopping"; why: string };

/** Options of {@linkcode Supervisor}. */
export interface SupervisorOptions {
  /** In start order (the end of the pipeline first, so orders have somewhere to go). */
  readonly services: readonly ServiceName[];
  /** Starts `service`, which has been restarted `restarts` times so far. */
  readonly spawn: (service: ServiceName, restarts: number) => Child;
  /** Why a child that exited fatally did so (its last error line); default its code. */
  readonly reasonOf?: (service: ServiceName, exit: ChildExit) => string;
  readonly onEvent?: (event: SupervisorEvent) => void;
  /** First restart delay, ms (default 1000). */
  readonly initialBackoffMs?: number;
  /** Longest restart delay, ms (default 30 000). */
  readonly maxBackoffMs?: number;
  /** A run this long resets the backoff, ms (default 60 000). */
  readonly stableAfterMs?: number;
  /** Pause between starting two services, ms (default 300). */
  readonly startSpacingMs?: number;
  /** SIGKILL after this long of a graceful stop, ms (default 15 000). */
  readonly stopGraceMs?: number;
  /** Clock in ms (default performance.now). */
  readonly now?: () => number;
}

/** Exit codes a restart cannot fix, and what they mean. */
export const FATAL_EXIT_CODES: Readonly<Record<number, string>> = {
  2: "invalid config or key",
  3: "metrics port already in use",
};

/** One service as the supervisor sees it. */
export interface SupervisedService {
  readonly service: ServiceName;
  state: "starting" | "running" | "restarting" | "stopped";
  restarts: number;
  pid?: number;
  /** Crashes in a row (reset by a stable run). */
  crashes: number;
}

/** What {@linkcode Supervisor.run} resolves with. */
export interface SupervisorResult {
  /** 0 after a clean stop; the fatal code; 1 when a child did not stop cleanly. */
  readonly code: number;
  readonly fatal?: { service: ServiceName; code: number; reason: string };
}

/** Runs and restarts the services. */
export class Supervisor {
  readonly #o: SupervisorOptions;
  readonly #now: () => number;
  readonly #children = new Map<ServiceName, Child>();
  readonly #state = new Map<ServiceName, SupervisedService>();
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  #stopping = false;
  #fatal: SupervisorResult["fatal"];
  #stopped: Promise<SupervisorResult> | undefined;
  #resolveStopped: (r: SupervisorResult) => void = () => {};

  constructor(options: SupervisorOptions) {
    this.#o = options;
    this.#now = options.now ?? (() => performance.now());
    for (const service of options.services) {
      this.#state.set(service, { service, state: "starting", restarts: 0, crashes: 0 });
    }
  }

  /** The services and their state. */
  status(): readonly Readonly<SupervisedService>[] {
    return [...this.#state.values()];
  }

  /** Starts every service in order; resolves when the supervisor has stopped. */
  run(): Promise<SupervisorResult> {
    this.#stopped ??= new Promise((resolve) => (this.#resolveStopped = resolve));
    void (async () => {
      for (const service of this.#o.services) {
        if (this.#stopping) break;
        this.#start(service);
        // Give each service a moment to bind before the next connects (ZeroMQ reconnects anyway).
        await new Promise((r) => setTimeout(r, this.#o.startSpacingMs ?? 300));
      }
    })();
    return this.#stopped;
  }

  /** Stops every service gracefully (SIGTERM, then SIGKILL after the grace). Idempotent. */
  stop(why: string): void {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#o.onEvent?.({ kind: "stopping", why });
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    void this.#stopAll();
  }

  #start(service: ServiceName): void {
    const st = this.#state.get(service)!;
    let child: Child;
    try {
      child = this.#o.spawn(service, st.restarts);
    } catch (error) {
      this.#fail(service, 1, `cannot start: ${(error as Error).message}`);
      return;
    }
    const startedAt = this.#now();
    this.#children.set(service, child);
    st.state = "running";
    st.pid = child.pid;
    this.#o.onEvent?.({ kind: "started", service, pid: child.pid, restarts: st.restarts });
    void child.status.then((exit) => this.#exited(service, child, exit, this.#now() - startedAt));
  }

  #exited(service: ServiceName, child: Child, exit: ChildExit, ranMs: number): void {
    if (this.#children.get(service) === child) this.#children.delete(service);
    const st = this.#state.get(service)!;
    st.pid = undefined;
    this.#o.onEvent?.({ kind: "exited", service, code: exit.code, signal: exit.signal, ranMs });
    if (this.#stopping) {
      st.state = "stopped";
      return;
    }
    if (exit.code in FATAL_EXIT_CODES) {
      const reason = this.#o.reasonOf?.(service, exit) ?? FATAL_EXIT_CODES[exit.code];
      this.#fail(service, exit.code, reason);
      return;
    }
    st.crashes = ranMs >= (this.#o.stableAfterMs ?? 60_000) ? 1 : st.crashes + 1;
    const inMs = Math.min(
      this.#o.maxBackoffMs ?? 30_000,
      (this.#o.initialBackoffMs ?? 1000) * 2 ** (st.crashes - 1),
    );
    st.restarts++;
    st.state = "restarting";
    this.#o.onEvent?.({ kind: "restarting", service, inMs, restarts: st.restarts });
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (!this.#stopping) this.#start(service);
    }, inMs);
    this.#timers.add(timer);
  }

  #fail(service: ServiceName, code: number, reason: string): void {
    this.#fatal ??= { service, code, reason };
    this.#state.get(service)!.state = "stopped";
    this.#o.onEvent?.({ kind: "fatal", service, code, reason });
    this.stop(`${service} cannot run: ${reason}`);
  }

  async #stopAll(): Promise<void> {
    const children = [...this.#children.entries()];
    for (const [, c] of children) {
      try {
        c.kill("SIGTERM");
      } catch { /* already gone */ }
    }
    const killer = setTimeout(() => {
      for (const [, c] of children) {
        try {
          c.kill("SIGKILL");
        } catch { /* already gone */ }
      }
    }, this.#o.stopGraceMs ?? 15_000);
    const exits = await Promise.all(children.map(([, c]) => c.status));
    clearTimeout(killer);
    for (const st of this.#state.values()) st.state = "stopped";
    const unclean = exits.some((e) => e.code !== 0);
    this.#resolveStopped({
      code: this.#fatal?.code ?? (unclean ? 1 : 0),
      fatal: this.#fatal,
    });
  }
}
