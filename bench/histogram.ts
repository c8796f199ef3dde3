/**
 * A Prometheus histogram read back from a `/metrics` text: its cumulative buckets, and
 * what a benchmark asks of it (a quantile as `histogram_quantile` computes it, the share
 * of observations at or under a bound, the difference of two scrapes).
 *
 * @example
 * ```ts
 * const h = readHistogram(text, "risk_manager_pretrade_check_latency_us", { check_type: "all_checks" });
 * quantile(h!, 0.99); // µs, interpolated within its bucket
 * ```
 * @module
 */

/** One histogram series: cumulative counts per upper bound (the last is +Inf). */
export interface HistogramSnapshot {
  readonly bounds: readonly number[];
  readonly cumulative: readonly number[];
  readonly count: number;
  readonly sum: number;
}

function labelsMatch(labelText: string, labels: Record<string, string>): boolean {
  return Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`));
}

/**
 * The series of histogram `name` whose labels include `labels` (summed over the series
 * that match), or undefined when there is none.
 */
export function readHistogram(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): HistogramSnapshot | undefined {
  const byBound = new Map<number, number>();
  let count = 0;
  let sum = 0;
  let found = false;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name + "_")) continue;
    const m = line.match(/^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/);
    if (m === null || !labelsMatch(m[2] ?? "", labels)) continue;
    const value = Number(m[3]);
    if (m[1] === `${name}_bucket`) {
      const le = (m[2] ?? "").match(/le="([^"]+)"/)?.[1];
      if (le === undefined) continue;
      const bound = le === "+Inf" ? Infinity : Number(le);
      byBound.set(bound, (byBound.get(bound) ?? 0) + value);
      found = true;
    } else if (m[1] === `${name}_count`) count += value;
    else if (m[1] === `${name}_sum`) sum += value;
  }
  if (!found) return undefined;
  const bounds = [...byBound.keys()].sort((a, b) => a - b);
  return { bounds, cumulative: bounds.map((b) => byBound.get(b)!), count, sum };
}

/**
 * Every series of histogram `name` in `text`, grouped by the values of the labels `by`
 * (joined with "/", in that order: `{service, channel}` gives `"signal-bridge/market_data"`),
 * each group summed as {@link readHistogram} sums the series that match.
 */
export function readHistograms(
  text: string,
  name: string,
  by: readonly string[],
): Map<string, HistogramSnapshot> {
  const groups = new Map<string, Record<string, string>>();
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}_bucket{`)) continue;
    const labelText = line.slice(line.indexOf("{"), line.indexOf("}") + 1);
    const values: Record<string, string> = {};
    for (const k of by) {
      const v = labelText.match(new RegExp(`[{,]${k}="([^"]*)"`))?.[1];
      if (v === undefined) break;
      values[k] = v;
    }
    if (Object.keys(values).length !== by.length) continue;
    groups.set(by.map((k) => values[k]).join("/"), values);
  }
  const out = new Map<string, HistogramSnapshot>();
  for (const [key, labels] of groups) out.set(key, readHistogram(text, name, labels)!);
  return out;
}

/** `after` minus `before` (the observations between two scrapes of one series). */
export function difference(
  after: HistogramSnapshot,
  before: HistogramSnapshot | undefined,
): HistogramSnapshot {
  if (before === undefined) return after;
  return {
    bounds: after.bounds,
    cumulative: after.cumulative.map((c, i) => c - (before.cumulative[i] ?? 0)),
    count: after.count - before.count,
    sum: after.sum - before.sum,
  };
}

/**
 * The `q` quantile as Prometheus' `histogram_quantile` estimates it: linear within the
 * bucket it falls in (from 0 for the first); the highest finite bound when it falls in
 * +Inf; NaN without observations.
 */
export function quantile(h: HistogramSnapshot, q: number): number {
  const total = h.cumulative[h.cumulative.length - 1] ?? 0;
  if (total <= 0) return NaN;
  const rank = q * total;
  for (let i = 0; i < h.bounds.length; i++) {
    if (h.cumulative[i] >= rank) {
      if (h.bounds[i] === Infinity) return h.bounds[i - 1] ?? NaN;
      const lower = i === 0 ? 0 : h.bounds[i - 1];
      const below = i === 0 ? 0 : h.cumulative[i - 1];
      const inBucket = h.cumulative[i] - below;
      return inBucket === 0
        ? h.bounds[i]
        : lower + (h.bounds[i] - lower) * (rank - below) / inBucket;
    }
  }
  return NaN;
}

/** The share (0..1) of observations at or under `bound`, which must be a bucket bound. */
export function shareAtMost(h: HistogramSnapshot, bound: number): number {
  const i = h.bounds.indexOf(bound);
  const total = h.cumulative[h.cumulative.length - 1] ?? 0;
  if (i < 0) throw new Error(`Cannot read the share under ${bound}: it is not a bucket bound`);
  return total > 0 ? h.cumulative[i] / total : NaN;
}
