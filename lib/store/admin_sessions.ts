/**
 * Console session records (architecture §8): each names its admin, expires with the session,
 * and is listed per admin so revocation ends every session at once; the tenant's key for
 * signing session cookies is kept here too (created once, the first writer wins a race).
 * @module
 */
import { keys } from "./keys.ts";
import { secretAt, withLockRetry } from "./kv.ts";

/** How long a session lasts from sign-in. */
export const SESSION_TTL_MS = 8 * 3600_000;

/** A session record. */
export interface AdminSession {
  id: string;
  tenantId: string;
  adminId: string;
  /** Per-session CSRF token, sent back in forms (`_csrf`) and JSON requests (`x-csrf-token`). */
  csrf: string;
  createdAt: string;
  expiresAt: string;
  ip: string;
  userAgent: string;
}

const keyCache = new Map<string, Uint8Array>();

/** The tenant's HS256 signing key for session cookies, created on first use. */
export async function adminSigningKey(kv: Deno.Kv, tenantId: string): Promise<Uint8Array> {
  const cached = keyCache.get(tenantId);
  if (cached) return cached;
  const value = await secretAt(kv, keys.adminSigningKey(tenantId));
  keyCache.set(tenantId, value);
  return value;
}

/** Stores a new session record and its per-admin index entry; both expire with it. */
export async function saveAdminSession(kv: Deno.Kv, session: AdminSession): Promise<void> {
  await withLockRetry(() =>
    kv.atomic()
      .set(keys.adminSession(session.tenantId, session.id), session, {
        expireIn: SESSION_TTL_MS,
      })
      .set(keys.adminSessionOf(session.tenantId, session.adminId, session.id), null, {
        expireIn: SESSION_TTL_MS,
      })
      .commit()
  );
}

/** A live session record by id (null when gone or past its expiry). */
export async function getAdminSession(
  kv: Deno.Kv,
  tenantId: string,
  sessionId: string,
): Promise<AdminSession | null> {
  const session = (await kv.get<AdminSession>(keys.adminSession(tenantId, sessionId))).value;
  return session && Date.parse(session.expiresAt) > Date.now() ? session : null;
}

/** Ends one session (sign-out). */
export async function deleteSession(kv: Deno.Kv, session: AdminSession): Promise<void> {
  await withLockRetry(() =>
    kv.atomic()
      .delete(keys.adminSession(session.tenantId, session.id))
      .delete(keys.adminSessionOf(session.tenantId, session.adminId, session.id))
      .commit()
  );
}

/** Ends every session of an admin (revocation); returns how many were open. */
export async function revokeAdminSessions(
  kv: Deno.Kv,
  tenantId: string,
  adminId: string,
): Promise<number> {
  const rows = await Array.fromAsync(kv.list({ prefix: keys.adminSessionsOf(tenantId, adminId) }));
  for (const row of rows) {
    const sessionId = String(row.key.at(-1));
    await withLockRetry(() =>
      kv.atomic().delete(keys.adminSession(tenantId, sessionId)).delete(row.key).commit()
    );
  }
  return rows.length;
}

/** Open sessions of an admin, newest first. */
export async function listAdminSessions(
  kv: Deno.Kv,
  tenantId: string,
  adminId: string,
): Promise<AdminSession[]> {
  const rows = await Array.fromAsync(kv.list({ prefix: keys.adminSessionsOf(tenantId, adminId) }));
  const out: AdminSession[] = [];
  for (const row of rows) {
    const s = (await kv.get<AdminSession>(keys.adminSession(tenantId, String(row.key.at(-1)))))
      .value;
    if (s && Date.parse(s.expiresAt) > Date.now()) out.push(s);
  }
  return out.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}
