/**
 * The JSON envelope of the first release (format version 1), kept only so that the wire
 * benchmark (bench/wire_bench.ts) measures the binary format against what it replaced,
 * in the same run. Not used by any service.
 * @module
 */

/** An envelope as the JSON release wrote it. */
export interface JsonEnvelope {
  v: 1;
  type: string;
  seq: number;
  pub: string;
  epoch: number;
  ts: number;
  trace: string;
  body: unknown;
}
type Envelope = JsonEnvelope;
const ENVELOPE_VERSION = 1;

class DecodeError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

const decoder = new TextDecoder("utf-8", { fatal: true });
const lenientDecoder = new TextDecoder("utf-8");

/**
 * Serialises an envelope to its JSON text, the frame's content before UTF-8
 * encoding. The sockets in lib/messaging.ts send this string: zeromq.js
 * copies strings into ZeroMQ, whereas it pins Uint8Arrays over 128 bytes and
 * releases them through a libuv async handle that Deno does not run
 * reliably (memory grew with every message sent in a test here).
 *
 * @throws {TypeError} If the body cannot be serialised (a BigInt, a cycle).
 */
export function encodeText(env: Envelope): string {
  // A template is twice as fast as stringifying a fresh object; same output
  // as JSON.stringify, except that an undefined body is written as null.
  return `{"v":${num(env.v)},"type":${JSON.stringify(env.type)},"seq":${num(env.seq)},"pub":${
    JSON.stringify(env.pub)
  },"epoch":${num(env.epoch)},"ts":${num(env.ts)},"trace":${JSON.stringify(env.trace)},"body":${
    JSON.stringify(env.body) ?? "null"
  }}`;
}

/** A number as JSON writes it (non-finite numbers become null). */
function num(n: number): string {
  return Number.isFinite(n) ? String(n) : "null";
}

/**
 * Parses and validates one frame. Extra keys are ignored; the body is not
 * validated here (the receiver applies its schema per type).
 *
 * @throws {DecodeError} With code `"not_json"` if the frame is not UTF-8
 *   JSON, `"bad_envelope"` if a field is missing or has the wrong type,
 *   `"unsupported_version"` if `v` is not 1.
 */
export function decode(frame: Uint8Array): Envelope {
  let value: unknown;
  try {
    let text = lenientDecoder.decode(frame);
    // The lenient decoder is 5x faster; only text with U+FFFD needs the strict check.
    if (text.includes("\uFFFD")) text = decoder.decode(frame);
    value = JSON.parse(text);
  } catch {
    throw new DecodeError(
      "not_json",
      `Cannot decode envelope: the ${frame.length}-byte frame is not UTF-8 JSON`,
    );
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new DecodeError("bad_envelope", "Cannot decode envelope: expected a JSON object");
  }
  const o = value as Record<string, unknown>;
  if (o.v !== ENVELOPE_VERSION) {
    if (o.v === undefined) {
      throw new DecodeError("bad_envelope", 'Cannot decode envelope: field "v" is missing');
    }
    throw new DecodeError(
      "unsupported_version",
      `Cannot decode envelope: version ${JSON.stringify(o.v)} is not supported, expected 1`,
    );
  }
  if (typeof o.type !== "string" || o.type.length === 0) {
    fieldError("type", "a non-empty string", o.type);
  }
  if (!Number.isSafeInteger(o.seq) || (o.seq as number) < 0) {
    fieldError("seq", "a non-negative integer", o.seq);
  }
  if (typeof o.pub !== "string" || o.pub.length === 0) {
    fieldError("pub", "a non-empty string", o.pub);
  }
  if (typeof o.epoch !== "number" || !Number.isFinite(o.epoch)) {
    fieldError("epoch", "a finite number", o.epoch);
  }
  if (typeof o.ts !== "number" || !Number.isFinite(o.ts)) fieldError("ts", "a finite number", o.ts);
  if (typeof o.trace !== "string") fieldError("trace", "a string", o.trace);
  if (!("body" in o)) {
    throw new DecodeError("bad_envelope", 'Cannot decode envelope: field "body" is missing');
  }
  return o as unknown as Envelope;
}

function fieldError(field: string, expected: string, got: unknown): never {
  const shown = got === undefined ? "nothing" : JSON.stringify(got)?.slice(0, 40) ?? String(got);
  throw new DecodeError(
    "bad_envelope",
    `Cannot decode envelope: field "${field}" must be ${expected}, got ${shown}`,
  );
}
