/**
 * The admin console, a Hono sub-app mounted at `/admin` (architecture §8): strict security
 * headers and a CSP without inline script on every response, the session read from its signed
 * cookie, CSRF refusal of cross-origin or token-less state changes, role guards, HTML error
 * pages, static assets, and the console's pages and JSON endpoints.
 * @module
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { InvalidCursorError } from "../../lib/store/kv.ts";
import { type AdminEnv, HttpError, page } from "./_shared.tsx";
import { consoleSession, csrfProtection, requireSignIn } from "./_middleware.ts";
import { assets } from "../assets.ts";
import { auth } from "./auth.tsx";
import { dashboard } from "./dashboard.tsx";
import { idps } from "./idps.tsx";
import { idpSaml } from "./idp_saml.tsx";
import { idpManage } from "./idp_manage.tsx";
import { idpRequests } from "./idp_requests.tsx";
import { users } from "./users.tsx";
import { groups } from "./groups.tsx";
import { mirroring } from "./mirroring.tsx";
import { webhooks } from "./webhooks.tsx";
import { roles } from "./roles.tsx";
import { events } from "./events.tsx";
import { admins } from "./admins.tsx";
import { api } from "./api.ts";
import { apiKeys } from "./api_keys.tsx";
import { apiReference } from "./api_reference.tsx";

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

  app.use("*", consoleSession());
  app.use("*", csrfProtection());
  app.use("*", requireSignIn());

  app.route("/", auth);
  app.route("/", dashboard);
  app.route("/idps", idpSaml);
  app.route("/idps", idpManage);
  app.route("/idps", idpRequests);
  app.route("/idps", idps);
  app.route("/users", users);
  app.route("/groups", groups);
  app.route("/settings/mirroring", mirroring);
  app.route("/settings/webhooks", webhooks);
  app.route("/settings/roles", roles);
  app.route("/events", events);
  app.route("/admins", admins);
  app.route("/settings/api-keys", apiKeys);
  app.route("/api-reference", apiReference);
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
