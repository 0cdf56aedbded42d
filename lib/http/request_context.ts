/**
 * The request's context, set before anything else reads it: a request id (the client's
 * `X-Request-Id` when it is a short token, else a new one), the client's address (the socket's,
 * or the last `X-Forwarded-For` entry behind a trusted proxy), the origin as the client called it
 * (validated `Host`, or trusted `X-Forwarded-Host/Proto`), and the tenant that host names.
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { AppDeps, BaseEnv } from "./env.ts";
import { isHostHeader, resolveTenant } from "./tenant.ts";
import type { Refuse } from "./refuse.ts";

/** Information Deno.serve passes to the handler. */
type ServeInfo = { remoteAddr?: { hostname?: string } } | undefined;

/** The client's request id when it is a short token of safe characters; else none. */
export function clientRequestId(header: string | undefined): string | undefined {
  return header?.slice(0, 64).replace(/[^\w.-]/g, "") || undefined;
}

/** Middleware that sets `deps`, `requestId`, `clientIp`, `origin` and `tenant`. */
export function requestContext(deps: AppDeps, refuse: Refuse): MiddlewareHandler<BaseEnv> {
  const { config } = deps;
  return async function setRequestContext(c, next) {
    c.set("deps", deps);
    c.set("requestId", clientRequestId(c.req.header("x-request-id")) ?? crypto.randomUUID());
    const forwarded = config.trustProxy
      // The last entry is the one the trusted proxy appended; earlier ones are client-supplied.
      ? c.req.header("x-forwarded-for")?.split(",").at(-1)?.trim()
      : undefined;
    c.set("clientIp", forwarded || (c.env as ServeInfo)?.remoteAddr?.hostname || "unknown");
    // The request URL is parsed only when no Host header names the host (HTTP/1.1 always does).
    const host = (config.trustProxy && c.req.header("x-forwarded-host")) ||
      c.req.header("host") || new URL(c.req.url).host;
    // The host becomes part of URLs in bodies and headers (Location, meta.location): only a
    // host name or address with an optional port is taken.
    if (!isHostHeader(host)) return refuse(c, 400, "The Host header does not name a host");
    const forwardedProto = config.trustProxy ? c.req.header("x-forwarded-proto") : undefined;
    const proto = forwardedProto === "https" || forwardedProto === "http"
      ? forwardedProto
      : (c.req.url.startsWith("https:") ? "https" : "http");
    c.set("origin", `${proto}://${host}`);
    c.set("tenant", await resolveTenant(deps.kv, config, host));
    await next();
  };
}
