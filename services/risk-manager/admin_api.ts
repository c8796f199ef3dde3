/**
 * The admin HTTP API, served by the harness under `/admin/*` on the metrics port.
 *
 * Reads (`GET /admin/state`, `/admin/positions`, `/admin/limits`) need no token: they
 * show what `/metrics` already shows. Writes (`POST /admin/breaker/trip`,
 * `POST /admin/breaker/reset`, `PUT /admin/state`) need `Authorization: Bearer <token>`
 * where the token is `RISK_ADMIN_TOKEN`; without one configured they answer 403, with a
 * missing or wrong one 401 (compared in constant time). Every change, and every refused
 * write, is an audit log event (`trading.audit`).
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { Hono } from "hono";
import type { Context, Next } from "hono";
import { z } from "zod";
import { getLogger } from "../../lib/log.ts";
import { TRADING_STATES } from "../../lib/types.ts";
import type { RiskManagerCore } from "./core.ts";
import type { TradingStateChange } from "./trading_state.ts";

/** What the admin API needs. */
export interface AdminOptions {
  readonly core: RiskManagerCore;
  /** `RISK_ADMIN_TOKEN`; writes are disabled without it. */
  readonly token?: string;
  /** Shown by `GET /admin/limits`. */
  readonly settings: Readonly<Record<string, unknown>>;
  /** Epoch ms; default `Date.now`. */
  readonly now?: () => number;
}

const text = z.string().trim().min(1).max(200);
const actor = z.string().trim().min(1).max(64).regex(/^[\w.@:-]+$/);
const BreakerBody = z.strictObject({ reason: text.optional(), actor: actor.optional() });
const StateBody = z.strictObject({
  state: z.enum(TRADING_STATES),
  reason: text,
  actor: actor.optional(),
});

const digest = (s: string) => createHash("sha256").update(s).digest();

/** True when `given` equals `expected`, in time independent of where they differ. */
export function tokenMatches(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * Builds the admin app (routes include the `/admin` prefix). Test it with `app.request()`.
 *
 * @example
 * ```ts
 * const admin = createRiskManagerAdminApi({ core, token: secrets.riskAdminToken, settings: config.riskManager });
 * ```
 */
export function createRiskManagerAdminApi(options: AdminOptions): Hono {
  const { core } = options;
  const now = options.now ?? Date.now;
  const audit = getLogger(["trading", "audit"]);
  const app = new Hono();
  const expected = options.token;

  const requireToken = async (c: Context, next: Next) => {
    const route = `${c.req.method} ${new URL(c.req.url).pathname}`;
    if (!expected) {
      audit.warning("Admin write refused: writes are disabled", { route, result: "disabled" });
      return c.json({ error: "admin_writes_disabled", message: "admin writes disabled" }, 403);
    }
    const header = c.req.header("authorization") ?? "";
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m || !tokenMatches(m[1], expected)) {
      audit.warning("Admin write refused: bad token", {
        route,
        result: m ? "wrong_token" : "missing_token",
      });
      c.header("WWW-Authenticate", 'Bearer realm="risk-manager"');
      return c.json({ error: "unauthorized", message: "a valid bearer token is required" }, 401);
    }
    await next();
  };

  const body = async <T>(c: Context, schema: z.ZodType<T>): Promise<T | Response> => {
    let raw: unknown = {};
    const t = await c.req.text();
    if (t.trim().length > 0) {
      try {
        raw = JSON.parse(t);
      } catch {
        return c.json({ error: "bad_request", message: "the body is not valid JSON" }, 400);
      }
    }
    const r = schema.safeParse(raw);
    if (!r.success) {
      const i = r.error.issues[0];
      return c.json({
        error: "bad_request",
        message: `"${i.path.join(".") || "body"}": ${i.message}`,
      }, 400);
    }
    return r.data;
  };

  const stateView = () => ({
    ...core.status,
    dailyPnl: core.dailyPnl(),
    dailyLossLimit: core.limits.dailyLossLimit,
    day: core.daily.day,
  });

  const changed = (
    c: Context,
    action: string,
    who: string,
    reason: string,
    change: TradingStateChange | null,
  ) => {
    audit.info("Admin change", {
      action,
      actor: who,
      reason,
      changed: change !== null,
      from: change?.event.previous ?? core.status.state,
      to: core.status.state,
      breakerTripped: core.status.breakerTripped,
    });
    return c.json({ changed: change !== null, ...stateView() });
  };

  app.get("/admin/state", (c) => c.json(stateView()));
  app.get("/admin/positions", (c) =>
    c.json({
      positions: core.positions(),
      exposure: core.exposure(),
      openOrders: core.openOrders().length,
      dailyPnl: core.dailyPnl(),
    }));
  app.get("/admin/limits", (c) => c.json({ symbols: [...core.symbols], ...options.settings }));

  app.post("/admin/breaker/trip", requireToken, async (c) => {
    const b = await body(c, BreakerBody);
    if (b instanceof Response) return b;
    const who = `admin:${b.actor ?? "api"}`;
    const reason = b.reason ?? "manual trip";
    return changed(c, "breaker_trip", who, reason, core.trip(reason, who, now()));
  });
  app.post("/admin/breaker/reset", requireToken, async (c) => {
    const b = await body(c, BreakerBody);
    if (b instanceof Response) return b;
    const who = `admin:${b.actor ?? "api"}`;
    const reason = b.reason ?? "manual reset";
    return changed(c, "breaker_reset", who, reason, core.reset(reason, who, now()));
  });
  app.put("/admin/state", requireToken, async (c) => {
    const b = await body(c, StateBody);
    if (b instanceof Response) return b;
    const who = `admin:${b.actor ?? "api"}`;
    const r = core.setState(b.state, b.reason, who, now());
    if (r !== null && "code" in r) {
      audit.warning("Admin change refused", {
        action: "set_state",
        actor: who,
        reason: b.reason,
        to: b.state,
        code: r.code,
      });
      return c.json({ error: "breaker_tripped", code: r.code, message: r.message }, 409);
    }
    return changed(c, "set_state", who, b.reason, r);
  });
  app.notFound((c) => c.json({ error: "not_found" }, 404));
  return app;
}
