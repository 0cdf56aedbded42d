/**
 * The root app: request ids, client address, tenant from Host, health endpoints, the SCIM
 * sub-app at `/scim/v2/inbound/:idp`, the admin console at `/admin`, the SAML service provider
 * at `/saml/:idp`, and the people's pages (`/login`, `/me`, `/logout`).
 * @module
 */
import { type Context, Hono } from "hono";
import { secureHeaders } from "hono/secure-headers";
import type { AppDeps, BaseEnv } from "../lib/http/env.ts";
import { resolveTenant } from "../lib/http/tenant.ts";
import { createScimApp, scimOnError } from "./scim/mod.ts";
import { scimErrorResponse } from "../lib/http/scim.ts";
import { ScimError } from "../lib/scim/errors.ts";
import { ADMIN_SECURE_HEADERS, consoleErrorPage, createAdminApp } from "./admin/mod.tsx";
import { guardHeaders } from "../lib/http/guard_headers.ts";
import { assets } from "./assets.ts";
import { storeIsWritable } from "../lib/store/kv.ts";
import {
  type BodyLimit,
  formatBytes,
  limitBodies,
  type Surface,
  surfaceOf,
} from "../lib/http/limits.ts";
import { requestTargetProblem, TARGET_PROBLEM_DETAIL } from "../lib/http/request_target.ts";
import { isHostHeader } from "../lib/http/tenant.ts";
import { createSamlApp } from "./saml/mod.ts";
import { createPersonApp } from "./person/mod.tsx";
import { messagePage } from "./person/_page.tsx";

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

/** Information Deno.serve passes to the handler. */
type ServeInfo = { remoteAddr?: { hostname?: string } } | undefined;

/** A refusal made before any handler runs, in the format the surface's clients read. */
function refuse(
  c: Context<BaseEnv>,
  surface: Surface,
  status: 400 | 413 | 414,
  detail: string,
): Response {
  switch (surface) {
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

/** The `413` of each surface. */
function refuseLarge(c: Context<BaseEnv>, limit: BodyLimit): Response {
  return refuse(
    c,
    limit.surface,
    413,
    `The request body is larger than ${formatBytes(limit.maxBytes)}`,
  );
}

/** Builds the whole HTTP app over its dependencies. */
export function createApp(deps: AppDeps): Hono<BaseEnv> {
  const app = new Hono<BaseEnv>({
    getPath: (req) => {
      const url = req.url;
      const start = url.indexOf("/", url.indexOf("://") + 3);
      const end = url.indexOf("?", start);
      return normalizePath(url.slice(start, end < 0 ? undefined : end));
    },
  });
  const defaultHeaders = secureHeaders();
  const adminHeaders = secureHeaders(ADMIN_SECURE_HEADERS);
  app.use("*", guardHeaders(deps.log));
  app.use("*", async function checkRequestTarget(c, next) {
    const problem = requestTargetProblem(c.req.url);
    if (!problem) return await next();
    const status = problem === "too_long" ? 414 : 400;
    return refuse(c, surfaceOf(c.req.path), status, TARGET_PROBLEM_DETAIL[problem]);
  });
  app.use("*", async function securityHeaders(c, next) {
    if (!hasPages(c.req.path)) return await defaultHeaders(c, next);
    await adminHeaders(c, next);
    // Console and people's pages and the console's JSON show directory data or sessions: no
    // cache keeps a copy.
    c.header("cache-control", "no-store");
  });
  app.use("*", async (c, next) => {
    const requestId = c.req.header("x-request-id")?.slice(0, 64).replace(/[^\w.-]/g, "") ||
      crypto.randomUUID();
    c.set("deps", deps);
    c.set("requestId", requestId);
    const forwarded = deps.config.trustProxy
      // The last entry is the one the trusted proxy appended; earlier ones are client-supplied.
      ? c.req.header("x-forwarded-for")?.split(",").at(-1)?.trim()
      : undefined;
    const info = c.env as ServeInfo;
    c.set("clientIp", forwarded || info?.remoteAddr?.hostname || "unknown");
    // The request URL is parsed only when no Host header names the host (HTTP/1.1 always does).
    const host = (deps.config.trustProxy && c.req.header("x-forwarded-host")) ||
      c.req.header("host") || new URL(c.req.url).host;
    // The host becomes part of URLs in bodies and headers (Location, meta.location): only a
    // host name or address with an optional port is taken.
    if (!isHostHeader(host)) {
      return refuse(c, surfaceOf(c.req.path), 400, "The Host header does not name a host");
    }
    const forwardedProto = deps.config.trustProxy ? c.req.header("x-forwarded-proto") : undefined;
    const proto = forwardedProto === "https" || forwardedProto === "http"
      ? forwardedProto
      : (c.req.url.startsWith("https:") ? "https" : "http");
    c.set("origin", `${proto}://${host}`);
    c.set("tenant", await resolveTenant(deps.kv, deps.config, host));
    const started = performance.now();
    await next();
    c.header("x-request-id", requestId);
    deps.log.log("info", "request", {
      requestId,
      method: c.req.method,
      // The matched route pattern, not the path: ids in paths and query strings (filter
      // values) can carry PII such as e-mail addresses.
      route: c.req.routePath,
      status: c.res.status,
      ms: Math.round(performance.now() - started),
      tenant: c.get("tenant")?.id,
    });
  });
  app.onError((error, c) => scimOnError(error, c));

  app.get("/healthz", (c) => c.json({ ok: true }));
  // Ready means writable: a read-only or full store answers reads but loses every change.
  app.get("/readyz", async (c) => {
    if (await storeIsWritable(deps.kv)) return c.json({ ok: true });
    return c.json({ ok: false, detail: "The directory store cannot be written" }, 503);
  });

  app.use("*", limitBodies({ scimMaxBytes: deps.config.maxBodyBytes }, refuseLarge));

  app.route("/scim/v2/inbound/:idp", createScimApp());
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
