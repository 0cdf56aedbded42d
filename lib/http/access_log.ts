/**
 * One log line per request (architecture §11), and the request id echoed in `X-Request-Id`. The
 * line names the matched route pattern, never the path or query: ids in paths and filter values
 * can carry PII such as e-mail addresses. Answered requests are logged at `debug` (SCIM's are
 * in the request log and the Event Log already), so at the default level the start-up report
 * stays the last thing printed; a server error (5xx) is a `warn`.
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { BaseEnv } from "./env.ts";
import type { Logger } from "../log.ts";

/** Middleware that logs each request after it is answered. */
export function accessLog(log: Logger): MiddlewareHandler<BaseEnv> {
  return async function logRequest(c, next) {
    const started = performance.now();
    await next();
    const requestId = c.get("requestId");
    if (requestId) c.header("x-request-id", requestId);
    log.log(c.res.status >= 500 ? "warn" : "debug", "request", {
      requestId,
      method: c.req.method,
      route: c.req.routePath,
      status: c.res.status,
      ms: Math.round(performance.now() - started),
      tenant: c.get("tenant")?.id,
    });
  };
}
