/**
 * The SCIM surface's error handler (RFC 7644 §3.12): any error thrown while serving a SCIM
 * request becomes a SCIM error body. Protocol errors keep their status; contention and store
 * failures are `503` with `Retry-After`; anything else is a `500` whose cause is logged, never
 * shown.
 * @module
 */
import type { BaseEnv } from "./env.ts";
import { ScimError } from "../scim/errors.ts";
import { scimErrorResponse } from "./scim.ts";
import { ContentionError, InvalidCursorError, isStoreError } from "../store/kv.ts";

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
