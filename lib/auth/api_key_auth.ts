/**
 * Directory API authentication: the bearer must be an API key of the request's tenant (looked up
 * by the SHA-256 of the secret, so no secret is compared byte by byte), not revoked or expired.
 * Anything else — a SCIM token, another tenant's key, a malformed header — is the same failure
 * to the client. Failures are counted per client address in the throttle window shared with SCIM
 * authentication's rules (`lib/store/throttle.ts`); successful traffic is never throttled.
 * @module
 */
import { readBearer } from "./scim_auth.ts";
import { hashApiKeySecret, isApiKeyShaped } from "./api_keys.ts";
import { knownTokenHash, rememberTokenHash } from "./tokens.ts";
import {
  type ApiKey,
  apiKeyByHash,
  apiKeyState,
  noteApiAuthFailure,
  recordApiKeyUse,
} from "../store/api_keys.ts";

/** Why an API request was not authenticated (logged as a reason, never with the secret). */
export type ApiAuthFailureReason =
  | "missing_header"
  | "malformed_header"
  | "unknown_key"
  | "revoked_key"
  | "expired_key";

/** The message each failure is answered with. */
export const API_AUTH_HELP: Record<ApiAuthFailureReason, string> = {
  missing_header: "Send an API key as Authorization: Bearer weft_api_…",
  malformed_header: "The Authorization header must be exactly: Bearer weft_api_…",
  unknown_key: "The API key is not one this tenant issued",
  revoked_key: "The API key was revoked",
  expired_key: "The API key has expired",
};

/** The outcome of an authentication. */
export type ApiAuthResult =
  | { ok: true; key: ApiKey }
  | { ok: false; reason: ApiAuthFailureReason; throttled: boolean; retryAfter: number };

/** Verifies a request's bearer API key for a tenant. */
export async function authenticateApiKey(
  kv: Deno.Kv,
  tenantId: string,
  header: string | null,
  clientIp: string,
  limitPerMinute: number,
  now: Date = new Date(),
): Promise<ApiAuthResult> {
  const bearer = readBearer(header);
  let reason: ApiAuthFailureReason | null = null;
  let key: ApiKey | null = null;
  if ("reason" in bearer) {
    reason = bearer.reason === "missing_header" ? "missing_header" : "malformed_header";
  } else if (!isApiKeyShaped(bearer.secret)) {
    reason = "unknown_key";
  } else {
    const secret = bearer.secret;
    const hash = knownTokenHash(secret) ?? await hashApiKeySecret(secret);
    key = await apiKeyByHash(kv, tenantId, hash);
    const state = key ? apiKeyState(key, now.getTime()) : null;
    if (!key) reason = "unknown_key";
    else if (state === "revoked") reason = "revoked_key";
    else if (state === "expired") reason = "expired_key";
    else {
      rememberTokenHash(secret, hash);
      await recordApiKeyUse(kv, tenantId, hash, clientIp, now);
      return { ok: true, key };
    }
  }
  const tally = await noteApiAuthFailure(kv, tenantId, clientIp, limitPerMinute, now);
  return { ok: false, reason: reason!, ...tally };
}
