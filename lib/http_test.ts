import assert from "node:assert/strict";
import { Hono } from "hono";
import { validator } from "hono/validator";
import { createServiceApp, MAX_BODY_BYTES, serve, ServeError } from "./http.ts";
import { createServiceMetrics } from "./metrics.ts";
import { freePort, Proc, waitFor } from "./testing/tools.ts";

function app(ready?: () => Record<string, boolean>) {
  const m = createServiceMetrics("market-data", { defaultMetrics: false });
  const a = createServiceApp({
    service: "market-data",
    registry: m.registry,
    requests: m.families.http_requests_total,
    ready,
    routes: (h: Hono) => h.get("/admin/positions/:symbol", (c) => c.json({ ok: true })),
  });
  return { a, m };
}

Deno.test("GET /metrics serves Prometheus text with the exposition content type", async () => {
  const { a, m } = app();
  try {
    const res = await a.request("/metrics");
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    const body = await res.text();
    assert.match(body, /# TYPE market_data_messages_processed_total counter/);
  } finally {
    m.stop();
  }
});

Deno.test("GET /health answers ok while GET /ready reflects the service's checks", async () => {
  let feed = false;
  const { a, m } = app(() => ({ feed }));
  try {
    assert.equal((await a.request("/health")).status, 200);
    const notReady = await a.request("/ready");
    assert.equal(notReady.status, 503);
    assert.deepEqual((await notReady.json()).checks, { feed: false });
    feed = true;
    assert.equal((await a.request("/ready")).status, 200);
  } finally {
    m.stop();
  }
});

Deno.test("request metrics label routes by pattern, never by raw path", async () => {
  const { a, m } = app();
  try {
    await a.request("/admin/positions/AAPL");
    await a.request("/nope/12345");
    await a.request("/metrics", { method: "BREW" });
    const text = await m.registry.metrics();
    assert.match(text, /route="\/admin\/positions\/:symbol"/);
    assert.ok(!text.includes("12345"));
    assert.ok(!text.includes("AAPL"));
    assert.match(text, /route="unmatched"/);
    assert.match(text, /method="unknown"/);
  } finally {
    m.stop();
  }
});

Deno.test("serve() reports a port already in use as a clear error", () => {
  const port = freePort();
  const holder = Deno.listen({ hostname: "127.0.0.1", port });
  try {
    assert.throws(
      () => serve(new Hono(), { host: "127.0.0.1", port, service: "risk-manager" }),
      (e: unknown) =>
        e instanceof ServeError &&
        e.message.includes(`127.0.0.1:${port} is already in use`) &&
        e.message.includes("risk-manager"),
    );
  } finally {
    holder.close();
  }
});

Deno.test("a service whose metrics port is taken exits with code 3 and says why", async () => {
  const port = freePort();
  const holder = Deno.listen({ hostname: "127.0.0.1", port });
  try {
    const p = new Proc("services/execution-engine/main.ts", [], {
      TRADING__EXECUTION_ENGINE__HTTP__PORT: String(port),
    });
    const status = await p.done;
    assert.equal(status.code, 3);
    assert.match(p.stderr, /already in use/);
  } finally {
    holder.close();
  }
});

Deno.test("a running service answers /metrics, /health and /ready on its port", async () => {
  const port = freePort();
  const p = new Proc("services/signal-bridge/main.ts", [], {
    TRADING__SIGNAL_BRIDGE__HTTP__PORT: String(port),
    TRADING__SIGNAL_BRIDGE__PUBLISH: `bind:tcp://127.0.0.1:${freePort()}`,
  });
  try {
    const base = `http://127.0.0.1:${port}`;
    await waitFor(
      "health",
      async () => (await fetch(`${base}/health`).then((r) => r.text())).includes("ok"),
      {
        timeoutMs: 15_000,
      },
    );
    const metrics = await fetch(`${base}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(await metrics.text(), /signal_bridge_signals_generated_total/);
    const ready = await fetch(`${base}/ready`);
    await ready.body?.cancel();
    assert.ok([200, 503].includes(ready.status));
  } finally {
    const s = await p.stop();
    assert.equal(s.code, 0, p.stderr);
  }
});

// ---------------------------------------------------------------------------
// Hostile bodies: the answers a stranger gets

/** An app with a JSON write route like the admin API's, served on a free port. */
function jsonApp() {
  const m = createServiceMetrics("risk-manager", { defaultMetrics: false });
  const a = createServiceApp({
    service: "risk-manager",
    registry: m.registry,
    routes: (h: Hono) =>
      h.put(
        "/admin/state",
        validator("json", (v) => v),
        (c) => c.json({ got: c.req.valid("json") }),
      ),
  });
  const server = serve(a, { host: "127.0.0.1", port: 0 });
  return { server, url: `http://127.0.0.1:${server.port}`, m };
}

async function curl(args: string[]): Promise<{ status: number; body: string }> {
  const out = await new Deno.Command("curl", {
    args: ["-s", "-o", "-", "-w", "\n%{http_code}", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const nl = text.lastIndexOf("\n");
  return { status: Number(text.slice(nl + 1)), body: text.slice(0, nl) };
}

Deno.test("curl: a body over the limit is refused with 413 on any route, declared or chunked", async () => {
  const { server, url, m } = jsonApp();
  const dir = await Deno.makeTempDir();
  try {
    const big = `${dir}/big.json`;
    Deno.writeTextFileSync(big, JSON.stringify({ pad: "x".repeat(MAX_BODY_BYTES) }));
    const declared = await curl(["-X", "PUT", "--data-binary", `@${big}`, `${url}/admin/state`]);
    assert.equal(declared.status, 413);
    assert.equal(JSON.parse(declared.body).error, "payload_too_large");
    const chunked = await curl([
      "-X",
      "PUT",
      "-H",
      "Transfer-Encoding: chunked",
      "--data-binary",
      `@${big}`,
      `${url}/admin/state`,
    ]);
    assert.equal(chunked.status, 413);
    const onMetrics = await curl(["-X", "POST", "--data-binary", `@${big}`, `${url}/metrics`]);
    assert.equal(onMetrics.status, 413);
    const fine = await curl([
      "-X",
      "PUT",
      "-H",
      "Content-Type: application/json",
      "--data",
      '{"a":1}',
      `${url}/admin/state`,
    ]);
    assert.equal(fine.status, 200);
    assert.deepEqual(JSON.parse(fine.body), { got: { a: 1 } });
  } finally {
    await server.shutdown();
    m.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a body cut short by a half-closed connection, or malformed JSON, is a 400, never a 500", async () => {
  const { server, url, m } = jsonApp();
  try {
    for (const declared of [100, 10_000]) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      const head = `PUT /admin/state HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${declared}\r\n\r\n{"state":`;
      await conn.write(new TextEncoder().encode(head));
      await conn.closeWrite(); // half-closed: the rest of the body never comes
      const buf = new Uint8Array(4096);
      let text = "";
      for (let n; (n = await conn.read(buf)) !== null;) {
        text += new TextDecoder().decode(buf.subarray(0, n));
      }
      conn.close();
      const status = Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1]);
      assert.equal(status, 400, `declared ${declared}: got ${text.slice(0, 80)}`);
      assert.match(text, /"error":"bad_request"/);
    }
    const bad = await curl([
      "-X",
      "PUT",
      "-H",
      "Content-Type: application/json",
      "--data",
      "{not json",
      `${url}/admin/state`,
    ]);
    assert.equal(bad.status, 400);
    assert.equal(JSON.parse(bad.body).error, "bad_request");
  } finally {
    await server.shutdown();
    m.stop();
  }
});
