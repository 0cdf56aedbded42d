/**
 * The request target (path and query) is checked once, before routing: a target that is too
 * long, or whose percent-encoding spells a control character or bytes that are not UTF-8, is
 * refused with a `400` (`414` when too long) in the surface's own format. No legitimate client
 * sends either, and refusing them at the edge keeps every parameter a handler reads printable.
 * A `%` that does not start an escape is left alone (Entra sends `100%` unencoded in filters).
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { Refuse } from "./refuse.ts";

/** Longest path and query taken, in characters of the (ASCII) URL. */
export const MAX_REQUEST_TARGET = 32 * 1024;

/** Why a request target is refused. */
export type TargetProblem = "too_long" | "control_character" | "invalid_utf8";

const utf8 = new TextDecoder("utf-8", { fatal: true });

function hex(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  const lower = code | 32;
  if (lower >= 97 && lower <= 102) return lower - 87;
  return -1;
}

/** What is wrong with a request URL's path and query, or `null` when nothing is. */
export function requestTargetProblem(url: string): TargetProblem | null {
  const start = url.indexOf("/", url.indexOf("://") + 3);
  if (start < 0) return null;
  if (url.length - start > MAX_REQUEST_TARGET) return "too_long";
  // The URL parser has already percent-encoded raw controls and non-ASCII text, so only the
  // escapes need reading.
  if (url.indexOf("%", start) < 0) return null;
  const bytes = new Uint8Array(url.length - start);
  let n = 0;
  for (let i = start; i < url.length; i++) {
    const code = url.charCodeAt(i);
    if (code === 37 && i + 2 < url.length) {
      const hi = hex(url.charCodeAt(i + 1));
      const lo = hex(url.charCodeAt(i + 2));
      if (hi >= 0 && lo >= 0) {
        const byte = hi * 16 + lo;
        if (byte < 0x20 || byte === 0x7f) return "control_character";
        bytes[n++] = byte;
        i += 2;
        continue;
      }
    }
    bytes[n++] = code;
  }
  try {
    utf8.decode(bytes.subarray(0, n));
  } catch {
    return "invalid_utf8";
  }
  return null;
}

/** Middleware that refuses a request target with a problem (`414` when too long, else `400`). */
export function checkRequestTarget(refuse: Refuse): MiddlewareHandler {
  return async function checkTarget(c, next) {
    const problem = requestTargetProblem(c.req.url);
    if (!problem) return await next();
    return refuse(c, problem === "too_long" ? 414 : 400, TARGET_PROBLEM_DETAIL[problem]);
  };
}

/** The refusal's wording, for every surface. */
export const TARGET_PROBLEM_DETAIL: Record<TargetProblem, string> = {
  too_long: `The request URL is longer than ${MAX_REQUEST_TARGET} characters`,
  control_character: "The request URL holds an encoded control character",
  invalid_utf8: "The request URL's percent-encoding is not UTF-8",
};
