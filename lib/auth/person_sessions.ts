/**
 * People's session cookies: an HS256 JWT (jose) naming a KV session record, like the console's
 * but apart from it: its own cookie name, its own per-tenant key, its own records. The signature
 * keeps forged cookies from reaching KV; the record makes sign-out and revocation immediate; and
 * every request checks the user's current state (still linked to the IdP that signed them in,
 * active on it, active in the directory), so a deactivation takes effect even on a session it
 * did not end.
 * @module
 */
import { jwtVerify, SignJWT } from "jose";
import {
  PERSON_SESSION_TTL_MS,
  personSigningKey,
  readPersonSession,
} from "../store/person_sessions.ts";
import type { IdpUser, PersonSession, User } from "../store/types.ts";

/** The cookie name: `__Host-` prefixed on https, where the browser enforces Secure and no Domain. */
export function personCookieName(secure: boolean): string {
  return secure ? "__Host-weft_person" : "weft_person";
}

/** The signed cookie value naming a session. */
export async function personSessionJwt(kv: Deno.Kv, session: PersonSession): Promise<string> {
  const created = Date.parse(session.createdAt);
  return await new SignJWT({ tid: session.tenantId, idp: session.idpId })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(session.userId)
    .setJti(session.id)
    .setIssuedAt(Math.floor(created / 1000))
    .setExpirationTime(Math.floor((created + PERSON_SESSION_TTL_MS) / 1000))
    .sign(await personSigningKey(kv, session.tenantId));
}

/** A signed-in person. */
export interface SignedInPerson {
  session: PersonSession;
  user: User;
  link: IdpUser;
}

/**
 * The person a cookie names, or null when it is forged, expired, ended, of another tenant, or
 * when the user is no longer active and linked to the IdP that signed them in.
 */
export async function readPersonCookie(
  kv: Deno.Kv,
  tenantId: string,
  jwt: string | undefined,
  now = Date.now(),
): Promise<SignedInPerson | null> {
  if (!jwt || jwt.length > 2000) return null;
  let claims;
  try {
    ({ payload: claims } = await jwtVerify(jwt, await personSigningKey(kv, tenantId), {
      algorithms: ["HS256"],
    }));
  } catch {
    return null;
  }
  const { tid, idp, sub, jti } = claims;
  if (tid !== tenantId || typeof idp !== "string" || typeof sub !== "string") return null;
  if (typeof jti !== "string") return null;
  const state = await readPersonSession(kv, tenantId, sub, jti, idp);
  if (!state || !state.link || !state.user) return null;
  const { session, link, user } = state;
  if (session.idpId !== idp || session.userId !== sub || Date.parse(session.expiresAt) <= now) {
    return null;
  }
  if (!link.active || link.idpId !== idp || user.status !== "active") return null;
  return { session, user, link };
}
