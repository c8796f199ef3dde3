/**
 * Reading a service's `/metrics` (Prometheus text format 0.0.4) for the operator tools:
 * samples by name and labels, sums, and quantiles from histogram buckets.
 * @module
 */

/** One sample line. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** The samples of an exposition; comments and malformed lines are skipped. */
export function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(LABEL)) {
      labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
    }
    const value = m[3] === "+Inf" ? Infinity : m[3] === "-Inf" ? -Infinity : Number(m[3]);
    out.push({ name: m[1], labels, value });
  }
  return out;
}

/** The samples of a whole scrape, with look-ups. */
export class Exposition {
  readonly samples: readonly Sample[];

  constructor(text: string) {
    this.samples = parseExposition(text);
  }

  /** Samples of `name` whose labels include `labels`. */
  find(name: string, labels: Record<string, string> = {}): Sample[] {
    return this.samples.filter((s) =>
      s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
    );
  }

  /** The sum of those samples; undefined when there is none. */
  sum(name: string, labels: Record<string, string> = {}): number | undefined {
    const found = this.find(name, labels);
    return found.length === 0 ? undefined : found.reduce((a, s) => a + s.value, 0);
  }

  /** Sums of `name` grouped by one label. */
  sumBy(name: string, label: string, labels: Record<string, string> = {}): Map<string, number> {
    const out = new Map<string, number>();
    for (const s of this.find(name, labels)) {
      const key = s.labels[label] ?? "";
      out.set(key, (out.get(key) ?? 0) + s.value);
    }
    return out;
  }

  /** Cumulative bucket counts of histogram `name` (summed over its series), by `le`. */
  buckets(name: string): Map<number, number> {
    const out = new Map<number, number>();
    for (const s of this.find(`${name}_bucket`)) {
      const le = s.labels.le === "+Inf" ? Infinity : Number(s.labels.le);
      out.set(le, (out.get(le) ?? 0) + s.value);
    }
    return out;
  }
}

/**
 * The `q` quantile of what histogram `name` observed between two scrapes (the deltas of
 * its cumulative buckets), interpolated inside a bucket as Prometheus does; undefined
 * when nothing was observed. Beyond the last finite bound it answers that bound.
 */
export function quantileBetween(
  before: Exposition | undefined,
  after: Exposition,
  name: string,
  q: number,
): number | undefined {
  const now = after.buckets(name);
  const then = before?.buckets(name) ?? new Map<number, number>();
  const bounds = [...now.keys()].sort((a, b) => a - b);
  const counts = bounds.map((le) => Math.max(0, (now.get(le) ?? 0) - (then.get(le) ?? 0)));
  const total = counts.at(-1) ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  for (let i = 0; i < bounds.length; i++) {
    if (counts[i] >= rank) {
      if (bounds[i] === Infinity) return bounds[i - 1];
      const lower = i === 0 ? 0 : bounds[i - 1];
      const below = i === 0 ? 0 : counts[i - 1];
      const inBucket = counts[i] - below;
      return inBucket <= 0 ? bounds[i] : lower + (bounds[i] - lower) * ((rank - below) / inBucket);
    }
  }
  return bounds.at(-1);
}
