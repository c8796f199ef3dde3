/**
 * Bound series: a counter, gauge or histogram child that writes its series' values
 * directly, for the hot path (a message, a check). prom-client's own children
 * (`family.labels(...)`) hash the label object and validate it on every call (~1 µs per
 * observation here, most of what metrics cost per message); these do that once, when
 * bound, and then cost an add or two and, for a histogram, a walk over the bounds.
 *
 * Like prom-client's children, a bound series appears on its first write (zero it
 * explicitly to show it from start-up). They hold the series' value object of prom-client 15's `hashMap` (pinned in deno.json;
 * `bound_metrics_test.ts` renders the same observations through prom-client's own
 * children and fails if the two ever differ). A family `reset()` replaces that map: the
 * next write notices and binds again. Exemplars (issue 19) stay on the rare object-form
 * call (`family.observe({ labels, value, exemplarLabels })`), which updates the same
 * series. A family that is a no-op (instrumentation off) gives a no-op child.
 *
 * Non-finite values are dropped (prom-client throws on them; a metric must not stop a
 * handler).
 *
 * @example
 * ```ts
 * const latency = boundHistogram(families.risk_manager_pretrade_check_latency_us, {
 *   check_type: "all_checks",
 * });
 * latency.observe(12.5);
 * ```
 * @module
 */
import type { Counter, Gauge, Histogram } from "prom-client";

/** Label values of one series. */
export type SeriesLabels = Readonly<Record<string, string | number>>;

/** A bound counter series. */
export interface BoundCounter {
  /** Adds `by` (default 1; must be >= 0). */
  inc(by?: number): void;
}

/** A bound gauge series. */
export interface BoundGauge {
  /** Sets the value. */
  set(value: number): void;
}

/** A bound histogram series. */
export interface BoundHistogram {
  /** Observes one value. */
  observe(value: number): void;
  /**
   * Adds observations already sorted into the family's buckets ({@link upperBounds}), as
   * observing them one by one would: `counts[i]` of them at or under bound `i` (and over
   * bound `i - 1`), `counts[bounds.length]` over the last bound, `sum` their sum. For a
   * recorder that tallies a hot path in a typed array and merges at scrape time. Counts
   * that are not whole numbers >= 0, or a sum that is not finite, drop the call.
   */
  merge(counts: ArrayLike<number>, sum: number): void;
}

/** What prom-client 15 keeps per series (counter, gauge). */
interface ValueEntry {
  value: number;
  labels: Record<string, string | number>;
}

/** What prom-client 15 keeps per histogram series. */
interface HistogramEntry {
  labels: Record<string, string | number>;
  bucketValues: Record<string, number>;
  sum: number;
  count: number;
}

interface Internals<E> {
  hashMap?: Record<string, E>;
  upperBounds?: number[];
  labelNames?: string[];
}

/** `labels` in the family's label order (the order a series' labels are rendered in). */
function ordered(
  family: Internals<unknown>,
  labels: SeriesLabels,
): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const name of family.labelNames ?? []) if (name in labels) out[name] = labels[name];
  for (const [k, v] of Object.entries(labels)) if (!(k in out)) out[k] = v;
  return out;
}

const NOOP = { inc() {}, set() {}, observe() {}, merge() {} };

/**
 * Whether `family` records: false for a no-op family (instrumentation off,
 * `TRADING_INSTRUMENTATION=off`), whose bound children are no-ops too, so that a recorder
 * can skip the work that only feeds them (a clock read to time an observation).
 */
export function isInstrumented(
  family: Counter<string> | Gauge<string> | Histogram<string>,
): boolean {
  return (family as unknown as Internals<unknown>).hashMap !== undefined;
}

function sameLabels(a: Record<string, unknown>, b: SeriesLabels): boolean {
  const keys = Object.keys(b);
  if (Object.keys(a).length !== keys.length) return false;
  for (const k of keys) if (String(a[k]) !== String(b[k])) return false;
  return true;
}

/** The entry of `labels` in `family`'s map, created by `create` when absent. */
function entryOf<E extends { labels: Record<string, unknown> }>(
  family: Internals<E>,
  labels: SeriesLabels,
  create: () => void,
): E {
  const find = () => Object.values(family.hashMap!).find((e) => sameLabels(e.labels, labels));
  let entry = find();
  if (entry === undefined) {
    create();
    entry = find();
  }
  if (entry === undefined) {
    throw new Error(
      `Cannot bind a metric series: prom-client did not create ${JSON.stringify(labels)}`,
    );
  }
  return entry;
}

/**
 * The value entry of `family`'s series for `labels`, bound on first use and again whenever
 * prom-client replaced its map (a reset): undefined for a no-op family.
 */
function valueEntry(
  family: Counter<string> | Gauge<string>,
  labels: SeriesLabels,
): (() => ValueEntry) | undefined {
  const internals = family as unknown as Internals<ValueEntry>;
  if (internals.hashMap === undefined) return undefined;
  let map: unknown;
  let entry: ValueEntry | undefined;
  return () => {
    if (entry === undefined || internals.hashMap !== map) {
      map = internals.hashMap;
      entry = entryOf(internals, labels, () => family.inc(ordered(internals, labels), 0));
    }
    return entry;
  };
}

/** A counter child of `family` for `labels` (its series created by the first write). */
export function boundCounter(family: Counter<string>, labels: SeriesLabels = {}): BoundCounter {
  const entry = valueEntry(family, labels);
  if (entry === undefined) return NOOP;
  return {
    inc(by = 1) {
      if (!(by >= 0) || by === Infinity) return;
      entry().value += by;
    },
  };
}

/** A gauge child of `family` for `labels` (its series created by the first write). */
export function boundGauge(family: Gauge<string>, labels: SeriesLabels = {}): BoundGauge {
  const entry = valueEntry(family, labels);
  if (entry === undefined) return NOOP;
  return {
    set(value) {
      if (!Number.isFinite(value)) return;
      entry().value = value;
    },
  };
}

/** The upper bounds of `family`'s buckets, in order (+Inf not included); none for a no-op family. */
export function upperBounds(family: Histogram<string>): readonly number[] {
  return [...((family as unknown as Internals<unknown>).upperBounds ?? [])];
}

/**
 * Runs `flush` whenever `family` is read (a scrape renders it, `get()`), before its values
 * are: for a recorder that keeps a hot path's counts aside and writes them into the family
 * only then. After the collect the family had, if any (several recorders can share a family).
 */
export function beforeCollect(
  family: Counter<string> | Gauge<string> | Histogram<string>,
  flush: () => void,
): void {
  const f = family as unknown as { collect?: () => unknown };
  if (!isInstrumented(family)) return;
  const previous = f.collect;
  f.collect = function (this: unknown) {
    flush();
    return previous?.call(this);
  };
}

/** A histogram child of `family` for `labels` (its series created by the first write). */
export function boundHistogram(
  family: Histogram<string>,
  labels: SeriesLabels = {},
): BoundHistogram {
  const internals = family as unknown as Internals<HistogramEntry>;
  if (internals.hashMap === undefined || internals.upperBounds === undefined) return NOOP;
  const bounds = [...internals.upperBounds];
  const n = bounds.length;
  const bind = () => {
    const map = internals.hashMap!;
    const entry = entryOf(internals, labels, () => family.zero(ordered(internals, labels)));
    // The bucket keys as prom-client writes them (String(bound)), in bound order.
    const keys = bounds.map((b) => String(b));
    for (const k of keys) {
      if (typeof entry.bucketValues[k] !== "number") {
        throw new Error(`Cannot bind a histogram series: no bucket ${k} in prom-client's entry`);
      }
    }
    return { map, entry, keys };
  };
  let bound: ReturnType<typeof bind> | undefined;
  return {
    observe(value) {
      if (!Number.isFinite(value)) return;
      if (bound === undefined || internals.hashMap !== bound.map) bound = bind();
      const entry = bound.entry;
      entry.sum += value;
      entry.count += 1;
      for (let i = 0; i < n; i++) {
        if (value <= bounds[i]) {
          entry.bucketValues[bound.keys[i]] += 1;
          return;
        }
      }
    },
    merge(counts, sum) {
      if (counts.length !== n + 1 || !Number.isFinite(sum)) return;
      let total = 0;
      for (let i = 0; i <= n; i++) {
        const c = counts[i];
        if (!(c >= 0) || !Number.isSafeInteger(c)) return;
        total += c;
      }
      if (total === 0) return;
      if (bound === undefined || internals.hashMap !== bound.map) bound = bind();
      const entry = bound.entry;
      entry.sum += sum;
      entry.count += total;
      for (let i = 0; i < n; i++) {
        if (counts[i] !== 0) entry.bucketValues[bound.keys[i]] += counts[i];
      }
    },
  };
}
