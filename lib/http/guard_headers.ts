/**
 * The last line of defence for response headers. Deno's `Headers` accepts control characters
 * that the HTTP layer then refuses to write, aborting the whole process; every header built from
 * input is encoded where it is built (see `paths.ts`), and this middleware makes sure a mistake
 * there costs one request a `500`, never the service.
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { Logger } from "../log.ts";
import { unsafeHeaders } from "./paths.ts";

/** Middleware that replaces a response carrying an unsendable header value with a plain 500. */
export function guardHeaders(log: Logger): MiddlewareHandler {
  return async function guardResponseHeaders(c, next) {
    await next();
    const bad = unsafeHeaders(c.res.headers);
    if (bad.length === 0) return;
    // Names only: the values came from the request and may carry anything.
    log.log("error", "response header refused: it holds characters HTTP cannot carry", {
      requestId: c.get("requestId"),
      headers: bad,
      route: c.req.routePath,
    });
    // Assigning a new response merges the old one's headers into it; drop the old one first.
    c.res = undefined;
    c.res = new Response("Internal error: the response could not be sent\n", {
      status: 500,
      headers: {
        "content-type": "text/plain; charset=utf-8",
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
      },
    });
  };
}
