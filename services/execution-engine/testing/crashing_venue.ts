/**
 * A venue that makes the process die at one of the two points where a crash could lose
 * or duplicate an order, for the crash tests (crash_recovery_test.ts with
 * crash_child.ts, and core_test.ts in-process):
 *
 * - `after_journal`: on entering `submit`. The core has journaled the order; the venue
 *   has not seen it.
 * - `after_send`: when the real venue's `submit` settles. The venue holds the order; the
 *   core has not recorded its answer.
 *
 * It dies with `Deno.exit(86)` ({@link CRASH_EXIT_CODE}), or, in a test that runs the
 * core in its own process, hangs for ever instead: the answer never comes, so nothing
 * after the crash point runs, as in a dead process.
 *
 * @example
 * ```ts
 * const venue = new CrashingVenue(fake, { crashAt: "after_send", exit: false });
 * core.accept(order, "trace");
 * await venue.crashed; // "after_send"
 * ```
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { getLogger } from "../../../lib/log.ts";
import type { Order } from "../../../lib/types.ts";
import type { SubmitResult, Venue } from "../venue.ts";
import { DelegatingVenue } from "./delegating_venue.ts";

/** Where the venue makes the process die. */
export type CrashPoint = "after_journal" | "after_send";

/** The exit code of a process that died at a crash point. */
export const CRASH_EXIT_CODE = 86;

/** Options of {@link CrashingVenue}. */
export interface CrashingVenueOptions {
  /** Where to die; without it the venue only forwards. */
  crashAt?: CrashPoint;
  /**
   * True (default): exit the process with {@link CRASH_EXIT_CODE}. False: hang for ever
   * at the crash point (for a test in the same process; see {@link CrashingVenue.crashed}).
   */
  exit?: boolean;
  logger?: Logger;
}

/** A real venue wrapped to die at a crash point. */
export class CrashingVenue extends DelegatingVenue {
  /** Resolves with the crash point once it is reached. */
  readonly crashed: Promise<CrashPoint>;
  readonly #crashAt?: CrashPoint;
  readonly #exit: boolean;
  readonly #log: Logger;
  #reached!: (point: CrashPoint) => void;

  constructor(inner: Venue, options: CrashingVenueOptions = {}) {
    super(inner);
    this.#crashAt = options.crashAt;
    this.#exit = options.exit ?? true;
    this.#log = options.logger ?? getLogger(["trading", "execution"]);
    this.crashed = new Promise((resolve) => (this.#reached = resolve));
  }

  override async submit(order: Order): Promise<SubmitResult> {
    if (this.#crashAt === "after_journal") return await this.#die("after_journal");
    const answer = this.inner.submit(order);
    if (this.#crashAt !== "after_send") return await answer;
    await answer.catch(() => {});
    return await this.#die("after_send");
  }

  #die(point: CrashPoint): Promise<never> {
    this.#log.warn("Injected crash", { point });
    this.#reached(point);
    if (this.#exit) Deno.exit(CRASH_EXIT_CODE);
    return new Promise<never>(() => {});
  }
}
