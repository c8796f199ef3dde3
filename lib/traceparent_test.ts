import assert from "node:assert/strict";
import { mulberry32 } from "./random.ts";
import {
  formatTraceparent,
  isValidSpanId,
  isValidTraceId,
  parseTraceparent,
  SAMPLED_FLAG,
} from "./traceparent.ts";

// Source: W3C Trace Context (https://www.w3.org/TR/trace-context/), section 3.2 "traceparent
// Header", its examples.
const SPEC_SAMPLED = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const SPEC_NOT_SAMPLED = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";

// Source: the W3C's conformance harness, w3c/trace-context test/test.py (TraceContextTest): every
// traceparent it sends, and whether the receiver must keep the trace id (valid) or start anew.
const ID = "12345678901234567890123456789012";
const PARENT = "1234567890123456";
const HARNESS: readonly [string, string, boolean][] = [
  ["test_traceparent_included_tracestate_missing", `00-${ID}-${PARENT}-01`, true],
  ["test_traceparent_version_0x00: a trailing dot", `00-${ID}-${PARENT}-01.`, false],
  [
    "test_traceparent_version_0x00: more fields after version 00",
    `00-${ID}-${PARENT}-01-what-the-future-will-be-like`,
    false,
  ],
  ["test_traceparent_version_0xcc", `cc-${ID}-${PARENT}-01`, true],
  [
    "test_traceparent_version_0xcc: more fields after a future version",
    `cc-${ID}-${PARENT}-01-what-the-future-will-be-like`,
    true,
  ],
  [
    "test_traceparent_version_0xcc: a future version's fields not after a dash",
    `cc-${ID}-${PARENT}-01.what-the-future-will-be-like`,
    false,
  ],
  ["test_traceparent_version_0xff", `ff-${ID}-${PARENT}-01`, false],
  ["test_traceparent_version_illegal_characters", `.0-${ID}-${PARENT}-01`, false],
  ["test_traceparent_version_illegal_characters", `0.-${ID}-${PARENT}-01`, false],
  ["test_traceparent_version_too_long", `000-${ID}-${PARENT}-01`, false],
  ["test_traceparent_version_too_long", `0000-${ID}-${PARENT}-01`, false],
  ["test_traceparent_version_too_short", `0-${ID}-${PARENT}-01`, false],
  ["test_traceparent_trace_id_all_zero", `00-${"0".repeat(32)}-${PARENT}-01`, false],
  [
    "test_traceparent_trace_id_illegal_characters",
    `00-.2345678901234567890123456789012-${PARENT}-01`,
    false,
  ],
  [
    "test_traceparent_trace_id_illegal_characters",
    `00-1234567890123456789012345678901.-${PARENT}-01`,
    false,
  ],
  ["test_traceparent_trace_id_too_long", `00-${ID}3-${PARENT}-01`, false],
  ["test_traceparent_trace_id_too_short", `00-${ID.slice(0, 31)}-${PARENT}-01`, false],
  ["test_traceparent_parent_id_all_zero", `00-${ID}-${"0".repeat(16)}-01`, false],
  ["test_traceparent_parent_id_illegal_characters", `00-${ID}-.234567890123456-01`, false],
  ["test_traceparent_parent_id_illegal_characters", `00-${ID}-123456789012345.-01`, false],
  ["test_traceparent_parent_id_too_long", `00-${ID}-${PARENT}7-01`, false],
  ["test_traceparent_parent_id_too_short", `00-${ID}-${PARENT.slice(0, 15)}-01`, false],
  ["test_traceparent_trace_flags_illegal_characters", `00-${ID}-${PARENT}-.0`, false],
  ["test_traceparent_trace_flags_illegal_characters", `00-${ID}-${PARENT}-0.`, false],
  ["test_traceparent_trace_flags_too_long", `00-${ID}-${PARENT}-001`, false],
  ["test_traceparent_trace_flags_too_short", `00-${ID}-${PARENT}-1`, false],
  ["test_traceparent_ows_handling: a leading space", ` 00-${ID}-${PARENT}-01`, true],
  ["test_traceparent_ows_handling: a leading tab", `\t00-${ID}-${PARENT}-01`, true],
  ["test_traceparent_ows_handling: a trailing space", `00-${ID}-${PARENT}-01 `, true],
  ["test_traceparent_ows_handling: a trailing tab", `00-${ID}-${PARENT}-01\t`, true],
  ["test_traceparent_ows_handling: both", `\t 00-${ID}-${PARENT}-01 \t`, true],
];

Deno.test("parseTraceparent() reads the W3C spec's examples, sampled and not", () => {
  assert.deepEqual(parseTraceparent(SPEC_SAMPLED), {
    traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
    spanId: "00f067aa0ba902b7",
    flags: 1,
    sampled: true,
  });
  assert.deepEqual(parseTraceparent(SPEC_NOT_SAMPLED)?.sampled, false);
  assert.equal(formatTraceparent(parseTraceparent(SPEC_SAMPLED)!), SPEC_SAMPLED);
  assert.equal(formatTraceparent(parseTraceparent(SPEC_NOT_SAMPLED)!), SPEC_NOT_SAMPLED);
});

Deno.test("parseTraceparent() keeps or refuses every traceparent of the W3C conformance harness as it expects", () => {
  for (const [name, value, valid] of HARNESS) {
    const got = parseTraceparent(value);
    assert.equal(got !== undefined, valid, `${name}: ${JSON.stringify(value)}`);
    if (valid) {
      assert.equal(got!.traceId, ID, name);
      assert.equal(got!.spanId, PARENT, name);
    }
  }
});

Deno.test("parseTraceparent() refuses uppercase hex, a missing value and non-strings", () => {
  assert.equal(parseTraceparent(SPEC_SAMPLED.toUpperCase()), undefined);
  assert.equal(
    parseTraceparent("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"),
    undefined,
  );
  assert.equal(parseTraceparent(""), undefined);
  assert.equal(parseTraceparent(undefined), undefined);
  assert.equal(parseTraceparent(null), undefined);
  assert.equal(parseTraceparent(42 as unknown as string), undefined);
});

/** Random lowercase hex of `n` digits. */
function hex(rnd: () => number, n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += Math.floor(rnd() * 16).toString(16);
  return s;
}

Deno.test("property: formatting then parsing gives back any valid ids, and the flags version 00 defines", () => {
  const rnd = mulberry32(19);
  for (let i = 0; i < 5_000; i++) {
    const traceId = hex(rnd, 32);
    const spanId = hex(rnd, 16);
    if (!isValidTraceId(traceId) || !isValidSpanId(spanId)) continue;
    const flags = Math.floor(rnd() * 256);
    const text = formatTraceparent({ traceId, spanId, flags });
    assert.equal(text.length, 55);
    const back = parseTraceparent(text)!;
    assert.equal(back.traceId, traceId);
    assert.equal(back.spanId, spanId);
    assert.equal(back.flags, flags & 0x03, `flags ${flags} -> ${text}`);
    assert.equal(back.sampled, (flags & SAMPLED_FLAG) === 1);
  }
});

Deno.test("property: changing any one character of a valid traceparent to a non-hex one makes it invalid", () => {
  const rnd = mulberry32(7);
  const others = ["g", "G", "A", "F", ".", " ", "-", "_", "\u00e9", "\u0000"];
  for (let i = 0; i < 2_000; i++) {
    const at = Math.floor(rnd() * 55);
    const c = others[Math.floor(rnd() * others.length)];
    const dash = at === 2 || at === 35 || at === 52;
    if (dash && c === "-") continue;
    // A space at either end is trimmed, which leaves a value too short: invalid too.
    const mutated = SPEC_SAMPLED.slice(0, at) + c + SPEC_SAMPLED.slice(at + 1);
    assert.equal(parseTraceparent(mutated), undefined, `${JSON.stringify(mutated)} (at ${at})`);
  }
});

Deno.test("property: any value shorter or longer than 55 characters is invalid for version 00", () => {
  const rnd = mulberry32(11);
  for (let i = 0; i < 1_000; i++) {
    const cut = Math.floor(rnd() * 55);
    assert.equal(parseTraceparent(SPEC_SAMPLED.slice(0, cut)), undefined);
    assert.equal(parseTraceparent(SPEC_SAMPLED + hex(rnd, 1 + Math.floor(rnd() * 8))), undefined);
  }
});

Deno.test("formatTraceparent() refuses ids no receiver could read", () => {
  const ok = { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", flags: 1 };
  assert.throws(() => formatTraceparent({ ...ok, traceId: "0".repeat(32) }), TypeError);
  assert.throws(() => formatTraceparent({ ...ok, traceId: ok.traceId.toUpperCase() }), TypeError);
  assert.throws(() => formatTraceparent({ ...ok, traceId: "abc" }), TypeError);
  assert.throws(() => formatTraceparent({ ...ok, spanId: "0".repeat(16) }), TypeError);
  assert.throws(() => formatTraceparent({ ...ok, spanId: "xyz" }), TypeError);
  assert.throws(() => formatTraceparent({ ...ok, flags: 256 }), TypeError);
  assert.throws(() => formatTraceparent({ ...ok, flags: 1.5 }), TypeError);
});
