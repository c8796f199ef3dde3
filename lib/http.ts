/**
 * The HTTP face of every service: a hono app with `GET /metrics` (the service's own registry,
 * as OpenMetrics to a client that asks for it and as Prometheus text to the others), `GET /health` (liveness) and `GET /ready`
 * (readiness from the service's own checks), plus any routes the service mounts
 * (risk-manager's admin API). {@link serve} binds it and turns "address in use"
 * into a clear start-up error.
 *
 * @example
 * ```ts
 * const app = createServiceApp({ service: "market-data", metrics, ready: () => ({ feed: true }) });
 * const server = await serve(app, { host: "127.0.0.1", port: 9090 });
 * ```
 * @module
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import type { Counter, Registry } from "prom-client";
import { exposition } from "./exposition.ts";
import { getLogger } from "./log.ts";

/** Readiness checks: each named check is true when that part of the service is ready. */
export type ReadyChecks = () => Record<string, boolean>;

/** Options of {@link createServiceApp}. */
export interface ServiceAppOptions {
  service: string;
  registry: Registry;
  /** `http_requests_total{service,route,method,status_code}`, if the service has it. */
  requests?: Counter<"service" | "route" | "method" | "status_code">;
  ready?: ReadyChecks;
  /** Mounts extra routes (e.g. the admin API) before the fallback. */
  routes?: (app: Hono) => void;
}

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]);

/** The largest request body any route accepts, in bytes (the admin API's JSON is tiny). */
export const MAX_BODY_BYTES = 16 * 1024;

/** Builds the hono app of a service. It opens no port: test it with `app.request()`. */
export function createServiceApp(options: ServiceAppOptions): Hono {
  const app = new Hono();
  const startedAt = Date.now();
  if (options.requests) {
    const requests = options.requests;
    app.use("*", async (c, next) => {
      await next();
      // routePath is the matched pattern ("/admin/positions/:symbol"), never the raw URL.
      const route = c.res.status === 404 ? "unmatched" : c.req.routePath;
      const method = METHODS.has(c.req.method) ? c.req.method : "unknown";
      requests.inc({
        service: options.service,
        route,
        method,
        status_code: String(c.res.status),
      });
    });
  }
  // Every route: a body over the limit is refused before it is read (413, not a 500 or
  // a process holding megabytes for a stranger).
  app.use(
    "*",
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) =>
        c.json(
          { error: "payload_too_large", message: `the body is over ${MAX_BODY_BYTES} bytes` },
          413,
        ),
    }),
  );
  app.get("/metrics", async (c) => {
    // OpenMetrics (with exemplars) to Prometheus, which asks for it; the Prometheus text to
    // everyone else (lib/exposition.ts).
    const { body, contentType } = await exposition(options.registry, c.req.header("accept"));
    return c.body(body, 200, { "Content-Type": contentType, Vary: "Accept" });
  });
  app.get("/health", (c) =>
    c.json({
      status: "ok",
      service: options.service,
      uptime_s: Math.round((Date.now() - startedAt) / 1000),
    }));
  app.get("/ready", (c) => {
    const checks = options.ready?.() ?? {};
    const ready = Object.values(checks).every(Boolean);
    return c.json({ ready, service: options.service, checks }, ready ? 200 : 503);
  });
  options.routes?.(app);
  app.notFound((c) => c.json({ error: "not_found" }, 404));
  app.onError((err, c) => {
    if (err instanceof HTTPException && err.status < 500) {
      // A refusal of the request (a body that cannot be read, malformed JSON): the
      // client's error, answered as such.
      return c.json({ error: "bad_request", message: err.message || "bad request" }, err.status);
    }
    getLogger(["trading", "http"]).error("Request failed", {
      route: c.req.routePath,
      error: err,
    });
    return c.json({ error: "internal_error" }, 500);
  });
  return app;
}

/** A running server. */
export interface RunningServer {
  /** The bound port (useful when asked for port 0). */
  readonly port: number;
  readonly host: string;
  shutdown(): Promise<void>;
}

/** Thrown by {@link serve} when the port cannot be bound. */
export class ServeError extends Error {
  override name = "ServeError";
}

/**
 * Serves `app` on `host:port`. Throws {@link ServeError} naming the address when
 * the port is already in use or cannot be bound.
 */
export function serve(
  app: Hono,
  address: { host: string; port: number; service?: string },
): RunningServer {
  let server: Deno.HttpServer;
  try {
    server = Deno.serve(
      { hostname: address.host, port: address.port, onListen: () => {} },
      app.fetch,
    );
  } catch (e) {
    const what = address.service ? `${address.service} metrics server` : "HTTP server";
    if (e instanceof Deno.errors.AddrInUse) {
      throw new ServeError(
        `Cannot start ${what}: ${address.host}:${address.port} is already in use (another process holds it; set a different port in config)`,
      );
    }
    throw new ServeError(
      `Cannot start ${what} on ${address.host}:${address.port}: ${(e as Error).message}`,
    );
  }
  const addr = server.addr as Deno.NetAddr;
  return {
    port: addr.port,
    host: addr.hostname,
    shutdown: () => server.shutdown(),
  };
}
