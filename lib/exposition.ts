/**
 * `/metrics` in the format the client asks for, from one OpenMetrics registry rendered once per
 * scrape. Prometheus asks for OpenMetrics (`Accept: application/openmetrics-text;...`, q=1 before
 * `text/plain;version=0.0.4;q=0.5`) and gets it, exemplars included; every other client (curl, a
 * browser, the operator tools) gets the Prometheus text format 0.0.4 the seed specifies,
 * byte-identical to what a Prometheus-text registry holding the same data renders.
 *
 * The conversion works on prom-client's OpenMetrics output, line by line:
 * - `# EOF` goes, and a blank line separates families (as prom-client's text renderer does);
 * - exemplars (` # {trace_id="…"} value timestamp` after a sample) go;
 * - a counter family is named as its samples (`foo_total`) on its `# HELP` and `# TYPE` lines,
 *   where OpenMetrics names it without the suffix. Every counter of the catalogue and of the
 *   runtime's default metrics ends in `_total`, which is what makes the round trip exact.
 *
 * @example
 * ```ts
 * const { body, contentType } = await exposition(registry, c.req.header("accept"));
 * ```
 * @module
 */
import { Registry } from "prom-client";

/** `application/openmetrics-text; version=1.0.0; charset=utf-8` */
export const OPENMETRICS_CONTENT_TYPE = Registry.OPENMETRICS_CONTENT_TYPE;
/** `text/plain; version=0.0.4; charset=utf-8` */
export const PROMETHEUS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

/** One media range of an `Accept` header and its quality. */
interface MediaRange {
  readonly range: string;
  readonly q: number;
}

function mediaRanges(accept: string): MediaRange[] {
  return accept.split(",").map((part) => {
    const [range, ...params] = part.split(";").map((p) => p.trim().toLowerCase());
    let q = 1;
    for (const p of params) {
      if (!p.startsWith("q=")) continue;
      const n = Number(p.slice(2));
      q = Number.isFinite(n) && n >= 0 && n <= 1 ? n : 0;
    }
    return { range, q };
  });
}

/** The q of the most specific range matching `type` (exact, then `type/*`, then `*\/*`). */
function qualityOf(ranges: readonly MediaRange[], type: string): number | undefined {
  const family = `${type.slice(0, type.indexOf("/"))}/*`;
  for (const candidate of [type, family, "*/*"]) {
    const matches = ranges.filter((r) => r.range === candidate);
    if (matches.length > 0) return Math.max(...matches.map((r) => r.q));
  }
  return undefined;
}

/**
 * True when `accept` prefers OpenMetrics to the Prometheus text: it names
 * `application/openmetrics-text` itself, with a q above 0 and at least that of `text/plain`
 * (RFC 9110, 12.5.1). A missing header, wildcards alone, or `text/plain` get the Prometheus text.
 */
export function wantsOpenMetrics(accept: string | null | undefined): boolean {
  if (!accept) return false;
  const ranges = mediaRanges(accept);
  const named = ranges.filter((r) => r.range === "application/openmetrics-text");
  if (named.length === 0) return false;
  const om = Math.max(...named.map((r) => r.q));
  return om > 0 && om >= (qualityOf(ranges, "text/plain") ?? 0);
}

/** The end of the label set that opens at `brace`, honouring quoted values and escapes. */
function labelsEnd(line: string, brace: number): number {
  let quoted = false;
  for (let i = brace + 1; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (quoted) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) quoted = false;
    } else if (c === 0x22) quoted = true;
    else if (c === 0x7d) return i;
  }
  return -1;
}

/** A sample line without its exemplar. */
function withoutExemplar(line: string): string {
  let from = 0;
  const brace = line.indexOf("{");
  const space = line.indexOf(" ");
  if (brace >= 0 && (space < 0 || brace < space)) {
    const end = labelsEnd(line, brace);
    if (end < 0) return line;
    from = end;
  }
  const hash = line.indexOf(" # {", from);
  return hash < 0 ? line : line.slice(0, hash);
}

/**
 * prom-client's OpenMetrics exposition converted to the Prometheus text format 0.0.4 (see the
 * module doc).
 */
export function openMetricsToPrometheus(om: string): string {
  const lines = om.split("\n");
  const out: string[] = [];
  let family = "";
  let counter = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line === "" || line === "# EOF") continue;
    const help = line.startsWith("# HELP ");
    if (help || line.startsWith("# TYPE ")) {
      const rest = line.slice(7);
      const sp = rest.indexOf(" ");
      const name = sp < 0 ? rest : rest.slice(0, sp);
      const tail = sp < 0 ? "" : rest.slice(sp);
      if (name !== family || help) {
        // A new family: prom-client writes its # HELP, then its # TYPE.
        if (help && out.length > 0) out.push("");
        family = name;
        const typeLine = help ? lines[i + 1] ?? "" : line;
        counter = typeLine === `# TYPE ${name} counter`;
      }
      out.push(`${line.slice(0, 7)}${counter ? `${name}_total` : name}${tail}`);
      continue;
    }
    if (line.startsWith("#")) continue; // # UNIT: no such line in the Prometheus text
    out.push(withoutExemplar(line));
  }
  return out.join("\n") + "\n";
}

/**
 * Renders `registry` (an OpenMetrics one, lib/metrics.ts `openMetricsRegistry`) once, in the
 * format `accept` asks for. A Prometheus-text registry is served as it renders.
 */
export async function exposition(
  registry: Registry,
  accept: string | null | undefined,
): Promise<{ body: string; contentType: string }> {
  const text = await registry.metrics();
  if ((registry.contentType as string) !== OPENMETRICS_CONTENT_TYPE) {
    return { body: text, contentType: registry.contentType };
  }
  return wantsOpenMetrics(accept)
    ? { body: text, contentType: OPENMETRICS_CONTENT_TYPE }
    : { body: openMetricsToPrometheus(text), contentType: PROMETHEUS_CONTENT_TYPE };
}

/** The Prometheus text a client without `Accept` gets from `registry` (for tests and tools). */
export async function prometheusText(registry: Registry): Promise<string> {
  return (await exposition(registry, undefined)).body;
}
