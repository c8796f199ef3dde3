/**
 * An OTLP/HTTP receiver for tests (what a collector or Tempo is to the services): `POST
 * /v1/traces`, `/v1/metrics` and `/v1/logs` on 127.0.0.1 and a free port, decoded with the
 * official OpenTelemetry protobuf definitions (opentelemetry-proto, as compiled by protobufjs
 * into `@opentelemetry/otlp-transformer@0.214.0`'s generated root: the last release that ships
 * it), never by hand.
 *
 * It speaks the protocol of the OTLP/HTTP spec (opentelemetry.io/docs/specs/otlp, "OTLP/HTTP"):
 * binary protobuf (`application/x-protobuf`, Deno's default) or JSON (`application/json`, hex
 * ids), either gzip-compressed or not; 200 with an `Export*ServiceResponse` in the request's
 * encoding; 400 for a body that cannot be decoded, 404 for another path, 405 for another method,
 * 413 over {@link MAX_BODY_BYTES}, 415 for another content type. It keeps at most
 * {@link MAX_SPANS} spans (then counts the rest as dropped), so a runaway exporter cannot grow it
 * without bound.
 *
 * @example
 * ```ts
 * await using receiver = startOtlpReceiver();
 * // run a child with OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url ...
 * const spans = await receiver.waitForSpans((s) => s.length >= 2, 10_000);
 * ```
 * @module
 */
import root from "@opentelemetry/otlp-transformer/build/src/generated/root.js";

// deno-lint-ignore no-explicit-any
const proto = (root as any).opentelemetry.proto;

/** A protobufjs message type of the generated root. */
interface MessageType {
  decode(bytes: Uint8Array): unknown;
  encode(message: unknown): { finish(): Uint8Array };
  create(properties: unknown): unknown;
  fromObject(object: unknown): unknown;
  toObject(message: unknown, options: Record<string, unknown>): Record<string, unknown>;
}

const SIGNALS: Record<string, { request: MessageType; response: MessageType }> = {
  "/v1/traces": {
    request: proto.collector.trace.v1.ExportTraceServiceRequest,
    response: proto.collector.trace.v1.ExportTraceServiceResponse,
  },
  "/v1/metrics": {
    request: proto.collector.metrics.v1.ExportMetricsServiceRequest,
    response: proto.collector.metrics.v1.ExportMetricsServiceResponse,
  },
  "/v1/logs": {
    request: proto.collector.logs.v1.ExportLogsServiceRequest,
    response: proto.collector.logs.v1.ExportLogsServiceResponse,
  },
};

/** The official message type of an `ExportTraceServiceRequest` (to build fixtures with). */
export const ExportTraceServiceRequest: MessageType = SIGNALS["/v1/traces"].request;

/** The largest request body accepted, in bytes. */
export const MAX_BODY_BYTES = 8 * 1024 * 1024;
/** The most spans kept; later ones are counted in {@link OtlpReceiver.dropped}. */
export const MAX_SPANS = 100_000;

/** One span as received, flattened with its resource's service and its scope. */
export interface ReceivedSpan {
  /** The resource's `service.name`. */
  readonly service: string;
  /** The instrumentation scope's name (the tracer's). */
  readonly scope: string;
  readonly name: string;
  /** 32 lowercase hex digits. */
  readonly traceId: string;
  /** 16 lowercase hex digits. */
  readonly spanId: string;
  /** 16 lowercase hex digits, or `""` for a root. */
  readonly parentSpanId: string;
  /** The OTLP `SpanKind` number (1 internal, 2 server, 3 client, 4 producer, 5 consumer). */
  readonly kind: number;
  /** Unix nanoseconds. */
  readonly startNs: bigint;
  /** Unix nanoseconds. */
  readonly endNs: bigint;
  /** The span's attributes, as plain values. */
  readonly attributes: Readonly<Record<string, unknown>>;
  /** The resource's attributes, as plain values. */
  readonly resource: Readonly<Record<string, unknown>>;
}

/** One accepted request. */
export interface ReceivedRequest {
  readonly path: string;
  readonly contentType: string;
  readonly bytes: number;
  /** The decoded request as a plain object (ids as lowercase hex). */
  readonly body: Record<string, unknown>;
}

/** A running receiver. */
export interface OtlpReceiver extends AsyncDisposable {
  /** `http://127.0.0.1:<port>`: the value for `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  readonly url: string;
  /** Every accepted request, in arrival order. */
  readonly requests: readonly ReceivedRequest[];
  /** Requests refused, by HTTP status. */
  readonly refused: Readonly<Record<number, number>>;
  /** Spans not kept because {@link MAX_SPANS} were already held. */
  readonly dropped: number;
  /** Every span kept so far. */
  spans(): ReceivedSpan[];
  /**
   * Polls until `done(spans)` holds, or throws after `timeoutMs`, naming what was received.
   */
  waitForSpans(
    done: (spans: ReceivedSpan[]) => boolean,
    timeoutMs: number,
  ): Promise<ReceivedSpan[]>;
  close(): Promise<void>;
}

/** An OTLP `AnyValue` as a plain value. */
function plain(v: Record<string, unknown> | undefined): unknown {
  if (v === undefined || v === null) return undefined;
  if ("stringValue" in v) return v.stringValue;
  if ("boolValue" in v) return v.boolValue;
  if ("intValue" in v) return Number(v.intValue);
  if ("doubleValue" in v) return v.doubleValue;
  if ("arrayValue" in v) {
    const values = (v.arrayValue as { values?: Record<string, unknown>[] }).values ?? [];
    return values.map(plain);
  }
  if ("kvlistValue" in v) {
    return attributesOf((v.kvlistValue as { values?: KeyValue[] }).values);
  }
  if ("bytesValue" in v) return v.bytesValue;
  return undefined;
}

interface KeyValue {
  key: string;
  value?: Record<string, unknown>;
}

function attributesOf(kvs: KeyValue[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of kvs ?? []) out[kv.key] = plain(kv.value);
  return out;
}

const ID_KEYS = new Set(["traceId", "spanId", "parentSpanId"]);

/** Lowercase hex of base64 bytes (protobufjs's `bytes: String`). */
function base64ToHex(s: string): string {
  const bin = atob(s);
  let out = "";
  for (let i = 0; i < bin.length; i++) out += bin.charCodeAt(i).toString(16).padStart(2, "0");
  return out;
}

/** The decoded object with span ids as hex, as OTLP/JSON writes them. */
function idsToHex(o: unknown, binary: boolean): unknown {
  if (Array.isArray(o)) return o.map((x) => idsToHex(x, binary));
  if (o === null || typeof o !== "object") return o;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    out[k] = ID_KEYS.has(k) && typeof v === "string"
      ? (binary ? base64ToHex(v) : v.toLowerCase())
      : idsToHex(v, binary);
  }
  return out;
}

/** The spans of one decoded `ExportTraceServiceRequest`. */
export function spansOf(body: Record<string, unknown>): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  type Spans = {
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: {
      scope?: { name?: string };
      spans?: Record<string, unknown>[];
    }[];
  };
  for (const rs of (body.resourceSpans ?? []) as Spans[]) {
    const resource = attributesOf(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          service: String(resource["service.name"] ?? ""),
          scope: ss.scope?.name ?? "",
          name: String(s.name ?? ""),
          traceId: String(s.traceId ?? ""),
          spanId: String(s.spanId ?? ""),
          parentSpanId: String(s.parentSpanId ?? ""),
          kind: Number(s.kind ?? 0),
          startNs: BigInt(String(s.startTimeUnixNano ?? 0)),
          endNs: BigInt(String(s.endTimeUnixNano ?? 0)),
          attributes: attributesOf(s.attributes as KeyValue[] | undefined),
          resource,
        });
      }
    }
  }
  return out;
}

async function readBody(req: Request): Promise<Uint8Array | "too_large"> {
  const declared = Number(req.headers.get("content-length") ?? 0);
  if (declared > MAX_BODY_BYTES) return "too_large";
  const reader = req.body?.getReader();
  if (!reader) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > MAX_BODY_BYTES) {
      await reader.cancel();
      return "too_large";
    }
    chunks.push(value);
  }
  const body = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    body.set(c, at);
    at += c.length;
  }
  return body;
}

async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(
    new DecompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Starts a receiver on 127.0.0.1 and a free port. */
export function startOtlpReceiver(): OtlpReceiver {
  const requests: ReceivedRequest[] = [];
  const refused: Record<number, number> = {};
  const kept: ReceivedSpan[] = [];
  let dropped = 0;
  const refuse = (status: number, message: string) => {
    refused[status] = (refused[status] ?? 0) + 1;
    return new Response(message, { status, headers: { "content-type": "text/plain" } });
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const path = new URL(req.url).pathname;
    const signal = SIGNALS[path];
    if (!signal) return refuse(404, `no OTLP signal at ${path}`);
    if (req.method !== "POST") return refuse(405, "OTLP/HTTP takes POST only");
    const contentType = (req.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
    const binary = contentType === "application/x-protobuf";
    if (!binary && contentType !== "application/json") {
      return refuse(415, `unsupported content type ${JSON.stringify(contentType)}`);
    }
    let bytes = await readBody(req);
    if (bytes === "too_large") return refuse(413, `the body is over ${MAX_BODY_BYTES} bytes`);
    let body: Record<string, unknown>;
    try {
      if (req.headers.get("content-encoding") === "gzip") bytes = await gunzip(bytes);
      if (binary) {
        const object = signal.request.toObject(signal.request.decode(bytes), {
          longs: String,
          enums: Number,
          bytes: String,
          defaults: false,
        });
        body = idsToHex(object, true) as Record<string, unknown>;
      } else {
        // OTLP/JSON: ids are hex already (protobufjs's fromObject would read them as base64).
        const parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
        if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
          throw new Error("the JSON body is not an object");
        }
        body = idsToHex(parsed, false) as Record<string, unknown>;
      }
    } catch (e) {
      return refuse(400, `cannot decode the request: ${(e as Error).message}`);
    }
    requests.push({ path, contentType, bytes: bytes.length, body });
    if (path === "/v1/traces") {
      for (const s of spansOf(body)) {
        if (kept.length < MAX_SPANS) kept.push(s);
        else dropped++;
      }
    }
    const response = signal.response.create({});
    return binary
      ? new Response(signal.response.encode(response).finish() as BodyInit, {
        headers: { "content-type": "application/x-protobuf" },
      })
      : Response.json({});
  });
  const url = `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}`;
  const close = () => server.shutdown();
  return {
    url,
    requests,
    refused,
    get dropped() {
      return dropped;
    },
    spans: () => [...kept],
    async waitForSpans(done, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (let i = 0; i < Math.ceil(timeoutMs / 25) + 1; i++) {
        if (done([...kept])) return [...kept];
        if (Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(
        `Timed out after ${timeoutMs} ms waiting for spans; received ${kept.length}: ${
          kept.map((s) => `${s.service}/${s.name}`).join(", ")
        }`,
      );
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
