import assert from "node:assert/strict";
import { ExportTraceServiceRequest, spansOf, startOtlpReceiver } from "./otlp_receiver.ts";

// An ExportTraceServiceRequest as OTLP/JSON writes it (opentelemetry-proto's
// examples/trace.json shape), with the W3C Trace Context spec's example ids.
const JSON_REQUEST = {
  resourceSpans: [{
    resource: {
      attributes: [{ key: "service.name", value: { stringValue: "risk-manager" } }],
    },
    scopeSpans: [{
      scope: { name: "risk-manager" },
      spans: [{
        traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
        spanId: "00f067aa0ba902b7",
        parentSpanId: "1234567890123456",
        name: "risk-manager receive",
        kind: 5,
        startTimeUnixNano: "1700000000000000000",
        endTimeUnixNano: "1700000000000500000",
        attributes: [
          { key: "trading.order", value: { boolValue: true } },
          { key: "risk.checks", value: { intValue: "9" } },
        ],
      }],
    }],
  }],
};

/** The same request in binary protobuf, encoded with the official definitions. */
function binaryRequest(): Uint8Array {
  const hexBytes = (h: string) => Uint8Array.from(h.match(/../g)!, (b) => parseInt(b, 16));
  const span = JSON_REQUEST.resourceSpans[0].scopeSpans[0].spans[0];
  const message = ExportTraceServiceRequest.fromObject({
    ...JSON_REQUEST,
    resourceSpans: [{
      ...JSON_REQUEST.resourceSpans[0],
      scopeSpans: [{
        ...JSON_REQUEST.resourceSpans[0].scopeSpans[0],
        spans: [{
          ...span,
          traceId: hexBytes(span.traceId),
          spanId: hexBytes(span.spanId),
          parentSpanId: hexBytes(span.parentSpanId),
        }],
      }],
    }],
  });
  return ExportTraceServiceRequest.encode(message).finish();
}

const post = (url: string, body: BodyInit, headers: Record<string, string>) =>
  fetch(url, { method: "POST", body, headers });

function expectSpan(spans: ReturnType<typeof spansOf>): void {
  assert.equal(spans.length, 1);
  const [s] = spans;
  assert.equal(s.service, "risk-manager");
  assert.equal(s.scope, "risk-manager");
  assert.equal(s.traceId, "4bf92f3577b34da6a3ce929d0e0e4736");
  assert.equal(s.spanId, "00f067aa0ba902b7");
  assert.equal(s.parentSpanId, "1234567890123456");
  assert.equal(s.kind, 5);
  assert.equal(s.endNs - s.startNs, 500_000n);
  assert.deepEqual(s.attributes, { "trading.order": true, "risk.checks": 9 });
}

Deno.test("the receiver decodes binary protobuf with the official definitions and answers with an ExportTraceServiceResponse", async () => {
  await using r = startOtlpReceiver();
  const res = await post(`${r.url}/v1/traces`, binaryRequest() as BodyInit, {
    "content-type": "application/x-protobuf",
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/x-protobuf");
  await res.arrayBuffer();
  expectSpan(r.spans());
});

Deno.test("the receiver takes OTLP/JSON and gzip-compressed bodies", async () => {
  await using r = startOtlpReceiver();
  const json = await post(`${r.url}/v1/traces`, JSON.stringify(JSON_REQUEST), {
    "content-type": "application/json",
  });
  assert.equal(json.status, 200);
  assert.deepEqual(await json.json(), {});
  expectSpan(r.spans());
  const gz = new Blob([binaryRequest() as BlobPart]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  const zipped = await post(`${r.url}/v1/traces`, await new Response(gz).arrayBuffer(), {
    "content-type": "application/x-protobuf",
    "content-encoding": "gzip",
  });
  assert.equal(zipped.status, 200);
  await zipped.arrayBuffer();
  assert.equal(r.spans().length, 2);
});

Deno.test("the receiver refuses what the OTLP/HTTP spec says it must, and goes on receiving", async () => {
  await using r = startOtlpReceiver();
  const statuses: number[] = [];
  for (
    const [path, init] of [
      ["/v1/traces", {
        method: "POST",
        body: new Uint8Array([0xff, 0xff, 0xff, 0x0f]),
        headers: { "content-type": "application/x-protobuf" },
      }],
      ["/v1/traces", {
        method: "POST",
        body: "{not json",
        headers: { "content-type": "application/json" },
      }],
      ["/v1/traces", {
        method: "POST",
        body: "[]",
        headers: { "content-type": "application/json" },
      }],
      ["/v1/traces", { method: "POST", body: "x", headers: { "content-type": "text/plain" } }],
      ["/v1/traces", { method: "GET" }],
      ["/v2/traces", {
        method: "POST",
        body: "x",
        headers: { "content-type": "application/json" },
      }],
      ["/v1/traces", {
        method: "POST",
        body: new Uint8Array(9 * 1024 * 1024),
        headers: { "content-type": "application/x-protobuf" },
      }],
    ] as [string, RequestInit][]
  ) {
    const res = await fetch(`${r.url}${path}`, init);
    await res.arrayBuffer();
    statuses.push(res.status);
  }
  assert.deepEqual(statuses, [400, 400, 400, 415, 405, 404, 413]);
  assert.deepEqual(r.refused, { 400: 3, 404: 1, 405: 1, 413: 1, 415: 1 });
  const ok = await post(`${r.url}/v1/traces`, binaryRequest() as BodyInit, {
    "content-type": "application/x-protobuf",
  });
  await ok.arrayBuffer();
  assert.equal(ok.status, 200);
  assert.equal(r.spans().length, 1);
});

Deno.test("waitForSpans() times out naming what it received", async () => {
  await using r = startOtlpReceiver();
  await assert.rejects(() => r.waitForSpans((s) => s.length > 0, 100), /received 0/);
});
