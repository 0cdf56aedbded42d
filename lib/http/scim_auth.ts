/**
 * SCIM bearer authentication as middleware (RFC 7644 §2): the request's tenant and IdP come from
 * the host and the base URL, the token must be one this tenant issued for that IdP; a failure is
 * a `401` with `WWW-Authenticate` and the reason in the admin's words, and a client that keeps
 * failing gets `429`. Afterwards the context holds the tenant (never null), IdP, token and the
 * SCIM base URL.
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { ScimEnv } from "./env.ts";
import { ScimError } from "../scim/errors.ts";
import { AUTH_FAILURE_HELP, authenticate } from "../auth/scim_auth.ts";
import { scimAuthFailures } from "../metrics/counters.ts";

/** IdP ids are short URL-safe tokens; anything else names no connection. */
const IDP_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** Middleware that authenticates a SCIM request for the `:idp` of its path. */
export function scimAuthentication(): MiddlewareHandler<ScimEnv> {
  return async function authenticateScim(c, next) {
    const tenant = c.get("tenant") as ScimEnv["Variables"]["tenant"] | null;
    const idpId = c.req.param("idp") ?? "";
    if (!IDP_ID.test(idpId)) {
      throw ScimError.notFound("No IdP connection at this URL: check the SCIM base URL");
    }
    if (!tenant) {
      throw ScimError.notFound("No tenant is served at this host: check the SCIM base URL");
    }
    const { kv, config } = c.get("deps");
    const result = await authenticate(
      kv,
      tenant.id,
      idpId,
      c.req.header("authorization") ?? null,
      c.get("clientIp"),
      config.authFailuresPerMinute,
    );
    if (!result.ok) {
      c.set("authFailure", result);
      scimAuthFailures.inc({ reason: result.throttled ? "throttled" : result.reason });
      if (result.throttled) {
        throw new ScimError(
          429,
          "Too many failed authentication attempts from this address: retry later",
          { headers: { "retry-after": String(result.retryAfter) } },
        );
      }
      throw new ScimError(
        401,
        `Authentication failed (${result.reason}): ${AUTH_FAILURE_HELP[result.reason]}`,
        { headers: { "www-authenticate": 'Bearer realm="weft", error="invalid_token"' } },
      );
    }
    c.set("tenant", tenant);
    c.set("idp", result.idp);
    c.set("token", result.token);
    c.set("scimBase", `${c.get("origin")}/scim/v2/inbound/${idpId}`);
    await next();
  };
}
