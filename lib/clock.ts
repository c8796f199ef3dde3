/**
 * The wall clock every service stamps messages with.
 * @module
 */

/**
 * The current wall-clock time in epoch ms with sub-ms resolution
 * (`performance.timeOrigin + performance.now()`: monotonic within a process).
 *
 * @example
 * ```ts
 * const receivedTs = nowMs(); // 1764620000123.456
 * ```
 */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}
