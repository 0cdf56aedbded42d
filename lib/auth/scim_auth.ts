/**
 * SCIM bearer authentication (RFC 7644 §2): the token is hashed and looked up in the tenant's
 * KV space, so no secret is compared byte by byte and none is stored. Failures are recorded with
 * their reason (what the Okta guide's 401 advice is about) and throttled per client address;
 * successful traffic is never throttled.
 * @module
 */
import type { Idp, ScimToken } from "../store/types.ts";
import { hashTokenSecret, knownTokenHash, rememberTokenHash, TOKEN_PREFIX } from "./tokens.ts";
import { isThrottled, isWithinLimit, newHitKey, throttleWindow } from "../store/throttle.ts";
import { readCredentials, recordAuthFailure, recordTokenUse } from "../store/scim_credentials.ts";
import { tokenState } from "./token_state.ts";

/** Why an authentication failed; shown to admins on the IdP's SCIM tab. */
export type AuthFailureReason =
  | "missing_header"
  | "not_bearer"
  | "empty_token"
  | "doubled_bearer"
  | "whitespace"
  | "unknown_token"
  | "revoked_token"
  | "expired_token"
  | "wrong_idp"
  | "scim_disabled";

/** What each reason means, in the admin's words. */
export const AUTH_FAILURE_HELP: Record<AuthFailureReason, string> = {
  missing_header:
    "No Authorization header was sent. Set the IdP's authentication mode to HTTP Header / Bearer token.",
  not_bearer:
    "The Authorization header does not use the Bearer scheme (Basic or OAuth was selected?).",
  empty_token: "The Authorization header said Bearer but carried no token.",
  doubled_bearer:
    'The header read "Bearer Bearer …": paste only the token, the IdP adds "Bearer" itself.',
  whitespace:
    "The token had spaces or line breaks around or inside it: copy it again without them.",
  unknown_token:
    "The token is not one this tenant issued (mistyped, truncated, or from another tenant).",
  revoked_token: "The token was revoked. Create a new one and paste it into the IdP.",
  expired_token: "The token has expired. Create a new one and paste it into the IdP.",
  wrong_idp:
    "The token belongs to another IdP connection of this tenant: use that IdP's base URL or its own token.",
  scim_disabled: "SCIM provisioning is turned off for this IdP connection.",
};

/** A successful authentication. */
export interface AuthOk {
  ok: true;
  token: ScimToken;
  idp: Idp;
}

/** A failed authentication. */
export interface AuthFailed {
  ok: false;
  reason: AuthFailureReason;
  /**
   * The connection the failure belongs to: the token's own when the token was found (a valid
   * token sent to another connection's URL is its connection's problem), else the URL's when it
   * names one; absent when neither is known.
   */
  idpId?: string;
  /** The token presented, when it is one of this tenant's. */
  token?: ScimToken;
  /** True when this client has failed too often: answer 429. */
  throttled: boolean;
  retryAfter: number;
}

/** Splits the Authorization header into the presented secret or a failure reason. */
export function readBearer(
  header: string | null,
): { secret: string } | { reason: AuthFailureReason } {
  if (header === null || header.trim() === "") return { reason: "missing_header" };
  const match = /^(\S+)(\s*)([\s\S]*)$/.exec(header);
  if (!match || match[1].toLowerCase() !== "bearer") return { reason: "not_bearer" };
  const rest = match[3];
  if (rest.trim() === "") return { reason: "empty_token" };
  if (/^bearer(\s|$)/i.test(rest.trim())) return { reason: "doubled_bearer" };
  if (match[2] !== " " || rest !== rest.trim() || /\s/.test(rest)) return { reason: "whitespace" };
  return { secret: rest };
}

/** Verifies a request's bearer token for the IdP named in the URL. */
export async function authenticate(
  kv: Deno.Kv,
  tenantId: string,
  idpId: string,
  header: string | null,
  clientIp: string,
  limitPerMinute: number,
  now: Date = new Date(),
): Promise<AuthOk | AuthFailed> {
  const throttle = throttleWindow(tenantId, "scim_auth", clientIp, now);
  const retryAfter = throttle.retryAfter;
  const bearer = readBearer(header);
  const secret = "secret" in bearer && bearer.secret.startsWith(TOKEN_PREFIX)
    ? bearer.secret
    : null;
  const hash = secret === null ? null : knownTokenHash(secret) ?? await hashTokenSecret(secret);
  const { token, idp } = await readCredentials(kv, tenantId, idpId, hash);
  let reason: AuthFailureReason | null = "reason" in bearer ? bearer.reason : null;
  if (!reason) {
    const t = token;
    if (!t) reason = "unknown_token";
    else if (tokenState(t, now.getTime()) === "revoked") reason = "revoked_token";
    else if (tokenState(t, now.getTime()) === "expired") reason = "expired_token";
    else if (t.idpId !== idpId) reason = "wrong_idp";
    else if (!idp?.scimEnabled || idp.deletingSince) reason = "scim_disabled";
  }
  if (!reason) {
    await recordTokenUse(kv, tenantId, hash!, clientIp, now);
    rememberTokenHash(secret!, hash!);
    return { ok: true, token: token!, idp: idp! };
  }
  const owner = token?.idpId ?? (idp ? idpId : undefined);
  const failed = {
    ok: false as const,
    reason,
    idpId: owner,
    token: token ?? undefined,
    retryAfter,
  };
  // A client already over the limit is answered 429 without another write.
  if (await isThrottled(kv, throttle, limitPerMinute)) return { ...failed, throttled: true };
  const hitKey = newHitKey(throttle);
  await recordAuthFailure(kv, {
    tenantId,
    idpId: owner ?? "_unknown",
    calledIdpId: owner !== idpId ? idpId : undefined,
    reason,
    clientIp,
    tokenId: token?.id,
    hitKey,
    now,
  });
  // This attempt is answered 401 with its reason when it is among the first `limitPerMinute`
  // of the window, so a burst gets exactly that many.
  const within = await isWithinLimit(kv, throttle, hitKey, limitPerMinute);
  return { ...failed, throttled: !within };
}
