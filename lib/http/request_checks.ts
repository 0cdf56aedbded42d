/**
 * Checks that every page surface (the console, people's pages) makes the same way: whether a
 * state-changing request comes from this host's own pages (CSRF), whether the request came over
 * https (cookies are then `Secure` and `__Host-`), and a constant-time comparison of tokens.
 * @module
 */
import type { HonoRequest } from "hono";

/** What the checks read of a request's context (any surface's). */
export interface CheckedContext {
  req: HonoRequest;
  get(key: "origin"): string;
}

/**
 * Whether a state-changing request comes from this host's own pages: its `Origin` is ours, or,
 * without one, the browser says it is a same-origin fetch (`Sec-Fetch-Site`).
 */
export function fromSameOrigin(c: CheckedContext): boolean {
  const origin = c.req.header("origin");
  if (origin) return origin === c.get("origin");
  return c.req.header("sec-fetch-site") === "same-origin";
}

/** Whether the request came over https, as the client called it. */
export function isSecure(c: CheckedContext): boolean {
  return c.get("origin").startsWith("https:");
}

/** Compares two tokens in time that depends on their length only. */
export function timingSafeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
