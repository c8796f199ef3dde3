import assert from "node:assert/strict";
import {
  decode,
  DECODE_ERROR_CODES,
  DecodeError,
  encode,
  encodeText,
  type Envelope,
  newTraceId,
} from "./envelope.ts";

const sample: Envelope<{ symbol: string; px: number }> = {
  v: 1,
  type: "trade",
  seq: 42,
  pub: "market-data/market_data",
  epoch: 1_700_000_000_000,
  ts: 1_700_000_000_123.25,
  trace: "4bf92f3577b34da6a3ce929d0e0e4736",
  body: { symbol: "AAPL", px: 190.1 },
};

function codeOf(frame: Uint8Array): string {
  try {
    decode(frame);
  } catch (error) {
    assert.ok(error instanceof DecodeError);
    return error.code;
  }
  return "decoded";
}

const text = (s: string) => new TextEncoder().encode(s);

Deno.test("encode() and decode() round-trip an envelope", () => {
  assert.deepEqual(decode(encode(sample)), sample);
});

Deno.test("encodeText() writes the keys in a fixed order, v first", () => {
  const { body, trace, ...rest } = sample;
  const reordered = { trace, body, ...rest } as Envelope;
  const s = encodeText(reordered);
  assert.ok(s.startsWith('{"v":1,"type":"trade","seq":42,'));
  assert.equal(new TextDecoder().decode(encode(reordered)), s);
});

Deno.test("encodeText() writes what JSON.stringify() writes, escaping strings", () => {
  const tricky = { ...sample, type: 'q"uote\\', pub: "ünï/cøde\n", trace: "\u2028", ts: 0.1 + 0.2 };
  const { v, type, seq, pub, epoch, ts, trace, body } = tricky;
  assert.equal(encodeText(tricky), JSON.stringify({ v, type, seq, pub, epoch, ts, trace, body }));
  assert.deepEqual(decode(encode(tricky)), tricky);
});

Deno.test("encodeText() writes an undefined body as null", () => {
  assert.equal(decode(encode({ ...sample, body: undefined })).body, null);
});

Deno.test("decode() rejects invalid UTF-8 inside a JSON string but keeps a real U+FFFD", () => {
  const bytes = encode({ ...sample, body: "AB" });
  const i = bytes.indexOf(0x41); // "A"
  const broken = bytes.slice();
  broken[i] = 0xc3; // a lead byte followed by "B": invalid
  assert.equal(codeOf(broken), "not_json");
  assert.equal(decode(encode({ ...sample, body: "\uFFFD" })).body, "\uFFFD");
});

Deno.test("encode() throws a TypeError for a body JSON cannot hold", () => {
  assert.throws(() => encode({ ...sample, body: { n: 1n } }), TypeError);
});

Deno.test("decode() accepts a null body and ignores extra keys", () => {
  const env = decode(text(JSON.stringify({ ...sample, body: null, extra: true })));
  assert.equal(env.body, null);
});

Deno.test("decode() reports not_json for random bytes, text and invalid UTF-8", () => {
  assert.equal(codeOf(new Uint8Array([0xff, 0xfe, 0x00, 0x81])), "not_json");
  assert.equal(codeOf(text("hello")), "not_json");
  assert.equal(codeOf(new Uint8Array(0)), "not_json");
  assert.equal(codeOf(text('{"v":1')), "not_json");
});

Deno.test("decode() reports bad_envelope for non-objects and missing or mistyped fields", () => {
  assert.equal(codeOf(text("[1,2]")), "bad_envelope");
  assert.equal(codeOf(text("42")), "bad_envelope");
  assert.equal(codeOf(text("null")), "bad_envelope");
  assert.equal(codeOf(text("{}")), "bad_envelope");
  const without = (key: keyof Envelope) => {
    const o: Record<string, unknown> = { ...sample };
    delete o[key];
    return text(JSON.stringify(o));
  };
  for (const key of ["type", "seq", "pub", "epoch", "ts", "trace", "body"] as const) {
    assert.equal(codeOf(without(key)), "bad_envelope", key);
  }
  const bad = (patch: Record<string, unknown>) => text(JSON.stringify({ ...sample, ...patch }));
  assert.equal(codeOf(bad({ seq: -1 })), "bad_envelope");
  assert.equal(codeOf(bad({ seq: 1.5 })), "bad_envelope");
  assert.equal(codeOf(bad({ seq: "1" })), "bad_envelope");
  assert.equal(codeOf(bad({ type: "" })), "bad_envelope");
  assert.equal(codeOf(bad({ ts: "now" })), "bad_envelope");
});

Deno.test("decode() reports unsupported_version for any v other than 1", () => {
  assert.equal(codeOf(text(JSON.stringify({ ...sample, v: 2 }))), "unsupported_version");
  assert.equal(codeOf(text(JSON.stringify({ ...sample, v: "1" }))), "unsupported_version");
});

Deno.test("DecodeError messages say what could not be decoded and why", () => {
  try {
    decode(text(JSON.stringify({ ...sample, seq: "x" })));
    assert.fail("decode() accepted a string seq");
  } catch (error) {
    assert.ok(error instanceof DecodeError);
    assert.match(error.message, /^Cannot decode envelope: field "seq"/);
  }
  assert.deepEqual([...DECODE_ERROR_CODES], ["not_json", "bad_envelope", "unsupported_version"]);
});

Deno.test("newTraceId() returns 32 lowercase hex digits, different each time", () => {
  const a = newTraceId();
  assert.match(a, /^[0-9a-f]{32}$/);
  assert.notEqual(a, newTraceId());
});
