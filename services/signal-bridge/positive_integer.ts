/**
 * The one check the streaming indicators share on their periods and windows.
 * @module
 */

/**
 * Throws a RangeError (`<what> must be a positive integer, got <value>`) unless
 * `value` is an integer >= 1.
 *
 * @example
 * ```ts
 * requirePositiveInteger("EMA period", 0); // RangeError: EMA period must be a positive integer, got 0
 * ```
 */
export function requirePositiveInteger(what: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${what} must be a positive integer, got ${value}`);
  }
}
