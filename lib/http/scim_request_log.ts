/**
 * Logs every SCIM request of a connection (`lib/store/request_log.ts`): what was called, how it
 * was answered and how long it took, who called (token, address, user agent), and both bodies,
 * redacted and capped. It runs before authentication, so refused requests are logged too —
 * under the token's own connection when a valid token was sent to another connection's URL.
 * @module
 */
import type { MiddlewareHandler } from "hono";
import type { ScimEnv } from "./env.ts";
import { capBody, logScimRequest } from "../store/request_log.ts";
import { bodyTextOf, scimBodyOf } from "./scim.ts";
import { redactBody } from "../scim/redact.ts";

const USER_PATH = /\/Users\/([^/?]+)/;
const FIRST_ID = /"id"\s*:\s*"([^"\\]{1,200})"/;
const SCIM_TYPE = /"scimType"\s*:\s*"(\w{1,40})"/;

/** A path segment decoded, or as it is when it is not valid percent-encoding. */
function decoded(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Middleware that logs each request of the SCIM sub-app (`keepDays` 0: off). */
export function scimRequestLog(keepDays: number): MiddlewareHandler<ScimEnv> {
  return async function logScim(c, next) {
    if (keepDays <= 0) return await next();
    const started = performance.now();
    try {
      await next();
    } finally {
      const tenant = c.get("tenant") as ScimEnv["Variables"]["tenant"] | null;
      const idp = c.get("idp");
      const failure = c.get("authFailure");
      const idpId = idp?.id ?? failure?.idpId;
      if (tenant && idpId) {
        const { kv } = c.get("deps");
        const url = new URL(c.req.url);
        const calledIdpId = c.req.param("idp");
        // The text the handler parsed; read here only when it did not (a refused request).
        const requestText = c.req.method === "GET" || c.req.method === "DELETE"
          ? ""
          : bodyTextOf(c.req.raw) ?? await c.req.text().catch(() => "");
        // The text the response was built from: nothing is read from the response itself, and a
        // streamed one (a group's members, which can be 50,000) is not kept.
        const built = scimBodyOf(c.res);
        const response = {
          text: built ?? (c.res.body ? "(streamed: not kept)" : ""),
          bytes: built?.length ?? 0,
        };
        const status = c.res.status;
        const userId = USER_PATH.exec(url.pathname)?.[1] ??
          (c.req.method === "POST" && url.pathname.endsWith("/Users") && status < 300
            ? FIRST_ID.exec(response.text)?.[1]
            : undefined);
        const token = c.get("token") ?? failure?.token;
        logScimRequest(kv, tenant.id, {
          at: new Date().toISOString(),
          idpId,
          calledIdpId: calledIdpId && calledIdpId !== idpId ? calledIdpId : undefined,
          requestId: c.get("requestId"),
          method: c.req.method,
          path: url.pathname + url.search,
          status,
          scimType: status >= 400 ? SCIM_TYPE.exec(response.text)?.[1] : undefined,
          authFailure: failure?.reason,
          durationMs: Math.round((performance.now() - started) * 10) / 10,
          tokenId: token?.id,
          tokenName: token?.name,
          clientIp: c.get("clientIp"),
          userAgent: (c.req.header("user-agent") ?? "").slice(0, 300),
          userId: userId ? decoded(userId) : undefined,
          requestBody: capBody(redactBody(requestText)),
          responseBody: capBody(redactBody(response.text)),
          requestBytes: requestText.length,
          responseBytes: response.bytes,
        }, keepDays);
      }
    }
  };
}
