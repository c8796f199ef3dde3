/**
 * signal-bridge's admin API, read-only (it shows what /metrics shows, so it is open
 * like /metrics):
 *
 * | route | answer |
 * | --- | --- |
 * | `GET /admin/model` | the model in use: `kind`, `name`, `version`, `features` |
 * | `GET /admin/features` | every symbol's current features, price updates, last action and last signal time |
 * | `GET /admin/stats` | the handlers' counts (received, signals, suppressed, ignored, errors) |
 * @module
 */
import { Hono } from "hono";
import type { SignalBridgeCore } from "./core.ts";
import type { SignalBridgeStats } from "./handlers.ts";

/** Options of {@link createSignalBridgeAdminApi}. */
export interface SignalBridgeAdminApiOptions {
  /** The core whose model and features are shown. */
  readonly core: Pick<SignalBridgeCore, "model" | "snapshot">;
  /** The handlers' counts, read on each request. */
  readonly stats: () => Readonly<SignalBridgeStats>;
}

/**
 * Builds the admin routes (they include the `/admin` prefix; lib/service.ts mounts
 * them). Opens no port: test it with `app.request()`.
 */
export function createSignalBridgeAdminApi(options: SignalBridgeAdminApiOptions): Hono {
  const { core, stats } = options;
  const app = new Hono();
  app.get("/admin/model", (c) =>
    c.json({
      kind: core.model.kind,
      name: core.model.name,
      version: core.model.version,
      features: core.model.features,
    }));
  app.get("/admin/features", (c) => c.json(core.snapshot()));
  app.get("/admin/stats", (c) => c.json(stats()));
  return app;
}
