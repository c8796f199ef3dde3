/**
 * The envelope every message between services travels in, and its wire format
 * (version 2: binary records, carried as base64 text).
 *
 * A ZeroMQ data frame is the base64 text (RFC 4648, standard alphabet, padded) of one
 * or more envelope records back to back. A record, integers little-endian:
 *
 * | offset     | size | field                                                        |
 * | ---------- | ---- | ------------------------------------------------------------ |
 * | 0          | 1    | format version: 2 (anything else is refused)                 |
 * | 1          | 1    | body codec: 0 JSON (UTF-8), 1 trade, 2 quote, 3 book         |
 * | 2          | 1    | W3C trace flags (bit 0: sampled)                             |
 * | 3          | 1    | T: length of `type` in bytes (1-255)                         |
 * | 4          | 1    | P: length of `pub` in bytes (1-255)                          |
 * | 5          | 4    | B: length of the body in bytes                               |
 * | 9          | 8    | `seq` (u64)                                                  |
 * | 17         | 8    | `epoch`, epoch ms (f64)                                      |
 * | 25         | 8    | `ts`, epoch ms (f64)                                         |
 * | 33         | 16   | `trace`, the W3C trace id                                    |
 * | 49         | 8    | `span`, the W3C id of the sending span (all zero: none)      |
 * | 57         | T    | `type` (UTF-8)                                               |
 * | 57+T       | P    | `pub` (UTF-8)                                                |
 * | 57+T+P     | B    | the body, in its codec (lib/body_codecs.ts)                  |
 *
 * The frame is base64 text because zeromq.js sends a `Uint8Array` over 128 bytes
 * without copying it and releases it through a libuv async handle that Deno does not
 * run reliably (memory grew with the messages sent, measured in bench/wire_bench.ts),
 * while it copies a string; a string of raw bytes would not do, since zeromq.js
 * encodes strings as UTF-8. There is no topic frame: a subscriber takes every message
 * of a publisher, because the sequence runs over all its types; type filtering
 * happens after the header is read, and the body of an unwanted type is never decoded.
 *
 * @example
 * ```ts
 * import { decodeFrame, encodeFrame } from "./envelope.ts";
 *
 * const frame = encodeFrame([{
 *   v: 2, type: "trade", seq: 1, pub: "market-data/md", epoch: 1700000000000,
 *   ts: 1700000000123.5, trace: "4bf92f3577b34da6a3ce929d0e0e4736", body: { px: 1 },
 * }]);
 * decodeFrame(new TextEncoder().encode(frame))[0].env.body; // { px: 1 }
 * ```
 *
 * @module
 */
import { nowMs } from "./clock.ts";
import { BODY_CODECS, BodyDecodeError, decodeBody, encodeBody } from "./body_codecs.ts";
import { ByteReader, ByteReadError, ByteWriter } from "./bytes.ts";

/** The only envelope version this code reads and writes. */
export const ENVELOPE_VERSION = 2;

/** Bytes of a record before its `type`. */
export const RECORD_HEADER_BYTES = 57;

/**
 * A message as it travels between services.
 *
 * @typeParam T The body's type.
 */
export interface Envelope<T = unknown> {
  /** Format version, always 2. */
  v: 2;
  /** Message type, e.g. `"trade"`, `"signal"`, `"heartbeat"` (1-255 bytes of UTF-8). */
  type: string;
  /** Per-publisher sequence number, 1 for the first message of an epoch, +1 per message. */
  seq: number;
  /** The publisher's name, `"<service>/<channel>"` (1-255 bytes of UTF-8). */
  pub: string;
  /** The publisher's start time in epoch ms; a new epoch means the publisher restarted. */
  epoch: number;
  /** When the message was published, in epoch ms (fractional: sub-ms resolution). */
  ts: number;
  /** Trace id (32 lowercase hex digits, the W3C trace-id) carried end to end. */
  trace: string;
  /** The id of the span that sent the message (16 lowercase hex digits, W3C parent-id). */
  span?: string;
  /** The W3C trace-flags byte of the sending span (bit 0: sampled). */
  flags?: number;
  /** The payload. */
  body: T;
}

/** The W3C trace context a message carries: its trace id, and the sending span with its flags. */
export interface TraceContext {
  /** 32 lowercase hex digits. */
  readonly trace: string;
  /** 16 lowercase hex digits: the id of the span that sends the message. */
  readonly span?: string;
  /** The trace-flags byte (bit 0: sampled). */
  readonly flags?: number;
}

/**
 * The envelope of the message number `seq` of stream `(pub, epoch)`, stamped now, with
 * a new random trace id unless one is given (the cause's, carried down the pipeline),
 * and the sending span and its flags when the context names them.
 */
export function stamp<T>(
  stream: { readonly pub: string; readonly epoch: number },
  seq: number,
  type: string,
  body: T,
  trace?: string | TraceContext,
): Envelope<T> {
  const env: Envelope<T> = {
    v: 2,
    type,
    seq,
    pub: stream.pub,
    epoch: stream.epoch,
    ts: nowMs(),
    trace: (typeof trace === "string" ? trace : trace?.trace) ?? newTraceId(),
    body,
  };
  if (typeof trace === "object") {
    if (trace.span !== undefined) env.span = trace.span;
    if (trace.flags !== undefined) env.flags = trace.flags;
  }
  return env;
}

/** Stable codes of {@linkcode DecodeError}, usable as metric label values. */
export const DECODE_ERROR_CODES = ["not_json", "bad_envelope", "unsupported_version"] as const;

/** Why a frame could not be decoded. */
export type DecodeErrorCode = typeof DECODE_ERROR_CODES[number];

/** Thrown by the decoders; `code` is stable, the message is for humans. */
export class DecodeError extends Error {
  /**
   * A stable code: `"unsupported_version"` (a record of another format version, or
   * a JSON envelope of version 1), `"bad_envelope"` (not base64, a truncated record,
   * a field out of range, an unknown body codec), `"not_json"` (a JSON body that does
   * not parse).
   */
  readonly code: DecodeErrorCode;

  /**
   * @param code The stable reason code.
   * @param message What could not be decoded and why.
   */
  constructor(code: DecodeErrorCode, message: string) {
    super(message);
    this.name = "DecodeError";
    this.code = code;
  }
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
/** Nibble of each char code ("0"-"9", "a"-"f"), -1 for any other. */
const NIBBLE = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) NIBBLE[48 + i] = i;
for (let i = 0; i < 6; i++) NIBBLE[97 + i] = 10 + i;

/** Writes `hex` (exactly `bytes` * 2 lowercase hex digits) as bytes; false when it is not. */
function writeHex(w: ByteWriter, hex: string, bytes: number): boolean {
  if (hex.length !== bytes * 2) return false;
  const at = w.reserve(bytes);
  const buf = w.buf;
  for (let i = 0; i < bytes; i++) {
    const hi = hex.charCodeAt(2 * i);
    const lo = hex.charCodeAt(2 * i + 1);
    const h = hi < 128 ? NIBBLE[hi] : -1;
    const l = lo < 128 ? NIBBLE[lo] : -1;
    if (h < 0 || l < 0) return false;
    buf[at + i] = (h << 4) | l;
  }
  w.pos = at + bytes;
  return true;
}

function readHex(buf: Uint8Array, at: number, bytes: number): string {
  return buf.subarray(at, at + bytes).toHex();
}

function isZero(buf: Uint8Array, at: number, bytes: number): boolean {
  for (let i = at; i < at + bytes; i++) if (buf[i] !== 0) return false;
  return true;
}

/**
 * Appends `env` as one record to `w`.
 *
 * @throws {TypeError} If a field cannot be written: `type` or `pub` empty or over 255
 *   bytes, `seq` not a safe non-negative integer, `trace` not 32 lowercase hex digits,
 *   `span` not 16, `flags` not a byte, or a body JSON cannot hold (a BigInt, a cycle).
 */
export function writeRecord(w: ByteWriter, env: Envelope): void {
  const start = w.pos;
  try {
    writeRecordAt(w, env, start);
  } catch (error) {
    w.pos = start;
    throw error;
  }
}

function writeRecordAt(w: ByteWriter, env: Envelope, start: number): void {
  if (!Number.isSafeInteger(env.seq) || env.seq < 0) {
    throw new TypeError(`Cannot encode envelope: seq must be a safe non-negative integer`);
  }
  const flags = env.flags ?? 0;
  if (!Number.isInteger(flags) || flags < 0 || flags > 255) {
    throw new TypeError(`Cannot encode envelope: flags must be a byte, got ${env.flags}`);
  }
  w.reserve(RECORD_HEADER_BYTES);
  const view = w.view;
  view.setUint8(start, ENVELOPE_VERSION);
  view.setUint8(start + 2, flags);
  view.setUint32(start + 9, env.seq % 0x1_0000_0000, true);
  view.setUint32(start + 13, Math.floor(env.seq / 0x1_0000_0000), true);
  view.setFloat64(start + 17, env.epoch, true);
  view.setFloat64(start + 25, env.ts, true);
  w.pos = start + 33;
  if (typeof env.trace !== "string" || !writeHex(w, env.trace, 16)) {
    throw new TypeError("Cannot encode envelope: trace must be 32 lowercase hex digits");
  }
  if (env.span === undefined) {
    w.buf.fill(0, start + 49, start + 57);
    w.pos = start + 57;
  } else if (typeof env.span !== "string" || !writeHex(w, env.span, 8)) {
    throw new TypeError("Cannot encode envelope: span must be 16 lowercase hex digits");
  }
  const typeBytes = w.str(env.type);
  const pubBytes = w.str(env.pub);
  if (typeBytes < 1 || pubBytes < 1) {
    throw new TypeError("Cannot encode envelope: type and pub must be 1-255 bytes of UTF-8");
  }
  const bodyAt = w.pos;
  const codec = encodeBody(w, env.type, env.body);
  // Views are taken again: the body may have grown the buffer.
  const v = w.view;
  v.setUint8(start + 1, codec);
  v.setUint8(start + 3, typeBytes);
  v.setUint8(start + 4, pubBytes);
  v.setUint32(start + 5, w.pos - bodyAt, true);
}

/** One decoded record: the envelope, and whether its body is known valid by construction. */
export interface DecodedRecord {
  readonly env: Envelope;
  /**
   * True when the body codec checked every value against the type's schema as it read
   * them (the fixed layouts): no schema needs to run again. False for JSON bodies and
   * skipped bodies.
   */
  readonly checked: boolean;
  /** False when the body was not decoded (its type was not wanted); `env.body` is undefined. */
  readonly hasBody: boolean;
}

/**
 * Reads every record of `bytes` (the decoded frame). Bodies are decoded only for the
 * types `wanted` accepts (default all).
 *
 * @throws {DecodeError} If any record is malformed: the whole frame is refused.
 */
export function readRecords(
  bytes: Uint8Array,
  wanted?: (type: string) => boolean,
): DecodedRecord[] {
  const r = new ByteReader(bytes);
  const out: DecodedRecord[] = [];
  try {
    while (r.pos < bytes.length) out.push(readRecord(r, wanted));
  } catch (error) {
    if (error instanceof BodyDecodeError) {
      throw new DecodeError(error.code, `Cannot decode envelope: ${error.message}`);
    }
    if (error instanceof ByteReadError) throw bad(error.message);
    throw error;
  }
  if (out.length === 0) throw bad("the frame holds no record");
  return out;
}

function readRecord(r: ByteReader, wanted?: (type: string) => boolean): DecodedRecord {
  const start = r.pos;
  const buf = r.buf;
  if (buf.length - start < RECORD_HEADER_BYTES) {
    if (buf[start] !== ENVELOPE_VERSION) throw versionError(buf[start]);
    throw bad(`a ${buf.length - start}-byte record is shorter than its header`);
  }
  const view = r.view;
  const version = buf[start];
  if (version !== ENVELOPE_VERSION) throw versionError(version);
  const codec = buf[start + 1];
  const flags = buf[start + 2];
  const typeLength = buf[start + 3];
  const pubLength = buf[start + 4];
  const bodyLength = view.getUint32(start + 5, true);
  const end = start + RECORD_HEADER_BYTES + typeLength + pubLength + bodyLength;
  if (end > buf.length) {
    throw bad(`a record of ${end - start} bytes overruns its ${buf.length - start}-byte frame`);
  }
  if (typeLength === 0 || pubLength === 0) throw bad("type and pub must not be empty");
  const seqHigh = view.getUint32(start + 13, true);
  if (seqHigh >= 0x20_0000) throw bad("seq is beyond 2^53");
  const seq = seqHigh * 0x1_0000_0000 + view.getUint32(start + 9, true);
  const epoch = view.getFloat64(start + 17, true);
  const ts = view.getFloat64(start + 25, true);
  if (!Number.isFinite(epoch) || !Number.isFinite(ts)) throw bad("epoch and ts must be finite");
  r.pos = start + RECORD_HEADER_BYTES;
  const type = r.str(typeLength);
  const pub = r.str(pubLength);
  const env: Envelope = {
    v: 2,
    type,
    seq,
    pub,
    epoch,
    ts,
    trace: readHex(buf, start + 33, 16),
    body: undefined,
  };
  const hasSpan = !isZero(buf, start + 49, 8);
  if (hasSpan) env.span = readHex(buf, start + 49, 8);
  if (hasSpan || flags !== 0) env.flags = flags;
  const bodyAt = r.pos;
  if (!(codec in BODY_CODECS)) {
    throw bad(`body codec ${codec} is unknown`);
  }
  let checked = false;
  let hasBody = false;
  if (wanted === undefined || wanted(type)) {
    const decoded = decodeBody(r, codec, bodyLength);
    if (r.pos !== bodyAt + bodyLength) {
      throw bad(`a ${codec} body of ${bodyLength} bytes was read as ${r.pos - bodyAt}`);
    }
    env.body = decoded.body;
    checked = decoded.checked;
    hasBody = true;
  }
  r.pos = end;
  return { env, checked, hasBody };
}

function versionError(version: number | undefined): DecodeError {
  return new DecodeError(
    "unsupported_version",
    `Cannot decode envelope: format version ${version} is not supported, expected ${ENVELOPE_VERSION}`,
  );
}

function bad(why: string): DecodeError {
  return new DecodeError("bad_envelope", `Cannot decode envelope: ${why}`);
}

const encoderScratch = new ByteWriter(4096);

/**
 * One frame's text: the base64 of the records of `envs`, in order (what a socket sends).
 *
 * @throws {TypeError} If an envelope cannot be written (see {@linkcode writeRecord}).
 */
export function encodeFrame(envs: readonly Envelope[]): string {
  encoderScratch.pos = 0;
  for (const env of envs) writeRecord(encoderScratch, env);
  return encoderScratch.bytes().toBase64();
}

/** One envelope as its record's bytes (a copy). */
export function encode(env: Envelope): Uint8Array {
  encoderScratch.pos = 0;
  writeRecord(encoderScratch, env);
  return encoderScratch.bytes().slice();
}

const decodeScratch = { buf: new Uint8Array(16_384) };
// ASCII decodes as itself; any other byte becomes U+FFFD, which base64 then refuses.
const ascii = new TextDecoder("utf-8");
const STRICT = { lastChunkHandling: "strict" } as const;

/**
 * The bytes of a frame's base64 text (a view of a scratch buffer, valid until the next
 * call).
 *
 * @throws {DecodeError} `unsupported_version` for a JSON envelope of version 1,
 *   `bad_envelope` for text that is not base64.
 */
export function frameBytes(frame: Uint8Array | string): Uint8Array {
  const text = typeof frame === "string" ? frame : ascii.decode(frame);
  if (text.charCodeAt(0) === 0x7b /* { */) {
    throw new DecodeError(
      "unsupported_version",
      "Cannot decode envelope: a JSON envelope (format version 1) is not supported, expected 2",
    );
  }
  const need = Math.ceil(text.length / 4) * 3;
  // Frames up to 64 KiB reuse one buffer; a larger one gets its own, so one huge frame
  // does not keep its memory for ever.
  let target = decodeScratch.buf;
  if (target.length < need) {
    target = new Uint8Array(need);
    if (need <= 65_536) decodeScratch.buf = target;
  }
  let result: { read: number; written: number };
  try {
    result = target.setFromBase64(text, STRICT);
  } catch {
    throw bad(`the ${text.length}-character frame is not base64`);
  }
  if (result.read !== text.length) throw bad("the frame is not base64");
  return target.subarray(0, result.written);
}

/**
 * Decodes every record of one frame (its base64 text, as bytes or a string).
 *
 * @throws {DecodeError} If the frame or any record in it is malformed.
 */
export function decodeFrame(
  frame: Uint8Array | string,
  wanted?: (type: string) => boolean,
): DecodedRecord[] {
  return readRecords(frameBytes(frame), wanted);
}

/**
 * Decodes a frame that holds exactly one envelope (a reliable channel's data frame,
 * a journaled frame).
 *
 * @throws {DecodeError} If the frame is malformed or holds other than one record.
 */
export function decode(frame: Uint8Array | string): Envelope {
  const records = decodeFrame(frame);
  if (records.length !== 1) {
    throw bad(`expected one record in the frame, got ${records.length}`);
  }
  return records[0].env;
}

/** Returns a random trace id: 32 lowercase hex digits (128 bits, as W3C trace-id). */
export function newTraceId(): string {
  // One getRandomValues() call per 256 ids: the call costs about a microsecond.
  if (randomAt + 16 > randomPool.length) {
    crypto.getRandomValues(randomPool);
    randomAt = 0;
  }
  let s = "";
  for (let i = randomAt; i < randomAt + 16; i++) s += HEX[randomPool[i]];
  randomAt += 16;
  return s;
}

const randomPool = new Uint8Array(4096);
let randomAt = randomPool.length;
