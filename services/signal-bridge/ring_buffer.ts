import { requirePositiveInteger } from "./positive_integer.ts";

/**
 * A fixed-capacity ring of numbers: O(1) push that returns the value it evicts.
 * @module
 */

/** A fixed-capacity FIFO of numbers; pushing onto a full ring evicts the oldest value. */
export class RingBuffer {
  readonly #values: Float64Array;
  #start = 0;
  #size = 0;

  /** Throws a RangeError unless `capacity` is a positive integer. */
  constructor(readonly capacity: number) {
    requirePositiveInteger("RingBuffer capacity", capacity);
    this.#values = new Float64Array(capacity);
  }

  /** How many values it holds (at most `capacity`). */
  get size(): number {
    return this.#size;
  }

  /** True once it holds `capacity` values. */
  get full(): boolean {
    return this.#size === this.capacity;
  }

  /** Appends `value`; returns the evicted oldest value when the ring was full, else undefined. */
  push(value: number): number | undefined {
    if (this.#size < this.capacity) {
      this.#values[(this.#start + this.#size) % this.capacity] = value;
      this.#size++;
      return undefined;
    }
    const evicted = this.#values[this.#start];
    this.#values[this.#start] = value;
    this.#start = (this.#start + 1) % this.capacity;
    return evicted;
  }

  /** The value `i` places from the oldest (0 = oldest); undefined when out of range. */
  at(i: number): number | undefined {
    if (i < 0 || i >= this.#size) return undefined;
    return this.#values[(this.#start + i) % this.capacity];
  }

  /** The oldest value, or undefined when empty. */
  oldest(): number | undefined {
    return this.at(0);
  }

  /** Sums `map(value)` over the held values: O(capacity), for periodic exact recomputation. */
  sum(map: (value: number) => number = (value) => value): number {
    let total = 0;
    for (let i = 0; i < this.#size; i++) {
      total += map(this.#values[(this.#start + i) % this.capacity]);
    }
    return total;
  }
}
