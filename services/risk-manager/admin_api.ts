/**
 * The admin HTTP API, served by the harness under `/admin/*` on the metrics port.
 *
 * Reads (`GET /admin/state`, `/admin/positions` with the last reconciliation of positions
 * with the venue, `/admin/markets` (each symbol's session, halt and LULD band as the checks
 * see them), `/admin/limits`, `/admin/orders`, `/admin/orders/:id`) need no token: they
 * show what `/metrics` and the logs already show. Writes (`POST /admin/breaker/trip`, `POST /admin/breaker/reset`,
 * `PUT /admin/state`, `POST /admin/orders/:id/close`) need `Authorization: Bearer <token>`
 * where the token is `RISK_ADMIN_TOKEN` (hono's `bearerAuth`, compared in constant time);
 * without one configured they answer 403, with a missing or wrong one 401. Bodies are
 * checked by hono's `validator` with zod schemas: 400 for a bad one. Every change, and
 * every refused write, is an audit log event (`trading.audit`).
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import { HTTPException } from "hono/http-exception";
import { validator } from "hono/validator";
import { z } from "zod";
import { getLogger } from "../../lib/log.ts";
import { TRADING_STATES } from "../../lib/types.ts";
import type { RiskManagerCore } from "./core.ts";
import { isStateError, type TradingStateChange } from "./trading_state.ts";

/** What the admin API needs. */
export interface RiskManagerAdminApiOptions {
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
const CloseBody = z.strictObject({ reason: text, actor: actor.optional() });
const StateBody = z.strictObject({
  state: z.enum(TRADING_STATES),
  reason: text,
  actor: actor.optional(),
});

/** The challenge of every 401. */
const CHALLENGE = 'Bearer realm="risk-manager"';
/** What a bearer token may hold (RFC 6750's token68, as hono's bearerAuth reads it). */
const BEARER_TOKEN = /^[A-Za-z0-9._~+/-]+=*$/;

const digest = (s: string) => createHash("sha256").update(s).digest();

/** True when `given` equals `expected`, in time independent of where they differ. */
export function tokenMatches(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * True when `token` can be sent as a bearer token (RFC 6750: letters, digits,
 * `-._~+/`, then `=` padding). The admin API refuses any other, so such a
 * `RISK_ADMIN_TOKEN` can never authorise a write.
 */
export function isBearerToken(token: string): boolean {
  return BEARER_TOKEN.test(token);
}

/** `METHOD /path` of a request, for the audit log. */
const routeOf = (c: Context) => `${c.req.method} ${new URL(c.req.url).pathname}`;

const badRequest = (c: Context, message: string) => c.json({ error: "bad_request", message }, 400);

/**
 * hono's validator for a write's JSON body, checked by `schema`; a bad body is a 400
 * `bad_request` naming the first bad field. hono's `json` target parses only a body
 * declared as JSON (a malformed one is answered in `onError`), but this API has always
 * read the body as JSON whatever its declared type (`curl -d` declares form-urlencoded,
 * a fetch of a string text/plain), so the check reads the text, cached by hono if it
 * parsed it; an empty undeclared body is `{}`.
 */
function jsonBody<T>(schema: z.ZodType<T>) {
  return validator("json", async (_declaredJson, c): Promise<T | Response> => {
    const body = await c.req.text();
    let raw: unknown = {};
    if (body.trim().length > 0) {
      try {
        raw = JSON.parse(body);
      } catch {
        return badRequest(c, "the body is not valid JSON");
      }
    }
    const result = schema.safeParse(raw);
    if (result.success) return result.data;
    const issue = result.error.issues[0];
    return badRequest(c, `"${issue.path.join(".") || "body"}": ${issue.message}`);
  });
}

/**
 * Builds the admin app (routes include the `/admin` prefix). Test it with `app.request()`.
 *
 * @example
 * ```ts
 * const admin = createRiskManagerAdminApi({ core, token: secrets.riskAdminToken, settings: config.riskManager });
 * ```
 */
export function createRiskManagerAdminApi(options: RiskManagerAdminApiOptions): Hono {
  const { core } = options;
  const now = options.now ?? Date.now;
  const audit = getLogger(["trading", "audit"]);
  const app = new Hono();
  const expected = options.token;

  /** A refused token: audited, then hono's bearerAuth answers 401 with {@link CHALLENGE}. */
  const refused = (result: "missing_token" | "wrong_token") => ({
    wwwAuthenticateHeader: CHALLENGE,
    message: (c: Context) => {
      audit.warning("Admin write refused: bad token", { route: routeOf(c), result });
      return c.json({ error: "unauthorized", message: "a valid bearer token is required" }, 401);
    },
  });
  const writesDisabled: MiddlewareHandler = (c) => {
    audit.warning("Admin write refused: writes are disabled", {
      route: routeOf(c),
      result: "disabled",
    });
    return Promise.resolve(
      c.json({ error: "admin_writes_disabled", message: "admin writes disabled" }, 403),
    );
  };
  const requireToken: MiddlewareHandler = expected
    ? bearerAuth({
      verifyToken: (token) => tokenMatches(token, expected),
      noAuthenticationHeader: refused("missing_token"),
      // A header that is not `Bearer <token>` is a missing token too, and a 401 (hono: 400).
      invalidAuthenticationHeader: refused("missing_token"),
      invalidToken: refused("wrong_token"),
    })
    : writesDisabled;

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
      // When it was compared, what differed, the policy and what it did (null before the first).
      reconciliation: core.lastReconciliation,
    }));
  app.get("/admin/markets", (c) => c.json({ markets: core.markets(now()) }));
  app.get("/admin/limits", (c) => c.json({ symbols: [...core.symbols], ...options.settings }));

  app.get("/admin/orders", (c) => c.json({ open: core.openOrders() }));
  app.get("/admin/orders/:id", (c) => {
    const order = core.order(c.req.param("id"));
    return order ? c.json(order) : c.json({ error: "not_found" }, 404);
  });
  // Resolves an open order by hand (one the engine never received, say): its slot and
  // exposure are released; fills reported for it later are still booked.
  app.post("/admin/orders/:id/close", requireToken, jsonBody(CloseBody), (c) => {
    const body = c.req.valid("json");
    const who = `admin:${body.actor ?? "api"}`;
    const id = c.req.param("id");
    const { outcome, order } = core.closeOrder(id, now());
    audit.info("Admin change", {
      action: "close_order",
      actor: who,
      reason: body.reason,
      clientOrderId: id,
      changed: outcome === "closed",
      outcome,
    });
    if (outcome === "not_found") return c.json({ error: "not_found" }, 404);
    if (outcome === "not_open") {
      return c.json({ error: "not_open", message: "the order is already closed", order }, 409);
    }
    return c.json({ changed: true, order });
  });

  app.post("/admin/breaker/trip", requireToken, jsonBody(BreakerBody), (c) => {
    const body = c.req.valid("json");
    const who = `admin:${body.actor ?? "api"}`;
    const reason = body.reason ?? "manual trip";
    return changed(c, "breaker_trip", who, reason, core.trip(reason, who, now()));
  });
  app.post("/admin/breaker/reset", requireToken, jsonBody(BreakerBody), (c) => {
    const body = c.req.valid("json");
    const who = `admin:${body.actor ?? "api"}`;
    const reason = body.reason ?? "manual reset";
    return changed(c, "breaker_reset", who, reason, core.reset(reason, who, now()));
  });
  app.put("/admin/state", requireToken, jsonBody(StateBody), (c) => {
    const body = c.req.valid("json");
    const who = `admin:${body.actor ?? "api"}`;
    const outcome = core.setState(body.state, body.reason, who, now());
    if (isStateError(outcome)) {
      audit.warning("Admin change refused", {
        action: "set_state",
        actor: who,
        reason: body.reason,
        to: body.state,
        code: outcome.code,
      });
      return c.json(
        { error: "breaker_tripped", code: outcome.code, message: outcome.message },
        409,
      );
    }
    return changed(c, "set_state", who, body.reason, outcome);
  });
  app.notFound((c) => c.json({ error: "not_found" }, 404));
  app.onError((error, c) => {
    // hono's validator answers a body declared as JSON that does not parse with a bare
    // 400; answer it like any bad body.
    if (error instanceof HTTPException && error.status === 400 && !error.res) {
      return badRequest(c, "the body is not valid JSON");
    }
    // What hono does by default: a bearerAuth refusal carries its response.
    if (error instanceof HTTPException) return error.getResponse();
    console.error(error);
    return c.text("Internal Server Error", 500);
  });
  return app;
}
