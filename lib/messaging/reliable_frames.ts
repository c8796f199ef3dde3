/**
 * The wire protocol of the reliable channel ({@linkcode ReliableSender}, a DEALER →
 * {@linkcode ReliableReceiver}, a ROUTER): its frame kinds as named constants, and one
 * function to write and one to read each. All control frames are JSON objects.
 *
 * | kind     | direction         | frames                                              |
 * | -------- | ----------------- | --------------------------------------------------- |
 * | data     | sender → receiver | `{"k":"msg","base":B}`, then the envelope           |
 * | heartbeat| sender → receiver | `{"k":"hb","pub":P,"epoch":E,"base":B,"sent":S}`    |
 * | ack      | receiver → sender | `{"k":"ack","upto":U,"pub":P,"epoch":E}`            |
 * | nack     | receiver → sender | `{"k":"nack","from":F,"pub":P,"epoch":E}`           |
 * | bye      | receiver → sender | `{"k":"bye","pub":P,"epoch":E}` (the receiver closes) |
 * | byeack   | sender → receiver | `{"k":"byeack","pub":P,"epoch":E}`                  |
 * | hello    | receiver → sender | `{"k":"hello"}` (a receiver that connects, every heartbeat) |
 *
 * Both ends are ROUTER sockets, so every frame travels after the routing id of the
 * connection it belongs to, and each end knows which authenticated connection a frame
 * came from. A sender's socket has the routing id `pub`; a receiver that connects names
 * the connection after the sender's `pub` too. So on either end the routing id of a
 * sender's connection is the sender's `pub`, and a frame claiming another stream is
 * refused. A sender sends to one receiver only: the first that talks to it (a bound
 * sender learns of a connecting receiver by its `hello`), until it falls silent.
 *
 * B: the sender's lowest unacknowledged seq (everything below was acked, so a receiver
 * that has never seen the stream starts there). S: the highest seq sent so far. U: every
 * seq <= U has been delivered. F: the next seq the receiver needs. `(P, E)` names the
 * sender's stream: its `pub` and `epoch`.
 *
 * @example
 * ```ts
 * const header = dataHeader(41);
 * parseSenderFrame(new TextEncoder().encode(header), true); // { k: "msg", base: 41 }
 * ```
 * @module
 */
import type { DecodeErrorReason } from "./channel_metrics.ts";

/** The `k` of each frame kind. */
export const FRAME_KINDS = {
  data: "msg",
  heartbeat: "hb",
  ack: "ack",
  nack: "nack",
  bye: "bye",
  byeAck: "byeack",
  hello: "hello",
} as const;

/** A sender's stream: its `pub` and `epoch`. */
export interface StreamId {
  readonly pub: string;
  readonly epoch: number;
}

/** What a receiver reads from a sender (the envelope of a data frame travels beside it). */
export type SenderFrame =
  | { readonly k: "msg"; readonly base: number }
  | {
    readonly k: "hb";
    readonly pub: string;
    readonly epoch: number;
    readonly base: number;
    readonly sent: number;
  };

/** What a sender reads from its receiver. */
export type ReceiverFrame =
  | { readonly k: "ack"; readonly upto: number }
  | { readonly k: "nack"; readonly from: number }
  | { readonly k: "bye" }
  | { readonly k: "hello" };

/** A frame that could not be read: the decode-error reason and a human detail. */
export interface FrameError {
  readonly error: DecodeErrorReason;
  readonly detail: string;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The header of a data frame. */
export function dataHeader(base: number): string {
  return `{"k":"msg","base":${base}}`;
}

/** A heartbeat frame. */
export function heartbeatFrame(id: StreamId, base: number, sent: number): string {
  return JSON.stringify({ k: "hb", pub: id.pub, epoch: id.epoch, base, sent });
}

/** An ack frame: every seq up to `upto` was delivered. */
export function ackFrame(id: StreamId, upto: number): string {
  return `{"k":"ack","upto":${upto}${streamFields(id)}}`;
}

/** A nack frame: the receiver needs `from` next. */
export function nackFrame(id: StreamId, from: number): string {
  return `{"k":"nack","from":${from}${streamFields(id)}}`;
}

/** A bye frame: the receiver is closing. */
export function byeFrame(id: StreamId): string {
  return `{"k":"bye"${streamFields(id)}}`;
}

/** A hello frame: a receiver that connected is there (sent every heartbeat). */
export function helloFrame(): string {
  return `{"k":"hello"}`;
}

/** A byeack frame: the sender has the receiver's last acks. */
export function byeAckFrame(id: StreamId): string {
  return JSON.stringify({ k: "byeack", pub: id.pub, epoch: id.epoch });
}

function streamFields(id: StreamId): string {
  return `,"pub":${JSON.stringify(id.pub)},"epoch":${id.epoch}`;
}

/** The frame as a JSON object, or a `not_json` error. */
function readObject(bytes: Uint8Array): Record<string, unknown> | FrameError {
  try {
    const v = JSON.parse(utf8.decode(bytes));
    if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error("not an object");
    return v;
  } catch (error) {
    return { error: "not_json", detail: (error as Error).message };
  }
}

/** True for the error value of the parse functions. */
export function isFrameError(v: unknown): v is FrameError {
  return typeof v === "object" && v !== null && "error" in v;
}

/**
 * Reads the first frame of a message from a sender; `withBody` says whether an envelope
 * frame follows it (a data frame has one, a heartbeat none).
 */
export function parseSenderFrame(header: Uint8Array, withBody: boolean): SenderFrame | FrameError {
  const h = readObject(header);
  if (isFrameError(h)) return h;
  const base = h.base;
  if (!Number.isSafeInteger(base) || (base as number) < 1) {
    return { error: "bad_envelope", detail: 'header field "base" must be a positive integer' };
  }
  if (h.k === "hb" && !withBody) {
    if (
      typeof h.pub !== "string" || typeof h.epoch !== "number" || !Number.isSafeInteger(h.sent)
    ) {
      return { error: "bad_envelope", detail: "heartbeat header is incomplete" };
    }
    if ((h.sent as number) < (base as number) - 1) {
      // The lowest unacknowledged seq cannot be beyond what was sent.
      return { error: "bad_envelope", detail: 'heartbeat "base" is past "sent"' };
    }
    return { k: "hb", pub: h.pub, epoch: h.epoch, base: base as number, sent: h.sent as number };
  }
  if (h.k !== "msg" || !withBody) {
    return { error: "bad_envelope", detail: 'header field "k" must be "msg" or "hb"' };
  }
  return { k: "msg", base: base as number };
}

/**
 * Reads a frame from the receiver of stream `id`. Returns `null` for a frame of
 * another stream (ignored: an old epoch's late answer), a {@link FrameError} for a frame
 * that is not JSON or not one of the receiver's kinds.
 */
export function parseReceiverFrame(
  bytes: Uint8Array,
  id: StreamId,
): ReceiverFrame | FrameError | null {
  const m = readObject(bytes);
  if (isFrameError(m)) return m;
  if (m.k === "hello") return { k: "hello" };
  if (m.pub !== id.pub || m.epoch !== id.epoch) return null;
  if (m.k === "ack" && Number.isSafeInteger(m.upto)) return { k: "ack", upto: m.upto as number };
  if (m.k === "nack" && Number.isSafeInteger(m.from)) return { k: "nack", from: m.from as number };
  if (m.k === "bye") return { k: "bye" };
  return {
    error: "bad_envelope",
    detail: 'control field "k" must be "ack", "nack", "bye" or "hello"',
  };
}

/** Reads a byeack frame; undefined for anything else. */
export function parseByeAck(bytes: Uint8Array): StreamId | undefined {
  const m = readObject(bytes);
  if (isFrameError(m) || m.k !== "byeack") return undefined;
  return { pub: String(m.pub), epoch: Number(m.epoch) };
}
