/**
 * People's sign-in sessions in KV: one record per session under its user
 * (`person_sessions/<user>/<session>`, `expireIn` 8 hours), so every session of a user is one
 * prefix and a deactivation or deletion can end them all in its own atomic write. Every new
 * session sets the user's `person_sessions_touched` key and every write that ends sessions checks
 * it, so a session started while those were being listed makes that write list again; and a new
 * session checks the IdP row it was granted on, so it cannot land after a deactivation.
 * @module
 */
import { keys } from "./keys.ts";
import { secretAt, withLockRetry } from "./kv.ts";
import type { ChangeContext, IdpUser, PersonSession, User } from "./types.ts";
import { addEvent } from "./events.ts";

/** How long a person's session lasts from sign-in. */
export const PERSON_SESSION_TTL_MS = 8 * 3600_000;
/** Most open sessions a user keeps; a new one beyond this ends the oldest. */
export const MAX_SESSIONS_PER_USER = 20;

/** What a write must do to end every session of a user (see {@linkcode endSessionsIn}). */
export interface SessionEnding {
  touched: Deno.KvEntryMaybe<unknown>;
  sessionKeys: Deno.KvKey[];
}

/** Reads what ending a user's sessions takes: the guard key, then the sessions. */
export async function readSessionEnding(
  kv: Deno.Kv,
  tenantId: string,
  userId: string,
): Promise<SessionEnding> {
  const touched = await kv.get(keys.personSessionsTouched(tenantId, userId));
  // Every session sets the guard with its own lifetime: without it, none is open (and the
  // commit's check on the guard refuses a sign-in that lands in between).
  if (!touched.versionstamp) return { touched, sessionKeys: [] };
  const rows = await Array.fromAsync(
    kv.list({ prefix: keys.personSessions(tenantId, userId) }, { limit: 100 }),
  );
  return { touched, sessionKeys: rows.map((r) => r.key) };
}

/**
 * Adds the deletion of every session read to `op`, with the check that no session started
 * since, and a `user_sessions_revoked` event when there were any. Returns how many end.
 */
export function endSessionsIn(
  op: Deno.AtomicOperation,
  ctx: Pick<ChangeContext, "tenantId" | "actor"> & Partial<ChangeContext>,
  userId: string,
  ending: SessionEnding,
  why: string,
): number {
  op.check(ending.touched);
  for (const key of ending.sessionKeys) op.delete(key);
  const n = ending.sessionKeys.length;
  if (n > 0) {
    addEvent(op, ctx, {
      type: "user_sessions_revoked",
      target: { kind: "user", id: userId },
      counts: { sessions: n },
      summary: `${why}: ${n} sign-in session${n === 1 ? "" : "s"} ended`,
    });
  }
  return n;
}

/** Input of {@linkcode createPersonSession}. */
export interface NewPersonSession {
  tenantId: string;
  userId: string;
  idpId: string;
  ip: string;
  userAgent: string;
  /** The IdP row and user the sign-in was granted on: the session is written only if unchanged. */
  link: Deno.KvEntryMaybe<IdpUser>;
  user: Deno.KvEntryMaybe<User>;
  /** Adds the sign-in's event (and whatever else the sign-in writes) to the same write. */
  also: (op: Deno.AtomicOperation) => void;
}

/** Starts a session; null when the user changed since it was read (sign in again). */
export async function createPersonSession(
  kv: Deno.Kv,
  input: NewPersonSession,
  now = Date.now(),
): Promise<PersonSession | null> {
  const { tenantId, userId } = input;
  const session: PersonSession = {
    id: crypto.randomUUID(),
    tenantId,
    userId,
    idpId: input.idpId,
    csrf: crypto.randomUUID().replaceAll("-", ""),
    createdAt: new Date(now).toISOString(),
    expiresAt: new Date(now + PERSON_SESSION_TTL_MS).toISOString(),
    ip: input.ip,
    userAgent: input.userAgent.slice(0, 200),
  };
  const open = await Array.fromAsync(
    kv.list<PersonSession>({ prefix: keys.personSessions(tenantId, userId) }),
  );
  const oldest = open.sort((a, b) => a.value.createdAt.localeCompare(b.value.createdAt))
    .slice(0, Math.max(0, open.length - MAX_SESSIONS_PER_USER + 1));
  const op = kv.atomic().check(input.link).check(input.user)
    .set(keys.personSession(tenantId, userId, session.id), session, {
      expireIn: PERSON_SESSION_TTL_MS,
    })
    .set(keys.personSessionsTouched(tenantId, userId), session.createdAt, {
      expireIn: PERSON_SESSION_TTL_MS,
    });
  for (const e of oldest) op.delete(e.key);
  input.also(op);
  const res = await withLockRetry(() => op.commit());
  return res.ok ? session : null;
}

/** A session with the IdP row and user it belongs to, as they are now. */
export interface PersonSessionState {
  session: PersonSession;
  link: IdpUser | null;
  user: User | null;
}

/** Reads a session and its user's current state in one round trip; null when it ended. */
export async function readPersonSession(
  kv: Deno.Kv,
  tenantId: string,
  userId: string,
  sessionId: string,
  idpId: string,
): Promise<PersonSessionState | null> {
  const [session, link, user] = await kv.getMany<[PersonSession, IdpUser, User]>([
    keys.personSession(tenantId, userId, sessionId),
    keys.idpUser(tenantId, idpId, userId),
    keys.user(tenantId, userId),
  ]);
  if (!session.value || Date.parse(session.value.expiresAt) <= Date.now()) return null;
  return { session: session.value, link: link.value, user: user.value };
}

/** Ends one session (sign-out). */
export async function deletePersonSession(kv: Deno.Kv, session: PersonSession): Promise<void> {
  await withLockRetry(() =>
    kv.delete(keys.personSession(session.tenantId, session.userId, session.id))
  );
}

/** A user's open sessions, newest first. */
export async function listPersonSessions(
  kv: Deno.Kv,
  tenantId: string,
  userId: string,
): Promise<PersonSession[]> {
  const rows = await Array.fromAsync(
    kv.list<PersonSession>({ prefix: keys.personSessions(tenantId, userId) }, { limit: 100 }),
  );
  const now = Date.now();
  return rows.map((r) => r.value).filter((s) => Date.parse(s.expiresAt) > now)
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}

/** Ends every session of a user (an admin's action); returns how many were open. */
export async function revokePersonSessions(
  kv: Deno.Kv,
  ctx: Pick<ChangeContext, "tenantId" | "actor"> & Partial<ChangeContext>,
  userId: string,
): Promise<number> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const ending = await readSessionEnding(kv, ctx.tenantId, userId);
    const op = kv.atomic();
    const n = endSessionsIn(op, ctx, userId, ending, "Sessions revoked by an admin");
    if (n === 0) return 0;
    if ((await withLockRetry(() => op.commit())).ok) return n;
  }
  throw new Error("Cannot revoke sessions: too many concurrent sign-ins");
}

const signingKeys = new WeakMap<Deno.Kv, Map<string, CryptoKey>>();

/**
 * The tenant's HS256 key for person session cookies, created once (the first writer wins under a
 * race) and kept per process as a WebCrypto key: it is written once and never changed.
 */
export async function personSigningKey(kv: Deno.Kv, tenantId: string): Promise<CryptoKey> {
  let byTenant = signingKeys.get(kv);
  if (!byTenant) signingKeys.set(kv, byTenant = new Map());
  const cached = byTenant.get(tenantId);
  if (cached) return cached;
  const value = await secretAt(kv, keys.personSigningKey(tenantId));
  const cryptoKey = await crypto.subtle.importKey(
    "raw",
    value as Uint8Array<ArrayBuffer>,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign", "verify"],
  );
  if (byTenant.size >= 10_000) byTenant.clear();
  byTenant.set(tenantId, cryptoKey);
  return cryptoKey;
}
