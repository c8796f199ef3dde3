/**
 * A scheduler tests and benches run by hand, in place of `setTimeout`: the paper venue's
 * latency and fill callbacks wait in a queue until `run()`.
 * @module
 */

/** A scheduler run by hand: `schedule` queues, `run()` drains (bounded). */
export class ManualScheduler {
  readonly #queue: (() => void)[] = [];

  /** Queues `fn`; the delay is ignored (nothing runs until {@link ManualScheduler.run}). */
  readonly schedule = (fn: () => void, _ms: number): void => {
    this.#queue.push(fn);
  };

  /** Runs queued callbacks (and those they queue) up to `max` of them; returns how many ran. */
  run(max = 10_000): number {
    let ran = 0;
    while (this.#queue.length > 0 && ran < max) {
      this.#queue.shift()!();
      ran++;
    }
    return ran;
  }
}
