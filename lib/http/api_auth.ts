/**
 * Directory API authentication as middleware: the tenant comes from the Host (`tenant.ts`), the
 * bearer must be one of that tenant's API keys (`lib/auth/api_key_auth.ts`), and each route
 * names the scope it needs. A failure is a `401` with `WWW-Authenticate: Bearer`, a client that
 * keeps failing gets `429`, a key without the scope gets `403`.
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { BaseVariables } from "./env.ts";
import type { Tenant } from "../store/types.ts";
import type { ApiKey } from "../store/api_keys.ts";
import type { ApiScope } from "../auth/api_keys.ts";
import { API_AUTH_HELP, authenticateApiKey } from "../auth/api_key_auth.ts";
import { ApiError } from "./api_errors.ts";

/** The API's context after authentication: the tenant is known, with the key. */
export type ApiEnv = {
  Variables: Omit<BaseVariables, "tenant"> & { tenant: Tenant; apiKey: ApiKey };
};

/** Middleware that authenticates an API request by its bearer key and sets `tenant`, `apiKey`. */
export function apiKeyAuthentication(): MiddlewareHandler<ApiEnv> {
  return async function authenticateApiRequest(c, next) {
    const tenant = c.get("tenant") as Tenant | null;
    if (!tenant) throw new ApiError("not_found", "No tenant is served at this host");
    const { kv, config } = c.get("deps");
    const result = await authenticateApiKey(
      kv,
      tenant.id,
      c.req.header("authorization") ?? null,
      c.get("clientIp"),
      config.authFailuresPerMinute,
    );
    if (!result.ok) {
      if (result.throttled) {
        throw new ApiError(
          "rate_limited",
          "Too many failed authentication attempts from this address: retry later",
          { "retry-after": String(result.retryAfter) },
        );
      }
      throw new ApiError("unauthorized", API_AUTH_HELP[result.reason], {
        "www-authenticate": 'Bearer realm="weft", error="invalid_token"',
      });
    }
    c.set("tenant", tenant);
    c.set("apiKey", result.key);
    await next();
  };
}

/** Middleware that lets a request through only when its key has `scope`. */
export function requireScope(scope: ApiScope): MiddlewareHandler<ApiEnv> {
  return async function checkScope(c, next) {
    if (!c.get("apiKey").scopes.includes(scope)) {
      throw new ApiError("insufficient_scope", `This API key lacks the ${scope} scope`, {
        "www-authenticate": `Bearer realm="weft", error="insufficient_scope", scope="${scope}"`,
      });
    }
    await next();
  };
}
