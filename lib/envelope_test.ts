import assert from "node:assert/strict";
import {
  decode,
  DECODE_ERROR_CODES,
  DecodeError,
  decodeFrame,
  encode,
  encodeFrame,
  type Envelope,
  newTraceId,
  RECORD_HEADER_BYTES,
  stamp,
} from "./envelope.ts";

const sample: Envelope<{ symbol: string; px: number }> = {
  v: 2,
  type: "trade_note",
  seq: 42,
  pub: "market-data/market_data",
  epoch: 1_700_000_000_000,
  ts: 1_700_000_000_123.25,
  trace: "4bf92f3577b34da6a3ce929d0e0e4736",
  body: { symbol: "AAPL", px: 190.1 },
};

const bytesOf = (s: string) => new TextEncoder().encode(s);

function codeOf(frame: Uint8Array | string): string {
  try {
    decodeFrame(frame);
  } catch (error) {
    assert.ok(error instanceof DecodeError, String(error));
    return error.code;
  }
  return "decoded";
}

/** The frame text of raw record bytes. */
const frameOf = (record: Uint8Array) => record.toBase64();

Deno.test("encodeFrame() and decode() round-trip an envelope with a JSON body", () => {
  assert.deepEqual(decode(bytesOf(encodeFrame([sample]))), sample);
  assert.deepEqual(decode(encodeFrame([sample])), sample, "the frame as a string too");
});

Deno.test("an envelope carries the W3C trace context: trace id, sending span and trace flags", () => {
  const env = { ...sample, span: "00f067aa0ba902b7", flags: 1 };
  assert.deepEqual(decode(encodeFrame([env])), env);
  const unsampled = { ...sample, span: "00f067aa0ba902b7", flags: 0 };
  assert.deepEqual(decode(encodeFrame([unsampled])), unsampled);
  const noSpan = decode(encodeFrame([sample]));
  assert.equal("span" in noSpan, false);
  assert.equal("flags" in noSpan, false);
});

Deno.test("stamp() takes a trace id or a whole trace context", () => {
  const stream = { pub: "a/b", epoch: 1 };
  assert.equal(stamp(stream, 1, "t", {}, "ab".repeat(16)).trace, "ab".repeat(16));
  const env = stamp(stream, 1, "t", {}, { trace: "cd".repeat(16), span: "ef".repeat(8), flags: 1 });
  assert.equal(env.trace, "cd".repeat(16));
  assert.equal(env.span, "ef".repeat(8));
  assert.equal(env.flags, 1);
  assert.match(stamp(stream, 1, "t", {}).trace, /^[0-9a-f]{32}$/);
});

Deno.test("a frame holds several records, decoded in order", () => {
  const envs = [1, 2, 3].map((seq) => ({ ...sample, seq, body: { n: seq } }));
  const records = decodeFrame(encodeFrame(envs));
  assert.deepEqual(records.map((r) => r.env), envs);
});

Deno.test("decodeFrame() decodes only the bodies of the types wanted, and reads every header", () => {
  const envs = [{ ...sample, type: "bar" }, { ...sample, seq: 43, type: "quote_note" }];
  const records = decodeFrame(encodeFrame(envs), (type) => type === "quote_note");
  assert.deepEqual(records.map((r) => [r.env.type, r.env.seq, r.hasBody]), [
    ["bar", 42, false],
    ["quote_note", 43, true],
  ]);
  assert.equal(records[0].env.body, undefined);
  assert.deepEqual(records[1].env.body, sample.body);
});

Deno.test("the record layout is the one the module documents, byte for byte", () => {
  // Written by hand from the table in lib/envelope.ts, not by the encoder.
  const type = bytesOf("note");
  const pub = bytesOf("a/b");
  const body = bytesOf('{"x":1}');
  const record = new Uint8Array(RECORD_HEADER_BYTES + type.length + pub.length + body.length);
  const view = new DataView(record.buffer);
  view.setUint8(0, 2);
  view.setUint8(1, 0);
  view.setUint8(2, 1);
  view.setUint8(3, type.length);
  view.setUint8(4, pub.length);
  view.setUint32(5, body.length, true);
  view.setBigUint64(9, 2n ** 40n + 7n, true);
  view.setFloat64(17, 1_700_000_000_000, true);
  view.setFloat64(25, 1_700_000_000_001.5, true);
  for (let i = 0; i < 16; i++) record[33 + i] = i;
  for (let i = 0; i < 8; i++) record[49 + i] = 0xa0 + i;
  record.set(type, 57);
  record.set(pub, 57 + type.length);
  record.set(body, 57 + type.length + pub.length);
  assert.deepEqual(decode(frameOf(record)), {
    v: 2,
    type: "note",
    seq: 2 ** 40 + 7,
    pub: "a/b",
    epoch: 1_700_000_000_000,
    ts: 1_700_000_000_001.5,
    trace: "000102030405060708090a0b0c0d0e0f",
    span: "a0a1a2a3a4a5a6a7",
    flags: 1,
    body: { x: 1 },
  });
  assert.deepEqual(
    encode(decode(frameOf(record))),
    record,
    "and the encoder writes the same bytes",
  );
});

Deno.test("encodeFrame() writes an undefined body as null and keeps non-ASCII text", () => {
  assert.equal(decode(encodeFrame([{ ...sample, body: undefined }])).body, null);
  const tricky = { ...sample, type: 'q"uote\\', pub: "ünï/cøde\n", body: { s: "\u2028\uFFFD€" } };
  assert.deepEqual(decode(encodeFrame([tricky])), tricky);
});

Deno.test("encodeFrame() refuses what the format cannot hold, with a TypeError", () => {
  const refused = (patch: Partial<Envelope>) =>
    assert.throws(() => encodeFrame([{ ...sample, ...patch } as Envelope]), TypeError);
  refused({ body: { n: 1n } });
  refused({ trace: "trace-1" });
  refused({ trace: "4BF92F3577B34DA6A3CE929D0E0E4736" });
  refused({ span: "00f067aa0ba902b" });
  refused({ flags: 256 });
  refused({ type: "" });
  refused({ type: "t".repeat(256) });
  refused({ pub: "ü".repeat(128) });
  refused({ seq: -1 });
  refused({ seq: 1.5 });
  refused({ seq: 2 ** 53 });
  // A failed record leaves the frame it was added to unharmed.
  assert.deepEqual(decodeFrame(encodeFrame([sample])).length, 1);
});

Deno.test("decodeFrame() refuses a JSON envelope of the first release as unsupported_version", () => {
  const v1 = JSON.stringify({ ...sample, v: 1 });
  assert.equal(codeOf(bytesOf(v1)), "unsupported_version");
});

Deno.test("decodeFrame() refuses a record of another format version as unsupported_version", () => {
  const record = encode(sample);
  record[0] = 3;
  assert.equal(codeOf(frameOf(record)), "unsupported_version");
  assert.equal(codeOf(frameOf(new Uint8Array([7, 1, 2]))), "unsupported_version");
});

Deno.test("decodeFrame() reports bad_envelope for text that is not base64, truncated and overrunning records", () => {
  assert.equal(codeOf(bytesOf("hello, world")), "bad_envelope");
  assert.equal(codeOf(new Uint8Array([0xff, 0xfe, 0x00, 0x81])), "bad_envelope");
  assert.equal(codeOf(""), "bad_envelope");
  const record = encode(sample);
  assert.equal(codeOf(frameOf(record.subarray(0, 30))), "bad_envelope");
  assert.equal(codeOf(frameOf(record.subarray(0, record.length - 1))), "bad_envelope");
  const long = record.slice();
  new DataView(long.buffer).setUint32(5, 1_000_000, true);
  assert.equal(codeOf(frameOf(long)), "bad_envelope");
  const noType = record.slice();
  noType[3] = 0;
  assert.equal(codeOf(frameOf(noType)), "bad_envelope");
  const codec = record.slice();
  codec[1] = 9;
  assert.equal(codeOf(frameOf(codec)), "bad_envelope");
  const seq = record.slice();
  new DataView(seq.buffer).setUint32(13, 0x20_0000, true);
  assert.equal(codeOf(frameOf(seq)), "bad_envelope", "a seq beyond 2^53");
  const ts = record.slice();
  new DataView(ts.buffer).setFloat64(25, NaN, true);
  assert.equal(codeOf(frameOf(ts)), "bad_envelope");
});

Deno.test("decodeFrame() reports not_json for a JSON body that does not parse", () => {
  const record = encode({ ...sample, body: "AB" });
  const broken = record.slice();
  broken[broken.length - 1] = 0x7b; // the closing quote becomes "{"
  assert.equal(codeOf(frameOf(broken)), "not_json");
  const notUtf8 = record.slice();
  notUtf8[notUtf8.length - 2] = 0xc3;
  assert.equal(codeOf(frameOf(notUtf8)), "not_json");
});

Deno.test("decodeFrame() throws nothing but a DecodeError, whatever the bytes (an adversary)", () => {
  const good = encode({ ...sample, body: { levels: [[1, 2]] } });
  const seed = [0x9e3779b9];
  const rand = () => {
    seed[0] = Math.imul(seed[0] ^ (seed[0] >>> 15), 0x2c1b3c6d) >>> 0;
    return seed[0] / 2 ** 32;
  };
  let decoded = 0;
  for (let i = 0; i < 3000; i++) {
    const bytes = i % 2 === 0 ? good.slice() : new Uint8Array(1 + Math.floor(rand() * 120));
    for (let k = 0; k < 1 + rand() * 6; k++) {
      bytes[Math.floor(rand() * bytes.length)] = Math.floor(rand() * 256);
    }
    if (i % 2 === 1) bytes[0] = 2;
    if (codeOf(frameOf(bytes)) === "decoded") decoded++;
  }
  assert.ok(decoded < 3000, "most mutations are refused");
});

Deno.test("decode() wants exactly one record", () => {
  assert.throws(() => decode(encodeFrame([sample, { ...sample, seq: 43 }])), DecodeError);
});

Deno.test("DecodeError messages say what could not be decoded and why", () => {
  try {
    decode(bytesOf("{}"));
    assert.fail("decode() accepted a JSON envelope");
  } catch (error) {
    assert.ok(error instanceof DecodeError);
    assert.match(error.message, /^Cannot decode envelope: /);
  }
  assert.deepEqual([...DECODE_ERROR_CODES], ["not_json", "bad_envelope", "unsupported_version"]);
});

Deno.test("newTraceId() returns 32 lowercase hex digits, different each time", () => {
  const a = newTraceId();
  assert.match(a, /^[0-9a-f]{32}$/);
  assert.notEqual(a, newTraceId());
});
