/**
 * Security headers of every response: HTML pages (the console, people's pages, SAML) get the
 * console's strict set (a CSP without inline script, no framing) and `Cache-Control: no-store`,
 * since they show directory data or sessions; everything else gets Hono's defaults.
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { secureHeaders } from "hono/secure-headers";

/** Options of {@linkcode securityHeaders}. */
export interface SecurityHeaderOptions {
  /** Whether a (normalised) path serves pages. */
  isPage(path: string): boolean;
  /** `secureHeaders` options for pages. */
  pages: Parameters<typeof secureHeaders>[0];
}

/** Middleware that sets the security headers for the request's kind of response. */
export function securityHeaders(options: SecurityHeaderOptions): MiddlewareHandler {
  const defaults = secureHeaders();
  const pages = secureHeaders(options.pages);
  return async function setSecurityHeaders(c, next) {
    if (!options.isPage(c.req.path)) return await defaults(c, next);
    await pages(c, next);
    c.header("cache-control", "no-store");
  };
}
