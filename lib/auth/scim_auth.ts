/**
 * SCIM bearer authentication (RFC 7644 §2): the token is hashed and looked up in the tenant's
 * KV space, so no secret is compared byte by byte and none is stored. Failures are recorded with
 * their reason (what the Okta guide's 401 advice is about) and throttled per client address;
 * successful traffic is never throttled.
 * @module
 */
import { keys } from "../store/keys.ts";
import { counterValue, foundCache, u64Delta, withLockRetry } from "../store/kv.ts";
import type { Idp, ScimToken, TokenLastUsed } from "../store/types.ts";
import { hashTokenSecret, knownTokenHash, rememberTokenHash, TOKEN_PREFIX } from "./tokens.ts";
import { addEvent } from "../store/events.ts";
import { HIT_TTL_MS, isThrottled, isWithinLimit, newHitKey, throttleWindow } from "./throttle.ts";

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
  /** True when this client has failed too often: answer 429. */
  throttled: boolean;
  retryAfter: number;
}

/** How often one process records a token's last use. */
const LAST_USE_EVERY_MS = 60_000;
/** When this process last recorded each token's last use (tenant/hash → ms); bounded. */
const lastUseWritten = new Map<string, number>();
/** At most one `scim_auth_failed` event per (IdP, reason) in this time. */
const EVENT_EVERY_MS = 10 * 60_000;

/**
 * IdP connections found, kept a minute per store. An IdP record is written once, when the
 * connection is created (`createIdp` commits it only where none exists), and never rewritten, so
 * this saves reading a second key on every request and serves nothing stale; a connection not
 * found is never kept, so a new one is served at once. The token is still read on every request:
 * revocation, expiry and the token's IdP take effect at once. Whatever comes to rewrite IdP
 * records (turning SCIM off, say) must account for this minute on every instance.
 */
const idps = foundCache<Idp>(60_000);

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
  const tokenKey = keys.token(tenantId, hash ?? "-");
  const idpKey = `${tenantId}/${idpId}`;
  const known = idps.get(kv, idpKey, now.getTime());
  const [token, idp] = known
    ? [await kv.get<ScimToken>(tokenKey), { value: known }]
    : await kv.getMany<[ScimToken, Idp]>([tokenKey, keys.idp(tenantId, idpId)]);
  if (!known && idp.value?.id === idpId) idps.set(kv, idpKey, idp.value, now.getTime());
  let reason: AuthFailureReason | null = "reason" in bearer ? bearer.reason : null;
  if (!reason) {
    const t = token.value;
    if (!t) reason = "unknown_token";
    else if (t.revokedAt) reason = "revoked_token";
    else if (t.expiresAt && Date.parse(t.expiresAt) <= now.getTime()) reason = "expired_token";
    else if (t.idpId !== idpId) reason = "wrong_idp";
    else if (!idp.value?.scimEnabled) reason = "scim_disabled";
  }
  if (!reason) {
    // Last use is written at most once a minute by each process, never on every request, and
    // without reading it first: it is a display, exact to the minute.
    const writtenKey = `${tenantId}/${hash}`;
    const last = lastUseWritten.get(writtenKey) ?? 0;
    if (now.getTime() - last >= LAST_USE_EVERY_MS || now.getTime() < last) {
      if (lastUseWritten.size >= 4096) lastUseWritten.clear();
      lastUseWritten.set(writtenKey, now.getTime());
      await withLockRetry(() =>
        kv.set(
          keys.tokenLastUsed(tenantId, hash!),
          { at: now.toISOString(), ip: clientIp } satisfies TokenLastUsed,
        )
      );
    }
    rememberTokenHash(secret!, hash!);
    return { ok: true, token: token.value!, idp: idp.value! };
  }
  // A client already over the limit is answered 429 without another write.
  if (await isThrottled(kv, throttle, limitPerMinute)) {
    return { ok: false, reason, throttled: true, retryAfter };
  }
  const hitKey = newHitKey(throttle);
  await recordFailure(kv, {
    tenantId,
    idpId: idp.value ? idpId : "_unknown",
    reason,
    clientIp,
    tokenId: token.value?.id,
    hitKey,
    now,
  });
  // This attempt is answered 401 with its reason when it is among the first `limitPerMinute`
  // of the window, so a burst gets exactly that many.
  const within = await isWithinLimit(kv, throttle, hitKey, limitPerMinute);
  return { ok: false, reason, throttled: !within, retryAfter };
}

/**
 * Tallies a failure per (IdP, hour, reason) and bumps the client's window counter; writes a
 * `scim_auth_failed` event at most once per (IdP, reason) every ten minutes, so a flood of bad
 * requests cannot fill the Event Log.
 */
async function recordFailure(
  kv: Deno.Kv,
  f: {
    tenantId: string;
    idpId: string;
    reason: AuthFailureReason;
    clientIp: string;
    tokenId?: string;
    hitKey: Deno.KvKey;
    now: Date;
  },
): Promise<void> {
  const { tenantId, idpId, reason, clientIp, tokenId, now } = f;
  const hour = now.toISOString().slice(0, 13);
  const tallyKey = keys.authFailure(tenantId, idpId, hour, reason);
  await withLockRetry(() =>
    kv.atomic()
      // One key per attempt, so no concurrent attempt is lost and each expires on its own.
      .set(f.hitKey, null, { expireIn: HIT_TTL_MS })
      .sum(tallyKey, u64Delta(1))
      .commit()
  );
  const markKey = keys.authFailureEventMark(tenantId, idpId, reason);
  const mark = await kv.get(markKey);
  if (
    mark.versionstamp === null || Date.parse(String(mark.value)) < now.getTime() - EVENT_EVERY_MS
  ) {
    const op = kv.atomic().check(mark).set(markKey, now.toISOString(), {
      expireIn: EVENT_EVERY_MS,
    });
    addEvent(op, {
      tenantId,
      actor: "scim-client",
      idpId: idpId === "_unknown" ? undefined : idpId,
      clientIp,
      tokenId,
    }, {
      type: "scim_auth_failed",
      target: tokenId ? { kind: "token", id: tokenId } : undefined,
      summary: `SCIM authentication failed: ${reason}`,
      changed: [reason],
    }, now);
    await withLockRetry(() => op.commit());
  }
}

/** Recent failure tallies of an IdP, newest hour first. */
export async function listAuthFailures(
  kv: Deno.Kv,
  tenantId: string,
  idpId: string,
  limit = 48,
): Promise<{ hour: string; reason: AuthFailureReason; count: number }[]> {
  const out: { hour: string; reason: AuthFailureReason; count: number }[] = [];
  for await (
    const e of kv.list({ prefix: keys.authFailures(tenantId, idpId) }, { reverse: true, limit })
  ) {
    out.push({
      hour: String(e.key.at(-2)),
      reason: e.key.at(-1) as AuthFailureReason,
      count: counterValue(e),
    });
  }
  return out;
}
