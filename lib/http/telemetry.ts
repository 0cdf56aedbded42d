/**
 * Middleware that names the request's span (Deno's, from `deno serve`) for its route —
 * `POST /scim/v2/inbound/:idp/Users`, never the raw path — and gives it the route, the surface
 * and the tenant and IdP ids.
 *
 * Deno itself records the raw request target on that span (`url.full`, `url.path`, `url.query`)
 * before any handler runs, and in Deno 2.9 a later `setAttribute` of the same key adds a second
 * value rather than replacing it, so those three cannot be cleaned from here: paths and SCIM
 * filters can hold e-mail addresses, so the collector must drop them (README, "Telemetry").
 * Everything Weft adds is ids, kinds and patterns.
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { trace } from "@opentelemetry/api";
import type { BaseEnv } from "./env.ts";
import { surfaceOf } from "./limits.ts";

/** IdP ids are short URL-safe tokens; a path segment that is not one is not recorded. */
const ID = /^[A-Za-z0-9_-]{1,64}$/;

/** Middleware that names and annotates the active request span, when there is one. */
export function traceRoutes(): MiddlewareHandler<BaseEnv> {
  return async function nameRequestSpan(c, next) {
    try {
      await next();
    } finally {
      const span = trace.getActiveSpan();
      if (span?.isRecording()) {
        const route = c.req.routePath || "unmatched";
        span.updateName(`${c.req.method} ${route}`);
        span.setAttribute("http.route", route);
        span.setAttribute("weft.surface", surfaceOf(c.req.path));
        const tenant = c.get("tenant");
        if (tenant) span.setAttribute("weft.tenant.id", tenant.id);
        const idp = (c.get as (k: string) => unknown)("idp") as { id?: string } | undefined;
        const idpId = idp?.id ?? c.req.param("idp");
        if (idpId && ID.test(idpId)) span.setAttribute("weft.idp.id", idpId);
      }
    }
  };
}
