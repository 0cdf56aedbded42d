/**
 * Admin console sessions (architecture §8): a jose-signed JWT in an `HttpOnly`, `SameSite=Lax`
 * cookie names a KV session record. The signature keeps forged cookies from reaching KV; the
 * record makes sign-out and revocation immediate; both expire. Each tenant signs with its own
 * key, so a cookie of one tenant is worthless on another tenant's host.
 * @module
 */
import { jwtVerify, SignJWT } from "jose";
import { keys } from "../store/keys.ts";
import { withLockRetry } from "../store/kv.ts";
import { type Admin, getAdmin } from "../store/admins.ts";
import { randomId } from "./tokens.ts";

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

/** The cookie name: `__Host-` prefixed on https, where the browser enforces Secure and no Domain. */
export function sessionCookieName(secure: boolean): string {
  return secure ? "__Host-weft_session" : "weft_session";
}

const keyCache = new Map<string, Uint8Array>();

/** The tenant's HS256 signing key, created once (the first writer wins under a race). */
async function signingKey(kv: Deno.Kv, tenantId: string): Promise<Uint8Array> {
  const cached = keyCache.get(tenantId);
  if (cached) return cached;
  const key = keys.adminSigningKey(tenantId);
  let value = (await kv.get<Uint8Array>(key)).value;
  if (!value) {
    const fresh = crypto.getRandomValues(new Uint8Array(32));
    await withLockRetry(() =>
      kv.atomic().check({ key, versionstamp: null }).set(key, fresh).commit()
    );
    value = (await kv.get<Uint8Array>(key)).value!;
  }
  keyCache.set(tenantId, value);
  return value;
}

/** Starts a session; returns the record and the signed cookie value. */
export async function createSession(
  kv: Deno.Kv,
  admin: Admin,
  client: { ip: string; userAgent: string },
  now = Date.now(),
): Promise<{ session: AdminSession; jwt: string }> {
  const session: AdminSession = {
    id: randomId(18),
    tenantId: admin.tenantId,
    adminId: admin.id,
    csrf: randomId(24),
    createdAt: new Date(now).toISOString(),
    expiresAt: new Date(now + SESSION_TTL_MS).toISOString(),
    ip: client.ip,
    userAgent: client.userAgent.slice(0, 200),
  };
  await withLockRetry(() =>
    kv.atomic()
      .set(keys.adminSession(admin.tenantId, session.id), session, { expireIn: SESSION_TTL_MS })
      .set(keys.adminSessionOf(admin.tenantId, admin.id, session.id), null, {
        expireIn: SESSION_TTL_MS,
      })
      .commit()
  );
  const jwt = await new SignJWT({ tid: admin.tenantId })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(admin.id)
    .setJti(session.id)
    .setIssuedAt(Math.floor(now / 1000))
    .setExpirationTime(Math.floor((now + SESSION_TTL_MS) / 1000))
    .sign(await signingKey(kv, admin.tenantId));
  return { session, jwt };
}

/** The session and admin a cookie names, or null when forged, expired, revoked or foreign. */
export async function readSession(
  kv: Deno.Kv,
  tenantId: string,
  jwt: string | undefined,
): Promise<{ session: AdminSession; admin: Admin } | null> {
  if (!jwt || jwt.length > 2000) return null;
  let claims;
  try {
    ({ payload: claims } = await jwtVerify(jwt, await signingKey(kv, tenantId), {
      algorithms: ["HS256"],
    }));
  } catch {
    return null;
  }
  if (claims.tid !== tenantId || typeof claims.jti !== "string") return null;
  const session = (await kv.get<AdminSession>(keys.adminSession(tenantId, claims.jti))).value;
  if (!session || session.adminId !== claims.sub) return null;
  if (Date.parse(session.expiresAt) <= Date.now()) return null;
  const admin = await getAdmin(kv, tenantId, session.adminId);
  return admin ? { session, admin } : null;
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
