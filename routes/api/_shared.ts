/**
 * What every directory API route shares: the sub-app type, the documented error responses, the
 * validation hook that turns a zod failure into a `400` in plain words, and the JSON answer.
 * @module
 */
import { OpenAPIHono, type z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { ApiEnv } from "../../lib/http/api_auth.ts";
import { ApiError, apiErrorResponse } from "../../lib/http/api_errors.ts";
import { ErrorSchema } from "../../lib/directory/schemas.ts";

/** A sub-app of the API. */
export type ApiApp = OpenAPIHono<ApiEnv>;

/** The security requirement of every authenticated route. */
export const BEARER = [{ bearer: [] }];

const error = (description: string) => ({
  description,
  content: { "application/json": { schema: ErrorSchema } },
});

/** Error responses every authenticated route can give. */
export const AUTH_ERRORS = {
  401: error(
    "`unauthorized`: no API key, or not one of this tenant's live keys (revoked, expired, a SCIM token).",
  ),
  403: error("`insufficient_scope`: the key lacks the scope this route needs."),
  405: error("`method_not_allowed`: only GET is served."),
  429: error("`rate_limited`: too many failed authentications from this address."),
  503: error("`unavailable`: the store is unavailable; retry after `Retry-After` seconds."),
} as const;

/** A `400` for bad query parameters. */
export const BAD_REQUEST = { 400: error("`invalid_request`: a query parameter is not valid.") };
/** A `404` for a resource that does not exist. */
export const NOT_FOUND = (what: string) => ({ 404: error(`\`not_found\`: ${what}`) });

const WHERE: Record<string, string> = {
  query: "Query parameter",
  param: "Path parameter",
  json: "Body field",
};

/** One zod issue in plain words: `Query parameter "limit" must be from 1 to 200`. */
function describeIssue(target: string, issue: z.core.$ZodIssue): string {
  const where = WHERE[target] ?? "Parameter";
  if (issue.code === "unrecognized_keys") {
    const names = issue.keys.slice(0, 3).map((k) => JSON.stringify(k.slice(0, 40))).join(", ");
    return `Unknown ${where.toLowerCase()}${issue.keys.length > 1 ? "s" : ""} ${names}`;
  }
  const name = issue.path.map(String).join(".") || "(all)";
  const message = issue.code === "invalid_type" ? "has the wrong type" : issue.message;
  return `${where} ${JSON.stringify(name)} ${message}`;
}

/** The `defaultHook` of the API's apps: a failed validation is a `400 invalid_request`. */
export function validationHook(
  result: { success: true } | { success: false; error: z.ZodError; target: string },
  _c: Context,
): Response | undefined {
  if (result.success) return undefined;
  const issues = result.error.issues.slice(0, 3).map((i) => describeIssue(result.target, i));
  return apiErrorResponse(new ApiError("invalid_request", issues.join("; ")));
}

/** A new sub-app with the API's validation hook. */
export function apiApp(): ApiApp {
  return new OpenAPIHono<ApiEnv>({ defaultHook: validationHook });
}

/** Throws `404 not_found` when `value` is null. */
export function found<T>(value: T | null, what: string): T {
  if (value === null) throw new ApiError("not_found", `No ${what} of this tenant has this id`);
  return value;
}
