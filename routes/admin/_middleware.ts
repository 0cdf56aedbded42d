/**
 * The console's middleware, in the order the console applies them: {@linkcode consoleSession}
 * (the tenant, and the session its signed cookie names), {@linkcode csrfProtection} (state
 * changes only from the console's own origin, with the session's token, as a form or, on
 * `/admin/api/`, JSON) and {@linkcode requireSignIn} (everything but sign-in, setup and assets
 * needs a session).
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import { readSession, sessionCookieName } from "../../lib/auth/sessions.ts";
import { FORM_TYPE, hasNonFormBody } from "../../lib/http/form.ts";
import { fromSameOrigin, isSecure, timingSafeEqual } from "../../lib/http/request_checks.ts";
import { type AdminEnv, HttpError, readForm } from "./_shared.tsx";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Console paths that work without a session. */
const PUBLIC = /^\/admin\/(signin|setup\/[^/]+|assets\/[^/]+)$/;

const JSON_TYPE = /^application\/json\s*(;|$)/i;

/** Sets the session and admin of the request's cookie (null when none); 404 without a tenant. */
export function consoleSession(): MiddlewareHandler<AdminEnv> {
  return async function readConsoleSession(c, next) {
    c.set("session", null);
    c.set("admin", null);
    const tenant = c.get("tenant");
    if (!tenant) throw new HttpError(404, "No tenant is served at this host");
    const jwt = getCookie(c, sessionCookieName(isSecure(c)));
    const found = await readSession(c.get("deps").kv, tenant.id, jwt);
    if (found) {
      c.set("session", found.session);
      c.set("admin", found.admin);
    }
    await next();
  };
}

/**
 * The CSRF token a state-changing request carries: the `x-csrf-token` header, else the form's
 * `_csrf` field. A form is read (and so checked: UTF-8, well-formed) even when the header carries
 * the token.
 */
async function csrfTokenOf(c: Context<AdminEnv>): Promise<string> {
  const header = c.req.header("x-csrf-token") ?? "";
  if (!FORM_TYPE.test(c.req.header("content-type") ?? "")) return header;
  const value = (await readForm(c))["_csrf"];
  return header || (typeof value === "string" ? value : "");
}

/** Only forms, and JSON on `/admin/api/`, are taken as bodies; anything else is a `415`. */
async function assertBodyType(c: Context<AdminEnv>): Promise<void> {
  const type = c.req.header("content-type") ?? "";
  if (JSON_TYPE.test(type) && c.req.path.startsWith("/admin/api/")) return;
  if (!(await hasNonFormBody(c))) return;
  throw new HttpError(
    415,
    type === ""
      ? "A request body needs a content type"
      : "Send the form as application/x-www-form-urlencoded or multipart/form-data",
  );
}

/**
 * Refuses (403) a state-changing request from another origin, or one whose CSRF token is not the
 * session's; then refuses (415) a body that is not a form (JSON on `/admin/api/`).
 */
export function csrfProtection(): MiddlewareHandler<AdminEnv> {
  return async function checkCsrf(c, next) {
    if (!SAFE_METHODS.has(c.req.method)) {
      if (!fromSameOrigin(c)) {
        throw new HttpError(403, "Request refused: it did not come from this console's origin");
      }
      const session = c.get("session");
      if (session && !timingSafeEqual(await csrfTokenOf(c), session.csrf)) {
        throw new HttpError(403, "Request refused: the form's security token is missing or stale");
      }
      await assertBodyType(c);
    }
    await next();
  };
}

/**
 * Without a session, everything but sign-in, setup and assets is refused: a page redirects to
 * sign-in (keeping the path in `next`), a JSON call is a `401`, a state change a `403`.
 */
export function requireSignIn(): MiddlewareHandler<AdminEnv> {
  return async function checkSignedIn(c, next) {
    if (c.get("session") || PUBLIC.test(c.req.path)) return await next();
    if (c.req.path.startsWith("/admin/api/")) {
      return c.json({ error: "Your session has ended: sign in again" }, 401);
    }
    if (!SAFE_METHODS.has(c.req.method)) {
      throw new HttpError(403, "Your session has ended: sign in again");
    }
    const url = new URL(c.req.url);
    return c.redirect(`/admin/signin?next=${encodeURIComponent(url.pathname + url.search)}`);
  };
}
