/**
 * The admin console, a Hono sub-app mounted at `/admin` (architecture §8): strict security
 * headers and a CSP without inline script on every response, the session read from its signed
 * cookie, CSRF refusal of cross-origin or token-less state changes, role guards, HTML error
 * pages, static assets, and the console's pages and JSON endpoints.
 * @module
 */
import { Hono } from "hono";
import { getCookie } from "hono/cookie";
import type { Context, Next } from "hono";
import { readSession, sessionCookieName } from "../../lib/auth/sessions.ts";
import { InvalidCursorError } from "../../lib/store/kv.ts";
import { FORM_TYPE, hasNonFormBody } from "../../lib/http/form.ts";
import { type AdminEnv, HttpError, page, readForm } from "./_shared.tsx";
import { assets } from "../assets.ts";
import { auth } from "./auth.tsx";
import { dashboard } from "./dashboard.tsx";
import { idps } from "./idps.tsx";
import { idpSaml } from "./idp_saml.tsx";
import { users } from "./users.tsx";
import { groups } from "./groups.tsx";
import { mirroring } from "./mirroring.tsx";
import { events } from "./events.tsx";
import { admins } from "./admins.tsx";
import { api } from "./api.ts";

/**
 * The console's security headers, applied by the root app to `/admin` paths in place of its
 * defaults: a CSP that allows only Weft's own files (no inline script or style, no framing),
 * and `Referrer-Policy: same-origin`, since `no-referrer` makes browsers send `Origin: null` on
 * form posts, which the CSRF check would refuse.
 */
export const ADMIN_SECURE_HEADERS = {
  contentSecurityPolicy: {
    defaultSrc: ["'none'"],
    scriptSrc: ["'self'"],
    styleSrc: ["'self'"],
    imgSrc: ["'self'", "data:"],
    fontSrc: ["'self'"],
    connectSrc: ["'self'"],
    formAction: ["'self'"],
    frameAncestors: ["'none'"],
    baseUri: ["'none'"],
  },
  referrerPolicy: "same-origin",
  xFrameOptions: "DENY",
  crossOriginOpenerPolicy: "same-origin",
  permissionsPolicy: { camera: [], microphone: [], geolocation: [], payment: [] },
};

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Paths that work without a session. */
const PUBLIC = /^\/admin\/(signin|setup\/[^/]+|assets\/[^/]+)$/;

function isSecure(c: Context<AdminEnv>): boolean {
  return c.get("origin").startsWith("https:");
}

function timingSafeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** Whether a state-changing request comes from this console's own origin. */
function sameOrigin(c: Context<AdminEnv>): boolean {
  const origin = c.req.header("origin");
  if (origin) return origin === c.get("origin");
  // Browsers send Origin on every POST; without it, accept only a same-origin fetch.
  return c.req.header("sec-fetch-site") === "same-origin";
}

const JSON_TYPE = /^application\/json\s*(;|$)/i;

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

/** Builds the console sub-app. */
export function createAdminApp(): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();

  app.onError((error, c) => {
    if (error instanceof InvalidCursorError) error = new HttpError(400, error.message);
    if (error instanceof HttpError) {
      const wantsJson = c.req.path.startsWith("/admin/api/");
      if (wantsJson) return c.json({ error: error.message }, error.status);
      return page(c, { title: titleOf(error.status), status: error.status }, errorBody(error));
    }
    const deps = c.get("deps");
    deps.log.log("error", "admin handler failed", {
      requestId: c.get("requestId"),
      error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    });
    return page(
      c,
      { title: "Something went wrong", status: 500 },
      errorBody(new HttpError(500, `Internal error (request ${c.get("requestId")})`)),
    );
  });

  app.route("/assets", assets);

  // Tenant, session and CSRF.
  app.use("*", async (c: Context<AdminEnv>, next: Next) => {
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
    if (!SAFE_METHODS.has(c.req.method)) {
      if (!sameOrigin(c)) {
        throw new HttpError(403, "Request refused: it did not come from this console's origin");
      }
      if (found && !timingSafeEqual(await csrfTokenOf(c), found.session.csrf)) {
        throw new HttpError(403, "Request refused: the form's security token is missing or stale");
      }
      await assertBodyType(c);
    }
    if (!found && !PUBLIC.test(c.req.path)) {
      if (c.req.path.startsWith("/admin/api/")) {
        return c.json({ error: "Your session has ended: sign in again" }, 401);
      }
      if (!SAFE_METHODS.has(c.req.method)) {
        throw new HttpError(403, "Your session has ended: sign in again");
      }
      const next = new URL(c.req.url);
      return c.redirect(`/admin/signin?next=${encodeURIComponent(next.pathname + next.search)}`);
    }
    await next();
  });

  app.route("/", auth);
  app.route("/", dashboard);
  app.route("/idps", idpSaml);
  app.route("/idps", idps);
  app.route("/users", users);
  app.route("/groups", groups);
  app.route("/settings/mirroring", mirroring);
  app.route("/events", events);
  app.route("/admins", admins);
  app.route("/api", api);
  app.all("*", () => {
    throw new HttpError(404, "There is no console page here");
  });
  return app;
}

/** An HTML error page in the console's layout (also for refusals made before the console runs). */
export function consoleErrorPage(
  c: Context,
  status: HttpError["status"],
  message: string,
): Response {
  return page(
    c as Context<AdminEnv>,
    { title: titleOf(status), status },
    errorBody(new HttpError(status, message)),
  );
}

function titleOf(status: number): string {
  return status === 404
    ? "Not found"
    : status === 403
    ? "Not allowed"
    : status === 429
    ? "Too many attempts"
    : status === 413
    ? "Too large"
    : status === 415
    ? "Cannot read that"
    : status >= 500
    ? "Something went wrong"
    : "Cannot do that";
}

function errorBody(error: HttpError) {
  return (
    <div class="notice bad" role="alert">
      <p>{error.message}</p>
      <p>
        <a href="/admin">Back to the dashboard</a>
      </p>
    </div>
  );
}
