/**
 * The root app: request ids, client address, tenant from Host, health endpoints, the SCIM
 * sub-app at `/scim/v2/inbound/:idp`, the admin console at `/admin`, the SAML service provider
 * at `/saml/:idp`, and the people's pages (`/login`, `/me`, `/logout`).
 * @module
 */
import { type Context, Hono } from "hono";
import type { AppDeps, BaseEnv } from "../lib/http/env.ts";
import { createScimApp } from "./scim/mod.ts";
import { scimOnError } from "../lib/http/scim_errors.ts";
import { scimErrorResponse } from "../lib/http/scim.ts";
import { ScimError } from "../lib/scim/errors.ts";
import { ADMIN_SECURE_HEADERS, consoleErrorPage, createAdminApp } from "./admin/mod.tsx";
import { guardHeaders } from "../lib/http/guard_headers.ts";
import { assets } from "./assets.ts";
import { storeIsWritable } from "../lib/store/kv.ts";
import { limitBodies, surfaceOf } from "../lib/http/limits.ts";
import { checkRequestTarget } from "../lib/http/request_target.ts";
import { securityHeaders } from "../lib/http/page_headers.ts";
import { accessLog } from "../lib/http/access_log.ts";
import { requestContext } from "../lib/http/request_context.ts";
import { createSamlApp } from "./saml/mod.ts";
import { createPersonApp } from "./person/mod.tsx";
import { messagePage } from "./person/_page.tsx";
import { holdWrites } from "../lib/http/hold_writes.ts";
import { countRequests, metricsEndpoint } from "../lib/http/metrics.ts";
import { traceRoutes } from "../lib/http/telemetry.ts";
import { OPEN_GATE } from "../lib/instance/write_gate.ts";
import { configureFeed } from "../lib/store/feed_notes.ts";

const SCIM_SEGMENTS = new Map(
  ["Users", "Groups", "ServiceProviderConfig", "ResourceTypes", "Schemas", ".search"].map((
    s,
  ) => [s.toLowerCase(), s]),
);
const SCIM_PREFIX = /^\/scim\/v2\/inbound\/([^/]+)(\/.*)?$/i;

/**
 * The path the router sees: doubled slashes collapsed, a trailing slash dropped, and SCIM
 * resource names matched case-insensitively (`/users` → `/Users`; idp-behaviour P1, P5).
 */
export function normalizePath(pathname: string): string {
  let p = pathname.replace(/\/{2,}/g, "/");
  if (p.length > 1 && p.endsWith("/")) p = p.slice(0, -1);
  const m = SCIM_PREFIX.exec(p);
  if (!m) return p;
  const rest = (m[2] ?? "").split("/").map((seg, i) =>
    i === 1
      ? SCIM_SEGMENTS.get(seg.toLowerCase()) ?? seg
      : i === 2 && seg.toLowerCase() === ".search"
      ? ".search"
      : seg
  );
  return `/scim/v2/inbound/${m[1]}${rest.join("/")}`;
}

/** Paths of HTML pages, which get the console's strict CSP and headers. */
function hasPages(path: string): boolean {
  return path === "/admin" || path.startsWith("/admin/") || path.startsWith("/saml/") ||
    path === "/login" || path === "/me" || path === "/logout";
}

/** A refusal made before any handler runs, in the format the surface's clients read. */
function refuse(c: Context, status: 400 | 413 | 414, detail: string): Response {
  switch (surfaceOf(c.req.path)) {
    case "scim":
      return scimErrorResponse(
        status === 400
          ? ScimError.invalidValue(detail)
          : new ScimError(status, detail, status === 413 ? { scimType: "tooMany" } : {}),
      );
    case "console-api":
      return c.json({ error: detail }, status);
    case "console":
    case "console-sign-in":
    case "console-upload":
      return consoleErrorPage(c, status, `${detail}: nothing was read or changed.`);
    case "saml-acs":
    case "person":
      return messagePage(
        c,
        status,
        status === 413 ? "The request is too large" : "The request cannot be read",
        `${detail}: nothing was read or changed.`,
      );
    default:
      return c.json({ ok: false, detail }, status);
  }
}

/** A request the store cannot take now (writes paused), in the surface's format. */
function unavailable(c: Context, detail: string, retryAfterSeconds: number): Response {
  const retry = { "retry-after": String(retryAfterSeconds) };
  let res: Response;
  switch (surfaceOf(c.req.path)) {
    case "scim":
      return scimErrorResponse(new ScimError(503, detail, { headers: retry }));
    case "console":
    case "console-sign-in":
    case "console-upload":
    case "saml-acs":
    case "person":
      res = messagePage(c, 503, "Please retry shortly", `${detail}: nothing was changed.`);
      break;
    default:
      res = c.json({ ok: false, detail }, 503);
  }
  res.headers.set("retry-after", retry["retry-after"]);
  return res;
}

/** Builds the whole HTTP app over its dependencies. */
export function createApp(deps: AppDeps): Hono<BaseEnv> {
  configureFeed(deps.kv, {
    enabled: deps.config.eventsFeed,
    retentionDays: deps.config.eventRetentionDays,
  });
  const app = new Hono<BaseEnv>({
    getPath: (req) => {
      const url = req.url;
      const start = url.indexOf("/", url.indexOf("://") + 3);
      const end = url.indexOf("?", start);
      return normalizePath(url.slice(start, end < 0 ? undefined : end));
    },
  });
  app.use("*", guardHeaders(deps.log));
  app.use("*", checkRequestTarget(refuse));
  app.use("*", securityHeaders({ isPage: hasPages, pages: ADMIN_SECURE_HEADERS }));
  app.use("*", accessLog(deps.log));
  app.use("*", countRequests());
  app.use("*", traceRoutes());
  app.use("*", requestContext(deps, refuse));
  app.onError((error, c) => scimOnError(error, c));

  app.get("/healthz", (c) => c.json({ ok: true }));
  // Ready means writable: a read-only or full store answers reads but loses every change.
  app.get("/readyz", async (c) => {
    if (await storeIsWritable(deps.kv)) return c.json({ ok: true });
    return c.json({ ok: false, detail: "The directory store cannot be written" }, 503);
  });

  app.get("/metrics", metricsEndpoint);

  app.use("*", limitBodies({ scimMaxBytes: deps.config.maxBodyBytes }, refuse));
  app.use("*", holdWrites(deps.gate ?? OPEN_GATE, unavailable));

  app.route("/scim/v2/inbound/:idp", createScimApp(deps.config.requestLogDays));
  app.all(
    "/scim/*",
    () =>
      scimErrorResponse(
        ScimError.notFound(
          "SCIM endpoints live at /scim/v2/inbound/<idp-id>/: copy the base URL from the IdP's SCIM Provisioning tab",
        ),
      ),
  );
  app.route("/assets", assets);
  app.route("/admin", createAdminApp());
  app.route("/saml", createSamlApp());
  app.route("/", createPersonApp());
  app.get("/", (c) => c.redirect("/admin"));
  app.notFound((c) => c.text("Not found", 404));
  return app;
}
