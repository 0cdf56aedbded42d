/**
 * The directory API's errors: one body for every failure, `{"error": {"code", "message"}}`
 * (`lib/directory/types.ts`), with the status that fits. Handlers throw {@linkcode ApiError};
 * {@linkcode apiOnError} renders it, a bad cursor as `400`, contention and store failures as
 * `503` with `Retry-After`, and anything else as a `500` whose cause is logged, never shown.
 * @module
 */
import type { BaseEnv } from "./env.ts";
import { ContentionError, InvalidCursorError, isStoreError } from "../store/kv.ts";
import type { ApiErrorBody } from "../directory/types.ts";
import { MissingReferenceError } from "../store/api_user_list.ts";

/** Every error code the API answers with, by status. */
export const API_ERROR_CODES = {
  invalid_request: 400,
  unauthorized: 401,
  insufficient_scope: 403,
  not_found: 404,
  method_not_allowed: 405,
  payload_too_large: 413,
  uri_too_long: 414,
  rate_limited: 429,
  internal_error: 500,
  unavailable: 503,
} as const;

/** One of {@linkcode API_ERROR_CODES}. */
export type ApiErrorCode = keyof typeof API_ERROR_CODES;

/** A status the API answers errors with. */
export type ApiErrorStatus = (typeof API_ERROR_CODES)[ApiErrorCode];

/** An error the API answers with its code, status and message (and optional headers). */
export class ApiError extends Error {
  readonly code: ApiErrorCode;
  readonly status: ApiErrorStatus;
  readonly headers: Record<string, string>;

  constructor(code: ApiErrorCode, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.status = API_ERROR_CODES[code];
    this.headers = headers;
  }
}

/** The JSON response of an API error (headers are Weft's own constants, never input). */
export function apiErrorResponse(error: ApiError): Response {
  const body: ApiErrorBody = { error: { code: error.code, message: error.message } };
  return new Response(JSON.stringify(body), {
    status: error.status,
    headers: {
      "content-type": "application/json; charset=utf-8",
      "cache-control": "no-store",
      ...error.headers,
    },
  });
}

/** Renders any error thrown while serving an API request. */
export function apiOnError(
  error: unknown,
  c: { get(k: "deps"): BaseEnv["Variables"]["deps"]; get(k: "requestId"): string },
): Response {
  if (error instanceof ApiError) return apiErrorResponse(error);
  if (error instanceof InvalidCursorError) {
    return apiErrorResponse(
      new ApiError("invalid_request", "The cursor is not valid: start again from the first page"),
    );
  }
  if (error instanceof MissingReferenceError) {
    return apiErrorResponse(new ApiError("not_found", error.message));
  }
  if (error instanceof ContentionError) {
    return apiErrorResponse(
      new ApiError("unavailable", "The directory is being changed by many requests: retry", {
        "retry-after": "1",
      }),
    );
  }
  c.get("deps").log.log("error", "api handler failed", {
    requestId: c.get("requestId"),
    error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
  });
  if (isStoreError(error)) {
    return apiErrorResponse(
      new ApiError("unavailable", "The directory store is unavailable: retry shortly", {
        "retry-after": "5",
      }),
    );
  }
  return apiErrorResponse(
    new ApiError("internal_error", `Internal error (request ${c.get("requestId")})`),
  );
}
