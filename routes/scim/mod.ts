/**
 * The SCIM sub-app, mounted per IdP at `/scim/v2/inbound/:idp`: bearer authentication scoped to
 * the tenant and IdP (the body limit is the root app's, `lib/http/limits.ts`), and one error handler that always answers in the RFC 7644
 * §3.12 error schema.
 * @module
 */
import { Hono } from "hono";
import type { BaseEnv, ScimEnv } from "../../lib/http/env.ts";
import { ScimError } from "../../lib/scim/errors.ts";
import { scimErrorResponse } from "../../lib/http/scim.ts";
import { AUTH_FAILURE_HELP, authenticate } from "../../lib/auth/scim_auth.ts";
import { ContentionError, InvalidCursorError, isStoreError } from "../../lib/store/kv.ts";
import { users } from "./users.ts";
import { groups } from "./groups.ts";
import { discovery } from "./discovery.ts";
import { search } from "./search.ts";

/** Renders any error thrown in a SCIM handler as a SCIM error response. */
export function scimOnError(
  error: unknown,
  c: { get(k: "deps"): BaseEnv["Variables"]["deps"]; get(k: "requestId"): string },
): Response {
  if (error instanceof ScimError) return scimErrorResponse(error);
  if (error instanceof InvalidCursorError) {
    return scimErrorResponse(new ScimError(400, error.message, { scimType: "invalidCursor" }));
  }
  if (error instanceof ContentionError) {
    return scimErrorResponse(
      new ScimError(503, "The resource is being changed by many requests at once: retry shortly", {
        headers: { "retry-after": "1" },
      }),
    );
  }
  const deps = c.get("deps");
  deps.log.log("error", "scim handler failed", {
    requestId: c.get("requestId"),
    error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
  });
  if (isStoreError(error)) {
    return scimErrorResponse(
      new ScimError(503, "The directory store is unavailable: retry shortly", {
        headers: { "retry-after": "5" },
      }),
    );
  }
  return scimErrorResponse(new ScimError(500, `Internal error (request ${c.get("requestId")})`));
}

/** Builds the SCIM sub-app. */
export function createScimApp(): Hono<ScimEnv> {
  const app = new Hono<ScimEnv>();
  app.onError((error, c) => scimOnError(error, c));

  app.use("*", async (c, next) => {
    const tenant = c.get("tenant");
    const idpId = c.req.param("idp") ?? "";
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(idpId)) {
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
      if (result.throttled) {
        throw new ScimError(
          429,
          "Too many failed authentication attempts from this address: retry later",
          {
            headers: { "retry-after": String(result.retryAfter) },
          },
        );
      }
      throw new ScimError(
        401,
        `Authentication failed (${result.reason}): ${AUTH_FAILURE_HELP[result.reason]}`,
        {
          headers: { "www-authenticate": 'Bearer realm="weft", error="invalid_token"' },
        },
      );
    }
    c.set("idp", result.idp);
    c.set("token", result.token);
    c.set("scimBase", `${c.get("origin")}/scim/v2/inbound/${idpId}`);
    await next();
  });

  app.route("/", discovery);
  app.route("/Users", users);
  app.route("/Groups", groups);
  app.route("/", search);
  // Last: anything else under a valid base URL (a sub-app's notFound is not used when mounted).
  app.all("*", (c) =>
    scimErrorResponse(
      ScimError.notFound(`No SCIM endpoint at "${new URL(c.req.url).pathname}"`),
    ));
  return app;
}
