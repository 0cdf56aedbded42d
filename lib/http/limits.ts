/**
 * Request body limits, one table for every surface. The root app applies the limit of the
 * request's surface before any handler reads the body, so a large body is refused (`413`) while
 * it is still on the wire: with a `Content-Length` at once, and otherwise as soon as the bytes
 * read pass the limit. Nothing else in Weft decides how large a body may be.
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { Refuse } from "./refuse.ts";
import { bodyLimit } from "hono/body-limit";
import { MAX_METADATA_BYTES } from "../saml/metadata.ts";

/** Which kind of client a path serves, so a refusal answers in that client's format. */
export type Surface =
  | "scim"
  | "console-sign-in"
  | "console-api"
  | "console"
  | "console-upload"
  | "saml-acs"
  | "person"
  | "api"
  | "other";

const SIGN_IN = /^\/admin\/(signin|signout|setup\/[^/]*)$/;

/** The surface a (normalised) request path belongs to. */
export function surfaceOf(path: string): Surface {
  if (path.startsWith("/scim/")) return "scim";
  if (path.startsWith("/api/")) return "api";
  if (SIGN_IN.test(path)) return "console-sign-in";
  if (path.startsWith("/admin/api/")) return "console-api";
  if (/^\/admin\/idps\/[^/]+\/saml\/metadata$/.test(path)) return "console-upload";
  if (path === "/admin" || path.startsWith("/admin/")) return "console";
  if (/^\/saml\/[^/]+\/acs$/.test(path)) return "saml-acs";
  if (path === "/login" || path === "/logout" || path === "/me" || path.startsWith("/saml/")) {
    return "person";
  }
  return "other";
}

/** The limit that applies to a path. */
export interface BodyLimit {
  surface: Surface;
  maxBytes: number;
}

/** Options the table depends on. */
export interface LimitOptions {
  /** Largest SCIM request body (`WEFT_MAX_BODY_BYTES`). */
  scimMaxBytes: number;
}

/** Sign-in, setup and sign-out forms carry a few short fields. */
export const SIGN_IN_MAX_BYTES = 8 * 1024;
/** Console forms and the console's JSON calls. */
export const CONSOLE_MAX_BYTES = 64 * 1024;
/**
 * An ACS post: a `SAMLResponse` of at most 256 KiB (signed XML, possibly encrypted, with
 * certificates; the field's own limit is the ACS route's), form encoding and a bounded RelayState.
 */
export const ACS_BODY_MAX_BYTES = 320 * 1024;
/** An IdP metadata document pasted or uploaded on the SAML tab, with the form around it. */
export const METADATA_UPLOAD_MAX_BYTES = MAX_METADATA_BYTES + 16 * 1024;
/** The directory API serves GET only: no request of it has a body worth reading. */
export const API_MAX_BYTES = 1024;
/** Anything else: no other route reads a body. */
export const OTHER_MAX_BYTES = 16 * 1024;

/** Largest body of each surface. */
export function maxBodyBytes(surface: Surface, options: LimitOptions): number {
  switch (surface) {
    case "scim":
      return options.scimMaxBytes;
    case "console-sign-in":
    case "person":
      return SIGN_IN_MAX_BYTES;
    case "console-api":
    case "console":
      return CONSOLE_MAX_BYTES;
    case "console-upload":
      return METADATA_UPLOAD_MAX_BYTES;
    case "saml-acs":
      return ACS_BODY_MAX_BYTES;
    case "api":
      return API_MAX_BYTES;
    case "other":
      return OTHER_MAX_BYTES;
  }
}

/** The body limit for a (normalised) request path. */
export function bodyLimitFor(path: string, options: LimitOptions): BodyLimit {
  const surface = surfaceOf(path);
  return { surface, maxBytes: maxBodyBytes(surface, options) };
}

/**
 * Middleware that enforces {@linkcode bodyLimitFor} on every request, answering `413` with
 * `refuse`. Bodies within the limit are passed on (read once into memory when they came without a
 * length).
 */
export function limitBodies(options: LimitOptions, refuse: Refuse): MiddlewareHandler {
  const limiters = new Map<string, MiddlewareHandler>();
  function limiterOf(limit: BodyLimit): MiddlewareHandler {
    const id = `${limit.surface}:${limit.maxBytes}`;
    let limiter = limiters.get(id);
    if (!limiter) {
      limiter = bodyLimit({
        maxSize: limit.maxBytes,
        onError: (c) =>
          refuse(c, 413, `The request body is larger than ${formatBytes(limit.maxBytes)}`),
      });
      limiters.set(id, limiter);
    }
    return limiter;
  }
  return async function limitRequestBody(c, next) {
    if (!c.req.raw.body) return await next();
    return await limiterOf(bodyLimitFor(c.req.path, options))(c, next);
  };
}

/** "64 KiB", "1 MiB": a limit as people read it. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / 1024 / 1024} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}
