/**
 * Admin console sessions (architecture §8): a jose-signed JWT in an `HttpOnly`, `SameSite=Lax`
 * cookie names a KV session record (`lib/store/admin_sessions.ts`). The signature keeps forged
 * cookies from reaching KV; the record makes sign-out and revocation immediate; both expire.
 * Each tenant signs with its own key, so a cookie of one tenant is worthless on another tenant's
 * host.
 * @module
 */
import { jwtVerify, SignJWT } from "jose";
import { type Admin, getAdmin } from "../store/admins.ts";
import {
  type AdminSession,
  adminSigningKey,
  getAdminSession,
  saveAdminSession,
  SESSION_TTL_MS,
} from "../store/admin_sessions.ts";
import { randomId } from "./tokens.ts";

/** The cookie name: `__Host-` prefixed on https, where the browser enforces Secure and no Domain. */
export function sessionCookieName(secure: boolean): string {
  return secure ? "__Host-weft_session" : "weft_session";
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
  await saveAdminSession(kv, session);
  const jwt = await new SignJWT({ tid: admin.tenantId })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(admin.id)
    .setJti(session.id)
    .setIssuedAt(Math.floor(now / 1000))
    .setExpirationTime(Math.floor((now + SESSION_TTL_MS) / 1000))
    .sign(await adminSigningKey(kv, admin.tenantId));
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
    ({ payload: claims } = await jwtVerify(jwt, await adminSigningKey(kv, tenantId), {
      algorithms: ["HS256"],
    }));
  } catch {
    return null;
  }
  if (claims.tid !== tenantId || typeof claims.jti !== "string") return null;
  const session = await getAdminSession(kv, tenantId, claims.jti);
  if (!session || session.adminId !== claims.sub) return null;
  const admin = await getAdmin(kv, tenantId, session.adminId);
  return admin ? { session, admin } : null;
}
