/**
 * What SCIM authentication reads and writes (architecture §2 "SCIM token"): a token by the hash
 * of its secret with its IdP connection, the token's last use (at most once a minute per
 * process), and failed attempts — tallied per IdP, hour and reason, counted in the client's
 * throttle window, and written as `scim_auth_failed` events at most once per reason every ten
 * minutes.
 * @module
 */
import { keys } from "./keys.ts";
import { recordLastUse } from "./last_use.ts";
import { counterValue, u64Delta, withLockRetry } from "./kv.ts";
import type { Idp, ScimToken } from "./types.ts";
import { addEvent } from "./events.ts";
import { HIT_TTL_MS } from "./throttle.ts";
import type { AuthFailureReason } from "../auth/scim_auth.ts";

/** At most one `scim_auth_failed` event per (IdP, reason) in this time. */
const EVENT_EVERY_MS = 10 * 60_000;

/** A token (by the SHA-256 hex of its secret) and the IdP connection named in the URL. */
export async function readCredentials(
  kv: Deno.Kv,
  tenantId: string,
  idpId: string,
  hash: string | null,
): Promise<{ token: ScimToken | null; idp: Idp | null }> {
  // Both in one read, on every request: a connection changed or turned off on any instance takes
  // effect at once.
  const [token, idp] = await kv.getMany<[ScimToken, Idp]>([
    keys.token(tenantId, hash ?? "-"),
    keys.idp(tenantId, idpId),
  ]);
  return { token: token.value, idp: idp.value };
}

/**
 * Records a token's last use, at most once a minute by each process and without reading it
 * first: it is a display, exact to the minute.
 */
export async function recordTokenUse(
  kv: Deno.Kv,
  tenantId: string,
  hash: string,
  clientIp: string,
  now: Date,
): Promise<void> {
  await recordLastUse(kv, keys.tokenLastUsed(tenantId, hash), clientIp, now);
}

/**
 * Tallies a failure per (IdP, hour, reason) and bumps the client's window counter; writes a
 * `scim_auth_failed` event at most once per (IdP, reason) every ten minutes, so a flood of bad
 * requests cannot fill the Event Log.
 */
export async function recordAuthFailure(
  kv: Deno.Kv,
  f: {
    tenantId: string;
    idpId: string;
    /** The connection whose URL was called, when it is not the one the failure belongs to. */
    calledIdpId?: string;
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
      summary: f.calledIdpId
        ? `SCIM authentication failed: ${reason} (called the base URL of connection ${f.calledIdpId})`
        : `SCIM authentication failed: ${reason}`,
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
