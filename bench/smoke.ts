/**
 * Smoke mode of the micro benchmarks (`bench/*_bench.ts`), for bench/micro_smoke_test.ts:
 * with `BENCH_SMOKE=1` in the environment, every `Deno.bench` case runs a minimal number of
 * iterations (`n` and `warmup` below; `deno bench` still spends ~10 ms warming each case up and
 * ~10 ms measuring it) and every top-level measurement loop runs at most {@linkcode SMOKE_LOOP}
 * times, through the same code and printing the same lines (with the smaller counts). The
 * figures mean nothing then; the point is that each module loads and each case runs.
 *
 * Without the variable (any other value, or no permission to read it) both helpers hand back
 * what the benches had before: the case's own options, the full count.
 *
 * ```ts
 * import { benchOptions, loopCount } from "./smoke.ts";
 * for (let i = 0; i < loopCount(20_000); i++) {} // 200 in smoke mode
 * Deno.bench("a case", benchOptions({ group: "g" }), () => {}); // n: 1, warmup: 0 merged
 * ```
 * @module
 */

/** Whether smoke mode is on: `BENCH_SMOKE=1` and permission to read it. */
export const SMOKE: boolean =
  Deno.permissions.querySync({ name: "env", variable: "BENCH_SMOKE" }).state === "granted" &&
  Deno.env.get("BENCH_SMOKE") === "1";

/** The most a top-level measurement loop runs in smoke mode. */
export const SMOKE_LOOP = 200;

/** The options of a `Deno.bench` case (its definition without the name and function). */
export type BenchOptions = Omit<Deno.BenchDefinition, "fn" | "name">;

/** The iterations merged into each case's options in smoke mode. */
export const SMOKE_ITERATIONS: Readonly<Pick<BenchOptions, "n" | "warmup">> = { n: 1, warmup: 0 };

/** `options` for `Deno.bench(name, options, fn)`; in smoke mode with {@linkcode SMOKE_ITERATIONS}. */
export function benchOptions(options: BenchOptions = {}): BenchOptions {
  return SMOKE ? { ...options, ...SMOKE_ITERATIONS } : options;
}

/** `full`, or in smoke mode at most {@linkcode SMOKE_LOOP}: a top-level loop's count. */
export function loopCount(full: number): number {
  return SMOKE ? Math.min(full, SMOKE_LOOP) : full;
}
